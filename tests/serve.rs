//! `tidings serve` through the real binary on 127.0.0.1: feeds with validators and gzip, no
//! way out of the feeds folder, the front page, double opt-in sign-up against a real SMTP
//! server (aiosmtpd), one-click unsubscribe, health, metrics, WebSub pings to a real HTTP
//! hub, and one end-to-end run in a real headless Chromium.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Site;
use common::browser::Browser;
use common::http::{self, Response};
use common::receiver::{Receiver, Reply};
use common::smtp::SmtpSink;
use mail_parser::MessageParser;
use tidings::clock::{Clock, SystemClock};

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn post(title: &str, categories: &str) -> String {
    format!(
        "---\ntitle: {title:?}\ndate: 2024-01-02 10:00:00\ncategories: {categories}\ntags: [notes]\n---\nThe body of {title}.\n"
    )
}

/// Settings with a server on `port`, mail to `smtp`, and a digest notifier (every second)
/// that takes sign-ups and always writes to the editor.
fn settings(port: u16, smtp: u16, extra_server: &str) -> String {
    format!(
        r#"{base}
[schedule]
scan = "* * * * * *"

[email]
smtp = "smtp://127.0.0.1:{smtp}?tls=none"
from = "Test Site <news@example.org>"
rate = 50

[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}/"
secret = "${{TIDINGS_TEST_SECRET}}"
{extra_server}

[notifiers.letters]
type = "email"
mode = "digest"
schedule = "* * * * * *"
to = ["editor@example.org"]
signup = true
"#,
        base = common::BASE_SETTINGS
    )
}

/// `tidings serve` running on a site; stopped with SIGTERM when dropped.
struct Served {
    site: Site,
    host: String,
    child: Option<Child>,
}

impl Served {
    fn start(site: Site, port: u16) -> Served {
        let child = Self::spawn(&site);
        let served = Served {
            site,
            host: format!("127.0.0.1:{port}"),
            child: Some(child),
        };
        served.wait_until_scanned();
        served
    }

    fn spawn(site: &Site) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(site.path().join("serve.log"))
            .unwrap();
        site.command(&["serve"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    /// Stops the server (SIGTERM) and starts it again on the same site and port.
    fn restart(&mut self) {
        assert!(self.stop().success());
        self.child = Some(Self::spawn(&self.site));
        self.wait_until_scanned();
    }

    fn wait_until_scanned(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(&self.host).is_ok() {
                let health = http::get(&self.host, "/healthz", &[]);
                if health.status == 200 && !health.text().contains("\"last_scan\":null") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the server did not come up:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.site.path().join("serve.log")).unwrap_or_default()
    }

    fn get(&self, target: &str, headers: &[(&str, &str)]) -> Response {
        http::get(&self.host, target, headers)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }

    /// SIGTERM, then the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}

/// A site with three posts in two categories, served.
fn served_site(smtp: u16, extra_server: &str) -> Served {
    let port = free_port();
    let site = Site::with_settings(&settings(port, smtp, extra_server));
    site.post("a.md", post("Alpha", "[News]"));
    site.post("b.md", post("Beta", "[Tech, Rust]"));
    site.post("c.md", post("Gamma", "[Tech]"));
    Served::start(site, port)
}

/// The signed form token the front page carries for `notifier`.
fn form_token(served: &Served) -> String {
    let page = served.get("/", &[]).text();
    let at = page
        .find("name=\"form_token\" value=\"")
        .expect("a sign-up form");
    let rest = &page[at + "name=\"form_token\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
        .into_bytes()
}

fn post_form(served: &Served, target: &str, fields: &[(&str, &str)]) -> Response {
    let origin = served.url("");
    http::request(
        &served.host,
        "POST",
        target,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
        ],
        &form(fields),
    )
}

/// Signs `address` up for `letters` through the front page's form.
fn sign_up(served: &Served, address: &str) {
    let token = form_token(served);
    let answer = post_form(
        served,
        "/subscribe",
        &[
            ("email", address),
            ("notifier", "letters"),
            ("form_token", &token),
        ],
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
}

/// Messages the sink received for `address`, parsed: (subject, text, List-Unsubscribe).
fn mail_to(sink: &SmtpSink, address: &str) -> Vec<(String, String, Option<String>)> {
    sink.messages()
        .into_iter()
        .filter(|(rcpt, _)| rcpt == address)
        .map(|(_, bytes)| {
            let message = MessageParser::default().parse(&bytes[..]).unwrap();
            let subject = message.subject().unwrap_or("").to_owned();
            let text = message.body_text(0).unwrap_or_default().into_owned();
            let unsubscribe = message
                .header_raw("List-Unsubscribe")
                .map(|v| v.trim().to_owned());
            (subject, text, unsubscribe)
        })
        .collect()
}

/// Waits until `address` has received `n` messages.
fn wait_for_mail(
    sink: &SmtpSink,
    address: &str,
    n: usize,
    served: &Served,
) -> Vec<(String, String, Option<String>)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mail = mail_to(sink, address);
        if mail.len() >= n {
            return mail;
        }
        assert!(
            Instant::now() < deadline,
            "{address} got {} of {n} messages:\n{}",
            mail.len(),
            served.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until no notifier has anything pending, retrying or being composed (`status
/// --json`): whatever the server was going to send has been sent, so what did not arrive
/// never will.
fn wait_until_drained(served: &Served) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = served.site.run(&["status", "--json"]).expect(0).stdout();
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        let busy = status["notifiers"].as_array().unwrap().iter().any(|n| {
            ["pending", "retrying", "composing"]
                .iter()
                .any(|k| n[*k].as_u64() != Some(0))
        });
        if !busy {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox never drained: {status}\n{}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The first `http…` URL in `text` that contains `needle`.
fn link_in(text: &str, needle: &str) -> String {
    text.split_whitespace()
        .find(|word| word.starts_with("http") && word.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} link in:\n{text}"))
        .trim_end_matches(['>', ',', '.'])
        .to_owned()
}

/// The path and query of a URL on the served host.
fn target_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    format!("{}?{}", parsed.path(), parsed.query().unwrap_or(""))
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn feeds_are_served_with_types_validators_and_gzip() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    let out = served.site.out();
    for (file, media_type) in [
        ("rss.xml", "application/rss+xml"),
        ("atom.xml", "application/atom+xml"),
        ("feed.json", "application/feed+json"),
        ("index.opml", "text/x-opml"),
        ("categories/Tech/rss.xml", "application/rss+xml"),
    ] {
        let answer = served.get(&format!("/feeds/{file}"), &[]);
        assert_eq!(answer.status, 200, "{file}");
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with(media_type),
            "{file}: {:?}",
            answer.header("content-type")
        );
        assert_eq!(
            answer.body,
            std::fs::read(out.join(file)).unwrap(),
            "{file}"
        );
        assert!(answer.header("etag").is_some() && answer.header("last-modified").is_some());
        if file != "index.opml" {
            common::parse_feed(&out.join(file));
            feed_rs::parser::parse(answer.body.as_slice()).expect("feed-rs parses what is served");
        }
    }

    let first = served.get("/feeds/rss.xml", &[]);
    let etag = first.header("etag").unwrap().to_owned();
    let modified = first.header("last-modified").unwrap().to_owned();
    let cached = served.get("/feeds/rss.xml", &[("If-None-Match", &etag)]);
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    assert_eq!(cached.header("etag"), Some(etag.as_str()));
    let weak = format!("W/{etag}");
    assert_eq!(
        served
            .get("/feeds/rss.xml", &[("If-None-Match", &weak)])
            .status,
        304
    );
    assert_eq!(
        served
            .get("/feeds/rss.xml", &[("If-Modified-Since", &modified)])
            .status,
        304
    );
    let stale = served.get("/feeds/rss.xml", &[("If-None-Match", "\"0000\"")]);
    assert_eq!(stale.status, 200);
    assert_eq!(
        served
            .get(
                "/feeds/rss.xml",
                &[("If-Modified-Since", "Thu, 01 Jan 2015 00:00:00 GMT")]
            )
            .status,
        200
    );

    let zipped = served.get("/feeds/rss.xml", &[("Accept-Encoding", "gzip, br")]);
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert_eq!(zipped.header("vary"), Some("Accept-Encoding, Accept"));
    assert_ne!(
        zipped.header("etag"),
        Some(etag.as_str()),
        "a variant has its own tag"
    );
    assert_eq!(gunzip(&zipped.body), first.body);
    let zipped_tag = zipped.header("etag").unwrap().to_owned();
    assert_eq!(
        served
            .get(
                "/feeds/rss.xml",
                &[("Accept-Encoding", "gzip"), ("If-None-Match", &zipped_tag)]
            )
            .status,
        304
    );
    let refused = served.get("/feeds/rss.xml", &[("Accept-Encoding", "gzip;q=0")]);
    assert_eq!(refused.header("content-encoding"), None);

    let head = http::request(&served.host, "HEAD", "/feeds/rss.xml", &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(first.body.len().to_string().as_str())
    );
    let wrong_method = http::request(&served.host, "POST", "/feeds/rss.xml", &[], b"");
    assert_eq!(wrong_method.status, 405);

    // A new post changes the file: the old tag no longer matches.
    served.site.post("d.md", post("Delta", "[News]"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = served.get("/feeds/rss.xml", &[("If-None-Match", &etag)]);
        if answer.status == 200 {
            assert!(answer.text().contains("Delta"));
            break;
        }
        assert!(Instant::now() < deadline, "the feed never changed");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn nothing_outside_the_feeds_folder_is_served() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    let root = served.site.path();
    // A link inside the folder that leads out of it.
    std::fs::create_dir_all(served.site.out().join("evil")).unwrap();
    std::os::unix::fs::symlink(
        root.join("settings.toml"),
        served.site.out().join("evil/rss.xml"),
    )
    .unwrap();
    assert!(root.join(".tidings/state.db").exists());
    for target in [
        "/feeds/../.tidings/state.db",
        "/feeds/../settings.toml",
        "/feeds/%2e%2e/settings.toml",
        "/feeds/%2E%2E%2Fsettings.toml",
        "/feeds/..%2fsettings.toml",
        "/feeds/..%5csettings.toml",
        "/feeds/categories/../../settings.toml",
        "/feeds/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/feeds//etc/passwd",
        "/feeds/.tidings-manifest",
        "/feeds/evil/rss.xml",
        "/feeds/rss.xml%00.txt",
        "/feeds/",
        "/feeds/categories",
        "/settings.toml",
        "/.tidings/state.db",
    ] {
        let answer = served.get(target, &[]);
        assert_eq!(answer.status, 404, "{target}: {}", answer.text());
        let text = answer.text();
        assert!(
            !text.contains("TIDINGS_TEST_SECRET") && !text.contains("SQLite format"),
            "{target} leaked a file"
        );
    }
}

#[test]
fn front_page_lists_every_feed_and_offers_the_signup() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    let page = served.get("/", &[]);
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    for (name, value) in [
        ("content-security-policy", "default-src 'none'"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ] {
        assert!(
            page.header(name).is_some_and(|v| v.contains(value)),
            "{name}: {:?}",
            page.header(name)
        );
    }
    let html = page.text();
    assert!(!html.contains("&#x2f;"), "slashes are not escaped");
    // Autodiscovery for the site feed.
    assert!(html.contains(
        "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Test Site\" href=\"https://example.org/blog/feeds/rss.xml\">"
    ), "{html}");
    // Every feed the OPML lists is on the page, in every format.
    let opml = std::fs::read_to_string(served.site.out().join("index.opml")).unwrap();
    let listed: Vec<&str> = opml
        .split("xmlUrl=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert!(listed.len() >= 5, "{opml}");
    for url in listed {
        for format in ["rss.xml", "atom.xml", "feed.json"] {
            let url = url.replace("rss.xml", format);
            assert!(html.contains(&format!("href=\"{url}\"")), "{url} missing");
        }
    }
    assert!(html.contains("href=\"https://example.org/blog/feeds/index.opml\""));
    assert!(html.contains("class=\"copy\""));
    // The sign-up form, with the categories to follow.
    assert!(html.contains("action=\"/subscribe\""));
    assert!(html.contains("name=\"notifier\" value=\"letters\""));
    for category in ["News", "Tech", "Tech/Rust"] {
        assert!(
            html.contains(&format!("name=\"category\" value=\"{category}\"")),
            "{category}"
        );
    }
    // The page's own assets are served under the same policy.
    assert_eq!(served.get("/assets/style.css", &[]).status, 200);
    assert_eq!(served.get("/assets/copy.js", &[]).status, 200);
    assert_eq!(served.get("/nowhere", &[]).status, 404);
    // Pages are gzipped when asked, like feeds.
    let zipped = served.get("/", &[("Accept-Encoding", "gzip")]);
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    let unzipped = String::from_utf8(gunzip(&zipped.body)).unwrap();
    assert!(unzipped.starts_with("<!DOCTYPE html>") && unzipped.contains("action="));
    let check = served.site.run(&["check"]).expect(0).stdout();
    assert!(
        check.contains(&format!(
            "server: listens on {}, reached at http://{}/; sign-up for: letters",
            served.host, served.host
        )),
        "{check}"
    );
}

#[test]
fn signup_answers_alike_and_refuses_forgeries() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "signups_per_hour = 9");
    let token = form_token(&served);
    let subscribe = |email: &str| {
        post_form(
            &served,
            "/subscribe",
            &[
                ("email", email),
                ("notifier", "letters"),
                ("form_token", &token),
                ("category", "Tech"),
            ],
        )
    };
    // A new address, an address already on the list, and the same new address again: the
    // same answer, apart from the address echoed.
    let new = subscribe("new@example.org");
    let known = subscribe("editor@example.org");
    let again = subscribe("new@example.org");
    for answer in [&new, &known, &again] {
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let shape = |answer: &Response, address: &str| answer.text().replace(address, "ADDRESS");
    assert_eq!(
        shape(&new, "new@example.org"),
        shape(&known, "editor@example.org")
    );
    assert_eq!(
        shape(&new, "new@example.org"),
        shape(&again, "new@example.org")
    );
    // One confirmation each: the repeat within ten minutes sends nothing more.
    wait_for_mail(&sink, "new@example.org", 1, &served);
    wait_for_mail(&sink, "editor@example.org", 1, &served);
    wait_until_drained(&served);
    assert_eq!(mail_to(&sink, "new@example.org").len(), 1);
    let (subject, text, list) = &mail_to(&sink, "new@example.org")[0];
    assert!(subject.contains("Confirm"), "{subject}");
    assert!(list.is_none(), "a confirmation is not list mail");
    assert!(text.contains("Categories: Tech"), "{text}");

    // Forgeries and mistakes get a page that says so, and no mail.
    let cross_site = http::request(
        &served.host,
        "POST",
        "/subscribe",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "https://evil.example"),
        ],
        &form(&[
            ("email", "victim@example.org"),
            ("notifier", "letters"),
            ("form_token", &token),
        ]),
    );
    assert_eq!(cross_site.status, 403);
    let fetch_site = http::request(
        &served.host,
        "POST",
        "/subscribe",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        &form(&[
            ("email", "victim@example.org"),
            ("notifier", "letters"),
            ("form_token", &token),
        ]),
    );
    assert_eq!(fetch_site.status, 403);
    let no_token = post_form(
        &served,
        "/subscribe",
        &[("email", "victim@example.org"), ("notifier", "letters")],
    );
    assert_eq!(no_token.status, 400);
    let bad_address = post_form(
        &served,
        "/subscribe",
        &[
            ("email", "<script>alert(1)</script>"),
            ("notifier", "letters"),
            ("form_token", &token),
        ],
    );
    assert_eq!(bad_address.status, 400);
    assert!(
        bad_address.text().contains("&lt;script&gt;"),
        "echoed, escaped"
    );
    assert!(!bad_address.text().contains("<script>alert"));
    let bad_category = post_form(
        &served,
        "/subscribe",
        &[
            ("email", "x@example.org"),
            ("notifier", "letters"),
            ("form_token", &token),
            ("category", "Secret"),
        ],
    );
    assert_eq!(bad_category.status, 400);
    let huge = "a".repeat(20_000);
    let too_big = post_form(&served, "/subscribe", &[("email", &huge)]);
    assert_eq!(too_big.status, 413);
    // A body too large is refused before it is read and counts for nothing; every other
    // post counts: with this one the client has used its nine sign-ups for the hour.
    let ninth = subscribe("ninth@example.org");
    assert_ne!(ninth.status, 429, "{}", ninth.text());
    let limited = subscribe("late@example.org");
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.header("retry-after").is_some());
    wait_until_drained(&served);
    assert!(mail_to(&sink, "victim@example.org").is_empty());
    assert!(mail_to(&sink, "x@example.org").is_empty());
    assert!(mail_to(&sink, "late@example.org").is_empty());

    // Tampered, expired and misused links get a clear page, never a 500.
    let link = link_in(&mail_to(&sink, "new@example.org")[0].1, "/confirm?token=");
    let target = target_of(&link);
    let mut tampered = target.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let secret = common::TEST_SECRET.as_bytes();
    let expired = tidings::tokens::sign(
        secret,
        &tidings::tokens::Grant {
            action: "confirm".into(),
            address: "new@example.org".into(),
            notifier: "letters".into(),
            expires: SystemClock.now() - chrono::Duration::hours(1),
            categories: Vec::new(),
        },
    );
    let wrong_action = tidings::tokens::sign(
        secret,
        &tidings::tokens::Grant {
            action: "unsubscribe".into(),
            address: "new@example.org".into(),
            notifier: "letters".into(),
            expires: SystemClock.now() + chrono::Duration::hours(1),
            categories: Vec::new(),
        },
    );
    for (target, says) in [
        (tampered, "damaged"),
        (format!("/confirm?token={expired}"), "expired"),
        (format!("/confirm?token={wrong_action}"), "damaged"),
        ("/confirm".to_owned(), "damaged"),
        ("/unsubscribe?token=garbage".to_owned(), "damaged"),
    ] {
        let answer = served.get(&target, &[]);
        assert_eq!(answer.status, 400, "{target}");
        assert!(answer.text().contains(says), "{target}: {}", answer.text());
    }
    let forged = http::request(&served.host, "POST", "/unsubscribe?token=garbage", &[], b"");
    assert_eq!(forged.status, 400);
    // Nobody was stored by any of it.
    let metrics = served.get("/metrics", &[]).text();
    assert!(!metrics.contains("tidings_signups{"), "{metrics}");
}

#[test]
fn a_path_in_public_url_works_whether_the_proxy_strips_it_or_not() {
    let sink = SmtpSink::start();
    let port = free_port();
    let text = settings(port, sink.port, "").replace(
        &format!("public_url = \"http://127.0.0.1:{port}/\""),
        &format!("public_url = \"http://127.0.0.1:{port}/news/\""),
    );
    let site = Site::with_settings(&text);
    site.post("a.md", post("Alpha", "[News]"));
    let served = Served::start(site, port);
    for target in ["/news/feeds/rss.xml", "/feeds/rss.xml"] {
        assert_eq!(served.get(target, &[]).status, 200, "{target}");
    }
    let page = served.get("/news/", &[]).text();
    assert!(!page.contains("&#x2f;"), "slashes are not escaped");
    assert!(page.contains("action=\"/news/subscribe\""), "{page}");
    assert!(page.contains("href=\"/news/assets/style.css\""));
    assert_eq!(served.get("/news/assets/style.css", &[]).status, 200);
    let token = form_token(&served);
    let answer = post_form(
        &served,
        "/news/subscribe",
        &[
            ("email", "reader@example.org"),
            ("notifier", "letters"),
            ("form_token", &token),
        ],
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    let mail = wait_for_mail(&sink, "reader@example.org", 1, &served);
    let link = link_in(&mail[0].1, "/confirm?token=");
    assert!(
        link.starts_with(&served.url("/news/confirm?token=")),
        "{link}"
    );
    assert_eq!(served.get(&target_of(&link), &[]).status, 200);
}

#[test]
fn behind_a_proxy_each_reader_has_their_own_limit() {
    let sink = SmtpSink::start();
    let served = served_site(
        sink.port,
        "signups_per_hour = 1\ntrust_forwarded_for = true",
    );
    let token = form_token(&served);
    let origin = served.url("");
    let from = |client: &str, email: &str| {
        http::request(
            &served.host,
            "POST",
            "/subscribe",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Origin", &origin),
                // What a client claims comes first; the proxy appends the real address.
                ("X-Forwarded-For", &format!("203.0.113.99, {client}")),
            ],
            &form(&[
                ("email", email),
                ("notifier", "letters"),
                ("form_token", &token),
            ]),
        )
        .status
    };
    assert_eq!(from("198.51.100.1", "one@example.org"), 200);
    assert_eq!(from("198.51.100.1", "two@example.org"), 429);
    assert_eq!(from("198.51.100.2", "three@example.org"), 200);
    assert_eq!(from("2001:db8:1:2::1", "four@example.org"), 200);
    assert_eq!(
        from("2001:db8:1:2::ffff", "five@example.org"),
        429,
        "one /64"
    );
}

#[test]
fn health_and_metrics() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    // Without `server.admin_token` there is no operator's page, token or not.
    let admin = served.get(
        "/admin",
        &[("Authorization", "Bearer anything-at-all-here")],
    );
    assert_eq!(admin.status, 404);
    let health = served.get("/healthz", &[]);
    assert_eq!(health.status, 200);
    assert_eq!(health.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(body["status"], "ok");
    assert!(
        body["last_scan_age_seconds"].as_i64().unwrap() < 30,
        "{body}"
    );
    served.get("/feeds/rss.xml", &[]);
    let metrics = served.get("/metrics", &[]);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text();
    for line in [
        "# TYPE tidings_posts_seen gauge\ntidings_posts_seen 3\n",
        "# TYPE tidings_last_scan_duration_seconds gauge\ntidings_last_scan_duration_seconds ",
        "tidings_http_requests_total{route=\"feeds\",status=\"200\"} 1\n",
        "tidings_http_requests_total{route=\"healthz\",status=\"200\"}",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    // Every sample line parses as `name{labels} number`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

#[test]
fn signup_in_a_real_browser_confirm_digest_and_one_click_unsubscribe() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    let browser = Browser::start();

    browser.open(&served.url("/"));
    let text = browser.wait_for_text("Get the “letters” digest by email");
    assert!(
        text.contains("All posts") && text.contains("Rust"),
        "{text}"
    );
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/serve-index.png");
    browser.screenshot(&shot);
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real picture"
    );
    browser.script("document.querySelector('section.signup').scrollIntoView(); return true");
    browser.screenshot(&shot.with_file_name("serve-signup.png"));
    // Nothing on the page was blocked by its own security policy.
    let broken = browser.script(
        "return [...document.styleSheets].length === 1 && getComputedStyle(document.body).margin === '0px'",
    );
    assert_eq!(
        broken,
        serde_json::Value::Bool(true),
        "the stylesheet applies"
    );

    browser.type_into("#email-letters", "reader@example.org");
    browser.click("input[name=category][value=Tech]");
    browser.click("section.signup button[type=submit]");
    browser.wait_for_text("Check your inbox");

    let confirmation = wait_for_mail(&sink, "reader@example.org", 1, &served);
    let link = link_in(&confirmation[0].1, "/confirm?token=");
    assert!(link.starts_with(&served.url("/confirm?token=")), "{link}");
    browser.open(&link);
    let text = browser.wait_for_text("You are subscribed");
    assert!(
        text.contains("reader@example.org") && text.contains("Tech"),
        "{text}"
    );
    let metrics = served.get("/metrics", &[]).text();
    assert!(
        metrics.contains("tidings_signups{notifier=\"letters\"} 1\n"),
        "{metrics}"
    );

    // The next digest reaches the new subscriber, with their categories only.
    served.site.post("tech.md", post("Tech news", "[Tech]"));
    served.site.post("news.md", post("Other news", "[News]"));
    let mail = wait_for_mail(&sink, "reader@example.org", 2, &served);
    let (_, digest, list_unsubscribe) = &mail[1];
    assert!(digest.contains("Tech news"), "{digest}");
    assert!(!digest.contains("Other news"), "filtered to Tech: {digest}");
    let list_unsubscribe = list_unsubscribe.as_deref().unwrap();
    let unsubscribe = link_in(
        &list_unsubscribe.replace(['<', '>'], " "),
        "/unsubscribe?token=",
    );
    assert!(
        unsubscribe.starts_with(&served.url("/unsubscribe?token=")),
        "{unsubscribe}"
    );
    assert!(digest.contains(&unsubscribe), "the footer links there too");
    let editor = wait_for_mail(&sink, "editor@example.org", 1, &served);
    assert!(editor[0].1.contains("Other news"));

    // The page behind the link has one button; a mail client's one-click POST acts.
    let page = served.get(&target_of(&unsubscribe), &[]);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("List-Unsubscribe") && page.text().contains("<button"));
    // Named as the sign-up page names it, never by its settings key alone.
    assert!(
        page.text().contains("the “letters” digest"),
        "{}",
        page.text()
    );
    let done = http::request(
        &served.host,
        "POST",
        &target_of(&unsubscribe),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"List-Unsubscribe=One-Click",
    );
    assert_eq!(done.status, 200, "{}", done.text());
    assert!(
        done.text()
            .contains("reader@example.org is unsubscribed from the “letters” digest."),
        "{}",
        done.text()
    );
    assert!(done.header("location").is_none() && done.header("set-cookie").is_none());
    let status = served.site.run(&["status", "--json"]).expect(0).stdout();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        status["notifiers"][0]["signups"], 0,
        "forgotten with the unsubscribe"
    );

    // The following digest skips them.
    served.site.post("tech2.md", post("More tech", "[Tech]"));
    let editor = wait_for_mail(&sink, "editor@example.org", 2, &served);
    assert!(editor[1].1.contains("More tech"));
    wait_until_drained(&served);
    assert_eq!(mail_to(&sink, "reader@example.org").len(), 2);
}

#[test]
fn hubs_are_named_in_every_feed_and_pinged_through_the_outbox() {
    let hub = Receiver::start(vec![Reply::RetryAfter(503, "1")]);
    let site = Site::with_settings(&common::BASE_SETTINGS.replace(
        "tags = true",
        &format!("tags = true\nhubs = [\"{}\"]", hub.url),
    ));
    site.post("a.md", post("Alpha", "[News]"));
    site.run(&["run", "--once"]).expect(0);
    assert!(hub.requests().is_empty(), "the first scan pings nothing");
    assert!(
        site.read("rss.xml")
            .contains(&format!("<atom:link href=\"{}\" rel=\"hub\"/>", hub.url))
    );
    assert!(
        site.read("atom.xml")
            .contains(&format!("<link href=\"{}\" rel=\"hub\"/>", hub.url))
    );
    let json: serde_json::Value = serde_json::from_str(&site.read("feed.json")).unwrap();
    assert_eq!(json["hubs"][0]["type"], "WebSub");
    assert_eq!(json["hubs"][0]["url"], hub.url);
    common::assert_feeds_valid(&site.out());

    // A new post changes the site, News and tag feeds in three formats: one ping each. The
    // hub is down for the first; it is retried after its Retry-After, not dropped.
    site.post("b.md", post("Beta", "[News]"));
    site.run_at("2030-01-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    site.run_at("2030-01-01T00:00:02Z", &["run", "--once"])
        .expect(0);
    let pinged: Vec<String> = hub
        .requests()
        .iter()
        .map(|r| {
            assert_eq!(
                r.headers.get("content-type").map(String::as_str),
                Some("application/x-www-form-urlencoded")
            );
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(r.body.as_bytes())
                .into_owned()
                .collect();
            assert_eq!(pairs[0], ("hub.mode".into(), "publish".into()));
            assert_eq!(pairs[1].0, "hub.topic");
            assert_eq!(pairs[2], ("hub.url".into(), pairs[1].1.clone()));
            pairs[1].1.clone()
        })
        .collect();
    let mut distinct = pinged.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        pinged.len(),
        distinct.len() + 1,
        "one retried, none doubled: {pinged:?}"
    );
    for feed in [
        "feeds/rss.xml",
        "feeds/categories/News/atom.xml",
        "feeds/tags/notes/feed.json",
    ] {
        assert!(
            distinct.contains(&format!("https://example.org/blog/{feed}")),
            "{feed} not in {distinct:?}"
        );
    }
    assert!(!distinct.iter().any(|u| u.contains("index.opml")));
    let status = site.run(&["status", "--json"]).expect(0).stdout();
    assert!(status.contains(&format!("websub:{}", hub.url)), "{status}");
}

#[test]
fn settings_and_startup_errors_are_clear() {
    let sink = SmtpSink::start();
    let port = free_port();
    let good = settings(port, sink.port, "");
    let cases = [
        (good.replace("${TIDINGS_TEST_SECRET}", "short"), "server.secret"),
        (good.replace("listen = \"127.0.0.1", "listen = \"localhost"), "server.listen"),
        (
            good.replace("public_url = \"http://127.0.0.1", "public_url = \"http://news.example"),
            "server.public_url",
        ),
        (
            good.replace(
                "rate = 50",
                "rate = 50\nunsubscribe_url = \"https://example.org/u\"\nsecret = \"0123456789abcdef\"",
            ),
            "email.unsubscribe_url",
        ),
        (
            good.replace("[server]", "[nothing]").replace("listen =", "# listen =").replace("public_url =", "# public_url =").replace("secret =", "# secret =").replace("[nothing]", ""),
            "notifiers.letters.signup",
        ),
    ];
    for (text, key) in cases {
        let site = Site::with_settings(&text);
        let run = site.run(&["serve"]).expect(2);
        assert!(run.stderr().contains(key), "{key}: {}", run.stderr());
    }
    // `serve` without a server.
    let site = Site::new();
    let run = site.run(&["serve"]).expect(2);
    assert!(run.stderr().contains("[server]"), "{}", run.stderr());
    // The address is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let site = Site::with_settings(&settings(taken_port, sink.port, ""));
    let run = site.run(&["serve"]).expect(2);
    assert!(run.stderr().contains("server.listen"), "{}", run.stderr());
}

#[test]
fn sigterm_stops_daemon_and_server_cleanly() {
    let sink = SmtpSink::start();
    let mut served = served_site(sink.port, "");
    assert_eq!(served.get("/feeds/rss.xml", &[]).status, 200);
    let status = served.stop();
    assert!(status.success(), "{status:?}\n{}", served.log());
    assert!(
        std::net::TcpStream::connect(&served.host).is_err(),
        "no longer listening"
    );
    let log = served.log();
    assert!(log.contains("server stopped"), "{log}");
}

#[test]
fn health_is_degraded_while_scans_fail_and_shows_every_lane() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    let health = |served: &Served| {
        let answer = served.get("/healthz", &[]);
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        (answer.status, body)
    };
    let (status, body) = health(&served);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["lanes"]["letters"]["state"], "idle", "{body}");
    assert!(body["lanes"]["confirm"].is_object(), "{body}");

    // The content folder disappears: every scan fails, and health says so.
    let posts = served.site.path().join("posts");
    let moved = served.site.path().join("posts-away");
    std::fs::rename(&posts, &moved).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let (status, body) = health(&served);
        if status == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "still healthy: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(
        body["scan_failed"]["error"]
            .as_str()
            .unwrap()
            .contains("posts"),
        "{body}"
    );
    // Back again: healthy at the next scan.
    std::fs::rename(&moved, &posts).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&served).0 != 200 {
        assert!(Instant::now() < deadline, "never healthy again");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The server answers while a 1,000-reader digest is composed and delivered (the scan and
/// the composer never hold the state file for long), and a sign-up's confirmation has a
/// lane of its own: it goes out while the digest is still being delivered at five a
/// second, not after it.
#[test]
fn a_confirmation_overtakes_a_digest_in_progress() {
    let sink = SmtpSink::start();
    let port = free_port();
    let settings = settings(port, sink.port, "")
        .replace("rate = 50", "rate = 5")
        .replace("signup = true", "signup = true\nsubscribers = \"subs.csv\"");
    let site = Site::with_settings(&settings);
    std::fs::write(site.path().join("subs.csv"), common::readers_csv(1000)).unwrap();
    site.post("a.md", post("Alpha", "[News]"));
    let served = Served::start(site, port);
    served.site.post("b.md", post("Beta", "[News]"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut answered = 0;
    while sink.messages().len() < 5 {
        assert!(
            Instant::now() < deadline,
            "the digest never started:\n{}",
            served.log()
        );
        let health = served.get("/healthz", &[]);
        assert_eq!(health.status, 200, "{}", health.text());
        assert_eq!(served.get("/", &[]).status, 200);
        answered += 1;
    }
    assert!(answered > 0);
    sign_up(&served, "new@example.org");
    wait_for_mail(&sink, "new@example.org", 1, &served);
    let digest_so_far = sink
        .messages()
        .iter()
        .filter(|(rcpt, _)| rcpt.starts_with("reader"))
        .count();
    assert!(
        digest_so_far < 1000,
        "the confirmation waited for the whole digest ({digest_so_far} of 1000 sent first)"
    );
}

/// The confirmation mail is DKIM-signed like list mail, and dkimpy verifies it as received.
#[test]
fn a_confirmation_mail_carries_a_signature_that_verifies() {
    let sink = SmtpSink::start();
    let port = free_port();
    let settings = settings(port, sink.port, "").replace(
        "rate = 50",
        "rate = 50\ndkim_key = \"dkim.pem\"\ndkim_selector = \"s2026\"",
    );
    let site = Site::with_settings(&settings);
    let key = site.path().join("dkim.pem");
    common::dkim_key(&key, "ed25519");
    site.post("a.md", post("Alpha", "[News]"));
    let served = Served::start(site, port);
    sign_up(&served, "new@example.org");
    wait_for_mail(&sink, "new@example.org", 1, &served);
    let received = sink
        .dir
        .path()
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.contains("new@example.org") && !name.starts_with('.')
        })
        .collect::<Vec<_>>();
    common::assert_dkim_verifies(&[("s2026", &key)], &received);
}

/// A zh-CN site's front page, sign-up answer, confirmation mail and error pages are in
/// Chinese: no English word of the default templates reaches a reader.
#[test]
fn a_chinese_site_serves_and_mails_in_chinese() {
    let sink = SmtpSink::start();
    let port = free_port();
    let settings = settings(port, sink.port, "").replace(
        "timezone = \"Asia/Shanghai\"",
        "timezone = \"Asia/Shanghai\"\nlanguage = \"zh-CN\"",
    );
    let site = Site::with_settings(&settings);
    site.post("a.md", post("新闻", "[新媒体]"));
    let served = Served::start(site, port);
    let english = [
        "Feeds",
        "Copy URL",
        "Subscribe",
        "Email address",
        "Categories",
        "Published with",
        "by email",
        "digest",
        "All posts",
        " posts",
    ];
    let front = served.get("/", &[]).text();
    for word in english {
        assert!(
            !front.contains(&format!(">{word}")),
            "{word:?} on the front page"
        );
    }
    assert!(
        front.contains("订阅源") && front.contains("复制地址") && front.contains("“letters”摘要")
    );
    let token = form_token(&served);
    let answer = post_form(
        &served,
        "/subscribe",
        &[
            ("email", "new@example.org"),
            ("notifier", "letters"),
            ("form_token", &token),
        ],
    );
    assert!(answer.text().contains("请查收邮件"), "{}", answer.text());
    let mail = wait_for_mail(&sink, "new@example.org", 1, &served);
    let (subject, text, _) = &mail[0];
    assert_eq!(subject, "请确认订阅 Test Site");
    assert!(
        text.contains("请在 48 小时内打开以下链接完成确认")
            && !text.contains("Please")
            && !text.contains("ignore"),
        "{text}"
    );
    let missing = served.get("/nothing-here", &[]).text();
    assert!(
        missing.contains("未找到") && missing.contains("返回订阅源"),
        "{missing}"
    );
    let bad = served.get("/confirm?token=forged", &[]).text();
    assert!(bad.contains("此链接无效"), "{bad}");
    // The feeds' own words: titles with the language's punctuation, OPML folders.
    let opml = served.get("/feeds/index.opml", &[]).text();
    for words in [
        "<title>Test Site 的订阅源</title>",
        "text=\"分类\"",
        "text=\"标签\"",
        "title=\"Test Site：新媒体\"",
        "title=\"Test Site：#notes\"",
    ] {
        assert!(opml.contains(words), "{words} in {opml}");
    }
    assert!(
        !opml.contains("Categories") && !opml.contains("Tags"),
        "{opml}"
    );
}

/// A confirmation link confirms once: opened again it changes nothing, and after an
/// unsubscribe it leaves the address unsubscribed (link scanners and old emails open links
/// again).
#[test]
fn a_used_confirmation_link_cannot_undo_an_unsubscribe() {
    let sink = SmtpSink::start();
    let port = free_port();
    let site = Site::with_settings(&settings(port, sink.port, ""));
    site.post("a.md", post("Alpha", "[News]"));
    let served = Served::start(site, port);
    let signups = || {
        let status = served.site.run(&["status", "--json"]).expect(0).stdout();
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        status["notifiers"][0]["signups"].as_u64().unwrap()
    };
    sign_up(&served, "reader@example.org");
    let confirmation = wait_for_mail(&sink, "reader@example.org", 1, &served);
    let link = target_of(&link_in(&confirmation[0].1, "/confirm?token="));
    assert_eq!(served.get(&link, &[]).status, 200);
    assert_eq!(signups(), 1);
    let again = served.get(&link, &[]);
    assert_eq!(again.status, 200, "opened twice: {}", again.text());
    assert_eq!(signups(), 1);

    served
        .site
        .run(&["unsubscribe", "reader@example.org", "--notifier", "letters"])
        .expect(0);
    assert_eq!(signups(), 0);
    let reused = served.get(&link, &[]);
    assert_eq!(reused.status, 409, "{}", reused.text());
    assert!(
        reused
            .text()
            .contains("unsubscribed after this link was sent"),
        "{}",
        reused.text()
    );
    assert_eq!(signups(), 0, "still unsubscribed");
}

/// The form takes addresses as people write them: a quoted local part or an `[ip]` literal
/// is refused with 400 (not a way past the per-address limit, not a 5xx), and one mailbox
/// written in other cases is one address: one confirmation.
#[test]
fn odd_addresses_are_refused_and_one_mailbox_gets_one_confirmation() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    let token = form_token(&served);
    let subscribe = |email: &str| {
        post_form(
            &served,
            "/subscribe",
            &[
                ("email", email),
                ("notifier", "letters"),
                ("form_token", &token),
            ],
        )
    };
    for odd in [
        "\"victim\"@example.org",
        "victim@[127.0.0.1]",
        "victim@localhost",
        "a..b@example.org",
    ] {
        let answer = subscribe(odd);
        assert_eq!(answer.status, 400, "{odd}: {}", answer.text());
        assert!(answer.text().contains("is not an email address"), "{odd}");
    }
    for same in [
        "victim@example.org",
        "Victim@Example.org",
        " VICTIM@example.org ",
    ] {
        assert_eq!(subscribe(same).status, 200, "{same}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sink.messages().is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", served.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_until_drained(&served);
    let confirmations = sink.messages();
    assert_eq!(confirmations.len(), 1, "one mailbox, one confirmation");
}

/// The front page starts with the sign-up, calls the notifier by its `title`, shows feed
/// addresses as people read them (the copy button still copies the encoded URL), and offers
/// a filter box once there are more feeds than fit a screen.
#[test]
fn the_front_page_puts_the_signup_first_with_titles_and_readable_addresses() {
    let sink = SmtpSink::start();
    let port = free_port();
    let settings = settings(port, sink.port, "")
        .replace("signup = true", "signup = true\ntitle = \"每周精选\"");
    let site = Site::with_settings(&settings);
    site.post("a.md", post("新闻", "[新媒体]"));
    let served = Served::start(site, port);
    let front = served.get("/", &[]).text();
    let signup = front.find("action=\"/subscribe\"").expect("a sign-up form");
    let feeds = front.find("id=\"feeds-heading\"").expect("the feed list");
    assert!(signup < feeds, "the sign-up comes first");
    assert!(front.contains("Get 每周精选 by email"), "{front}");
    assert!(!front.contains("“letters”"), "not the internal name");
    assert!(
        front.contains("value=\"https://example.org/blog/feeds/categories/新媒体/rss.xml\""),
        "{front}"
    );
    assert!(
        front.contains(
            "data-url=\"https://example.org/blog/feeds/categories/%E6%96%B0%E5%AA%92%E4%BD%93/rss.xml\""
        ),
        "{front}"
    );
    assert!(
        !front.contains("feed-filter"),
        "a short list needs no filter"
    );

    let tags: Vec<String> = (0..25).map(|i| format!("t{i}")).collect();
    served.site.post(
        "tags.md",
        format!(
            "---\ntitle: Tags\ndate: 2021-01-02 10:00:00\ntags: [{}]\n---\nx\n",
            tags.join(", ")
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let front = served.get("/", &[]).text();
        if front.contains("#t24") {
            assert!(front.contains("id=\"feed-filter\""), "{front}");
            break;
        }
        assert!(Instant::now() < deadline, "{}", served.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Open files this test process may hold (`/proc/self/limits`), for tests that hold many
/// connections on machines with a low limit.
fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3))
                .and_then(|soft| soft.parse().ok())
        })
        .unwrap_or(1024)
}

/// A GET of `/healthz` from the local address `from`, answered within three seconds (well
/// inside the ten seconds the server gives an idle connection to send its request).
fn probe_from(from: &str, host: &str) -> bool {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let attempt = async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(format!("{from}:0").parse().unwrap())?;
            let mut stream = socket.connect(host.parse().unwrap()).await?;
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
                .await?;
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await?;
            Ok::<_, std::io::Error>(answer.starts_with(b"HTTP/1.1 200"))
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(3), attempt).await,
            Ok(Ok(true))
        )
    })
}

/// One address holding 1,500 idle connections takes only its share of the server's slots:
/// requests from another address are still answered.
#[test]
fn one_client_cannot_hold_every_connection() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    let hogs = 1500.min(open_file_limit().saturating_sub(256));
    if hogs < 1100 {
        common::unavailable(&format!(
            "{hogs} open files are too few to fill the server's 1,024 slots (raise `ulimit -n`)"
        ));
        return;
    }
    // Opened until the server stops taking them (a full backlog makes connects fail), so
    // all are still idle when the probes go out.
    let address: std::net::SocketAddr = served.host.parse().unwrap();
    let mut idle = Vec::new();
    let mut refused_in_a_row = 0;
    while idle.len() < hogs && refused_in_a_row < 3 {
        match std::net::TcpStream::connect_timeout(&address, Duration::from_millis(500)) {
            Ok(stream) => {
                idle.push(stream);
                refused_in_a_row = 0;
            }
            Err(_) => refused_in_a_row += 1,
        }
    }
    assert!(idle.len() > 1024, "only {} connections opened", idle.len());
    // All at once, while every idle connection is still within its ten seconds.
    let host = served.host.clone();
    let answered = std::thread::scope(|scope| {
        let probes: Vec<_> = (0..10)
            .map(|_| scope.spawn(|| probe_from("127.0.0.2", &host)))
            .collect();
        probes
            .into_iter()
            .map(|probe| probe.join().unwrap())
            .filter(|answered| *answered)
            .count()
    });
    assert!(
        answered >= 9,
        "{answered} of 10 answered while one client held {} connections",
        idle.len()
    );
    drop(idle);
}

/// Twenty addresses holding 64 half-open connections each (every slot the server has, and
/// more) do not keep a normal reader waiting: the idlest connection is given up for the
/// newcomer, so every probe is answered well inside the ten seconds a half-open connection
/// is otherwise given.
#[test]
fn half_open_connections_from_many_addresses_keep_no_reader_waiting() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    if open_file_limit() < 1280 + 256 {
        common::unavailable("this process may not hold 1,280 connections (raise `ulimit -n`)");
        return;
    }
    let address: std::net::SocketAddr = served.host.parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // All at once, so that every one is still within its ten seconds when the probes go.
    let idle: Vec<std::net::TcpStream> = runtime.block_on(async {
        let connects = (10..30).flat_map(|client| {
            (0..64).map(move |_| async move {
                let socket = tokio::net::TcpSocket::new_v4().ok()?;
                socket
                    .bind(format!("127.0.0.{client}:0").parse().unwrap())
                    .ok()?;
                let stream = tokio::time::timeout(Duration::from_secs(2), socket.connect(address))
                    .await
                    .ok()?
                    .ok()?;
                stream.into_std().ok()
            })
        });
        futures_util::future::join_all(connects)
            .await
            .into_iter()
            .flatten()
            .collect()
    });
    assert!(idle.len() > 1024, "only {} connections opened", idle.len());
    for n in 0..10 {
        assert!(
            probe_from("127.0.0.2", &served.host),
            "probe {n} was not answered within 3 s while {} connections sat idle",
            idle.len()
        );
    }
    drop(idle);
}

/// A request declaring a body larger than any route takes is refused with 413 at once,
/// not after the request timeout for a body that never comes.
#[test]
fn a_declared_oversize_body_is_refused_at_once() {
    use std::io::{Read, Write};
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    let mut stream = std::net::TcpStream::connect(&served.host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 999999999999\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

/// A feed opened in a browser is a page: what a feed is, its address with a copy button,
/// and its items, for RSS, Atom and a category feed, in the site's language, under the
/// server's own security policy.
#[test]
fn feeds_opened_in_a_browser_show_a_page_of_their_items() {
    let sink = SmtpSink::start();
    let served = served_site(sink.port, "");
    let browser = Browser::start();
    for target in [
        "/feeds/rss.xml",
        "/feeds/atom.xml",
        "/feeds/categories/Tech/Rust/rss.xml",
    ] {
        browser.open(&served.url(target));
        let text = browser.wait_for_text("This is a web feed.");
        assert!(text.contains("Copy URL"), "{target}: {text}");
        let titles = browser.script(
            "return [...document.querySelectorAll('article h2 a')].map(a => a.textContent)",
        );
        let titles: Vec<String> = serde_json::from_value(titles).unwrap();
        assert!(!titles.is_empty(), "{target}: no items shown");
        let raw = browser.script("return document.querySelector('rss, feed') === null");
        assert_eq!(
            raw,
            serde_json::Value::Bool(true),
            "{target}: raw XML shown"
        );
        // A page the server rendered, not an XSLT transform: nothing for a browser that
        // drops XSLT to refuse, and no banner over it.
        let kind = browser.script("return document.contentType");
        assert_eq!(kind, "text/html", "{target}");
        let copy_script = browser
            .script("return [...document.scripts].some(s => s.src.endsWith('/assets/copy.js'))");
        assert_eq!(copy_script, serde_json::Value::Bool(true), "{target}");
        // Dates as the site's readers write them, in its zone (posts dated 10:00 there).
        let dates = browser.script(
            "return [...document.querySelectorAll('article .meta')].map(p => p.textContent)",
        );
        let dates: Vec<String> = serde_json::from_value(dates).unwrap();
        assert!(
            dates.iter().all(|d| d.starts_with("Jan 2, 2024")),
            "{target}: {dates:?}"
        );
    }
    // Feed readers, and browsers asking for XML, still get the feed; the JSON Feed too has
    // a page.
    for (target, accept) in [
        ("/feeds/rss.xml", "application/rss+xml, */*"),
        ("/feeds/feed.json", "application/feed+json"),
    ] {
        let answer = served.get(target, &[("Accept", accept)]);
        assert!(
            !answer
                .header("content-type")
                .unwrap()
                .starts_with("text/html"),
            "{target}"
        );
    }
    let page = served.get(
        "/feeds/feed.json",
        &[("Accept", "text/html,application/xhtml+xml")],
    );
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().contains("<article>"), "{}", page.text());
    // The feeds themselves stay what readers expect.
    let rss = served.get("/feeds/rss.xml", &[]).text();
    assert!(rss.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<?xml-stylesheet type=\"text/xsl\" href=\"feed.xsl\"?>\n<rss"));
    let deep = served
        .get("/feeds/categories/Tech/Rust/atom.xml", &[])
        .text();
    assert!(deep.contains("href=\"../../../feed.xsl\""), "{deep}");
    let xsl = served.get("/feeds/feed.xsl", &[]);
    assert_eq!(xsl.status, 200);
    assert!(xsl.header("content-type").unwrap().starts_with("text/xsl"));
}

/// The page a feed becomes speaks the site's language.
#[test]
fn a_chinese_sites_feeds_show_a_chinese_page() {
    let sink = SmtpSink::start();
    let port = free_port();
    let settings = settings(port, sink.port, "").replace(
        "timezone = \"Asia/Shanghai\"",
        "timezone = \"Asia/Shanghai\"\nlanguage = \"zh-CN\"",
    );
    let site = Site::with_settings(&settings);
    site.post("a.md", post("新闻", "[新媒体]"));
    let served = Served::start(site, port);
    let browser = Browser::start();
    browser.open(&served.url("/feeds/categories/%E6%96%B0%E5%AA%92%E4%BD%93/atom.xml"));
    let text = browser.wait_for_text("这是一个订阅源");
    assert!(text.contains("新闻") && text.contains("复制地址"), "{text}");
    assert!(!text.contains("This is a web feed"), "{text}");
}

/// Two nodes serve one PostgreSQL state: a reader signs up on one, confirms on the other,
/// and unsubscribes (one click) on the other again; each node sees every step.
#[test]
fn two_nodes_share_signups_confirmations_and_unsubscribes() {
    let Some(url) = common::postgres_database("serve_nodes") else {
        return;
    };
    let sink = SmtpSink::start();
    let state = format!("\n[state]\nurl = \"{url}\"\nlease = 3\n");
    // The second starts once the first has recorded the archive (`Served::start` waits
    // for a scan).
    let node = || {
        let port = free_port();
        let site = Site::with_settings(&(settings(port, sink.port, "") + &state));
        site.post("a.md", post("Alpha", "[News]"));
        Served::start(site, port)
    };
    let (a, b) = (node(), node());
    let signups = |served: &Served| {
        let status = served.site.run(&["status", "--json"]).expect(0).stdout();
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        status["notifiers"][0]["signups"].as_u64().unwrap()
    };

    sign_up(&a, "reader@example.org");
    let confirmation = wait_for_mail(&sink, "reader@example.org", 1, &a);
    let link = target_of(&link_in(&confirmation[0].1, "/confirm?token="));
    let confirmed = b.get(&link, &[]);
    assert_eq!(confirmed.status, 200, "{}", confirmed.text());
    assert_eq!(
        (signups(&a), signups(&b)),
        (1, 1),
        "both nodes see the sign-up"
    );

    for served in [&a, &b] {
        served.site.post("news.md", post("Fresh news", "[News]"));
    }
    let mail = wait_for_mail(&sink, "reader@example.org", 2, &a);
    let list_unsubscribe = mail[1].2.as_deref().unwrap().replace(['<', '>'], " ");
    let unsubscribe = target_of(&link_in(&list_unsubscribe, "/unsubscribe?token="));
    let done = http::request(
        &b.host,
        "POST",
        &unsubscribe,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"List-Unsubscribe=One-Click",
    );
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(
        (signups(&a), signups(&b)),
        (0, 0),
        "both nodes see the unsubscribe"
    );
    let reused = a.get(&link, &[]);
    assert_eq!(
        reused.status, 409,
        "the old link does not undo it on another node"
    );
}

/// The real WebSub hub of `tests/support/websub_hub.py` (flask-websub) with one subscriber;
/// stopped when dropped.
struct WebSubHub {
    child: Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl WebSubHub {
    fn start() -> Option<WebSubHub> {
        let installed = std::process::Command::new("python3")
            .args(["-c", "import flask_websub, celery"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            common::unavailable(
                "Python flask-websub and celery are missing (.ci/run installs them)",
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port_file = dir.path().join("port");
        let log = std::fs::File::create(dir.path().join("hub.log")).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/websub_hub.py");
        let child = std::process::Command::new("python3")
            .arg(script)
            .arg(&port_file)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        common::wait_until("the hub listens", || port_file.exists());
        let port = std::fs::read_to_string(&port_file).unwrap();
        Some(WebSubHub {
            child,
            host: format!("127.0.0.1:{}", port.trim()),
            _dir: dir,
        })
    }

    fn url(&self) -> String {
        format!("http://{}/hub", self.host)
    }

    /// A reader's subscription to `topic` (the hub checks the subscriber's intent first).
    fn subscribe(&self, topic: &str) {
        let target = format!(
            "/subscribe?topic={}",
            url::form_urlencoded::byte_serialize(topic.as_bytes()).collect::<String>()
        );
        let answer = http::request(&self.host, "POST", &target, &[], b"");
        assert_eq!(answer.status, 202, "{}", answer.text());
    }

    /// What the subscriber has received from the hub.
    fn received(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&http::get(&self.host, "/received", &[]).text()).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("hub.log")).unwrap_or_default()
    }
}

impl Drop for WebSubHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real hub (flask-websub, as a reader's hub would run it) with a subscriber to the site's
/// feed: a new post is pinged, the hub fetches the feed from `serve`, finds it is the topic
/// (`Link: rel="hub"` and `rel="self"`), and distributes the new content to the subscriber.
#[test]
fn a_real_websub_hub_delivers_the_new_post_to_its_subscriber() {
    let Some(hub) = WebSubHub::start() else {
        return;
    };
    let sink = SmtpSink::start();
    let port = free_port();
    let text = settings(port, sink.port, "").replace(
        "tags = true",
        &format!(
            "tags = true\nurl = \"http://127.0.0.1:{port}/feeds/\"\nhubs = [\"{}\"]",
            hub.url()
        ),
    );
    let site = Site::with_settings(&text);
    site.post("a.md", post("Alpha", "[News]"));
    let served = Served::start(site, port);
    let topic = format!("http://127.0.0.1:{port}/feeds/rss.xml");

    // The feed names itself and its hub in its headers, as WebSub asks of a topic.
    let answer = served.get("/feeds/rss.xml", &[]);
    let links: Vec<&str> = answer
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("link"))
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(
        links,
        [
            format!("<{}>; rel=\"hub\"", hub.url()),
            format!("<{topic}>; rel=\"self\"")
        ],
        "{:?}",
        answer.headers
    );

    hub.subscribe(&topic);
    served.site.post("b.md", post("Beta", "[News]"));
    common::wait_until("the subscriber received the new feed", || {
        hub.received()
            .iter()
            .any(|r| r["body"].as_str().is_some_and(|b| b.contains("Beta")))
    });
    let received = hub.received();
    let delivery = received
        .iter()
        .find(|r| r["body"].as_str().is_some_and(|b| b.contains("Beta")))
        .unwrap();
    assert!(
        delivery["body"].as_str().unwrap().starts_with("<?xml"),
        "the feed itself: {delivery}"
    );
    let status = served.site.run(&["status", "--json"]).expect(0).stdout();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let hub_notifier = status["notifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"].as_str().is_some_and(|n| n.starts_with("websub:")))
        .unwrap();
    assert_eq!(hub_notifier["failed"], 0, "{status}\n{}", hub.log());
}

/// A reverse proxy on 127.0.0.1 that adds `Authorization: Bearer <token>` to every
/// request, as an operator puts one in front of `/admin`: one request per connection.
fn admin_proxy(target: String, token: &'static str) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let target = target.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if lower.starts_with("connection:") || lower.starts_with("authorization:") {
                        continue;
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                head.push_str(&format!(
                    "Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
                ));
                let mut upstream = std::net::TcpStream::connect(&target).unwrap();
                upstream.write_all(head.as_bytes()).unwrap();
                upstream.write_all(&body).unwrap();
                let mut answer = Vec::new();
                let _ = upstream.read_to_end(&mut answer);
                let mut client = client;
                let _ = client.write_all(&answer);
            });
        }
    });
    port
}

/// The number a `/admin` page shows for `key` of notifier `name`.
fn admin_number(page: &str, name: &str, key: &str) -> u64 {
    let article = page
        .split(&format!("data-notifier=\"{name}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no notifier {name}"));
    let cell = article
        .split(&format!("data-key=\"{key}\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("no {key} for {name}"));
    cell.split('<').next().unwrap().trim().parse().unwrap()
}

/// `/admin`: only with `server.admin_token`, only for requests carrying it (401 without);
/// its numbers are `status --json`'s; its retry button puts a failed message back, which
/// the daemon then sends; a form from elsewhere is refused; Chromium through a proxy that
/// adds the token renders it, charts included.
#[test]
fn the_admin_page_shows_what_status_shows_and_only_to_its_token() {
    const TOKEN: &str = "admin-token-0123456789";
    let sink = SmtpSink::start();
    // The webhook refuses its first message for good (one attempt), then takes anything.
    let hook = Receiver::start(vec![Reply::Status(500)]);
    let port = free_port();
    let site = Site::with_settings(&format!(
        "{}\n[notifiers.hook]\ntype = \"webhook\"\nurl = \"{}\"\nmax_attempts = 1\n",
        settings(port, sink.port, &format!("admin_token = \"{TOKEN}\"")),
        hook.url
    ));
    site.post("old.md", post("Old", "[News]"));
    site.run(&["run", "--once"]).expect(0);
    site.post("new.md", post("New", "[News]"));
    let served = Served::start(site, port);
    let status = || -> serde_json::Value {
        serde_json::from_str(&served.site.run(&["status", "--json"]).expect(0).stdout()).unwrap()
    };
    let of = |doc: &serde_json::Value, name: &str, key: &str| -> u64 {
        doc["notifiers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()[key]
            .as_u64()
            .unwrap()
    };
    common::wait_until("the hook's message failed and the digest went", || {
        let doc = status();
        of(&doc, "hook", "failed") == 1 && of(&doc, "letters", "sent") >= 1
    });
    // Without the token, or with another, nothing.
    let none = served.get("/admin", &[]);
    assert_eq!(none.status, 401);
    assert_eq!(
        none.header("www-authenticate"),
        Some("Bearer realm=\"tidings admin\"")
    );
    assert_eq!(
        served
            .get(
                "/admin",
                &[("Authorization", "Bearer wrong-token-0123456789")]
            )
            .status,
        401
    );
    let bearer = format!("Bearer {TOKEN}");
    let page = served.get("/admin", &[("Authorization", &bearer)]);
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    let doc = status();
    for name in ["hook", "letters"] {
        for key in ["queued", "pending", "retrying", "failed", "sent", "skipped"] {
            assert_eq!(
                admin_number(&html, name, key),
                of(&doc, name, key),
                "{name} {key}"
            );
        }
    }
    assert_eq!(admin_number(&html, "letters", "listed"), 1);
    // The failure is listed with the receiver's answer, as `status` has it.
    let failure = doc["notifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "hook")
        .unwrap()["last_failure"]
        .as_str()
        .unwrap()
        .to_owned();
    let row = html
        .split("<tr class=\"failure\"><td>hook</td>")
        .nth(1)
        .expect("a failure row for hook");
    let shown_error: String = failure.chars().take(30).collect();
    assert!(
        row.split("</tr>").next().unwrap().contains(&shown_error),
        "{failure} in {row}"
    );
    assert!(html.contains("<svg class=\"chart\""), "charts");
    // A form without this page's token is refused; with it, the failed message goes back
    // and the daemon sends it.
    let form_token = html
        .split("name=\"form\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let post_to = |target: &str, notifier: &str, form: &str| {
        http::request(
            &served.host,
            "POST",
            target,
            &[
                ("Authorization", &bearer),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            format!("notifier={notifier}&form={form}").as_bytes(),
        )
    };
    let post = |form: &str| post_to("/admin/retry", "hook", form);
    // `send` is for digests; the webhook sends instantly.
    assert_eq!(post_to("/admin/send", "hook", &form_token).status, 400);
    assert_eq!(post_to("/admin/send", "nobody", &form_token).status, 400);
    assert_eq!(post_to("/admin/send", "letters", &form_token).status, 303);
    assert_eq!(post_to("/admin/erase", "hook", &form_token).status, 404);
    assert_eq!(post("0000").status, 403);
    assert_eq!(hook.requests().len(), 1);
    let done = post(&form_token);
    assert_eq!(done.status, 303);
    assert_eq!(done.header("location"), Some("/admin"));
    common::wait_until("the retried message was sent", || {
        let doc = status();
        of(&doc, "hook", "sent") == 1 && of(&doc, "hook", "failed") == 0
    });
    assert_eq!(hook.requests().len(), 2);
    // A browser behind a proxy that adds the token.
    let proxy = admin_proxy(served.host.clone(), TOKEN);
    let browser = Browser::start();
    browser.open(&format!("http://127.0.0.1:{proxy}/admin"));
    browser.wait_for_text("Latest failures");
    let shown = browser.script(
        "return [document.querySelectorAll('article.notifier').length, \
         document.querySelectorAll('svg.chart rect').length, \
         document.querySelector('[data-notifier=hook] [data-key=sent]').textContent.trim(), \
         [...document.styleSheets].length]",
    );
    assert_eq!(shown[0], 2, "{shown}");
    assert!(shown[1].as_u64().unwrap() > 0, "{shown}");
    assert_eq!(shown[2], "1", "{shown}");
    assert_eq!(
        shown[3], 1,
        "the stylesheet loads under the page's policy: {shown}"
    );
    browser.screenshot(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/serve-admin.png"),
    );
}

/// `openssl`, with `input` on its standard input; its standard output.
fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?}");
    out.stdout
}

/// A Mailgun webhook body for `event`, signed by `openssl` with `key` as Mailgun documents
/// it (HMAC-SHA256 of timestamp and token, in hex).
fn mailgun_body(key: &str, timestamp: i64, token: &str, event: &str) -> Vec<u8> {
    let signed = openssl(
        &["dgst", "-sha256", "-hmac", key],
        format!("{timestamp}{token}").as_bytes(),
    );
    let signed = String::from_utf8(signed).unwrap();
    let hex = signed.trim().rsplit(' ').next().unwrap();
    format!(
        r#"{{"signature":{{"timestamp":"{timestamp}","token":"{token}","signature":"{hex}"}},"event-data":{event}}}"#
    )
    .into_bytes()
}

/// SendGrid's signature headers for `body`, signed by `openssl` with the P-256 key in
/// `pem` over the timestamp followed by the body.
fn sendgrid_headers(pem: &Path, timestamp: i64, body: &str) -> Vec<(String, String)> {
    use base64::Engine;
    let signature = openssl(
        &["dgst", "-sha256", "-sign", pem.to_str().unwrap()],
        format!("{timestamp}{body}").as_bytes(),
    );
    vec![
        (
            "X-Twilio-Email-Event-Webhook-Signature".into(),
            base64::engine::general_purpose::STANDARD.encode(signature),
        ),
        (
            "X-Twilio-Email-Event-Webhook-Timestamp".into(),
            timestamp.to_string(),
        ),
    ]
}

fn post_json(served: &Served, path: &str, headers: &[(String, String)], body: &[u8]) -> u16 {
    let mut all: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
    all.extend(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    http::request(&served.host, "POST", path, &all, body).status
}

/// Sending services' bounce webhooks, each request signed or authenticated by an
/// independent tool (openssl, base64) as the service does it: Mailgun's, SendGrid's and
/// Postmark's hard bounces and complaints take exactly those readers off; a forged or
/// altered request, a replayed Mailgun token and a stale signature take no one off; a
/// SendGrid event posted again (a retry) counts once, so a soft bounce is not doubled.
#[test]
fn sending_services_bounce_webhooks_take_exactly_those_readers_off() {
    let sink = SmtpSink::start();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("sendgrid.pem");
    openssl(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            pem.to_str().unwrap(),
        ],
        b"",
    );
    let spki = openssl(
        &[
            "pkey",
            "-in",
            pem.to_str().unwrap(),
            "-pubout",
            "-outform",
            "DER",
        ],
        b"",
    );
    let verification_key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(spki)
    };
    let mailgun_key = "key-0123456789abcdef";
    let extra = format!(
        "[bounces]\nsoft_limit = 2\n\
         [bounces.mailgun]\nsigning_key = \"{mailgun_key}\"\n\
         [bounces.sendgrid]\nverification_key = \"{verification_key}\"\n\
         [bounces.postmark]\nuser = \"postmark\"\npassword = \"${{TIDINGS_TEST_SECRET}}\"\n\
         [notifiers.daily]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"0 0 6 * * *\"\nsubscribers = \"subscribers.csv\"\n"
    );
    let site = Site::with_settings(&settings(port, sink.port, &extra));
    let readers = [
        "mg-dead",
        "mg-grumpy",
        "sg-dead",
        "sg-busy",
        "sg-grumpy",
        "pm-dead",
        "pm-grumpy",
        "victim",
        "fine",
    ]
    .map(|r| format!("{r}@example.org"));
    std::fs::write(
        site.path().join("subscribers.csv"),
        format!("email\n{}\n", readers.join("\n")),
    )
    .unwrap();
    site.post("a.md", post("Alpha", "[News]"));
    let check = site.run(&["check"]);
    assert!(
        check.stdout().contains(&format!(
            "bounces.sendgrid: give sendgrid the webhook address http://127.0.0.1:{port}/bounces/sendgrid"
        )),
        "{}",
        check.stdout()
    );
    let mut served = Served::start(site, port);
    let now = SystemClock.now().timestamp();

    // Mailgun: a hard bounce and a complaint, signed.
    let hard = r#"{"id":"mg1","event":"failed","severity":"permanent","reason":"bounce","recipient":"mg-dead@example.org","delivery-status":{"code":550,"message":"5.1.1 no such mailbox"}}"#;
    let token = "a".repeat(50);
    assert_eq!(
        post_json(
            &served,
            "/bounces/mailgun",
            &[],
            &mailgun_body(mailgun_key, now, &token, hard)
        ),
        200
    );
    let complained = r#"{"id":"mg2","event":"complained","recipient":"mg-grumpy@example.org"}"#;
    let token2 = "b".repeat(50);
    assert_eq!(
        post_json(
            &served,
            "/bounces/mailgun",
            &[],
            &mailgun_body(mailgun_key, now, &token2, complained)
        ),
        200
    );
    // Its token again with another event (the signature does not cover the event): not
    // believed. Another key, and a day-old signature: refused.
    let replayed = hard.replace("mg-dead@", "victim@").replace("mg1", "mg3");
    assert_eq!(
        post_json(
            &served,
            "/bounces/mailgun",
            &[],
            &mailgun_body(mailgun_key, now, &token, &replayed)
        ),
        200
    );
    let forged = mailgun_body("key-guessed", now, &"c".repeat(50), &replayed);
    assert_eq!(post_json(&served, "/bounces/mailgun", &[], &forged), 403);
    let stale = mailgun_body(mailgun_key, now - 26 * 3600, &"d".repeat(50), &replayed);
    assert_eq!(post_json(&served, "/bounces/mailgun", &[], &stale), 403);

    // SendGrid: a batch with a hard bounce, a block (soft), a spam report and a delivery.
    let batch = r#"[{"email":"sg-dead@example.org","event":"bounce","type":"bounce","status":"5.1.1","reason":"550 no such user","sg_event_id":"sg1"},{"email":"sg-busy@example.org","event":"bounce","type":"blocked","status":"4.7.1","reason":"try later","sg_event_id":"sg2"},{"email":"sg-grumpy@example.org","event":"spamreport","sg_event_id":"sg3"},{"email":"fine@example.org","event":"delivered","sg_event_id":"sg4"}]"#;
    let signed = sendgrid_headers(&pem, now, batch);
    assert_eq!(
        post_json(&served, "/bounces/sendgrid", &signed, batch.as_bytes()),
        200
    );
    // The same batch again, signed afresh (SendGrid's retry): the block counts once, so
    // sg-busy@ stays below `soft_limit = 2`.
    let again = sendgrid_headers(&pem, now + 1, batch);
    assert_eq!(
        post_json(&served, "/bounces/sendgrid", &again, batch.as_bytes()),
        200
    );
    // Again after a restart (the keys taken are in the state, not the process).
    served.restart();
    let third = sendgrid_headers(&pem, now + 2, batch);
    assert_eq!(
        post_json(&served, "/bounces/sendgrid", &third, batch.as_bytes()),
        200
    );
    // An altered batch under the first signature: refused.
    let altered = batch
        .replace("fine@", "victim@")
        .replace("delivered", "spamreport");
    assert_eq!(
        post_json(&served, "/bounces/sendgrid", &signed, altered.as_bytes()),
        403
    );

    // Postmark: its Basic credentials, then wrong ones.
    let basic = |credentials: &str| {
        use base64::Engine;
        vec![(
            "Authorization".to_owned(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
        )]
    };
    let good = basic(&format!("postmark:{}", common::TEST_SECRET));
    let pm_hard = r#"{"RecordType":"Bounce","ID":42,"Type":"HardBounce","TypeCode":1,"Email":"pm-dead@example.org","Details":"smtp;550 5.1.1 unknown user"}"#;
    assert_eq!(
        post_json(&served, "/bounces/postmark", &good, pm_hard.as_bytes()),
        200
    );
    let pm_spam = r#"{"RecordType":"SpamComplaint","ID":43,"Type":"SpamComplaint","TypeCode":512,"Email":"pm-grumpy@example.org"}"#;
    assert_eq!(
        post_json(&served, "/bounces/postmark", &good, pm_spam.as_bytes()),
        200
    );
    let pm_victim = pm_hard.replace("pm-dead@", "victim@").replace("42", "44");
    assert_eq!(
        post_json(
            &served,
            "/bounces/postmark",
            &basic("postmark:guess"),
            pm_victim.as_bytes()
        ),
        403
    );
    assert_eq!(
        post_json(&served, "/bounces/postmark", &[], pm_victim.as_bytes()),
        403
    );
    // A service the settings do not name.
    assert_eq!(post_json(&served, "/bounces/sparkpost", &[], b"[]"), 404);

    let listed = common::reader_reasons(&served.site);
    let reason = |address: &str| {
        listed
            .get(address)
            .cloned()
            .unwrap_or_else(|| panic!("{address} not listed: {listed:?}"))
    };
    assert_eq!(
        reason("mg-dead@example.org"),
        "bounced: 550 5.1.1 no such mailbox (Mailgun)"
    );
    assert_eq!(
        reason("mg-grumpy@example.org"),
        "complained: spam report (Mailgun)"
    );
    assert_eq!(
        reason("sg-dead@example.org"),
        "bounced: 5.1.1 550 no such user (SendGrid)"
    );
    assert_eq!(
        reason("sg-grumpy@example.org"),
        "complained: spam report (SendGrid)"
    );
    assert_eq!(
        reason("pm-dead@example.org"),
        "bounced: HardBounce smtp;550 5.1.1 unknown user (Postmark)"
    );
    assert_eq!(
        reason("pm-grumpy@example.org"),
        "complained: spam report (Postmark)"
    );
    for untouched in [
        "sg-busy@example.org",
        "victim@example.org",
        "fine@example.org",
    ] {
        assert_eq!(reason(untouched), "", "{listed:?}");
    }
    // A second block for sg-busy@, a new event: the second soft bounce takes it off.
    let block = r#"[{"email":"sg-busy@example.org","event":"bounce","type":"blocked","status":"4.7.1","reason":"still no","sg_event_id":"sg5"}]"#;
    let signed = sendgrid_headers(&pem, now, block);
    assert_eq!(
        post_json(&served, "/bounces/sendgrid", &signed, block.as_bytes()),
        200
    );
    let list = served.site.run(&["readers", "list", "--json"]).expect(0);
    assert!(
        list.stdout().contains("bounced: 2 soft bounces"),
        "{}",
        list.stdout()
    );
    let log = served.log();
    assert!(log.contains("a signed request seen before"), "{log}");
    assert!(
        !log.contains(mailgun_key) && !log.contains(common::TEST_SECRET),
        "{log}"
    );
}
