//! A real SMTP server (Python aiosmtpd, `tests/support/smtp_sink.py`) on 127.0.0.1 for the
//! tests that send email.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// An aiosmtpd server writing what it accepts into a folder; stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        SmtpSink::start_with(&[])
    }

    /// A sink that requires a login with `password` (any user).
    pub fn with_password(password: &str) -> SmtpSink {
        SmtpSink::start_with(&[password])
    }

    /// A new sink on the port a stopped one had (a server restarted: the connections a
    /// client kept to the old one are gone).
    #[allow(dead_code)] // only the reconnection test restarts a sink
    pub fn restart(self) -> SmtpSink {
        let port = self.port;
        drop(self);
        SmtpSink::start_with_port(&[], Some(port))
    }

    fn start_with(extra: &[&str]) -> SmtpSink {
        SmtpSink::start_with_port(extra, None)
    }

    fn start_with_port(extra: &[&str], fixed: Option<u16>) -> SmtpSink {
        // The port is found free, then bound by the sink: another test can take it in
        // between, so a sink that cannot start is tried again on another port.
        for _ in 0..5 {
            let port = fixed.unwrap_or_else(|| {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port()
            });
            let dir = tempfile::tempdir().unwrap();
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
            let mut child = Command::new("python3")
                .arg(script)
                .arg(port.to_string())
                .arg(dir.path())
                .args(extra)
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3 with aiosmtpd (pip install aiosmtpd; .ci/run installs it)");
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            if line.trim() == "ready" {
                return SmtpSink { port, dir, child };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the SMTP sink did not start on any of five ports");
    }

    /// Messages received so far, by file name order (arrival).
    pub fn messages(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                let rcpt = name
                    .split_once('-')
                    .unwrap()
                    .1
                    .trim_end_matches(".eml")
                    .to_owned();
                (rcpt, std::fs::read(p).unwrap())
            })
            .collect()
    }
}

impl SmtpSink {
    /// The envelope sender (`MAIL FROM`) of each message received, by recipient.
    #[allow(dead_code)] // only the bounce tests read it
    pub fn envelope_senders(&self) -> std::collections::HashMap<String, String> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|name| {
                let rcpt = name
                    .strip_prefix(".from-")?
                    .split_once('-')?
                    .1
                    .strip_suffix(".eml")?
                    .to_owned();
                let from = std::fs::read_to_string(self.dir.path().join(&name)).ok()?;
                Some((rcpt, from))
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
