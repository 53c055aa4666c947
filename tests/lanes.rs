//! Delivery lanes through the real binary: one lane per notifier, each with its own order,
//! pacing and backoff; nothing a receiver answers, no subscriber row and no setting can
//! crash, hang, stall or reorder delivery. Receivers are real HTTP servers and a real SMTP
//! server on 127.0.0.1; the clock is pinned (`TIDINGS_TEST_NOW`) wherever time must pass.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::Site;
use common::receiver::{Receiver, Reply};
use common::smtp::SmtpSink;

fn post(n: usize) -> String {
    format!(
        "---\ntitle: Post {n}\ndate: 2026-11-{:02} 10:00:00\ncategories: [News]\n---\nBody of post {n}.\n",
        n % 28 + 1
    )
}

/// A site whose first run has recorded the archive (one old post), at `2026-12-01`.
fn site_with(extra: &str) -> Site {
    let site = Site::with_settings(&format!("{}\n{extra}", common::BASE_SETTINGS));
    site.post("old.md", post(0));
    site.run_at("2026-12-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    site
}

fn webhook(name: &str, url: &str) -> String {
    format!("[notifiers.{name}]\ntype = \"webhook\"\nurl = \"{url}\"\n")
}

fn titles(receiver: &Receiver) -> Vec<String> {
    receiver
        .requests()
        .iter()
        .map(|r| r.json()["posts"][0]["title"].as_str().unwrap().to_owned())
        .collect()
}

fn status(site: &Site, now: &str) -> serde_json::Value {
    let run = site.run_at(now, &["status", "--json"]).expect(0);
    serde_json::from_str(&run.stdout()).unwrap()
}

/// The notifier `name` in `status --json`.
fn notifier<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["notifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no notifier {name} in {doc}"))
}

/// A head that failed holds its notifier's later messages until it goes, and holds no other
/// notifier's: the README's "one notifier's messages go out in order", across failures.
#[test]
fn a_failed_head_holds_its_lane_and_no_other() {
    let held = Receiver::start(vec![Reply::Status(500)]);
    let free = Receiver::start(vec![]);
    let site = site_with(&(webhook("held", &held.url) + &webhook("free", &free.url)));
    for n in 1..=3 {
        site.post(&format!("p{n}.md"), post(n));
    }
    site.run_at("2026-12-01T08:00:00Z", &["run", "--once"])
        .expect(0);
    assert_eq!(
        titles(&held),
        ["Post 1"],
        "posts 2 and 3 wait behind post 1"
    );
    assert_eq!(titles(&free), ["Post 1", "Post 2", "Post 3"]);
    let doc = status(&site, "2026-12-01T08:00:00Z");
    let lane = &notifier(&doc, "held")["lane"];
    assert_eq!(lane["state"], "waiting", "{doc}");
    assert_eq!(lane["messages"], 3);
    assert_eq!(notifier(&doc, "free")["lane"]["state"], "idle");

    site.run_at("2026-12-01T09:00:00Z", &["run", "--once"])
        .expect(0);
    assert_eq!(
        titles(&held),
        ["Post 1", "Post 1", "Post 2", "Post 3"],
        "the head first, then the rest in order"
    );
    assert_eq!(free.requests().len(), 3, "nothing sent twice");
}

/// A receiver's `Retry-After: 86400` holds that notifier for the day it asked for: not
/// ten seconds, and not a moment past the cap.
#[test]
fn a_day_long_retry_after_holds_the_lane_for_that_day() {
    let receiver = Receiver::start(vec![Reply::RetryAfter(429, "86400")]);
    let site = site_with(&webhook("hook", &receiver.url));
    site.post("p1.md", post(1));
    site.run_at("2026-12-01T08:00:00Z", &["run", "--once"])
        .expect(0);
    site.post("p2.md", post(2));
    site.post("p3.md", post(3));
    for now in ["2026-12-01T08:00:10Z", "2026-12-02T07:59:59Z"] {
        site.run_at(now, &["run", "--once"]).expect(0);
        assert_eq!(
            receiver.requests().len(),
            1,
            "at {now} the lane still waits"
        );
    }
    let doc = status(&site, "2026-12-01T09:00:00Z");
    assert_eq!(
        notifier(&doc, "hook")["lane"]["until"],
        "2026-12-01T08:00:00.000000Z".replace("01T08", "02T08"),
        "{doc}"
    );
    site.run_at("2026-12-02T08:00:00Z", &["run", "--once"])
        .expect(0);
    assert_eq!(titles(&receiver), ["Post 1", "Post 1", "Post 2", "Post 3"]);
}

/// Each platform's receiver answering with absurd waits (2^64-1 seconds, 10^300, negative,
/// not a number, a date in the year 9999) and floods of bytes: no run panics or hangs,
/// every wait kept is at most a day, and each message is sent once the receiver is well.
#[test]
fn absurd_answers_from_every_platform_never_crash_or_stall() {
    let header_waits = |extra: Vec<Reply>| {
        let mut replies = vec![
            Reply::Raw(
                429,
                "Retry-After: 18446744073709551615\r\n".into(),
                "".into(),
            ),
            Reply::Raw(
                503,
                "Retry-After: 999999999999999999999999999999\r\n".into(),
                "".into(),
            ),
            Reply::Raw(429, "Retry-After: -5\r\n".into(), "".into()),
            Reply::Raw(429, "Retry-After: 1e300\r\n".into(), "".into()),
            Reply::Raw(
                503,
                "Retry-After: Fri, 31 Dec 9999 23:59:59 GMT\r\n".into(),
                "".into(),
            ),
            Reply::Flood(500, 32 << 20),
        ];
        replies.extend(extra);
        replies
    };
    let json = |status: u16, body: &str| Reply::Json(status, body.to_owned());
    let telegram = |wait: &str| {
        json(
            429,
            &format!(
                r#"{{"ok": false, "error_code": 429, "description": "Too Many Requests", "parameters": {{"retry_after": {wait}}}}}"#
            ),
        )
    };
    let cases: Vec<(&str, String, Vec<Reply>)> = vec![
        ("webhook", String::new(), header_waits(vec![])),
        ("slack", String::new(), header_waits(vec![])),
        ("teams", String::new(), header_waits(vec![])),
        (
            "wecom",
            String::new(),
            header_waits(vec![json(
                200,
                r#"{"errcode": 45009, "errmsg": "api freq out of limit"}"#,
            )]),
        ),
        (
            "discord",
            String::new(),
            header_waits(vec![
                json(429, r#"{"retry_after": 1e300}"#),
                json(429, r#"{"retry_after": -1}"#),
                json(429, r#"{"retry_after": "soon"}"#),
                json(429, r#"{"retry_after": 18446744073709551615}"#),
            ]),
        ),
        (
            "telegram",
            "chat_id = \"-1001\"\ntoken = \"${TIDINGS_TEST_TELEGRAM}\"\n".into(),
            vec![
                telegram("18446744073709551615"),
                telegram("1e300"),
                telegram("-3"),
                telegram("\"soon\""),
                telegram("[[[[[[[[[[1]]]]]]]]]]"),
                Reply::Flood(502, 32 << 20),
            ],
        ),
        (
            "matrix",
            "room_id = \"!room:example.org\"\ntoken = \"matrix-token\"\n".into(),
            vec![
                json(
                    429,
                    r#"{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 18446744073709551615}"#,
                ),
                json(
                    429,
                    r#"{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 1e300}"#,
                ),
                json(
                    429,
                    r#"{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": -100}"#,
                ),
                Reply::Raw(
                    429,
                    "Retry-After: 18446744073709551615\r\n".into(),
                    "{".into(),
                ),
            ],
        ),
        (
            "dingtalk",
            String::new(),
            vec![
                json(200, r#"{"errcode": 130101, "errmsg": "send too fast"}"#),
                Reply::Flood(502, 32 << 20),
            ],
        ),
        (
            "feishu",
            String::new(),
            vec![
                json(200, r#"{"code": 9499, "msg": "too many requests"}"#),
                Reply::Raw(
                    429,
                    "Retry-After: 18446744073709551615\r\n".into(),
                    "{".into(),
                ),
            ],
        ),
    ];
    let mut receivers = Vec::new();
    let mut settings = String::new();
    for (kind, extra, replies) in cases {
        let receiver = Receiver::start(replies.clone()).succeeding_with(Receiver::success_of(kind));
        let url = match kind {
            "telegram" => format!("api_base = \"{}\"", receiver.base),
            "matrix" => format!("homeserver = \"{}\"", receiver.base),
            _ => format!("url = \"{}\"", receiver.url),
        };
        settings.push_str(&format!(
            "[notifiers.{kind}]\ntype = \"{kind}\"\n{url}\n{extra}max_attempts = 20\n"
        ));
        receivers.push((kind, receiver, replies.len()));
    }
    let site = site_with(&settings);
    site.post("p1.md", post(1));
    // Each run is a day and a second after the last: whatever was asked, the wait is over.
    let mut now = chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z").unwrap();
    for _ in 0..12 {
        let stamp = now.to_rfc3339();
        site.run_at(&stamp, &["run", "--once"]).expect(0);
        let doc = status(&site, &stamp);
        let cap = (now + chrono::Duration::hours(24)).to_utc();
        for n in doc["notifiers"].as_array().unwrap() {
            if let Some(next) = n["next_attempt"].as_str() {
                let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
                assert!(
                    next <= cap,
                    "{}: next attempt {next} beyond the cap",
                    n["name"]
                );
            }
        }
        now += chrono::Duration::seconds(24 * 3600 + 1);
    }
    for (kind, receiver, scripted) in &receivers {
        let requests = receiver.requests();
        assert_eq!(
            requests.len(),
            scripted + 1,
            "{kind}: every absurd answer waited out, then sent once"
        );
    }
    let doc = status(&site, &now.to_rfc3339());
    for (kind, _, _) in &receivers {
        assert_eq!(notifier(&doc, kind)["sent"], 1, "{kind}: {doc}");
    }
}

/// A notification whose template fails is never stored with an empty body: it waits,
/// failed with the reason, and `retry` composes it again once the template is fixed.
#[test]
fn a_failed_template_is_composed_again_by_retry() {
    let receiver = Receiver::start(vec![]);
    let site = Site::with_settings(&format!(
        "{}\n[notifiers.hook]\ntype = \"webhook\"\nurl = \"{}\"\ntemplate = \"hook.json\"\n",
        common::BASE_SETTINGS,
        receiver.url
    ));
    std::fs::create_dir(site.path().join("templates")).unwrap();
    let template = site.path().join("templates/hook.json");
    // Valid template syntax, but its output is not JSON.
    std::fs::write(&template, "New: {{ posts[0].title }}").unwrap();
    site.post("old.md", post(0));
    site.run(&["run", "--once"]).expect(0);
    site.post("p1.md", post(1));
    let run = site.run(&["run", "--once"]).expect(1);
    assert!(
        run.stdout()
            .contains("0 messages sent, 0 to retry, 1 failed"),
        "{}",
        run.stdout()
    );
    assert!(receiver.requests().is_empty());
    let shown = site.run(&["status"]).expect(0).stdout();
    assert!(
        shown.contains("1 could not be made") && shown.contains("tidings retry hook"),
        "{shown}"
    );
    // Retrying with the template still broken sends nothing and says so.
    site.run(&["retry", "hook"]).expect(1);
    site.run(&["run", "--once"]).expect(0);
    assert!(receiver.requests().is_empty(), "never an empty body");

    std::fs::write(
        &template,
        "{\"text\": {{ (\"New: \" ~ posts[0].title) | tojson }}}",
    )
    .unwrap();
    let retry = site.run(&["retry", "hook"]).expect(0);
    assert!(
        retry.stdout().contains("1 messages queued"),
        "{}",
        retry.stdout()
    );
    site.run(&["run", "--once"]).expect(0);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].json()["text"], "New: Post 1");
    assert!(!site.run(&["status"]).stdout().contains("could not be made"));
}

/// Settings that cannot work are refused by `check`, naming the key.
#[test]
fn settings_that_cannot_work_are_refused_naming_the_key() {
    let email = |rate: &str| {
        format!(
            "[email]\nfrom = \"news@example.org\"\nrate = {rate}\n[notifiers.m]\ntype = \"email\"\nto = [\"a@example.org\"]\n"
        )
    };
    let cases = [
        (email("1e-30"), "email.rate"),
        (email("1e-9"), "email.rate"),
        (email("1e300"), "email.rate"),
        (email("nan"), "email.rate"),
        (email("5\npool = 100000"), "email.pool"),
        (email("5\ntimeout_seconds = 99999999"), "email.timeout_seconds"),
        (email("5\nreturn_path = \"r@example.org\""), "email.return_path"),
        (email("5\nreturn_path = \"r+x@example.org\""), "email.return_path"),
        (email("5\n[bounces]\nmaildir = \"b\""), "bounces"),
        (email("5\n[bounces]\nsoft_limit = 2"), "bounces"),
        (
            email("5\n[bounces.mailgun]\nsigning_key = \"key-x\""),
            "`bounces.mailgun` in",
        ),
        (
            email("5\n[bounces.mailgun]\nsigning_kee = \"key-x\""),
            "unknown field `signing_kee`",
        ),
        (
            email("5\n[bounces.sendgrid]\nverification_key = \"AAAA\""),
            "bounces.sendgrid.verification_key",
        ),
        (
            email("5\n[bounces.postmark]\nuser = \"p\"\npassword = \"short\""),
            "bounces.postmark.password",
        ),
        (
            "[notifiers.w]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nheaders = { \"Transfer-Encoding\" = \"chunked\" }\n".into(),
            "notifiers.w.headers.Transfer-Encoding",
        ),
        (
            "[notifiers.w]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nheaders = { \"webhook-id\" = \"x\" }\n".into(),
            "notifiers.w.headers.webhook-id",
        ),
        (
            "[notifiers.w]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nmax_attempts = 100000\n".into(),
            "notifiers.w.max_attempts",
        ),
        (
            "[notifiers.w]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\ntimeout_seconds = 99999999999\n".into(),
            "notifiers.w.timeout_seconds",
        ),
    ];
    for (settings, key) in cases {
        let site = Site::with_settings(&format!("{}\n{settings}", common::BASE_SETTINGS));
        let run = site.run(&["check"]).expect(2);
        assert!(run.stderr().contains(key), "{key}: {}", run.stderr());
    }
}

/// A subscriber row with a line break in its name: reported with file and line, that reader
/// skipped, everyone else gets their mail on the first run and on every later one.
#[test]
fn an_odd_subscriber_row_skips_that_reader_only() {
    let sink = SmtpSink::start();
    let site = Site::with_settings(&format!(
        "{}\n[email]\nsmtp = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"news@example.org\"\nrate = 100\n\
         [notifiers.letters]\ntype = \"email\"\nsubscribers = \"subs.csv\"\n",
        common::BASE_SETTINGS,
        sink.port
    ));
    std::fs::write(
        site.path().join("subs.csv"),
        "email,name\nr1@example.net,\"Line\nBreak\"\nada@example.org,Ada\nnot an address,X\nbob@example.org,\"Bob, Jr.\"\n",
    )
    .unwrap();
    site.post("old.md", post(0));
    site.run(&["run", "--once"]).expect(1);
    site.post("p1.md", post(1));
    // Exit 1: rows were skipped (as `check` says); everyone else got their mail.
    let run = site.run(&["run", "--once"]).expect(1);
    assert!(
        run.stderr().contains("subs.csv:2: r1@example.net"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("subs.csv:5: `not an address`"),
        "{}",
        run.stderr()
    );
    let mut to: Vec<String> = sink.messages().into_iter().map(|(rcpt, _)| rcpt).collect();
    to.sort();
    assert_eq!(to, ["ada@example.org", "bob@example.org"]);
    site.post("p2.md", post(2));
    site.run(&["run", "--once"]).expect(1);
    assert_eq!(sink.messages().len(), 4);
}

/// Starts `tidings run` with stderr in a log file.
fn daemon(site: &Site) -> std::process::Child {
    let log = std::fs::File::create(site.path().join("daemon.log")).unwrap();
    site.command(&["run"])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn stop(mut child: std::process::Child) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "the daemon must stop cleanly on SIGTERM");
}

/// The daemon keeps its SMTP connections for the next message; when the server restarts
/// meanwhile, the next message goes on a new connection at once, counted as no retry.
#[test]
fn a_kept_smtp_connection_the_server_dropped_is_replaced() {
    let sink = SmtpSink::start();
    let site = Site::with_settings(&format!(
        "{}\n[schedule]\nscan = \"* * * * * *\"\n\
         [email]\nsmtp = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"news@example.org\"\nrate = 100\n\
         [notifiers.now]\ntype = \"email\"\nto = [\"a@example.org\"]\n",
        common::BASE_SETTINGS,
        sink.port,
    ));
    site.post("old.md", post(0));
    site.run(&["run", "--once"]).expect(0);
    let child = daemon(&site);
    site.post("p1.md", post(1));
    common::wait_until("the first message arrived", || sink.messages().len() == 1);
    let sink = sink.restart();
    site.post("p2.md", post(2));
    common::wait_until("the second message arrived", || sink.messages().len() == 1);
    stop(child);
    let log = std::fs::read_to_string(site.path().join("daemon.log")).unwrap();
    assert!(!log.contains("will retry"), "{log}");
    let status: serde_json::Value =
        serde_json::from_str(&site.run(&["status", "--json"]).expect(0).stdout()).unwrap();
    assert_eq!(status["notifiers"][0]["sent"], 2);
}

/// While one receiver takes three seconds a request with ten messages queued, and a
/// 300-reader digest goes out at five a second, a new post reaches a fast webhook long
/// before either is done: no lane waits for another.
#[test]
fn a_slow_receiver_and_a_paced_digest_delay_no_other_lane() {
    let sink = SmtpSink::start();
    let slow = Receiver::start(
        (0..10)
            .map(|_| Reply::Slow(Duration::from_secs(3)))
            .collect(),
    );
    let fast = Receiver::start(vec![]);
    let site = Site::with_settings(&format!(
        "{}\n[schedule]\nscan = \"* * * * * *\"\n\
         [email]\nsmtp = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"news@example.org\"\nrate = 5\n\
         [notifiers.letters]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nsubscribers = \"subs.csv\"\n\
         {}{}",
        common::BASE_SETTINGS,
        sink.port,
        webhook("slow", &slow.url),
        webhook("fast", &fast.url)
    ));
    std::fs::write(site.path().join("subs.csv"), common::readers_csv(300)).unwrap();
    site.post("old.md", post(0));
    site.run(&["run", "--once"]).expect(0);
    for n in 1..=10 {
        site.post(&format!("p{n}.md"), post(n));
    }
    let child = daemon(&site);
    assert!(
        fast.wait_for(10, Duration::from_secs(30)),
        "the fast webhook got the first ten"
    );
    site.post("p11.md", post(11));
    assert!(
        fast.wait_for(11, Duration::from_secs(30)),
        "the new post reached the fast webhook"
    );
    let slow_seen = slow.requests().len();
    let mails = sink.messages().len();
    stop(child);
    assert!(
        slow_seen < 10,
        "the slow receiver was still busy ({slow_seen} of 10)"
    );
    assert!(
        mails < 300,
        "the digest was still going out ({mails} of 300)"
    );
    assert_eq!(titles(&fast)[10], "Post 11");
    let log = std::fs::read_to_string(site.path().join("daemon.log")).unwrap();
    assert!(!log.contains("panicked"), "{log}");
}

/// kill -9 at random moments while webhook, Slack, Telegram, Matrix and email (500 readers)
/// lanes deliver: after a restart nothing is lost, and only messages in flight at the
/// kill are sent again, with the same id.
#[test]
fn kill_9_during_every_kind_of_delivery_loses_nothing() {
    let sink = SmtpSink::start();
    let slowly = || {
        Receiver::start(
            (0..200)
                .map(|_| Reply::Slow(Duration::from_millis(300)))
                .collect(),
        )
    };
    let (hook, slack) = (slowly(), slowly());
    let telegram = slowly().succeeding_with(Receiver::success_of("telegram"));
    let matrix = slowly().succeeding_with(Receiver::success_of("matrix"));
    let site = Site::with_settings(&format!(
        "{}\n[email]\nsmtp = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"news@example.org\"\nrate = 1000\npool = 8\n\
         [notifiers.letters]\ntype = \"email\"\nsubscribers = \"subs.csv\"\n\
         [notifiers.hook]\ntype = \"webhook\"\nurl = \"{}\"\n\
         [notifiers.slack]\ntype = \"slack\"\nurl = \"{}\"\n\
         [notifiers.telegram]\ntype = \"telegram\"\napi_base = \"{}\"\ntoken = \"${{TIDINGS_TEST_TELEGRAM}}\"\nchat_id = \"-1\"\n\
         [notifiers.matrix]\ntype = \"matrix\"\nhomeserver = \"{}\"\nroom_id = \"!r:example.org\"\ntoken = \"t\"\n",
        common::BASE_SETTINGS,
        sink.port,
        hook.url,
        slack.url,
        telegram.base,
        matrix.base
    ));
    std::fs::write(site.path().join("subs.csv"), common::readers_csv(500)).unwrap();
    site.post("old.md", post(0));
    site.run(&["run", "--once"]).expect(0);
    for n in 1..=3 {
        site.post(&format!("p{n}.md"), post(n));
    }
    // Three kills, each once the delivery has gone a little further.
    let progress = || {
        sink.messages().len()
            + [&hook, &slack, &telegram, &matrix]
                .iter()
                .map(|r| r.requests().len())
                .sum::<usize>()
    };
    for step in [1, 150, 400] {
        let before = progress();
        let mut child = daemon(&site);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while progress() < before + step && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        eprintln!("kill after {} more deliveries", progress() - before);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    site.run(&["run", "--once"]).expect(0);

    // Chat and webhooks: three messages each, repeats only with the same id.
    let id_of = |r: &common::receiver::Request, kind: &str| match kind {
        "matrix" => r.path.rsplit('/').next().unwrap().to_owned(),
        "hook" => r.headers["webhook-id"].clone(),
        _ => r.body.clone(), // the same message is the same bytes
    };
    for (kind, receiver) in [
        ("hook", &hook),
        ("slack", &slack),
        ("telegram", &telegram),
        ("matrix", &matrix),
    ] {
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for request in receiver.requests() {
            *by_id.entry(id_of(&request, kind)).or_default() += 1;
        }
        assert_eq!(by_id.len(), 3, "{kind}: every post arrived: {by_id:?}");
        let repeats: usize = by_id.values().map(|n| n - 1).sum();
        assert!(
            repeats <= 3,
            "{kind}: at most one repeat per kill, got {repeats}"
        );
    }
    // Email: every reader got each post; a repeat carries the same Message-ID.
    let mut by_id: HashMap<String, (String, usize)> = HashMap::new();
    for (rcpt, bytes) in sink.messages() {
        let text = String::from_utf8_lossy(&bytes);
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .unwrap()
            .to_owned();
        let entry = by_id.entry(id).or_insert((rcpt.clone(), 0));
        assert_eq!(entry.0, rcpt, "one Message-ID, one reader");
        entry.1 += 1;
    }
    assert_eq!(by_id.len(), 3 * 500, "every reader got every post");
    let repeats: usize = by_id.values().map(|(_, n)| n - 1).sum();
    assert!(
        repeats <= 3 * 8,
        "only messages in flight repeat (pool 8), got {repeats}"
    );
}

/// `kill -HUP` reads the settings again: a changed template and a new notifier take effect
/// for the next post; settings with a fault are refused with the reason in the log, and
/// the daemon goes on as it was; SIGTERM still stops it cleanly.
#[test]
fn sighup_reads_the_settings_again_and_refuses_a_broken_file() {
    let receiver = Receiver::start(vec![]);
    let added = Receiver::start(vec![]);
    let settings = |extra: &str| {
        format!(
            "{}\n[schedule]\nscan = \"* * * * * *\"\n[notifiers.hook]\ntype = \"webhook\"\nurl = \"{}\"\ntemplate = \"hook.json\"\n{extra}",
            common::BASE_SETTINGS,
            receiver.url
        )
    };
    let site = Site::with_settings(&settings(""));
    std::fs::create_dir(site.path().join("templates")).unwrap();
    let template = site.path().join("templates/hook.json");
    std::fs::write(
        &template,
        "{\"v\": 1, \"title\": {{ posts[0].title | tojson }}}",
    )
    .unwrap();
    site.post("old.md", post(0));
    site.run(&["run", "--once"]).expect(0);
    let child = daemon(&site);
    let log = || std::fs::read_to_string(site.path().join("daemon.log")).unwrap_or_default();
    site.post("p1.md", post(1));
    assert!(receiver.wait_for(1, Duration::from_secs(30)), "{}", log());
    // Changed on disk only: the daemon goes on with what it read.
    std::fs::write(
        &template,
        "{\"v\": 2, \"title\": {{ posts[0].title | tojson }}}",
    )
    .unwrap();
    site.post("p2.md", post(2));
    assert!(receiver.wait_for(2, Duration::from_secs(30)), "{}", log());
    std::fs::write(
        site.path().join("settings.toml"),
        settings(&format!(
            "[notifiers.added]\ntype = \"webhook\"\nurl = \"{}\"\n",
            added.url
        )),
    )
    .unwrap();
    hangup(&child);
    common::wait_until("the settings are read again", || {
        log().contains("settings read again")
    });
    site.post("p3.md", post(3));
    assert!(receiver.wait_for(3, Duration::from_secs(30)), "{}", log());
    assert!(added.wait_for(1, Duration::from_secs(30)), "{}", log());
    let versions: Vec<i64> = receiver
        .requests()
        .iter()
        .map(|r| r.json()["v"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 1, 2], "the template changed at the reload");
    // A broken file is refused, and everything goes on.
    std::fs::write(site.path().join("settings.toml"), "[site\nbroken").unwrap();
    hangup(&child);
    common::wait_until("the broken settings are refused", || {
        log().contains("were not read again")
    });
    site.post("p4.md", post(4));
    assert!(receiver.wait_for(4, Duration::from_secs(30)), "{}", log());
    assert!(added.wait_for(2, Duration::from_secs(30)), "{}", log());
    stop(child);
    assert!(!log().contains("panicked"), "{}", log());
}

fn hangup(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}
