//! Email notifiers through the real binary and a real SMTP server (Python aiosmtpd) on
//! 127.0.0.1; every message received is parsed back with a real MIME parser (mail-parser).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Site;
use common::smtp::SmtpSink;
use mail_parser::{MessageParser, MimeHeaders};

fn settings(port: u16, notifier: &str) -> String {
    format!(
        "{}\n[email]\nsmtp = \"smtp://127.0.0.1:{port}?tls=none\"\nfrom = \"测试站 <news@example.org>\"\n\
         unsubscribe_url = \"https://example.org/unsubscribe\"\nsecret = \"${{TIDINGS_TEST_SECRET}}\"\nrate = 50\n{notifier}",
        common::BASE_SETTINGS
    )
}

fn post(title: &str, categories: &str, tags: &str) -> String {
    format!(
        "---\ntitle: {title:?}\ndate: 2024-01-02 10:00:00\ncategories: {categories}\ntags: {tags}\n---\nThe body of {title}.\n"
    )
}

/// A site with a digest notifier (firing every second) and subscribers with filters.
fn digest_site(sink: &SmtpSink, extra_recipients: &str) -> Site {
    let notifier = format!(
        "[notifiers.daily]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nsubscribers = \"subscribers.csv\"\n{extra_recipients}"
    );
    let site = Site::with_settings(&settings(sink.port, &notifier));
    std::fs::write(
        site.path().join("subscribers.csv"),
        "email,name,categories,tags\nada@example.org,Ada Lovelace,,\nbob@example.org,Bob,Tech,\ncarol@example.org,Carol,,nothing-matches\n",
    )
    .unwrap();
    site.post("old.md", post("Old", "[News]", "[]"));
    site.run_at(T0, &["run", "--once"]).expect(0);
    site
}

/// When a digest site's archive is recorded; its schedule fires every second after.
const T0: &str = "2026-12-01T00:00:00Z";
/// Two seconds on: the digest has fired.
const T1: &str = "2026-12-01T00:00:02Z";
/// A day on: any retry's backoff is over.
const NEXT_DAY: &str = "2026-12-02T00:00:00Z";

fn header_raw_is_encoded(message: &mail_parser::Message, name: &str) -> bool {
    let raw = message.header_raw(name).unwrap_or("");
    raw.is_ascii() && raw.contains("=?utf-8?")
}

fn parse(bytes: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(bytes)
        .expect("a MIME message")
}

#[test]
fn one_message_per_recipient_with_their_posts_and_list_headers() {
    let sink = SmtpSink::start();
    let site = digest_site(
        &sink,
        "subject = \"{{ site.title }}：{{ posts|length }} 篇新文章\"",
    );
    site.post("news.md", post("新闻：第一条 <重要>", "[News, 国内]", "[]"));
    site.post("tech.md", post("Rust 2024 ships", "[Tech]", "[rust]"));
    let run = site.run_at(T1, &["run", "--once"]).expect(0);
    assert!(run.stdout().contains("2 messages sent"), "{}", run.stdout());

    let mut messages = sink.messages();
    // Readers' messages go side by side (`email.pool`): they arrive in any order.
    messages.sort();
    let recipients: Vec<&str> = messages.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        recipients,
        ["ada@example.org", "bob@example.org"],
        "carol's filter matches nothing"
    );
    for (rcpt, bytes) in &messages {
        let message = parse(bytes);
        let to = message
            .to()
            .unwrap()
            .first()
            .unwrap()
            .address()
            .unwrap()
            .to_owned();
        assert_eq!(&to, rcpt, "one recipient per message");
        assert!(
            message.subject().unwrap().starts_with("Test Site："),
            "{:?}",
            message.subject()
        );
        assert!(
            header_raw_is_encoded(&message, "Subject"),
            "a CJK subject travels RFC 2047-encoded"
        );
        assert_eq!(
            message.from().unwrap().first().unwrap().name(),
            Some("测试站"),
            "CJK display name decoded"
        );
        let ct = message.content_type().unwrap();
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative"))
        );
        assert_eq!(message.text_body_count(), 1);
        assert_eq!(message.html_body_count(), 1);
        let header = |name: &str| {
            message
                .header_raw(name)
                .unwrap_or_else(|| panic!("no {name}"))
                .trim()
                .to_owned()
        };
        assert!(header("Message-ID").ends_with("@example.org>"));
        assert_eq!(header("List-Id"), "<daily.example.org>");
        assert!(header("List-Unsubscribe").contains("<https://example.org/unsubscribe?token="));
        assert!(header("List-Unsubscribe").contains("mailto:news@example.org"));
        assert_eq!(
            header("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
        assert_eq!(header("Auto-Submitted"), "auto-generated");
        assert_eq!(header("Precedence"), "bulk");
        assert!(message.date().is_some());
    }
    let ada = parse(&messages[0].1);
    assert_eq!(ada.subject(), Some("Test Site：2 篇新文章"));
    let text = ada.body_text(0).unwrap();
    assert!(
        text.contains("新闻：第一条 <重要>") && text.contains("Rust 2024 ships"),
        "{text}"
    );
    let html = ada.body_html(0).unwrap();
    assert!(
        html.contains("新闻：第一条 &lt;重要&gt;"),
        "escaped in HTML"
    );
    // Links are written as links: no `&#x2f;` for quoted-printable to split.
    assert!(
        html.contains("href=\"https://example.org/blog/"),
        "a plain link: {html}"
    );
    for (_, bytes) in &messages {
        assert!(
            !String::from_utf8_lossy(bytes).contains("&#x2"),
            "no escaped slashes in the message as sent"
        );
    }
    let bob = parse(&messages[1].1);
    assert_eq!(bob.subject(), Some("Test Site：1 篇新文章"));
    assert!(
        !bob.body_text(0).unwrap().contains("新闻"),
        "bob follows Tech only"
    );

    // No repeat on the next run, when the schedule has fired again.
    site.run_at(NEXT_DAY, &["run", "--once"]).expect(0);
    assert_eq!(sink.messages().len(), 2);
}

#[test]
fn a_4xx_is_retried_a_5xx_fails_one_recipient_only() {
    let sink = SmtpSink::start();
    let site = digest_site(
        &sink,
        "to = [\"later@example.org\", \"reject@example.org\"]",
    );
    site.post("news.md", post("Hello", "[News]", "[]"));
    let run = site.run_at(T1, &["run", "--once"]).expect(1);
    assert!(
        run.stdout()
            .contains("1 message sent, 1 to retry, 1 failed"),
        "{}",
        run.stdout()
    );
    let status = site.run(&["status"]).expect(0);
    assert!(
        status.stdout().contains("User unknown") || status.stdout().contains("550"),
        "{}",
        status.stdout()
    );

    site.run_at(NEXT_DAY, &["run", "--once"]).expect(0);
    let got: Vec<String> = sink.messages().into_iter().map(|(r, _)| r).collect();
    assert_eq!(got, ["ada@example.org", "later@example.org"]);
}

#[test]
fn a_message_waiting_for_a_retry_is_dropped_when_its_recipient_unsubscribes() {
    let sink = SmtpSink::start();
    let site = digest_site(&sink, "to = [\"later@example.org\"]");
    site.post("news.md", post("Hello", "[News]", "[]"));
    let run = site.run_at(T1, &["run", "--once"]).expect(0);
    assert!(run.stdout().contains("1 to retry"), "{}", run.stdout());
    site.run(&["unsubscribe", "later@example.org", "--notifier", "daily"])
        .expect(0);
    site.run_at(NEXT_DAY, &["run", "--once"]).expect(0);
    let got: Vec<String> = sink.messages().into_iter().map(|(r, _)| r).collect();
    assert_eq!(got, ["ada@example.org"], "the retry never went out");
    let db = rusqlite::Connection::open(site.path().join(".tidings/state.db")).unwrap();
    let (status, body): (String, String) = db
        .query_row(
            "SELECT status, body FROM deliveries WHERE recipient = 'later@example.org' AND status != 'sent'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), body.as_str()), ("skipped", ""));
    let shown = site.run(&["status"]).expect(0).stdout();
    assert!(
        shown.contains("1 skipped (unsubscribed or taken off the list while waiting)"),
        "{shown}"
    );
}

#[test]
fn unsubscribed_addresses_are_skipped_even_when_listed() {
    let sink = SmtpSink::start();
    let site = digest_site(&sink, "");
    site.run(&["unsubscribe", "ADA@example.org", "--notifier", "daily"])
        .expect(0);
    site.run(&["unsubscribe", "not an address"]).expect(2);
    site.post("tech.md", post("Tech news", "[Tech]", "[]"));
    site.run_at(T1, &["run", "--once"]).expect(0);
    let got: Vec<String> = sink.messages().into_iter().map(|(r, _)| r).collect();
    assert_eq!(got, ["bob@example.org"]);
}

#[test]
fn without_smtp_messages_become_eml_files_and_send_cuts_a_digest_now() {
    let site = Site::with_settings(&format!(
        "{}\n[email]\nfrom = \"news@example.org\"\n[notifiers.weekly]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"@weekly\"\nto = [\"a@example.org\"]",
        common::BASE_SETTINGS
    ));
    site.post("old.md", post("Old", "[News]", "[]"));
    site.run(&["run", "--once"]).expect(0);
    site.post("new.md", post("Fresh", "[News]", "[]"));
    site.run(&["run", "--once"]).expect(0);
    let preview = site
        .run(&[
            "preview",
            "weekly",
            "--html",
            site.path().join("p.html").to_str().unwrap(),
        ])
        .expect(0);
    assert!(
        preview.stdout().contains("Subject: Test Site: 1 new post"),
        "{}",
        preview.stdout()
    );
    assert!(
        std::fs::read_to_string(site.path().join("p.html"))
            .unwrap()
            .contains("Fresh")
    );
    let sent = site.run(&["send", "weekly"]).expect(0);
    assert!(
        sent.stdout().contains("1 messages made; 1 sent"),
        "{}",
        sent.stdout()
    );
    let files: Vec<PathBuf> = std::fs::read_dir(site.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(&files[0]).unwrap();
    assert_eq!(parse(&bytes).subject(), Some("Test Site: 1 new post"));
}

#[test]
fn bad_recipients_are_reported_with_file_and_line() {
    let site = Site::with_settings(&settings(
        25,
        "[notifiers.d]\ntype = \"email\"\nsubscribers = \"subs.csv\"",
    ));
    std::fs::write(
        site.path().join("subs.csv"),
        "email,name\nok@example.org,A\nnope,B\nr1@example.net,\"Line\nBreak\"\n",
    )
    .unwrap();
    // A bad row is reported with its file and line and skipped; the others still get mail.
    let run = site.run(&["check"]).expect(1);
    assert!(
        run.stderr()
            .contains("subs.csv:3: `nope` is not an email address; row skipped (notifier d)")
            && run
                .stderr()
                .contains("subs.csv:4: r1@example.net: the name holds a line break"),
        "{}",
        run.stderr()
    );
    std::fs::write(site.path().join("subs.csv"), "name\nA\n").unwrap();
    let run = site.run(&["check"]).expect(2);
    assert!(
        run.stderr().contains("notifiers.d.subscribers")
            && run.stderr().contains("no `email` column"),
        "{}",
        run.stderr()
    );
    let site = Site::with_settings(&format!(
        "{}\n[notifiers.d]\ntype = \"email\"\nto = [\"a@example.org\"]",
        common::BASE_SETTINGS
    ));
    assert!(site.run(&["check"]).expect(2).stderr().contains("[email]"));
    let site = Site::with_settings(&settings(
        25,
        "[notifiers.d]\ntype = \"email\"\nto = [\"a@example.org\"]\ntimeout_seconds = 5",
    ));
    assert!(
        site.run(&["check"])
            .expect(2)
            .stderr()
            .contains("email.timeout_seconds")
    );
}

/// The default digest, rendered for real posts (the zfour corpus when `TIDINGS_CORPUS` is
/// set, the bundled example otherwise): well-formed, no scripts or style blocks, styles
/// inline on the elements that carry the layout.
#[test]
fn the_default_digest_html_is_clean_and_inline_styled() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let content = match std::env::var_os("TIDINGS_CORPUS") {
        Some(corpus) => root.join(corpus).join("zfour-news/source/_posts"),
        None => root.join("examples/site/posts"),
    };
    let site = Site::with_settings(&format!(
        "{}\n[email]\nfrom = \"news@example.org\"\n[notifiers.d]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"@yearly\"\nto = [\"a@example.org\"]\nmax_posts = 30",
        common::BASE_SETTINGS.replace(
            "dir = \"posts\"",
            &format!("dir = {:?}", content.to_str().unwrap())
        )
    ));
    site.run(&["run", "--once", "--backfill", "30"]).expect(0);
    let html_path = site.path().join("digest.html");
    site.run(&["preview", "d", "--html", html_path.to_str().unwrap()])
        .expect(0);
    let html = std::fs::read_to_string(&html_path).unwrap();
    let lower = html.to_lowercase();
    assert!(
        !lower.contains("<script") && !lower.contains("<style"),
        "no script or style blocks"
    );
    for tag in ["<table", "<td", "<a ", "<p "] {
        let total = lower.matches(tag).count();
        let styled = lower
            .split(tag)
            .skip(1)
            .filter(|rest| rest.split('>').next().unwrap_or("").contains("style="))
            .count();
        assert!(
            total > 0 && styled == total,
            "{tag}: {styled} of {total} styled"
        );
    }
    assert!(lower.contains("max-width:100%"), "images scale on phones");
    let out = Command::new("xmllint")
        .args(["--html", "--noout"])
        .arg(&html_path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "xmllint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// RSA alone (PKCS#1, PKCS#8, and 1024 bits, which ring refuses and the `rsa` crate signs),
/// Ed25519 alone (the `dkim_key` pair), and both at once (`dkim = [...]`, as RFC 8463 advises): dkimpy verifies every signature, each covers the list headers and lists
/// each once more than the message carries it, so a prepended second Subject breaks it.
#[test]
fn dkim_signatures_verify_with_rsa_and_ed25519_and_cover_the_list_headers() {
    let pair = "dkim_key = \"rsa.pem\"\ndkim_selector = \"s2026\"";
    let ed_pair = "dkim_key = \"ed.pem\"\ndkim_selector = \"s2026\"";
    let both = "dkim = [{ key = \"rsa.pem\", selector = \"r1\" }, { key = \"ed.pem\", selector = \"e1\" }]";
    /// (selector, key file, algorithm tag) of each key a case signs with.
    type Keys<'a> = &'a [(&'a str, &'a str, &'a str)];
    let cases: [(&str, Keys); 5] = [
        (pair, &[("s2026", "rsa.pem", "a=rsa-sha256")]),
        (
            "dkim_key = \"rsa8.pem\"\ndkim_selector = \"p8\"",
            &[("p8", "rsa8.pem", "a=rsa-sha256")],
        ),
        (
            "dkim_key = \"rsa1024.pem\"\ndkim_selector = \"old\"",
            &[("old", "rsa1024.pem", "a=rsa-sha256")],
        ),
        (ed_pair, &[("s2026", "ed.pem", "a=ed25519-sha256")]),
        (
            both,
            &[
                ("r1", "rsa.pem", "a=rsa-sha256"),
                ("e1", "ed.pem", "a=ed25519-sha256"),
            ],
        ),
    ];
    for (dkim, keys) in cases {
        let site = Site::with_settings(&format!(
            "{}\n[email]\nfrom = \"测试站 <news@example.org>\"\nreply_to = \"desk@example.org\"\n\
             {dkim}\n\
             unsubscribe_url = \"https://example.org/unsubscribe\"\nsecret = \"${{TIDINGS_TEST_SECRET}}\"\n\
             [notifiers.now]\ntype = \"email\"\nto = [\"Ada Lovelace <a@example.org>\"]\n\
             [notifiers.daily]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nto = [\"b@example.org\"]",
            common::BASE_SETTINGS
        ));
        common::dkim_key(&site.path().join("rsa.pem"), "rsa");
        common::dkim_key(&site.path().join("rsa8.pem"), "rsa-pkcs8");
        common::dkim_key(&site.path().join("rsa1024.pem"), "rsa-1024");
        common::dkim_key(&site.path().join("ed.pem"), "ed25519");
        site.post("old.md", post("Old", "[News]", "[]"));
        site.run_at(T0, &["run", "--once"]).expect(0);
        site.post(
            "new.md",
            post(
                "签名的新闻 with a long title that folds the Subject header",
                "[News]",
                "[]",
            ),
        );
        site.run_at(T1, &["run", "--once"]).expect(0);
        let files: Vec<PathBuf> = std::fs::read_dir(site.path().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 2, "an instant message and a digest");
        let paths: Vec<(&str, PathBuf)> = keys
            .iter()
            .map(|(selector, file, _)| (*selector, site.path().join(file)))
            .collect();
        let verifier_keys: Vec<(&str, &Path)> =
            paths.iter().map(|(s, p)| (*s, p.as_path())).collect();
        common::assert_dkim_verifies(&verifier_keys, &files);
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            let message = parse(&bytes);
            let signatures: Vec<String> = message
                .header_values("DKIM-Signature")
                .map(|v| v.as_text().unwrap_or("").split_whitespace().collect())
                .collect();
            assert_eq!(signatures.len(), keys.len(), "one signature per key");
            for ((selector, _, algorithm), signature) in keys.iter().zip(&signatures) {
                for part in [
                    "d=example.org;",
                    &format!("s={selector};"),
                    algorithm,
                    "c=relaxed/relaxed;",
                ] {
                    assert!(signature.contains(part), "{part} missing: {signature}");
                }
                // Over-signed: every covered header is listed twice (the message carries it
                // once at most), whatever the order.
                let listed: Vec<String> = signature
                    .split(';')
                    .find_map(|tag| tag.strip_prefix("h="))
                    .unwrap_or_default()
                    .split(':')
                    .map(str::to_lowercase)
                    .collect();
                for name in tidings::notify::dkim::SIGNED_HEADERS {
                    let name = name.to_lowercase();
                    assert_eq!(
                        listed.iter().filter(|l| **l == name).count(),
                        2,
                        "{name} not listed twice: {signature}"
                    );
                }
                assert_eq!(
                    listed.len(),
                    2 * tidings::notify::dkim::SIGNED_HEADERS.len()
                );
            }
        }
    }
    let site = Site::with_settings(&format!(
        "{}\n[email]\nfrom = \"news@example.org\"\ndkim_key = \"dkim.pem\"\ndkim_selector = \"s\"\n\
         [notifiers.now]\ntype = \"email\"\nto = [\"a@example.org\"]",
        common::BASE_SETTINGS
    ));
    std::fs::write(site.path().join("dkim.pem"), "not a key").unwrap();
    let run = site.run(&["check"]).expect(2);
    assert!(run.stderr().contains("email.dkim_key"), "{}", run.stderr());
    // The list form names the entry at fault, and one selector cannot name two keys.
    common::dkim_key(&site.path().join("ed.pem"), "ed25519");
    for (dkim, key) in [
        (
            "dkim = [{ key = \"ed.pem\", selector = \"e1\" }, { key = \"dkim.pem\", selector = \"r1\" }]",
            "email.dkim[1].key",
        ),
        (
            "dkim = [{ key = \"ed.pem\", selector = \"e1\" }, { key = \"ed.pem\", selector = \"e1\" }]",
            "email.dkim",
        ),
        (
            "dkim = [{ key = \"ed.pem\", selector = \"e 1\" }]",
            "email.dkim[0].selector",
        ),
    ] {
        std::fs::write(
            site.path().join("settings.toml"),
            format!(
                "{}\n[email]\nfrom = \"news@example.org\"\n{dkim}\n\
                 [notifiers.now]\ntype = \"email\"\nto = [\"a@example.org\"]",
                common::BASE_SETTINGS
            ),
        )
        .unwrap();
        let run = site.run(&["check"]).expect(2);
        assert!(run.stderr().contains(key), "{key}: {}", run.stderr());
    }
}

/// A TLS mismatch, a refused password and a refused sender each stop the lane with one
/// clear error naming the key and what to change, count no attempt, and lose nothing: with
/// the setting fixed, the next run sends. `check --connect` says the same, sending nothing.
#[test]
fn a_wrong_setting_halts_the_lane_naming_the_key_and_loses_nothing() {
    let sink = SmtpSink::with_password("right-password");
    let smtp_settings = |smtp: &str, from: &str| {
        format!(
            "{}\n[email]\nsmtp = \"{smtp}\"\npassword = \"${{TIDINGS_TEST_SMTP_PASSWORD}}\"\nfrom = \"{from}\"\nrate = 50\n\
             [notifiers.now]\ntype = \"email\"\nto = [\"a@example.org\"]\nmax_attempts = 1\n",
            common::BASE_SETTINGS
        )
    };
    let good = format!("smtp://news@127.0.0.1:{}?tls=none", sink.port);
    let cases = [
        (
            format!("smtp://news@127.0.0.1:{}", sink.port),
            "news@example.org",
            "right-password",
            "`email.smtp`",
            "?tls=none",
        ),
        (
            good.clone(),
            "news@example.org",
            "wrong-password",
            "`email.password`",
            "535",
        ),
        (
            good.clone(),
            "bounce@example.org",
            "right-password",
            "`email.from`",
            "553",
        ),
    ];
    for (n, (smtp, from, password, key, hint)) in cases.into_iter().enumerate() {
        let site = Site::with_settings(&smtp_settings(&smtp, from));
        let run = |args: &[&str], password: &str| {
            common::Run(
                site.command(args)
                    .env("TIDINGS_TEST_SMTP_PASSWORD", password)
                    .env("TIDINGS_TEST_NOW", T0)
                    .output()
                    .unwrap(),
            )
        };
        site.post("old.md", post("Old", "[News]", "[]"));
        run(&["run", "--once"], password).expect(0);
        site.post(&format!("p{n}.md"), post("Held", "[News]", "[]"));
        let held = run(&["run", "--once"], password).expect(1);
        assert!(
            held.stdout()
                .contains("0 failed, 1 held until a setting is fixed"),
            "{}",
            held.stdout()
        );
        assert!(
            held.stderr().contains(key) && held.stderr().contains(hint),
            "{key}: {}",
            held.stderr()
        );
        let connect = run(&["check", "--connect"], password);
        if key != "`email.from`" {
            // The sender is judged only at MAIL FROM, which a connection check never sends.
            assert_eq!(connect.code(), 2, "{}", connect.stdout());
            assert!(connect.stderr().contains(key), "{}", connect.stderr());
        }
        let status = run(&["status", "--json"], password).expect(0);
        let doc: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
        assert_eq!(
            doc["notifiers"][0]["failed"], 0,
            "no attempt counted: {doc}"
        );
        assert!(
            doc["notifiers"][0]["last_error"]
                .as_str()
                .unwrap()
                .contains(key),
            "{doc}"
        );
        // Fixed: the next run sends it at once, at the same instant (no hour's pause).
        std::fs::write(
            site.path().join("settings.toml"),
            smtp_settings(&good, "news@example.org"),
        )
        .unwrap();
        let checked = run(&["check", "--connect"], "right-password").expect(0);
        assert!(
            checked.stdout().contains("logged in as the settings say"),
            "{}",
            checked.stdout()
        );
        let sent = common::Run(
            site.command(&["run", "--once"])
                .env("TIDINGS_TEST_SMTP_PASSWORD", "right-password")
                .env("TIDINGS_TEST_NOW", T0)
                .output()
                .unwrap(),
        )
        .expect(0);
        assert!(
            sent.stdout().contains("1 message sent"),
            "{}",
            sent.stdout()
        );
    }
    assert_eq!(
        sink.messages().len(),
        3,
        "each held message went once fixed"
    );
}

/// Without a server, `check` says that the mailto unsubscribe must be handled by hand; a
/// page of one's own at `email.unsubscribe_url` hands the link's token to
/// `tidings unsubscribe --token`, and that reader gets no more mail.
#[test]
fn unsubscribe_without_a_server_by_hand_or_by_token() {
    let sink = SmtpSink::start();
    let bare = Site::with_settings(&format!(
        "{}\n[email]\nfrom = \"news@example.org\"\n[notifiers.now]\ntype = \"email\"\nto = [\"a@example.org\"]",
        common::BASE_SETTINGS
    ));
    let check = bare.run(&["check"]).expect(0);
    assert!(
        check.stderr().contains("no one-click unsubscribe")
            && check.stderr().contains("tidings unsubscribe ADDRESS"),
        "{}",
        check.stderr()
    );
    let site = digest_site(&sink, "");
    assert!(
        !site
            .run(&["check"])
            .expect(0)
            .stderr()
            .contains("one-click")
    );
    site.post("news.md", post("Hello", "[News]", "[]"));
    site.run_at(T1, &["run", "--once"]).expect(0);
    let messages = sink.messages();
    let (_, bytes) = messages
        .iter()
        .find(|(rcpt, _)| rcpt == "ada@example.org")
        .unwrap();
    let header = parse(bytes)
        .header_raw("List-Unsubscribe")
        .unwrap()
        .to_owned();
    let token = header
        .split("token=")
        .nth(1)
        .unwrap()
        .split(['>', '&'])
        .next()
        .unwrap()
        .to_owned();
    site.run(&["unsubscribe", "--token", "forged.token"])
        .expect(2);
    let done = site.run(&["unsubscribe", "--token", &token]).expect(0);
    assert!(
        done.stdout()
            .contains("ada@example.org gets no more mail from daily"),
        "{}",
        done.stdout()
    );
    site.post("more.md", post("Again", "[News]", "[]"));
    site.run_at(NEXT_DAY, &["run", "--once"]).expect(0);
    let to_ada = sink
        .messages()
        .iter()
        .filter(|(rcpt, _)| rcpt == "ada@example.org")
        .count();
    assert_eq!(to_ada, 1, "nothing after the unsubscribe");
}

/// A zh-CN site writes to its readers in Chinese: subjects, headings, footers, the reason
/// and the unsubscribe link of instant mail and digests; English gets its plurals right;
/// `email.language` mails readers in another language than the site's.
#[test]
fn mail_speaks_the_sites_language() {
    let english_words = [
        "new post",
        "Unsubscribe",
        "You receive",
        "Read on",
        "more on",
        ">More<",
    ];
    let run_site = |language: &str, email_language: &str| {
        let sink = SmtpSink::start();
        let settings = settings(
            sink.port,
            &format!(
                "{email_language}\n[notifiers.now]\ntype = \"email\"\nto = [\"a@example.org\"]\n\
                 [notifiers.daily]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nto = [\"b@example.org\"]\n"
            ),
        )
        .replace(
            "timezone = \"Asia/Shanghai\"",
            &format!("timezone = \"Asia/Shanghai\"\nlanguage = \"{language}\""),
        );
        let site = Site::with_settings(&settings);
        site.post("old.md", post("Old", "[News]", "[]"));
        site.run_at(T0, &["run", "--once"]).expect(0);
        site.post("one.md", post("第一条", "[新闻]", "[]"));
        site.run_at(T1, &["run", "--once"]).expect(0);
        let mut texts = Vec::new();
        for (_, bytes) in sink.messages() {
            let message = parse(&bytes);
            texts.push((
                message.subject().unwrap_or("").to_owned(),
                message.body_text(0).unwrap().into_owned(),
                message.body_html(0).unwrap().into_owned(),
            ));
        }
        assert_eq!(texts.len(), 2, "an instant message and a digest");
        texts
    };
    for (subject, text, html) in run_site("zh-CN", "") {
        assert_eq!(subject, "Test Site：1 篇新文章");
        for word in english_words {
            assert!(
                !text.contains(word) && !html.contains(word),
                "{word:?} in:\n{text}\n{html}"
            );
        }
        assert!(text.contains("退订") && html.contains("退订"), "{text}");
        assert!(text.contains("您收到这封邮件"), "{text}");
    }
    for (subject, text, _) in run_site("en", "") {
        assert_eq!(subject, "Test Site: 1 new post", "one post, singular");
        assert!(text.contains("Unsubscribe"), "{text}");
    }
    // A Chinese site that mails its readers in English.
    for (subject, text, _) in run_site("zh-CN", "language = \"en\"") {
        assert_eq!(subject, "Test Site: 1 new post");
        assert!(!text.contains("退订"), "{text}");
    }
}

/// `unsubscribe` refuses a notifier that has no subscribers (a webhook) and says when the
/// address was on no list, recording it all the same.
#[test]
fn unsubscribe_names_what_it_could_not_do() {
    let sink = SmtpSink::start();
    let site = digest_site(
        &sink,
        "\n[notifiers.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\n",
    );
    let known = site
        .run(&["unsubscribe", "bob@example.org", "--notifier", "daily"])
        .expect(0);
    assert!(
        known.stdout().contains("gets no more mail from daily"),
        "{}",
        known.stdout()
    );
    let unknown = site.run(&["unsubscribe", "nobody@example.org"]).expect(0);
    assert!(
        unknown
            .stdout()
            .contains("nobody@example.org is on no list of any notifier"),
        "{}",
        unknown.stdout()
    );
    let hook = site
        .run(&["unsubscribe", "bob@example.org", "--notifier", "hook"])
        .expect(2);
    assert!(
        hook.stderr().contains("`hook` is not an email notifier"),
        "{}",
        hook.stderr()
    );
}

/// What a mailing leaves in the state: while it waits, its bodies; once sent, short rows
/// (bodies and post lists dropped); after `state.keep_days`, the rows are pruned, their
/// counts kept, and the file gives the space back.
#[test]
fn a_sent_mailing_leaves_a_small_state() {
    const READERS: usize = 2_000;
    let site = Site::with_settings(&format!(
        "{}\n[state]\nkeep_days = 7\n[email]\nfrom = \"news@example.org\"\nrate = 10000\n\
         [notifiers.daily]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nsubscribers = \"subscribers.csv\"",
        common::BASE_SETTINGS
    ));
    std::fs::write(
        site.path().join("subscribers.csv"),
        common::readers_csv(READERS),
    )
    .unwrap();
    site.post("old.md", post("Old", "[News]", "[]"));
    site.run_at(T0, &["run", "--once"]).expect(0);
    for n in 0..20 {
        site.post(
            &format!("p{n}.md"),
            post(&format!("新闻 {n} {}", "长标题".repeat(10)), "[News]", "[]"),
        );
    }
    site.run_at(T1, &["run", "--once"]).expect(0);
    let state = |site: &Site| -> u64 {
        ["state.db", "state.db-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(site.path().join(".tidings").join(f)).ok())
            .map(|m| m.len())
            .sum()
    };
    let status = |site: &Site| -> serde_json::Value {
        let out = site.run(&["status", "--json"]).expect(0).stdout();
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["notifiers"][0].clone()
    };
    assert_eq!(
        status(&site)["sent"],
        READERS,
        "every reader got the digest"
    );
    let sent = state(&site);
    // Eight days on, the scan prunes the rows; the count stays.
    site.run_at("2026-12-09T00:00:00Z", &["run", "--once"])
        .expect(0);
    let pruned = state(&site);
    assert_eq!(
        status(&site)["sent"],
        READERS,
        "the count outlives the rows"
    );
    eprintln!("state after {READERS} messages sent: {sent} bytes; pruned: {pruned} bytes");
    // ≤ 20 MB for 10,000 messages sent: proportionally 4 MB for these, and far less pruned.
    assert!(sent <= 4 * 1024 * 1024, "{sent} bytes after sending");
    assert!(pruned <= 512 * 1024, "{pruned} bytes after pruning");
}

/// The list in the operator's hands: what the state keeps of readers (sign-ups with their
/// categories, unsubscribes from one notifier or from all) exports, erases and imports
/// back to exactly the same records; `list` shows list and sign-up readers alike; `erase`
/// takes every message to the address with it.
#[test]
fn readers_round_trip_export_erase_import() {
    let site = Site::with_settings(&format!(
        "{}\n[email]\nfrom = \"news@example.org\"\nrate = 10000\n\
         [notifiers.letters]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nsubscribers = \"subscribers.csv\"\n\
         [notifiers.now]\ntype = \"email\"\nto = [\"desk@example.org\"]",
        common::BASE_SETTINGS
    ));
    std::fs::write(
        site.path().join("subscribers.csv"),
        "email,name\nada@example.org,Ada\nbob@example.org,Bob\n",
    )
    .unwrap();
    site.post("old.md", post("Old", "[News]", "[]"));
    site.run_at(T0, &["run", "--once"]).expect(0);
    let signups = "notifier,address,state,mailbox,categories,at\n\
        letters,carol@example.org,signed_up,Carol <Carol@Example.org>,News|Tech/Rust,2026-11-01T10:00:00.000000Z\n\
        letters,dan@example.org,signed_up,dan@example.org,,2026-11-02T10:00:00.000000Z\n";
    std::fs::write(site.path().join("signups.csv"), signups).unwrap();
    site.run(&[
        "readers",
        "import",
        &site.path().join("signups.csv").to_string_lossy(),
    ])
    .expect(0);
    site.run(&["unsubscribe", "bob@example.org", "--notifier", "letters"])
        .expect(0);
    site.run(&["unsubscribe", "eve@example.org"]).expect(0);
    // A digest waits for Carol and the others.
    site.post("new.md", post("New", "[News]", "[]"));
    site.run_at(T1, &["run", "--once"]).expect(0);

    let list: serde_json::Value =
        serde_json::from_str(&site.run(&["readers", "list", "--json"]).expect(0).stdout()).unwrap();
    let shown: Vec<(String, String, String, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["notifier"].as_str().unwrap().to_owned(),
                r["address"].as_str().unwrap().to_owned(),
                r["sources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("+"),
                r["unsubscribed"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("letters", "ada@example.org", "listed", false),
        ("letters", "bob@example.org", "listed", true),
        ("letters", "carol@example.org", "signed_up", false),
        ("letters", "dan@example.org", "signed_up", false),
        ("now", "desk@example.org", "listed", false),
    ];
    assert_eq!(
        shown,
        expected
            .iter()
            .map(|(n, a, s, u)| (n.to_string(), a.to_string(), s.to_string(), *u))
            .collect::<Vec<_>>()
    );

    let before = site.run(&["readers", "export"]).expect(0).stdout();
    assert_eq!(
        before.lines().count(),
        5,
        "two sign-ups, two unsubscribes: {before}"
    );
    assert!(
        before.contains(
            "letters,carol@example.org,signed_up,Carol <Carol@Example.org>,News|Tech/Rust,"
        )
    );
    assert!(before.contains("*,eve@example.org,unsubscribed,,,"));
    std::fs::write(site.path().join("export.csv"), &before).unwrap();
    let json = site
        .run(&["readers", "export", "--json"])
        .expect(0)
        .stdout();
    std::fs::write(site.path().join("export.json"), &json).unwrap();

    for address in [
        "bob@example.org",
        "carol@example.org",
        "dan@example.org",
        "eve@example.org",
    ] {
        let erased = site.run(&["readers", "erase", address]).expect(0);
        if address == "bob@example.org" {
            assert!(
                erased
                    .stderr()
                    .contains("`letters`'s list still names bob@example.org")
            );
        }
        if address == "carol@example.org" {
            assert!(
                erased
                    .stdout()
                    .contains("1 sign-up(s), 0 unsubscribe(s), 1 message(s)"),
                "{}",
                erased.stdout()
            );
        }
    }
    assert_eq!(
        site.run(&["readers", "export"])
            .expect(0)
            .stdout()
            .lines()
            .count(),
        1,
        "only the header is left"
    );
    site.run(&[
        "readers",
        "import",
        &site.path().join("export.csv").to_string_lossy(),
    ])
    .expect(0);
    assert_eq!(
        site.run(&["readers", "export"]).expect(0).stdout(),
        before,
        "CSV round trip"
    );
    for address in [
        "bob@example.org",
        "carol@example.org",
        "dan@example.org",
        "eve@example.org",
    ] {
        site.run(&["readers", "erase", address]).expect(0);
    }
    site.run(&[
        "readers",
        "import",
        &site.path().join("export.json").to_string_lossy(),
    ])
    .expect(0);
    assert_eq!(
        site.run(&["readers", "export"]).expect(0).stdout(),
        before,
        "JSON round trip"
    );

    // A bad record stops the import before anything is stored.
    std::fs::write(
        site.path().join("bad.csv"),
        "notifier,address,state,mailbox,categories,at\nletters,x@example.org,signed_up,,,2026-11-01T10:00:00Z\nnobody,y@example.org,signed_up,,,2026-11-01T10:00:00Z\n",
    )
    .unwrap();
    let bad = site
        .run(&[
            "readers",
            "import",
            &site.path().join("bad.csv").to_string_lossy(),
        ])
        .expect(2);
    assert!(
        bad.stderr()
            .contains("record 2: `nobody` is not an email notifier"),
        "{}",
        bad.stderr()
    );
    assert!(
        !site
            .run(&["readers", "export"])
            .expect(0)
            .stdout()
            .contains("x@example.org")
    );
}

/// A DSN as a receiving MTA returns it to the envelope sender `to`, about `recipient`.
fn dsn(to: &str, recipient: &str, action: &str, status: &str) -> String {
    format!(
        "Return-Path: <>\r\nDelivered-To: {to}\r\nFrom: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n\
         To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"DSN\"\r\n\r\n\
         --DSN\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n\
         --DSN\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx.example.org\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; {} {status} mailbox says no\r\n\r\n\
         --DSN\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         Return-Path: <{to}>\r\nFrom: news@example.org\r\nTo: {recipient}\r\nSubject: Digest\r\n\r\n--DSN--\r\n",
        if status.starts_with('5') { 550 } else { 452 }
    )
}

/// An ARF complaint from a mailbox provider's feedback loop about mail sent from `from`.
fn arf(from: &str, recipient: &str) -> String {
    format!(
        "From: fbl@provider.example\r\nTo: abuse@example.org\r\nSubject: complaint\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"ARF\"\r\n\r\n\
         --ARF\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n\
         --ARF\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\
         Original-Mail-From: <{from}>\r\nOriginal-Rcpt-To: <{recipient}>\r\n\r\n\
         --ARF\r\nContent-Type: message/rfc822\r\n\r\nReturn-Path: <{from}>\r\nFrom: news@example.org\r\n\
         To: {recipient}\r\nSubject: Digest\r\n\r\nThe digest.\r\n--ARF--\r\n"
    )
}

/// The five readers of the bounce tests, written as the site's subscriber list.
fn bounce_readers(site: &Site) -> [String; 5] {
    let readers = ["dead", "full", "grumpy", "victim", "fine"].map(|r| format!("{r}@example.org"));
    std::fs::write(
        site.path().join("subscribers.csv"),
        format!("email\n{}\n", readers.join("\n")),
    )
    .unwrap();
    readers
}

/// What comes back about them, each to the return path the reader's message was sent
/// from (`senders`): a hard bounce for dead@, two soft ones for full@, a complaint about
/// grumpy@, and a forged hard bounce naming victim@ on fine@'s return path.
fn bounce_reports(senders: &std::collections::HashMap<String, String>) -> Vec<String> {
    vec![
        dsn(
            &senders["dead@example.org"],
            "dead@example.org",
            "failed",
            "5.1.1",
        ),
        dsn(
            &senders["full@example.org"],
            "full@example.org",
            "failed",
            "4.2.2",
        ),
        dsn(
            &senders["full@example.org"],
            "full@example.org",
            "delayed",
            "4.2.2",
        ),
        arf(&senders["grumpy@example.org"], "grumpy@example.org"),
        dsn(
            &senders["fine@example.org"],
            "victim@example.org",
            "failed",
            "5.1.1",
        ),
    ]
}

/// Bounces and complaints from a Maildir: every message goes out from its recipient's
/// signed return path; a hard bounce, soft bounces up to `soft_limit` and a complaint take
/// exactly those readers off every list, a forged report (another reader's return path)
/// and an auto-reply take no one off, the reports are marked seen and none deleted, and the
/// next digest goes to the others only.
#[test]
fn bounces_and_complaints_take_exactly_those_readers_off() {
    let sink = SmtpSink::start();
    let notifier = "return_path = \"returned@example.org\"\n\
        [bounces]\nmaildir = \"bounces\"\nsoft_limit = 2\n\
        [notifiers.daily]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nsubscribers = \"subscribers.csv\"\n";
    let site = Site::with_settings(&settings(sink.port, notifier));
    let readers = bounce_readers(&site);
    site.post("old.md", post("Old", "[News]", "[]"));
    site.run_at(T0, &["run", "--once"]).expect(0);
    site.post("one.md", post("One", "[News]", "[]"));
    site.run_at(T1, &["run", "--once"]).expect(0);
    assert_eq!(sink.messages().len(), 5);
    let senders = sink.envelope_senders();
    for reader in &readers {
        let from = &senders[reader];
        let token = from
            .strip_prefix("returned+")
            .and_then(|t| t.strip_suffix("@example.org"))
            .unwrap_or_else(|| panic!("{reader}'s return path {from}"));
        assert_eq!(token.len(), 20, "{from}");
    }
    assert_ne!(
        senders[&readers[0]], senders[&readers[1]],
        "one token per reader"
    );
    let new = site.path().join("bounces/new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::create_dir_all(site.path().join("bounces/cur")).unwrap();
    std::fs::create_dir_all(site.path().join("bounces/tmp")).unwrap();
    let mut reports = bounce_reports(&senders);
    reports.push(format!(
        "From: fine@example.org\r\nTo: {}\r\nSubject: Out of office\r\n\r\nAway.\r\n",
        senders["fine@example.org"]
    ));
    for (i, report) in reports.iter().enumerate() {
        std::fs::write(new.join(format!("17650000{i:02}.M1P1.mx")), report).unwrap();
    }
    let run = site.run_at(NEXT_DAY, &["run", "--once"]).expect(0);
    assert!(
        run.stderr()
            .contains("without its signed return path: not believed"),
        "{}",
        run.stderr()
    );
    // Read and marked seen, none deleted.
    assert_eq!(std::fs::read_dir(&new).unwrap().count(), 0);
    let cur: Vec<String> = std::fs::read_dir(site.path().join("bounces/cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cur.len(), 6);
    assert!(cur.iter().all(|n| n.ends_with(":2,S")), "{cur:?}");
    // Exactly those three are off, with their reasons.
    let listed = common::reader_reasons(&site);
    let reason = |address: &str| listed[address].clone();
    assert!(
        reason("dead@example.org").starts_with("bounced: 5.1.1"),
        "{listed:?}"
    );
    assert!(
        reason("full@example.org").starts_with("bounced: 2 soft bounces"),
        "{listed:?}"
    );
    assert_eq!(reason("grumpy@example.org"), "complained: abuse");
    assert_eq!(reason("victim@example.org"), "");
    assert_eq!(reason("fine@example.org"), "");
    let status: serde_json::Value =
        serde_json::from_str(&site.run(&["status", "--json"]).expect(0).stdout()).unwrap();
    assert_eq!(status["notifiers"][0]["bounced"], 2);
    assert_eq!(status["notifiers"][0]["complained"], 1);
    // The next digest goes to the two left.
    site.post("two.md", post("Two", "[News]", "[]"));
    site.run_at("2026-12-02T00:00:02Z", &["run", "--once"])
        .expect(0);
    let mut second: Vec<String> = sink.messages()[5..]
        .iter()
        .map(|(r, _)| r.clone())
        .collect();
    second.sort();
    assert_eq!(second, ["fine@example.org", "victim@example.org"]);
    // A report read again (the operator moved it back) changes nothing.
    let again = site.path().join("bounces/cur").join(&cur[0]);
    std::fs::rename(&again, new.join("again")).unwrap();
    site.run_at("2026-12-02T00:00:03Z", &["run", "--once"])
        .expect(0);
    let after: serde_json::Value =
        serde_json::from_str(&site.run(&["status", "--json"]).expect(0).stdout()).unwrap();
    assert_eq!(after["notifiers"][0]["bounced"], 2);
}

/// The same reports delivered into an IMAP mailbox (Dovecot): exactly the readers they are
/// about are taken off, every message is marked seen and none deleted, and a second pass
/// reads nothing again.
#[test]
fn bounces_from_an_imap_mailbox_take_exactly_those_readers_off() {
    let Some(dovecot) = common::dovecot::Dovecot::start() else {
        return;
    };
    let sink = SmtpSink::start();
    let notifier = format!(
        "return_path = \"returned@example.org\"\n\
         [bounces]\nimap = \"imap://{}@127.0.0.1:{}/INBOX\"\npassword = \"${{TIDINGS_TEST_IMAP_PASSWORD}}\"\nsoft_limit = 2\n\
         [notifiers.daily]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nsubscribers = \"subscribers.csv\"\n",
        common::dovecot::USER,
        dovecot.port
    );
    let site = Site::with_settings(&settings(sink.port, &notifier));
    let run = |at: &str, args: &[&str]| {
        common::Run(
            site.command(args)
                .env("TIDINGS_TEST_IMAP_PASSWORD", common::dovecot::PASSWORD)
                .env("TIDINGS_TEST_NOW", at)
                .output()
                .unwrap(),
        )
    };
    bounce_readers(&site);
    site.post("old.md", post("Old", "[News]", "[]"));
    run(T0, &["run", "--once"]).expect(0);
    site.post("one.md", post("One", "[News]", "[]"));
    run(T1, &["run", "--once"]).expect(0);
    let senders = sink.envelope_senders();
    let reports = bounce_reports(&senders);
    for report in &reports {
        dovecot.deliver(report.as_bytes());
    }
    let checked = run(NEXT_DAY, &["check", "--connect"]).expect(0);
    assert!(
        checked.stdout().contains("bounces.imap: logged in")
            && checked.stdout().contains("5 unseen"),
        "{}",
        checked.stdout()
    );
    assert_eq!(dovecot.counts(), (5, 0), "checking reads and marks nothing");
    let wrong = common::Run(
        site.command(&["check", "--connect"])
            .env("TIDINGS_TEST_IMAP_PASSWORD", "not-the-password")
            .output()
            .unwrap(),
    )
    .expect(2);
    assert!(
        wrong.stderr().contains("`bounces.imap`") && wrong.stderr().contains("login"),
        "{}",
        wrong.stderr()
    );
    let first = run(NEXT_DAY, &["run", "--once"]).expect(0);
    assert!(
        first.stderr().contains("not believed"),
        "{}",
        first.stderr()
    );
    assert_eq!(
        dovecot.counts(),
        (5, 5),
        "all read and marked seen, none deleted"
    );
    let status: serde_json::Value =
        serde_json::from_str(&run(NEXT_DAY, &["status", "--json"]).expect(0).stdout()).unwrap();
    assert_eq!(status["notifiers"][0]["bounced"], 2);
    assert_eq!(status["notifiers"][0]["complained"], 1);
    // Nothing unseen is left: a second pass reads nothing.
    let again = run("2026-12-02T00:00:01Z", &["-v", "run", "--once"]).expect(0);
    assert!(
        !again.stderr().contains("read the bounce mailbox"),
        "{}",
        again.stderr()
    );
    site.post("two.md", post("Two", "[News]", "[]"));
    run("2026-12-02T00:00:02Z", &["run", "--once"]).expect(0);
    let mut second: Vec<String> = sink.messages()[5..]
        .iter()
        .map(|(r, _)| r.clone())
        .collect();
    second.sort();
    assert_eq!(second, ["fine@example.org", "victim@example.org"]);
}

/// `check --connect` to a server taking mail without a login says there was none, rather
/// than that it logged in.
#[test]
fn check_connect_without_a_login_says_so() {
    let sink = SmtpSink::start();
    let site = Site::with_settings(&settings(
        sink.port,
        "[notifiers.now]\ntype = \"email\"\nto = [\"a@example.org\"]\n",
    ));
    let checked = site.run(&["check", "--connect"]).expect(0);
    assert!(
        checked.stdout().contains("with no login") && !checked.stdout().contains("logged in"),
        "{}",
        checked.stdout()
    );
    assert!(sink.messages().is_empty(), "nothing sent");
}

/// `readers erase --keep-suppression`: a reader who unsubscribed and then asked to be
/// erased leaves no trace of the address in the state file (not even in its free space or
/// its write-ahead log), yet the operator's list, which still names them, mails them no more.
/// Without the flag, `erase` warns that the list would mail them again.
#[test]
fn an_erased_reader_with_a_kept_suppression_is_not_mailed_again() {
    let site = Site::with_settings(&format!(
        "{}\n[email]\nfrom = \"news@example.org\"\n\
         [notifiers.letters]\ntype = \"email\"\nsubscribers = \"subscribers.csv\"",
        common::BASE_SETTINGS
    ));
    std::fs::write(
        site.path().join("subscribers.csv"),
        "email,name\nada@example.org,Ada\nbob.erased@example.org,Bob\n",
    )
    .unwrap();
    site.post("old.md", post("Old", "[News]", "[]"));
    site.run_at(T0, &["run", "--once"]).expect(0);
    site.post("first.md", post("First", "[News]", "[]"));
    site.run_at(T1, &["run", "--once"]).expect(0);
    let outbox = site.path().join("outbox");
    let mailed = |to: &str| -> usize {
        std::fs::read_dir(&outbox)
            .map(|files| {
                files
                    .filter(|f| {
                        std::fs::read_to_string(f.as_ref().unwrap().path())
                            .unwrap()
                            .contains(&format!("<{to}>"))
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(
        (mailed("ada@example.org"), mailed("bob.erased@example.org")),
        (1, 1)
    );
    site.run(&["unsubscribe", "bob.erased@example.org"])
        .expect(0);
    let erased = site
        .run(&[
            "readers",
            "erase",
            "bob.erased@example.org",
            "--keep-suppression",
        ])
        .expect(0);
    assert!(
        erased.stdout().contains("1 suppression(s) kept"),
        "{}",
        erased.stdout()
    );
    assert!(
        !erased.stderr().contains("still names"),
        "a kept suppression covers the list: {}",
        erased.stderr()
    );
    let state = site.path().join(".tidings");
    for file in std::fs::read_dir(&state).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(10).any(|w| w == b"bob.erased"),
            "the state holds no trace of the address"
        );
    }
    assert!(
        !site
            .run(&["readers", "export"])
            .expect(0)
            .stdout()
            .contains("bob.erased")
    );
    site.post("second.md", post("Second", "[News]", "[]"));
    site.run_at("2026-12-01T00:00:04Z", &["run", "--once"])
        .expect(0);
    assert_eq!(
        (mailed("ada@example.org"), mailed("bob.erased@example.org")),
        (2, 1),
        "the list still names Bob; the kept suppression keeps him off"
    );
    // Erased without the flag, an unsubscribed reader the list names is mailed again:
    // `erase` says so.
    site.run(&["unsubscribe", "ada@example.org"]).expect(0);
    let plain = site.run(&["readers", "erase", "ada@example.org"]).expect(0);
    assert!(
        plain
            .stderr()
            .contains("`letters`'s list still names ada@example.org"),
        "{}",
        plain.stderr()
    );
}
