//! Helpers shared by the integration tests: a throw-away site in a temp dir, the real
//! `tidings` binary, and feed validation by parsers that are not ours (feed-rs, xmllint,
//! Python feedparser and a JSON Feed schema).
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A site in a temp dir: `posts/` for content, `out/` for feeds, `settings.toml` beside them.
pub struct Site {
    pub dir: tempfile::TempDir,
}

/// The webhook secret the tests hand to the binary through `${TIDINGS_TEST_SECRET}`.
pub const TEST_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub mod browser;
pub mod dovecot;
pub mod http;
pub mod receiver;
pub mod smtp;

pub const BASE_SETTINGS: &str = r#"
[site]
title = "Test Site"
url = "https://example.org/blog/"
timezone = "Asia/Shanghai"

[content]
dir = "posts"

[feeds]
dir = "out"
tags = true
"#;

impl Site {
    pub fn new() -> Site {
        Site::with_settings(BASE_SETTINGS)
    }

    pub fn with_settings(settings: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        std::fs::write(dir.path().join("settings.toml"), settings).unwrap();
        Site { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn out(&self) -> PathBuf {
        self.path().join("out")
    }

    /// Writes a post below `posts/`.
    pub fn post(&self, rel: &str, text: impl AsRef<[u8]>) -> &Site {
        let path = self.path().join("posts").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub fn remove_post(&self, rel: &str) {
        std::fs::remove_file(self.path().join("posts").join(rel)).unwrap();
    }

    /// `tidings --config <settings> <args…>`, ready to run or spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tidings"));
        command
            .arg("--config")
            .arg(self.path().join("settings.toml"))
            .args(args)
            .env("TIDINGS_TEST_SECRET", TEST_SECRET)
            .env("TIDINGS_TEST_TELEGRAM", "123:TEST-token");
        command
    }

    /// Runs `tidings --config <settings> <args…>`.
    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.command(args).output().unwrap())
    }

    /// Runs `tidings --config <settings> <args…>` with its clock pinned at `now` (RFC 3339).
    pub fn run_at(&self, now: &str, args: &[&str]) -> Run {
        Run(self
            .command(args)
            .env("TIDINGS_TEST_NOW", now)
            .output()
            .unwrap())
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.out().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
}

/// The result of running the binary.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    /// Panics with the output unless the exit code is `code`.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// Every file below `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walk(dir);
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Parses every feed below `dir` with feed-rs, xmllint and Python (feedparser + JSON Feed
/// schema). Returns how many feed files there were.
pub fn assert_feeds_valid(dir: &Path) -> usize {
    let all = files(dir);
    let feeds: Vec<&PathBuf> = all
        .iter()
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("xml" | "json")))
        .collect();
    assert!(!feeds.is_empty(), "no feeds below {}", dir.display());
    for path in &feeds {
        let bytes = std::fs::read(path).unwrap();
        let parsed = feed_rs::parser::parse(bytes.as_slice());
        let feed =
            parsed.unwrap_or_else(|e| panic!("feed-rs cannot parse {}: {e:?}", path.display()));
        // What readers show per item: each word once, and a summary that says something.
        for entry in &feed.entries {
            let mut terms: Vec<String> = entry
                .categories
                .iter()
                .map(|c| c.term.to_lowercase())
                .collect();
            let all = terms.len();
            terms.sort();
            terms.dedup();
            assert_eq!(
                terms.len(),
                all,
                "a repeated category in {}: {:?}",
                path.display(),
                entry.categories
            );
            if let Some(summary) = &entry.summary {
                assert!(
                    !summary.content.trim().is_empty(),
                    "an empty summary in {}: {:?}",
                    path.display(),
                    entry.id
                );
            }
        }
    }

    let xml: Vec<&PathBuf> = all
        .iter()
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("xml" | "opml")))
        .collect();
    for chunk in xml.chunks(500) {
        let out = Command::new("xmllint")
            .arg("--noout")
            .args(chunk.iter().copied())
            .output()
            .expect(
                "xmllint must be installed (Debian package libxml2-utils; .ci/run installs it)",
            );
        assert!(
            out.status.success(),
            "xmllint: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/validate_feeds.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir)
        .output()
        .expect("python3 must be installed");
    assert!(
        out.status.success(),
        "feedparser / JSON Feed schema (pip install feedparser jsonschema):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    feeds.len()
}

/// Parses one feed file with feed-rs.
pub fn parse_feed(path: &Path) -> feed_rs::model::Feed {
    feed_rs::parser::parse(std::fs::read(path).unwrap().as_slice()).unwrap()
}

/// A YAML post in the seed's shape: blank line first, RFC 2822 date, categories chain.
pub fn hexo_post(title: &str, date: &str, categories: &[&str], body: &str) -> String {
    let mut text = format!(
        "\n---\ntitle: '{}'\ncategories: \n",
        title.replace('\'', "''")
    );
    for c in categories {
        text.push_str(&format!(" - '{}'\n", c.replace('\'', "''")));
    }
    text.push_str(&format!("date: {date}\n---\n\n{body}"));
    text
}

/// Makes a DKIM key with openssl: `rsa` (PKCS#1) or `ed25519` (PKCS#8).
pub fn dkim_key(path: &Path, algorithm: &str) {
    // "rsa": PKCS#1 2048 bits; "rsa-pkcs8": what `openssl genpkey` writes; "rsa-1024": the
    // smallest size RFC 8301 allows; anything else: Ed25519.
    let (args, bits): (&[&str], &[&str]) = match algorithm {
        "rsa" => (&["genrsa", "-traditional"], &["2048"]),
        "rsa-1024" => (&["genrsa", "-traditional"], &["1024"]),
        "rsa-pkcs8" => (
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            &[],
        ),
        _ => (&["genpkey", "-algorithm", "ed25519"], &[]),
    };
    let made = Command::new("openssl")
        .args(args)
        .arg("-out")
        .arg(path)
        .args(bits)
        .output()
        .expect("openssl makes the test key");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// Verifies every message with dkimpy (tests/support/dkim_verify.py): each must carry one
/// signature per `(selector, key)`, each must verify, and none may survive a changed byte
/// in the body, a changed subject, or a second subject prepended.
pub fn assert_dkim_verifies(keys: &[(&str, &Path)], messages: &[PathBuf]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/dkim_verify.py");
    let out = Command::new("python3")
        .arg(script)
        .args(
            keys.iter()
                .map(|(selector, key)| format!("{selector}={}", key.display())),
        )
        .arg("--")
        .args(messages)
        .output()
        .expect("python3 with dkimpy and pynacl (.ci/run installs them)");
    assert!(
        out.status.success(),
        "dkimpy:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A subscriber CSV of `n` readers, `reader0@example.org` onwards.
pub fn readers_csv(n: usize) -> String {
    let mut csv = String::from("email\n");
    for i in 0..n {
        csv.push_str(&format!("reader{i}@example.org\n"));
    }
    csv
}

/// A test cannot run here (a tool, service or archive is missing): outside CI it passes
/// with a note, so a fresh clone's `cargo test` works; with `CI=true` it fails, so a CI
/// run that lost a service cannot pass by running less.
#[allow(dead_code)] // not every test file needs a service
pub fn unavailable(why: &str) {
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(!in_ci, "{why}, and CI is set: a CI run must run every test");
    eprintln!("{why}: skipped");
}

/// A new, empty database named after `test` on the PostgreSQL server
/// `TIDINGS_TEST_POSTGRES` names (`.ci/run` starts one), or `None`, with a note, when
/// there is none: the test then passes without running.
pub fn postgres_database(test: &str) -> Option<String> {
    let Ok(admin) = std::env::var("TIDINGS_TEST_POSTGRES") else {
        unavailable(&format!(
            "{test}: TIDINGS_TEST_POSTGRES is not set (see .ci/run)"
        ));
        return None;
    };
    let name = format!("{test}_{}", std::process::id());
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    Some(url.to_string())
}

/// Polls until `done` holds (at most a minute, which only keeps a broken build from
/// hanging the run): the way tests wait on a daemon instead of sleeping and hoping.
#[allow(dead_code)] // not every test file waits on a daemon
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Each listed reader's address and why tidings took it off (`""`: it did not), from
/// `tidings readers list --json`.
pub fn reader_reasons(site: &Site) -> std::collections::BTreeMap<String, String> {
    let list = site.run(&["readers", "list", "--json"]).expect(0);
    let listed: serde_json::Value = serde_json::from_str(&list.stdout()).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let address = r["address"].as_str().unwrap_or("").to_owned();
            (address, r["reason"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}
