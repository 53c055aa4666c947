//! `tidings run`, `status` and `retry` through the real binary, with a real SQLite state
//! file and real HTTP receivers on 127.0.0.1.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use common::receiver::{Receiver, Reply};
use common::{Site, TEST_SECRET};
use hmac::{KeyInit, Mac};

fn post(n: usize, categories: &str) -> String {
    format!(
        "---\ntitle: Post {n}\ndate: 2021-01-{:02} 10:00:00\ncategories: {categories}\ntags: [t{n}]\n---\nBody of post {n}.\n",
        n % 28 + 1
    )
}

/// A site whose notifiers are given as TOML.
fn site_with(notifiers: &str) -> Site {
    let settings = format!("{}\n{notifiers}", common::BASE_SETTINGS);
    let site = Site::with_settings(&settings);
    for n in 1..=3 {
        site.post(&format!("p{n}.md"), post(n, "[News, Tech]"));
    }
    site
}

fn hook(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[notifiers.{name}]\ntype = \"webhook\"\nurl = \"{url}\"\nsecret = \"${{TIDINGS_TEST_SECRET}}\"\n{extra}\n"
    )
}

/// Verifies a request's signature the way a receiver does (Standard Webhooks):
/// base64(HMAC-SHA256(base64-decoded secret, "{id}.{timestamp}.{body}")).
fn assert_signed(request: &common::receiver::Request) {
    let key = base64::engine::general_purpose::STANDARD
        .decode(TEST_SECRET.strip_prefix("whsec_").unwrap())
        .unwrap();
    let id = &request.headers["webhook-id"];
    let timestamp = &request.headers["webhook-timestamp"];
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", request.body).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let signatures = &request.headers["webhook-signature"];
    assert!(
        signatures.split(' ').any(|s| s == format!("v1,{expected}")),
        "signature {signatures} does not verify"
    );
    let now = tidings::clock::Clock::now(&tidings::clock::SystemClock).timestamp();
    let age = now - timestamp.parse::<i64>().unwrap();
    assert!(age.abs() < 300, "timestamp too far off: {age}s");
}

#[test]
fn first_run_announces_nothing_then_each_new_post_once() {
    let receiver = Receiver::start(vec![]);
    let site = site_with(&hook("team", &receiver.url, ""));
    let run = site.run(&["run", "--once"]).expect(0);
    assert!(
        run.stdout().contains("3 posts, 3 new, 0 announced"),
        "{}",
        run.stdout()
    );
    assert!(
        site.out().join("rss.xml").exists(),
        "run rebuilds the feeds"
    );
    assert!(receiver.requests().is_empty());

    site.post("p4.md", post(4, "[News, Tech, Chips]"));
    site.run(&["run", "--once"]).expect(0);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let body = requests[0].json();
    assert_eq!(body["type"], "posts.published");
    assert_eq!(body["posts"][0]["title"], "Post 4");
    assert_eq!(body["posts"][0]["categories"][0], "News/Tech/Chips");
    assert_eq!(body["posts"][0]["summary"], "Body of post 4.");
    assert_eq!(body["id"], requests[0].headers["webhook-id"]);
    assert_signed(&requests[0]);

    // Not again: not on the next pass, not after an edit, not after it vanishes and returns.
    site.run(&["run", "--once"]).expect(0);
    site.post(
        "p4.md",
        post(4, "[News, Tech, Chips]").replace("Body", "Edited body"),
    );
    site.run(&["run", "--once"]).expect(0);
    site.remove_post("p4.md");
    site.run(&["run", "--once"]).expect(0);
    site.post("p4.md", post(4, "[News]"));
    site.run(&["run", "--once"]).expect(0);
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn backfill_filters_and_a_new_notifier_start_clean() {
    let all = Receiver::start(vec![]);
    let chips = Receiver::start(vec![]);
    let site = site_with(
        &(hook("all", &all.url, "")
            + &hook(
                "chips",
                &chips.url,
                "categories = [\"News/Tech/Chips\"]\ntags = [\"t9\"]",
            )),
    );
    site.post("p9.md", post(9, "[Other]"));
    site.run(&["run", "--once", "--backfill", "2"]).expect(0);
    let titles: Vec<String> = all
        .requests()
        .iter()
        .map(|r| r.json()["posts"][0]["title"].as_str().unwrap().to_owned())
        .collect();
    // The newest two, oldest first.
    assert_eq!(titles, ["Post 3", "Post 9"]);
    assert_eq!(chips.requests().len(), 1, "tag t9 matches");

    site.post("p5.md", post(5, "[News, Tech, Chips]"));
    site.post("p6.md", post(6, "[News]"));
    site.run(&["run", "--once"]).expect(0);
    assert_eq!(all.requests().len(), 4);
    assert_eq!(
        chips.requests().len(),
        2,
        "a category matches its descendants only"
    );

    // A notifier added later hears only of what comes after.
    let late = Receiver::start(vec![]);
    let settings = std::fs::read_to_string(site.path().join("settings.toml")).unwrap()
        + &hook("late", &late.url, "");
    std::fs::write(site.path().join("settings.toml"), settings).unwrap();
    site.run(&["run", "--once"]).expect(0);
    assert!(late.requests().is_empty());
    site.post("p7.md", post(7, "[News]"));
    site.run(&["run", "--once"]).expect(0);
    assert_eq!(late.requests().len(), 1);
}

#[test]
fn retries_keep_the_message_id_and_honour_retry_after() {
    let receiver = Receiver::start(vec![Reply::Status(500), Reply::RetryAfter(429, "0")]);
    let site = site_with(&hook("team", &receiver.url, ""));
    site.run_at("2026-12-01T08:00:00Z", &["run", "--once"])
        .expect(0);
    site.post("p4.md", post(4, "[News]"));
    let run = site
        .run_at("2026-12-01T08:00:00Z", &["run", "--once"])
        .expect(0);
    assert!(run.stdout().contains("1 to retry"), "{}", run.stdout());
    let status = site
        .run_at("2026-12-01T08:00:00Z", &["status", "--json"])
        .expect(0);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert_eq!(doc["notifiers"][0]["retrying"], 1);
    assert_eq!(doc["notifiers"][0]["last_error"], "HTTP 500: ok");
    // The backoff: two minutes ±20%.
    let next = doc["notifiers"][0]["next_attempt"].as_str().unwrap();
    assert!(
        ("2026-12-01T08:01:36".."2026-12-01T08:02:25").contains(&next),
        "{next}"
    );
    assert_eq!(receiver.requests().len(), 1);
    site.run_at("2026-12-01T08:01:00Z", &["run", "--once"])
        .expect(0);
    assert_eq!(receiver.requests().len(), 1, "not due yet");

    // 429 with `Retry-After: 0` is the normal backoff, not "at once": attempts are not
    // burnt in a second.
    site.run_at("2026-12-01T08:03:00Z", &["run", "--once"])
        .expect(0);
    assert_eq!(receiver.requests().len(), 2);
    site.run_at("2026-12-01T08:03:01Z", &["run", "--once"])
        .expect(0);
    assert_eq!(
        receiver.requests().len(),
        2,
        "Retry-After: 0 must not mean now"
    );
    site.run_at("2026-12-01T09:00:00Z", &["run", "--once"])
        .expect(0); // 200
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    let ids: Vec<&String> = requests.iter().map(|r| &r.headers["webhook-id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let status = site.run(&["status"]).expect(0);
    assert!(
        status.stdout().contains("0 retrying, 0 failed, 1 sent"),
        "{}",
        status.stdout()
    );
}

#[test]
fn permanent_failures_are_kept_and_can_be_retried() {
    let receiver = Receiver::start(vec![Reply::Status(404)]);
    let site = site_with(&hook("team", &receiver.url, ""));
    site.run(&["run", "--once"]).expect(0);
    site.post("p4.md", post(4, "[News]"));
    let run = site.run(&["run", "--once"]).expect(1);
    assert!(run.stdout().contains("1 failed"), "{}", run.stdout());
    let status = site.run(&["status"]).expect(0);
    assert!(
        status.stdout().contains("1 failed") && status.stdout().contains("HTTP 404"),
        "{}",
        status.stdout()
    );

    site.run(&["retry", "nobody"]).expect(2);
    let retry = site.run(&["retry", "team"]).expect(0);
    assert!(
        retry.stdout().contains("1 failed deliveries"),
        "{}",
        retry.stdout()
    );
    site.run(&["run", "--once"]).expect(0);
    assert_eq!(receiver.requests().len(), 2);
    assert!(site.run(&["status"]).stdout().contains("1 sent"));
}

#[test]
fn a_receiver_that_hangs_does_not_block_the_others() {
    let slow = Receiver::start(vec![Reply::Hang(Duration::from_secs(5))]);
    let fine = Receiver::start(vec![]);
    let site =
        site_with(&(hook("slow", &slow.url, "timeout_seconds = 1") + &hook("fine", &fine.url, "")));
    site.run(&["run", "--once"]).expect(0);
    site.post("p4.md", post(4, "[News]"));
    let run = site.run(&["run", "--once"]).expect(0);
    assert!(
        run.stdout().contains("1 message sent, 1 to retry"),
        "{}",
        run.stdout()
    );
    assert_eq!(fine.requests().len(), 1);
    let status = site.run(&["status", "--json"]).expect(0);
    assert!(
        status
            .stdout()
            .contains("no answer from 127.0.0.1 within 1s"),
        "{}",
        status.stdout()
    );
}

#[test]
fn digests_collect_posts_and_split_by_max_posts() {
    let receiver = Receiver::start(vec![]);
    // Daily at 08:00 in the site's zone (Asia/Shanghai: 00:00 UTC); the clock is pinned.
    let site = site_with(&hook(
        "daily",
        &receiver.url,
        "mode = \"digest\"\nschedule = \"0 8 * * *\"\nmax_posts = 2",
    ));
    site.run_at("2026-12-01T01:00:00Z", &["run", "--once"])
        .expect(0);
    for n in 4..=6 {
        site.post(&format!("p{n}.md"), post(n, "[News]"));
    }
    site.run_at("2026-12-01T23:59:59Z", &["run", "--once"])
        .expect(0);
    assert!(receiver.requests().is_empty(), "not before its time");
    site.run_at("2026-12-02T00:00:00Z", &["run", "--once"])
        .expect(0);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "three posts, two per message");
    let counts: Vec<usize> = requests
        .iter()
        .map(|r| r.json()["posts"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [2, 1]);
    assert!(requests.iter().all(|r| r.json()["type"] == "posts.digest"));
    assert_ne!(
        requests[0].headers["webhook-id"],
        requests[1].headers["webhook-id"]
    );
    // Nothing new: no empty digest.
    site.run_at("2026-12-03T00:00:00Z", &["run", "--once"])
        .expect(0);
    assert_eq!(receiver.requests().len(), 2);
    // Several slots missed (tidings was not running) fire once, not once each.
    site.post("p7.md", post(7, "[News]"));
    site.run_at("2026-12-06T00:00:01Z", &["run", "--once"])
        .expect(0);
    assert_eq!(receiver.requests().len(), 3);
    site.run_at("2026-12-06T12:00:00Z", &["run", "--once"])
        .expect(0);
    assert_eq!(receiver.requests().len(), 3);
}

#[test]
fn a_future_post_is_announced_when_its_time_comes() {
    let receiver = Receiver::start(vec![]);
    let site = site_with(&hook("team", &receiver.url, ""));
    site.run_at("2026-12-01T08:00:00Z", &["run", "--once"])
        .expect(0);
    site.post(
        "soon.md",
        "---\ntitle: Soon\ndate: 2026-12-01T10:00:00Z\n---\nnot yet\n",
    );
    let run = site
        .run_at("2026-12-01T09:59:59Z", &["run", "--once"])
        .expect(0);
    assert!(
        run.stdout().contains("1 new, 0 announced"),
        "{}",
        run.stdout()
    );
    assert!(receiver.requests().is_empty());
    assert!(
        !site.read("rss.xml").contains("Soon"),
        "not in the feed either"
    );
    site.run_at("2026-12-01T10:00:00Z", &["run", "--once"])
        .expect(0);
    assert_eq!(receiver.requests().len(), 1);
    assert!(site.read("rss.xml").contains("Soon"));
}

#[test]
fn templates_shape_the_body() {
    let receiver = Receiver::start(vec![]);
    let site = site_with(&hook("chat", &receiver.url, "template = \"chat.json\""));
    std::fs::create_dir(site.path().join("templates")).unwrap();
    std::fs::write(
        site.path().join("templates/chat.json"),
        r#"{"text": {{ ("New: " ~ posts[0].title ~ " " ~ posts[0].url) | tojson }}}"#,
    )
    .unwrap();
    site.run(&["run", "--once"]).expect(0);
    site.post("p4.md", post(4, "[News]"));
    site.run(&["run", "--once"]).expect(0);
    let body = receiver.requests()[0].json();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("New: Post 4 https://example.org/blog/"),
        "{body}"
    );
}

#[test]
fn bad_notifier_settings_are_named() {
    for (notifier, key) in [
        ("[notifiers.x]\ntype = \"pigeon\"\n", "notifiers.x.type"),
        ("[notifiers.x]\ntype = \"webhook\"\n", "notifiers.x.url"),
        (
            "[notifiers.x]\ntype = \"webhook\"\nurl = \"${TIDINGS_UNSET_VAR}\"\n",
            "TIDINGS_UNSET_VAR",
        ),
        (
            "[notifiers.x]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nmode = \"digest\"\n",
            "notifiers.x.schedule",
        ),
        (
            "[notifiers.x]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nmode = \"digest\"\nschedule = \"0 9 * * Funday\"\n",
            "Funday",
        ),
        ("[schedule]\nscan = \"every minute\"\n", "schedule.scan"),
        (
            "[notifiers.x]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\ntemplate = \"missing.json\"\n",
            "notifiers.x.template",
        ),
    ] {
        let site = site_with(notifier);
        let run = site.run(&["run", "--once"]).expect(2);
        assert!(run.stderr().contains(key), "{notifier}: {}", run.stderr());
    }
}

#[test]
fn check_shows_the_next_fire_times() {
    let site = site_with(&hook(
        "daily",
        "http://127.0.0.1:9/",
        "mode = \"digest\"\nschedule = \"30 8 * * Mon-Fri\"",
    ));
    let run = site.run(&["check"]).expect(0);
    let out = run.stdout();
    let line = out
        .lines()
        .find(|l| l.starts_with("notifier daily"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(line.matches("08:30").count(), 3, "{line}");
    assert!(!line.contains("Sat") && !line.contains("Sun"), "{line}");
    assert!(out.contains("scan `*/5 * * * *`: next"), "{out}");
}

#[test]
fn one_runner_per_state_file_and_a_clean_stop_on_sigterm() {
    let receiver = Receiver::start(vec![]);
    let site = site_with(&hook("team", &receiver.url, ""));
    let mut daemon = site.command(&["run"]).spawn().unwrap();
    // Wait until the daemon has scanned (the state file records it).
    let db = site.path().join(".tidings/state.db");
    common::wait_until("the first scan", || {
        site.run(&["status"]).stdout().contains("last scan")
    });
    assert!(db.exists());
    let second = site.run(&["run", "--once"]).expect(2);
    assert!(
        second.stderr().contains("another `tidings run`"),
        "{}",
        second.stderr()
    );

    // Stopped at once, not at the next scan (five minutes away): the guard below only
    // keeps a daemon that ignores the signal from hanging the test run.
    send_signal(daemon.id(), "TERM");
    let mut status = None;
    common::wait_until("exit after SIGTERM", || {
        status = daemon.try_wait().unwrap();
        status.is_some()
    });
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[test]
fn kill_9_mid_burst_loses_nothing_and_repeats_only_with_the_same_id() {
    let receiver = Receiver::start(vec![]);
    let site = site_with(&hook("team", &receiver.url, ""));
    site.run(&["run", "--once"]).expect(0);
    receiver.then(
        (0..40)
            .map(|_| Reply::Slow(Duration::from_millis(60)))
            .collect(),
    );
    let posts: Vec<String> = (10..40).map(|n| format!("Post {n}")).collect();
    for n in 10..40 {
        site.post(&format!("burst{n}.md"), post(n, "[News]"));
    }
    let mut daemon = site.command(&["run"]).spawn().unwrap();
    assert!(
        receiver.wait_for(8, Duration::from_secs(20)),
        "the burst never started"
    );
    daemon.kill().unwrap(); // SIGKILL
    daemon.wait().unwrap();
    let before_restart = receiver.requests().len();
    assert!(
        before_restart < posts.len(),
        "the kill came too late to test anything"
    );

    site.run(&["run", "--once"]).expect(0);
    let mut ids_by_post: HashMap<String, Vec<String>> = HashMap::new();
    for request in receiver.requests() {
        let title = request.json()["posts"][0]["title"]
            .as_str()
            .unwrap()
            .to_owned();
        ids_by_post
            .entry(title)
            .or_default()
            .push(request.headers["webhook-id"].clone());
    }
    for title in &posts {
        let ids = ids_by_post
            .get(title)
            .unwrap_or_else(|| panic!("{title} was lost"));
        assert!(ids.len() <= 2, "{title} sent {} times", ids.len());
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "{title}: repeats must carry the same id: {ids:?}"
        );
    }
    let repeats = ids_by_post.values().filter(|ids| ids.len() > 1).count();
    assert!(
        repeats <= 1,
        "only the delivery in flight may repeat, got {repeats}"
    );
}

/// Sends a signal with the `kill` command (no libc binding needed for one call).
fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn status_before_any_run_creates_nothing() {
    let site = site_with(&hook("team", "http://127.0.0.1:9/", ""));
    let run = site.run(&["status"]).expect(0);
    assert!(run.stdout().contains("no scan yet"), "{}", run.stdout());
    assert!(
        run.stdout()
            .contains("team: 0 queued for digest, 0 pending"),
        "{}",
        run.stdout()
    );
    assert!(!site.path().join(".tidings").exists());
}

/// A scan over content that cannot have changed (the same files, settings and state, and no
/// scheduled post come due) reads nothing and records only itself; anything else means a
/// full scan: a scheduled post coming due is announced, the clock going back or an edit is
/// seen, and a new state file starts over.
#[test]
fn a_settled_scan_skips_the_work_but_never_an_announcement() {
    let receiver = Receiver::start(vec![]);
    let site = site_with(&hook("team", &receiver.url, ""));
    site.post(
        "soon.md",
        "---\ntitle: Soon\ndate: 2040-06-01T10:00:00Z\n---\nnot yet\n",
    );
    // Pinned years after the files were written, so their identities prove them unchanged.
    let scan = |at: &str| site.run_at(at, &["-vv", "run", "--once"]).expect(0);
    let settled = |run: &common::Run| run.stderr().contains("nothing changed since the last scan");
    assert!(!settled(&scan("2040-01-01T00:00:00Z")));
    let again = scan("2040-01-02T00:00:00Z");
    assert!(settled(&again), "{}", again.stderr());
    assert!(
        again.stdout().contains("4 posts, 0 new"),
        "{}",
        again.stdout()
    );
    let status = site.run(&["status"]).expect(0);
    assert!(
        status.stdout().contains("4 posts, 0 new"),
        "{}",
        status.stdout()
    );
    assert!(settled(&scan("2040-06-01T09:59:59Z")));
    assert!(receiver.requests().is_empty());

    let due = scan("2040-06-01T10:00:00Z");
    assert!(!settled(&due), "a scheduled post came due");
    assert_eq!(receiver.requests().len(), 1, "and is announced");
    assert!(site.read("rss.xml").contains("Soon"));
    assert!(settled(&scan("2040-06-01T11:00:00Z")));
    assert!(
        !settled(&scan("2040-05-01T00:00:00Z")),
        "the clock went back"
    );

    site.post("p1.md", post(1, "[Changed]"));
    assert!(!settled(&scan("2040-06-02T00:00:00Z")), "an edit");
    assert!(site.out().join("categories/Changed/rss.xml").exists());
    std::fs::remove_file(site.out().join("rss.xml")).unwrap();
    assert!(
        !settled(&scan("2040-06-02T01:00:00Z")),
        "a feed removed by hand"
    );
    assert!(site.out().join("rss.xml").exists(), "is written again");

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(site.path().join(format!(".tidings/state.db{suffix}")));
    }
    let fresh = scan("2040-06-03T00:00:00Z");
    assert!(!settled(&fresh), "a new state file");
    assert!(
        fresh.stdout().contains("4 posts, 4 new, 0 announced"),
        "{}",
        fresh.stdout()
    );
    assert_eq!(receiver.requests().len(), 1, "nothing announced again");
}

/// One clock for readers: a post written in GMT on an Asia/Shanghai site reads as the next
/// day there, in the webhook (with the UTC instant beside it), a chat message, an email
/// digest and every feed.
#[test]
fn dates_readers_see_are_in_the_site_zone() {
    let hook_receiver = Receiver::start(vec![]);
    let chat_receiver = Receiver::start(vec![]);
    let site = site_with(&format!(
        "{}[notifiers.team]\ntype = \"slack\"\nurl = \"{}\"\n\
         [email]\nfrom = \"news@example.org\"\n\
         [notifiers.daily]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nto = [\"a@example.org\"]\n",
        hook("hook", &hook_receiver.url, ""),
        chat_receiver.url
    ));
    std::fs::create_dir_all(site.path().join("templates")).unwrap();
    std::fs::write(
        site.path().join("templates/slack.jinja"),
        "{{ post.title }} ({{ post.date }})",
    )
    .unwrap();
    site.run_at("2026-12-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    site.post(
        "gmt.md",
        "---\ntitle: Late news\ndate: Sat, 23 Jul 2022 16:55:00 GMT\ncategories: [News]\n---\nBody.\n",
    );
    site.run_at("2026-12-01T00:00:10Z", &["run", "--once"])
        .expect(0);

    let payload = hook_receiver.requests()[0].json();
    let item = &payload["posts"][0];
    assert_eq!(item["published"], "2022-07-24T00:55:00+08:00", "{payload}");
    assert_eq!(item["published_utc"], "2022-07-23T16:55:00Z", "{payload}");
    assert_eq!(item["date"], "Jul 24, 2022", "{payload}");
    let chat = chat_receiver.requests()[0].body.clone();
    assert!(chat.contains("Late news (Jul 24, 2022)"), "{chat}");
    let digest: String = std::fs::read_dir(site.path().join("outbox"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(digest.contains("Jul 24, 2022"), "{digest}");
    assert!(!digest.contains("2022-07-23"), "{digest}");
    let rss = site.read("rss.xml");
    assert!(
        rss.contains("<pubDate>Sun, 24 Jul 2022 00:55:00 +0800</pubDate>"),
        "{rss}"
    );
    assert!(
        site.read("atom.xml")
            .contains("<published>2022-07-24T00:55:00+08:00</published>")
    );
    let json: serde_json::Value = serde_json::from_str(&site.read("feed.json")).unwrap();
    let gmt = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Late news")
        .unwrap();
    assert_eq!(gmt["date_published"], "2022-07-24T00:55:00+08:00");
}

/// Under systemd (`Type=notify`, `WatchdogSec=`): the daemon says it is ready once it
/// runs, alive at its heartbeats, and stopping on SIGTERM.
#[test]
fn a_service_manager_hears_ready_watchdog_and_stopping() {
    let receiver = Receiver::start(vec![]);
    let site = site_with(&hook("team", &receiver.url, ""));
    let socket_path = site.path().join("notify.sock");
    let manager = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut daemon = site
        .command(&["run"])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "30000000")
        .spawn()
        .unwrap();
    let mut heard = Vec::new();
    let next = || {
        let mut buf = [0u8; 256];
        let n = manager.recv(&mut buf).expect("a message from the daemon");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    while !heard.contains(&"WATCHDOG=1".to_owned()) {
        heard.push(next());
    }
    assert_eq!(heard[0], "READY=1", "{heard:?}");
    send_signal(daemon.id(), "TERM");
    while heard.last().is_some_and(|m| m != "STOPPING=1") {
        heard.push(next());
    }
    assert!(daemon.wait().unwrap().success());
}
