//! Nothing goes where the operator did not send it, through the real binary: receivers that
//! redirect, platforms whose success status carries no verdict, subscriber lists edited
//! while tidings runs, files in the feeds folder that tidings never wrote, a state file that
//! disappears, lanes held by a setting that was then fixed. Receivers are real HTTP servers
//! and a real SMTP server on 127.0.0.1; the clock is pinned where time must pass.

mod common;

use common::receiver::{Receiver, Reply};
use common::{Site, wait_until};

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

fn status(site: &Site) -> serde_json::Value {
    let run = site
        .run_at("2026-12-01T08:00:00Z", &["status", "--json"])
        .expect(0);
    serde_json::from_str(&run.stdout()).unwrap()
}

fn notifier<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["notifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no notifier {name} in {doc}"))
}

/// A receiver answering 301, 302, 307 or 308 towards another host gets its message marked
/// failed, never sent, with where it pointed and the key to change; the other host hears
/// nothing: no header, signature, body or token.
#[test]
fn no_notifier_follows_a_redirect() {
    for code in [301u16, 302, 307, 308] {
        let elsewhere = Receiver::start(vec![]);
        let location = format!("Location: {}/stolen?token=x\r\n", elsewhere.base);
        let hook = Receiver::start(vec![Reply::Raw(code, location.clone(), String::new())]);
        let chat = Receiver::start(vec![Reply::Raw(code, location, String::new())]);
        let site = site_with(&format!(
            "[notifiers.hook]\ntype = \"webhook\"\nurl = \"{}?token=secret-token\"\nsecret = \"${{TIDINGS_TEST_SECRET}}\"\nheaders = {{ X-Api-Key = \"key-123\" }}\n\
             [notifiers.group]\ntype = \"telegram\"\napi_base = \"{}\"\ntoken = \"${{TIDINGS_TEST_TELEGRAM}}\"\nchat_id = \"-1\"\n",
            hook.url, chat.base
        ));
        site.post("p1.md", post(1));
        let run = site.run_at("2026-12-01T08:00:00Z", &["run", "--once"]);
        assert_eq!(run.code(), 1, "HTTP {code}: {}", run.stderr());
        assert_eq!(hook.requests().len(), 1, "HTTP {code}");
        assert_eq!(chat.requests().len(), 1, "HTTP {code}");
        assert!(
            elsewhere.requests().is_empty(),
            "HTTP {code}: the other host was reached: {:?}",
            elsewhere.requests()
        );
        let doc = status(&site);
        for (name, key) in [
            ("hook", "notifiers.hook.url"),
            ("group", "notifiers.group.api_base"),
        ] {
            let n = notifier(&doc, name);
            assert_eq!(
                (n["sent"].as_u64(), n["failed"].as_u64()),
                (Some(0), Some(1))
            );
            let error = n["last_failure"].as_str().unwrap_or_default();
            assert!(
                error.contains(&format!("HTTP {code}"))
                    && error.contains(&format!("moved to {}/stolen", elsewhere.base))
                    && error.contains(key)
                    && !error.contains("token=x"),
                "HTTP {code}, {name}: {doc}"
            );
        }
    }
}

/// Where a platform documents its verdict in the body, a 2xx without it is tried again,
/// never counted as sent: Telegram's `ok`, WeCom's `errcode`, Matrix's `event_id`.
#[test]
fn a_success_status_without_the_platforms_verdict_is_not_sent() {
    let telegram = Receiver::start(vec![Reply::Json(200, r#"{"ok":tru"#.into())])
        .succeeding_with(r#"{"ok": true, "result": {}}"#);
    let wecom = Receiver::start(vec![Reply::Json(200, r#"{"errcode":"#.into())])
        .succeeding_with(r#"{"errcode": 0, "errmsg": "ok"}"#);
    let matrix = Receiver::start(vec![Reply::Json(200, "{}".into())])
        .succeeding_with(r#"{"event_id": "$e"}"#);
    let site = site_with(&format!(
        "[notifiers.tg]\ntype = \"telegram\"\napi_base = \"{}\"\ntoken = \"${{TIDINGS_TEST_TELEGRAM}}\"\nchat_id = \"-1\"\n\
         [notifiers.wc]\ntype = \"wecom\"\nurl = \"{}\"\n\
         [notifiers.mx]\ntype = \"matrix\"\nhomeserver = \"{}\"\nroom_id = \"!r:example.org\"\ntoken = \"${{TIDINGS_TEST_SECRET}}\"\n",
        telegram.base, wecom.url, matrix.base
    ));
    site.post("p1.md", post(1));
    let run = site
        .run_at("2026-12-01T08:00:00Z", &["run", "--once"])
        .expect(0);
    assert!(
        run.stdout().contains("0 messages sent, 3 to retry"),
        "{}",
        run.stdout()
    );
    let doc = status(&site);
    for name in ["tg", "wc", "mx"] {
        let n = notifier(&doc, name);
        assert_eq!(n["sent"].as_u64(), Some(0), "{name}: {doc}");
        assert!(
            n["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("HTTP 200 but not")),
            "{name}: {doc}"
        );
    }
    // The next attempt, a day on, is answered properly: each goes once more, and is sent.
    let run = site
        .run_at("2026-12-02T08:00:00Z", &["run", "--once"])
        .expect(0);
    assert!(run.stdout().contains("3 messages sent"), "{}", run.stdout());
    assert_eq!(
        (
            telegram.requests().len(),
            wecom.requests().len(),
            matrix.requests().len()
        ),
        (2, 2, 2)
    );
}

fn stop(mut child: std::process::Child) -> std::process::ExitStatus {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    child.wait().unwrap()
}

fn csv(addresses: impl IntoIterator<Item = String>) -> String {
    let mut text = String::from("email\n");
    for address in addresses {
        text.push_str(&address);
        text.push('\n');
    }
    text
}

/// Replaced while the daemon runs (150 readers removed, 50 added), the subscriber list of
/// the next digest is the new one: no removed reader gets it, every added one does.
#[test]
fn a_subscriber_list_edited_while_the_daemon_runs_is_the_one_mailed() {
    let sink = common::smtp::SmtpSink::start();
    let site = Site::with_settings(&format!(
        "{}\n[schedule]\nscan = \"* * * * * *\"\n\
         [email]\nsmtp = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"news@example.org\"\nrate = 1000\npool = 4\n\
         [notifiers.letters]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nsubscribers = \"subs.csv\"\n",
        common::BASE_SETTINGS,
        sink.port,
    ));
    let old: Vec<String> = (0..300).map(|i| format!("reader{i}@example.org")).collect();
    std::fs::write(site.path().join("subs.csv"), csv(old.clone())).unwrap();
    site.post("old.md", post(0));
    site.run(&["run", "--once"]).expect(0);
    let log = std::fs::File::create(site.path().join("daemon.log")).unwrap();
    let daemon = site
        .command(&["run"])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    site.post("p1.md", post(1));
    wait_until("the first digest reached all 300", || {
        sink.messages().len() >= 300
    });

    // The new list: readers 150..300 stay, 50 new ones join. Written aside, then renamed
    // over the old one, as an editor or a deploy would.
    let new: Vec<String> = old[150..]
        .iter()
        .cloned()
        .chain((0..50).map(|i| format!("new{i}@example.org")))
        .collect();
    let aside = site.path().join("subs.csv.new");
    std::fs::write(&aside, csv(new.clone())).unwrap();
    std::fs::rename(&aside, site.path().join("subs.csv")).unwrap();
    site.post("p2.md", post(2));
    wait_until("the second digest reached the 200 of the new list", || {
        sink.messages().len() >= 500
    });
    assert!(stop(daemon).success());
    let mut second: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|(_, bytes)| String::from_utf8_lossy(bytes).contains("Post 2"))
        .map(|(to, _)| to)
        .collect();
    second.sort();
    let mut expected = new;
    expected.sort();
    assert_eq!(second, expected);
    let log = std::fs::read_to_string(site.path().join("daemon.log")).unwrap();
    assert!(log.contains("subscriber list read again"), "{log}");
}

/// A reader taken off the list while their message waits for a retry does not get it.
#[test]
fn a_reader_taken_off_the_list_while_a_message_waits_gets_nothing() {
    let sink = common::smtp::SmtpSink::start();
    let site = Site::with_settings(&format!(
        "{}\n[email]\nsmtp = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"news@example.org\"\n\
         [notifiers.letters]\ntype = \"email\"\nsubscribers = \"subs.csv\"\n",
        common::BASE_SETTINGS,
        sink.port,
    ));
    let list = site.path().join("subs.csv");
    std::fs::write(&list, "email\nada@example.org\nlater@example.org\n").unwrap();
    site.post("old.md", post(0));
    site.run_at("2026-12-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    site.post("p1.md", post(1));
    let run = site
        .run_at("2026-12-01T08:00:00Z", &["run", "--once"])
        .expect(0);
    assert!(run.stdout().contains("1 to retry"), "{}", run.stdout());
    std::fs::write(&list, "email\nada@example.org\n").unwrap();
    site.run_at("2026-12-02T08:00:00Z", &["run", "--once"])
        .expect(0);
    let got: Vec<String> = sink.messages().into_iter().map(|(to, _)| to).collect();
    assert_eq!(got, ["ada@example.org"], "the retry never went out");
    let shown = site.run(&["status"]).expect(0).stdout();
    assert!(shown.contains("1 skipped"), "{shown}");
}

/// A first build into a folder that already held feed-named files leaves them, and says
/// so; later builds remove only what tidings wrote.
#[test]
fn files_tidings_did_not_write_are_never_deleted() {
    let site = Site::new();
    let out = site.out();
    for foreign in [
        "categories/mine/rss.xml",
        "tags/mytag/atom.xml",
        "rss.xml.bak",
    ] {
        let path = out.join(foreign);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "mine").unwrap();
    }
    site.post(
        "a.md",
        "---\ntitle: A\ndate: 2026-11-01 10:00:00\ncategories: [Gone]\ntags: [t]\n---\nA.\n",
    );
    let run = site.run(&["build"]).expect(0);
    assert!(
        run.stderr()
            .contains("held 3 files before tidings first wrote there; left alone")
            && run.stderr().contains("categories/mine/rss.xml"),
        "{}",
        run.stderr()
    );
    assert!(out.join("categories/Gone/rss.xml").exists());
    // The post moves to another category: the feed tidings wrote goes, the others stay.
    site.post(
        "a.md",
        "---\ntitle: A\ndate: 2026-11-01 10:00:00\ncategories: [Kept]\n---\nA.\n",
    );
    let run = site.run(&["build"]).expect(0);
    assert!(!run.stderr().contains("left alone"), "{}", run.stderr());
    assert!(!out.join("categories/Gone").exists());
    assert!(!out.join("tags/t").exists());
    for foreign in [
        "categories/mine/rss.xml",
        "tags/mytag/atom.xml",
        "rss.xml.bak",
    ] {
        assert_eq!(
            std::fs::read_to_string(out.join(foreign)).unwrap(),
            "mine",
            "{foreign}"
        );
    }
}

/// A state file deleted under the running daemon stops it (exit 2, saying why) instead of
/// recording into a file no one will read; the next start, finding feeds an earlier state
/// published, says loudly that posts published since will not be announced.
#[test]
fn a_state_file_deleted_under_the_daemon_stops_it() {
    let site = Site::with_settings(&format!("{}\n[state]\nlease = 3\n", common::BASE_SETTINGS));
    site.post("old.md", post(0));
    site.run(&["run", "--once"]).expect(0);
    let daemon = site
        .command(&["run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let state = site.path().join(".tidings/state.db");
    wait_until("the daemon has scanned", || {
        site.run(&["status", "--json"])
            .stdout()
            .contains("\"scanner\": true")
    });
    std::fs::remove_file(&state).unwrap();
    let out = daemon.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("was deleted while tidings ran"), "{stderr}");

    for n in 1..=3 {
        site.post(&format!("p{n}.md"), post(n));
    }
    let run = site.run(&["run", "--once"]).expect(0);
    assert!(
        run.stderr()
            .contains("holds feeds an earlier state published")
            && run.stderr().contains("will NOT be announced")
            && run.stderr().contains("--backfill"),
        "{}",
        run.stderr()
    );
}

/// A webhook that fails again and again holds its later messages, but its head never
/// waits more than ten minutes between attempts: once the receiver is back, the backlog
/// goes within minutes, not hours.
#[test]
fn an_ordered_lanes_head_waits_at_most_ten_minutes() {
    let receiver = Receiver::start((0..12).map(|_| Reply::Status(503)).collect());
    let site = site_with(&format!(
        "[notifiers.hook]\ntype = \"webhook\"\nurl = \"{}\"\nmax_attempts = 50\n",
        receiver.url
    ));
    for n in 1..=3 {
        site.post(&format!("p{n}.md"), post(n));
    }
    let mut now = chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z").unwrap();
    for attempt in 1..=12 {
        site.run_at(&now.to_rfc3339(), &["run", "--once"]).expect(0);
        assert_eq!(receiver.requests().len(), attempt, "one attempt a run");
        let doc = status(&site);
        let next = notifier(&doc, "hook")["next_attempt"]
            .as_str()
            .unwrap()
            .to_owned();
        let next = chrono::DateTime::parse_from_rfc3339(&next).unwrap();
        assert!(
            next - now <= chrono::Duration::minutes(10),
            "attempt {attempt}: next at {next}, {} on",
            next - now
        );
        now += chrono::Duration::minutes(10) + chrono::Duration::seconds(1);
    }
    site.run_at(&now.to_rfc3339(), &["run", "--once"]).expect(0);
    assert_eq!(
        receiver.requests().len(),
        12 + 3,
        "the backlog went at once"
    );
}

/// A subject template of three nested `range(10000)` loops is stopped by its fuel budget:
/// `check` names it, and a run fails that notification (kept, to `retry` once fixed)
/// instead of burning a core until it is killed.
#[test]
fn a_template_that_never_ends_is_an_error_naming_it() {
    let loops = "{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}x{% endfor %}{% endfor %}{% endfor %}";
    let site = site_with(&format!(
        "[email]\nfrom = \"news@example.org\"\n[notifiers.letters]\ntype = \"email\"\nto = [\"a@example.org\"]\nsubject = \"{loops}\"\n"
    ));
    let check = site.run(&["check"]).expect(1);
    assert!(
        check.stderr().contains("notifiers.letters: subject") && check.stderr().contains("fuel"),
        "{}",
        check.stderr()
    );
    site.post("p1.md", post(1));
    let run = site.run_at("2026-12-01T08:00:00Z", &["run", "--once"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert!(run.stderr().contains("fuel"), "{}", run.stderr());
}

/// A reader that closes the pipe early ends the command quietly with its own exit status,
/// never a panic: `tidings status --json | true`, `tidings check 2>&1 | true`.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let site = site_with("");
    site.post("bad.md", "---\ntitle: [unclosed\n---\n");
    for (args, code, both) in [
        (&["status", "--json"][..], 0, false),
        (&["check"][..], 1, true),
        (&["build"][..], 1, true),
    ] {
        let mut child = site
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before anything is written
        if both {
            drop(child.stderr.take());
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// One-shot commands are not nodes; a killed daemon is listed as dead, then forgotten an
/// hour after its last heartbeat.
#[test]
fn status_lists_daemons_only_and_forgets_the_dead() {
    let site = site_with("[state]\nlease = 3\n");
    for _ in 0..5 {
        site.run_at("2026-12-01T00:10:00Z", &["run", "--once"])
            .expect(0);
    }
    let doc = status(&site);
    assert_eq!(doc["nodes"].as_array().unwrap().len(), 0, "{doc}");

    let mut daemon = site
        .command(&["run"])
        .env("TIDINGS_NODE", "killed")
        .env("TIDINGS_TEST_NOW", "2026-12-01T08:00:00Z")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the daemon is listed", || {
        site.run_at("2026-12-01T08:00:00Z", &["status", "--json"])
            .stdout()
            .contains("\"killed\"")
    });
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let shown = site
        .run_at("2026-12-01T08:00:10Z", &["status"])
        .expect(0)
        .stdout();
    assert!(shown.contains("node killed: dead: silent since"), "{shown}");
    // An hour on, the next process to start forgets it.
    site.run_at("2026-12-01T09:00:01Z", &["run", "--once"])
        .expect(0);
    let doc = status(&site);
    assert_eq!(doc["nodes"].as_array().unwrap().len(), 0, "{doc}");
}

/// A symlink leading out of the content folder is not followed (said once), one that
/// stays inside is.
#[test]
fn symlinks_out_of_the_content_folder_are_not_followed() {
    let site = Site::new();
    let outside = site.path().join("outside");
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(
        outside.join("secret.md"),
        post(1).replace("Post 1", "Secret file"),
    )
    .unwrap();
    std::fs::write(
        outside.join("dir/x.md"),
        post(2).replace("Post 2", "Secret dir"),
    )
    .unwrap();
    site.post("real/inside.md", post(3));
    let posts = site.path().join("posts");
    std::os::unix::fs::symlink(outside.join("secret.md"), posts.join("leak.md")).unwrap();
    std::os::unix::fs::symlink(outside.join("dir"), posts.join("leakdir")).unwrap();
    std::os::unix::fs::symlink(posts.join("real"), posts.join("alias")).unwrap();
    let run = site.run(&["build"]).expect(0);
    let rss = site.read("rss.xml");
    assert!(!rss.contains("Secret"), "{rss}");
    assert_eq!(
        rss.matches("<title>Post 3</title>").count(),
        2,
        "inside and through the alias"
    );
    let stderr = run.stderr();
    for link in ["leak.md", "leakdir"] {
        assert_eq!(
            stderr
                .matches(&format!(
                    "{link}: a symlink leading out of the content folder"
                ))
                .count(),
            1,
            "{stderr}"
        );
    }
}
