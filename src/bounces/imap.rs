//! An IMAP mailbox the return path's mail is delivered to (a hosted mailbox, or the
//! operator's own server): each pass reads the unseen messages and marks each seen once
//! what it says is recorded. Nothing is deleted or moved: the mailbox is the operator's.
//!
//! `imaps://` (TLS from the first byte, port 993 by default, rustls with the Mozilla roots
//! or `SSL_CERT_FILE`'s CA) anywhere; plain `imap://` only to 127.0.0.1 or localhost. Every
//! read and write on the connection has a deadline.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// How long one connection, read or write may take.
const WAIT: Duration = Duration::from_secs(30);
/// Messages read in one pass; the rest wait for the next.
pub const MAX_PER_PASS: usize = 1000;

/// Where the mailbox is and who reads it.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub user: String,
    pub password: SecretString,
    pub folder: String,
}

impl Mailbox {
    /// `imaps://user@host[:port]/FOLDER` (folder default `INBOX`); `imap://` only to this
    /// machine. The password comes apart (from the environment).
    pub fn parse(text: &str, password: SecretString) -> Result<Mailbox, String> {
        let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL ({e})"))?;
        let host = url.host_str().unwrap_or("").to_owned();
        let local = host == "127.0.0.1" || host == "localhost" || host == "[::1]";
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" if local => false,
            "imap" => {
                return Err(
                    "`imap://` sends the password in the clear: use `imaps://` (port 993)".into(),
                );
            }
            other => return Err(format!("`{other}://` is not `imaps://`")),
        };
        if host.is_empty() {
            return Err(format!("`{text}` names no host"));
        }
        let user = percent_encoding::percent_decode_str(url.username())
            .decode_utf8_lossy()
            .into_owned();
        if user.is_empty() {
            return Err(format!(
                "`{text}` names no user (`imaps://user@host/INBOX`)"
            ));
        }
        let folder = percent_encoding::percent_decode_str(url.path().trim_start_matches('/'))
            .decode_utf8_lossy()
            .into_owned();
        Ok(Mailbox {
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            host,
            tls,
            user,
            password,
            folder: if folder.is_empty() {
                "INBOX".into()
            } else {
                folder
            },
        })
    }

    /// `imaps://user@host:port/FOLDER`, for messages.
    pub fn shown(&self) -> String {
        let scheme = if self.tls { "imaps" } else { "imap" };
        format!(
            "{scheme}://{}@{}:{}/{}",
            self.user, self.host, self.port, self.folder
        )
    }
}

/// The connection, plain or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// What a source hands each message to: its name for messages, and its bytes (`None`: too
/// large to be a report). An error stops the pass with that message unread.
pub type Handler<'h, E> = dyn FnMut(&str, Option<&[u8]>) -> Result<(), E> + 'h;

/// Reads the unseen messages (at most [`MAX_PER_PASS`], each at most `limit` bytes: a
/// larger one is marked seen unread) and hands each to `handle`; a message is marked seen
/// once `handle` has recorded it. `handle` failing stops the pass, that message unseen.
pub fn pass<E>(
    mailbox: &Mailbox,
    limit: usize,
    handle: &mut Handler<'_, E>,
) -> Result<Result<(), E>, String> {
    let shown = mailbox.shown();
    let fail = |what: &str, e: imap::Error| format!("{shown}: {what}: {e}");
    let mut session = log_in(mailbox)?;
    session
        .select(&mailbox.folder)
        .map_err(|e| fail("select", e))?;
    let mut unseen: Vec<u32> = session
        .uid_search("UNSEEN")
        .map_err(|e| fail("search", e))?
        .into_iter()
        .collect();
    unseen.sort_unstable();
    unseen.truncate(MAX_PER_PASS);
    for uid in unseen {
        let name = format!("{shown} UID {uid}");
        let size = session
            .uid_fetch(uid.to_string(), "RFC822.SIZE")
            .map_err(|e| fail("fetch", e))?
            .iter()
            .find_map(|f| f.size)
            .unwrap_or(0) as usize;
        let outcome = if size > limit {
            handle(&name, None)
        } else {
            let fetched = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .map_err(|e| fail("fetch", e))?;
            let body = fetched.iter().find_map(|f| f.body()).unwrap_or(b"");
            handle(&name, Some(body))
        };
        if let Err(e) = outcome {
            let _ = session.logout();
            return Ok(Err(e));
        }
        session
            .uid_store(uid.to_string(), "+FLAGS (\\Seen)")
            .map_err(|e| fail("mark seen", e))?;
    }
    let _ = session.logout();
    Ok(Ok(()))
}

/// Logs in and opens the folder as a pass would, reads and marks nothing; how many unseen
/// messages wait.
pub fn check(mailbox: &Mailbox) -> Result<usize, String> {
    let shown = mailbox.shown();
    let fail = |what: &str, e: imap::Error| format!("{shown}: {what}: {e}");
    let mut session = log_in(mailbox)?;
    session
        .examine(&mailbox.folder)
        .map_err(|e| fail("examine", e))?;
    let unseen = session
        .uid_search("UNSEEN")
        .map_err(|e| fail("search", e))?
        .len();
    let _ = session.logout();
    Ok(unseen)
}

/// Connects, reads the server's greeting and logs in.
fn log_in(mailbox: &Mailbox) -> Result<imap::Session<Stream>, String> {
    let fail = |what: &str, e: imap::Error| format!("{}: {what}: {e}", mailbox.shown());
    let mut client = imap::Client::new(connect(mailbox)?);
    client.read_greeting().map_err(|e| fail("greeting", e))?;
    client
        .login(&mailbox.user, mailbox.password.expose_secret())
        .map_err(|(e, _)| fail("login", e))
}

fn connect(mailbox: &Mailbox) -> Result<Stream, String> {
    use std::net::ToSocketAddrs;
    let shown = mailbox.shown();
    let address = (mailbox.host.as_str(), mailbox.port)
        .to_socket_addrs()
        .map_err(|e| format!("{shown}: cannot be resolved: {e}"))?
        .next()
        .ok_or_else(|| format!("{shown}: no address"))?;
    let tcp = TcpStream::connect_timeout(&address, WAIT)
        .map_err(|e| format!("{shown}: cannot connect: {e}"))?;
    tcp.set_read_timeout(Some(WAIT))
        .and_then(|()| tcp.set_write_timeout(Some(WAIT)))
        .map_err(|e| format!("{shown}: {e}"))?;
    if !mailbox.tls {
        return Ok(Stream::Plain(tcp));
    }
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        for cert in CertificateDer::pem_file_iter(&file)
            .map_err(|e| format!("SSL_CERT_FILE: {e}"))?
            .flatten()
        {
            let _ = roots.add(cert);
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(mailbox.host.clone())
        .map_err(|e| format!("{shown}: {e}"))?;
    let connection = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| format!("{shown}: {e}"))?;
    Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(
        connection, tcp,
    ))))
}
