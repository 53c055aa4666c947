//! SMTP connections opened here and kept for the next message; lettre speaks SMTP on them.
//!
//! Why not lettre's own pool: lettre writes a message's closing `.` in a write of its own,
//! and on a socket with Nagle's algorithm that small write waits for the server to
//! acknowledge the message's last packet, which a server delays (about 40 ms): measured,
//! 57 ms of every message went to that wait, 127–140 messages a second into a sink that
//! takes thousands. lettre opens its sockets without `TCP_NODELAY` and gives no way to set
//! it, but takes a stream of ours (`connect_with_transport`): these are opened with it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use tokio::net::TcpStream;

use crate::settings::email_settings::TlsMode;

/// An idle connection is not reused after this long (servers drop idle clients after a
/// minute or more; a reused one that was dropped anyway is replaced, see [`Pool::send`]).
const IDLE: Duration = Duration::from_secs(50);

/// What went wrong, by who said so.
#[derive(Debug)]
pub enum SendError {
    /// The SMTP conversation: the server's answer, or lettre's reading of the stream.
    Smtp(lettre::transport::smtp::Error),
    /// Before any SMTP: the TCP connection or the TLS handshake of `smtps://`.
    Connect(String),
    Tls(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Smtp(e) => write!(f, "{e}"),
            SendError::Connect(e) => write!(f, "cannot connect: {e}"),
            SendError::Tls(e) => write!(f, "the TLS handshake failed: {e}"),
        }
    }
}

/// The connections to one SMTP server. How many are open at once is bounded by the
/// callers (the lanes' `email.pool` slots); the idle ones wait here.
pub struct Pool {
    host: String,
    port: u16,
    tls: TlsMode,
    /// For STARTTLS and for `smtps://`: the server's name, checked against its certificate.
    parameters: Option<TlsParameters>,
    implicit: Option<tokio_rustls::TlsConnector>,
    credentials: Option<Credentials>,
    hello: ClientId,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Pool {
    pub fn new(
        host: &str,
        port: u16,
        tls: TlsMode,
        credentials: Option<Credentials>,
    ) -> Result<Pool, String> {
        let parameters = match tls {
            TlsMode::None => None,
            _ => Some(
                TlsParameters::new(host.to_owned()).map_err(|e| format!("TLS for {host}: {e}"))?,
            ),
        };
        let implicit = (tls == TlsMode::Implicit).then(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let config = rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            tokio_rustls::TlsConnector::from(Arc::new(config))
        });
        Ok(Pool {
            host: host.to_owned(),
            port,
            tls,
            parameters,
            implicit,
            credentials,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends one message on an idle connection, or a new one. A reused connection the
    /// server had closed meanwhile fails before the server took anything: the message is
    /// then tried once more on a new one.
    pub async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<Response, SendError> {
        if let Some(mut connection) = self.take_idle() {
            match connection.send(envelope, bytes).await {
                Ok(response) => {
                    self.keep(connection);
                    return Ok(response);
                }
                // No answer at all: the connection was gone, not the message refused.
                Err(e) if !e.is_permanent() && !e.is_transient() => {}
                Err(e) => {
                    self.keep(connection);
                    return Err(SendError::Smtp(e));
                }
            }
        }
        let mut connection = self.connect().await?;
        let result = connection.send(envelope, bytes).await;
        self.keep(connection);
        result.map_err(SendError::Smtp)
    }

    /// Connects, greets, secures and logs in as a send would, then says goodbye.
    pub async fn check(&self) -> Result<(), SendError> {
        let mut connection = self.connect().await?;
        connection.quit().await.map_err(SendError::Smtp)?;
        Ok(())
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| SendError::Connect(format!("{}:{}: {e}", self.host, self.port)))?;
        tcp.set_nodelay(true)
            .map_err(|e| SendError::Connect(e.to_string()))?;
        let stream: Box<dyn AsyncTokioStream> = match &self.implicit {
            Some(connector) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| SendError::Tls(e.to_string()))?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| SendError::Tls(e.to_string()))?;
                Box::new(Secured(tls))
            }
            None => Box::new(tcp),
        };
        let mut connection = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(SendError::Smtp)?;
        if self.tls == TlsMode::StartTls {
            let parameters = self.parameters.clone().expect("made with STARTTLS");
            if !connection.can_starttls() {
                // Worded as lettre words it, which `setting_at_fault` recognises.
                return Err(SendError::Tls(
                    "STARTTLS is not supported by this server".into(),
                ));
            }
            connection
                .starttls(parameters, &self.hello)
                .await
                .map_err(SendError::Smtp)?;
        }
        if let Some(credentials) = &self.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(SendError::Smtp)?;
        }
        Ok(connection)
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = crate::sync::lock(&self.idle);
        while let Some((connection, since)) = idle.pop() {
            if since.elapsed() < IDLE && !connection.has_broken() {
                return Some(connection);
            }
        }
        None
    }

    fn keep(&self, connection: AsyncSmtpConnection) {
        if !connection.has_broken() {
            crate::sync::lock(&self.idle).push((connection, Instant::now()));
        }
    }
}

/// A TLS stream as lettre takes one.
#[derive(Debug)]
struct Secured(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for Secured {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for Secured {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Secured {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
