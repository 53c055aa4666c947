#![allow(dead_code)] // only the bounce tests start Dovecot
//! A real IMAP server (Dovecot, Debian's `dovecot-imapd`) on 127.0.0.1 for the bounce
//! tests: one user, `bounces`, whose mail is a Maildir in a temporary folder. Dovecot
//! starts as root and reads the mail as `nobody`; elsewhere the tests say it cannot run.

use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const USER: &str = "bounces";
pub const PASSWORD: &str = "imap-test-password";

pub struct Dovecot {
    pub port: u16,
    _dir: tempfile::TempDir,
    child: Child,
}

impl Dovecot {
    /// `None` (after saying why) where Dovecot is not installed or this is not root.
    pub fn start() -> Option<Dovecot> {
        let binary = ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(binary) = binary else {
            super::unavailable("Dovecot is not installed (apt-get install dovecot-imapd)");
            return None;
        };
        let root = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&root.stdout).trim() != "0" {
            super::unavailable("Dovecot starts as root, and this is not root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["run", "state", "mail", "home"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        // Dovecot reads the mail as `nobody`, so the folders must be theirs and reachable.
        for path in [d.join("mail"), d.join("home")] {
            let status = Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(&path)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let status = Command::new("chmod").arg("755").arg(d).status().unwrap();
        assert!(status.success());
        std::fs::write(d.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = d.display();
        std::fs::write(
            dir.path().join("dovecot.conf"),
            format!(
                "base_dir = {d}/run\nstate_dir = {d}/state\nlisten = 127.0.0.1\nprotocols = imap\nssl = no\n\
                 disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
                 mail_location = maildir:{d}/mail/%u\nlog_path = {d}/log\n\
                 default_login_user = nobody\ndefault_internal_user = nobody\ndefault_internal_group = nogroup\n\
                 passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home/%u\n}}\n\
                 service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
                 service anvil {{\n  chroot =\n}}\n"
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(dir.path().join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        super::wait_until("Dovecot listens", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Some(Dovecot {
            port,
            _dir: dir,
            child,
        })
    }

    fn session(&self) -> imap::Session<std::net::TcpStream> {
        let tcp = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut client = imap::Client::new(tcp);
        client.read_greeting().unwrap();
        client.login(USER, PASSWORD).map_err(|(e, _)| e).unwrap()
    }

    /// Delivers a message into INBOX, as the mail server would.
    pub fn deliver(&self, message: &[u8]) {
        let mut session = self.session();
        session.append("INBOX", message).finish().unwrap();
        session.logout().unwrap();
    }

    /// How many messages INBOX holds, and how many of them are seen.
    pub fn counts(&self) -> (usize, usize) {
        let mut session = self.session();
        session.select("INBOX").unwrap();
        let all = session.search("ALL").unwrap().len();
        let seen = session.search("SEEN").unwrap().len();
        session.logout().unwrap();
        (all, seen)
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
