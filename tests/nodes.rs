//! Several nodes on one PostgreSQL state, through the real binary: each node a `tidings run`
//! with its own copy of the content folder, receivers real HTTP servers on 127.0.0.1, nodes
//! killed with SIGKILL. Needs the server `TIDINGS_TEST_POSTGRES` names (`.ci/run` starts a
//! throwaway cluster); without it these tests say so and pass.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::receiver::{Receiver, Reply};
use common::{Run, Site};

/// Post `n`, published `n` minutes after the archive's last post.
fn post(n: usize) -> String {
    format!(
        "---\ntitle: Post {n}\ndate: 2026-11-20 {:02}:{:02}:00\ncategories: [News]\n---\nBody of post {n}.\n",
        n / 60,
        n % 60
    )
}

fn webhook(name: &str, url: &str) -> String {
    format!("[notifiers.{name}]\ntype = \"webhook\"\nurl = \"{url}\"\n")
}

/// One node's folder: the same settings as every other node (scans every second, leases
/// of three seconds), its own content folder.
fn node_site(url: &str, notifiers: &str) -> Site {
    Site::with_settings(&format!(
        "{}\n[schedule]\nscan = \"* * * * * *\"\n\n[state]\nurl = \"{url}\"\nlease = 3\n\n{notifiers}",
        common::BASE_SETTINGS
    ))
}

fn start(site: &Site, node: &str) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(site.path().join(format!("{node}.log")))
        .unwrap();
    site.command(&["run"])
        .env("TIDINGS_NODE", node)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn kill_9(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

fn stop(mut child: Child) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    assert!(
        child.wait().unwrap().success(),
        "a node stops cleanly on SIGTERM"
    );
}

fn status(site: &Site) -> serde_json::Value {
    let run = site.run(&["status", "--json"]).expect(0);
    serde_json::from_str(&run.stdout()).unwrap()
}

/// The lanes `node` holds, as `status` says.
fn lanes_of(doc: &serde_json::Value, node: &str) -> Vec<String> {
    doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == node)
        .map(|n| {
            n["lanes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Distinct message ids a receiver got, in the order each first arrived, with their titles.
fn firsts(receiver: &Receiver) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    receiver
        .requests()
        .iter()
        .filter(|r| seen.insert(r.headers["webhook-id"].clone()))
        .map(|r| {
            let title = r.json()["posts"][0]["title"].as_str().unwrap().to_owned();
            (r.headers["webhook-id"].clone(), title)
        })
        .collect()
}

fn wait_until(deadline: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

/// Three nodes, 300 new posts to three webhooks, ten SIGKILLs of nodes picked at random
/// (each started again at once): nothing is lost, each post reaches each notifier under
/// one id, in publication order, and a repeat is only ever the same message again.
#[test]
fn three_nodes_killed_ten_times_lose_nothing_and_keep_order() {
    let Some(url) = common::postgres_database("three_nodes") else {
        return;
    };
    const POSTS: usize = 300;
    let receivers: Vec<Receiver> = (0..3)
        .map(|_| {
            Receiver::start(
                (0..POSTS * 2)
                    .map(|_| Reply::Slow(Duration::from_millis(20)))
                    .collect(),
            )
        })
        .collect();
    let notifiers: String = receivers
        .iter()
        .enumerate()
        .map(|(i, r)| webhook(&format!("hook{i}"), &r.url))
        .collect();
    let sites: Vec<Site> = (0..3).map(|_| node_site(&url, &notifiers)).collect();
    for site in &sites {
        site.post("old.md", post(0));
    }
    sites[0].run(&["run", "--once"]).expect(0);
    for site in &sites {
        for n in 1..=POSTS {
            site.post(&format!("p{n:03}.md"), post(n));
        }
    }
    let names = ["a", "b", "c"];
    let mut nodes: Vec<Child> = (0..3).map(|i| start(&sites[i], names[i])).collect();
    // A fixed sequence of "random" picks and pauses, so a failure can be replayed.
    let mut seed: u64 = 0x5eed_1234;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    // Each kill comes after a "random" number of further deliveries (not a pause): the
    // same sequence of kills lands at the same points however fast the machine is.
    let delivered = || receivers.iter().map(|r| r.requests().len()).sum::<usize>();
    for _ in 0..10 {
        let target = delivered() + 10 + next(60) as usize;
        wait_until(Duration::from_secs(60), || delivered() >= target);
        let i = next(3) as usize;
        kill_9(&mut nodes[i]);
        nodes[i] = start(&sites[i], names[i]);
    }
    let all_arrived = wait_until(Duration::from_secs(180), || {
        receivers.iter().all(|r| firsts(r).len() >= POSTS)
    });
    let doc = status(&sites[1]);
    for node in nodes {
        stop(node);
    }
    assert!(all_arrived, "every post reached every notifier");
    let expected: Vec<String> = (1..=POSTS).map(|n| format!("Post {n}")).collect();
    for (i, receiver) in receivers.iter().enumerate() {
        let firsts = firsts(receiver);
        let titles: Vec<String> = firsts.iter().map(|(_, t)| t.clone()).collect();
        assert_eq!(
            titles, expected,
            "hook{i}: each post once, in publication order"
        );
        let requests = receiver.requests();
        let repeats = requests.len() - POSTS;
        eprintln!("hook{i}: {repeats} repeats after ten kills");
        assert!(
            repeats <= 10,
            "hook{i}: only a message in flight at a kill is sent again, got {repeats}"
        );
        let mut bodies: HashMap<&str, &str> = HashMap::new();
        for r in &requests {
            let first = bodies.entry(&r.headers["webhook-id"]).or_insert(&r.body);
            assert_eq!(*first, r.body, "hook{i}: a repeat is the same message");
        }
    }
    let nodes = doc["nodes"].as_array().unwrap();
    for name in names {
        assert!(
            nodes.iter().any(|n| n["name"] == name),
            "status lists node {name}: {doc}"
        );
    }
}

/// The node draining a busy lane is killed: the other node takes the lane over once the
/// lease has run out, `status` on either node shows it, and the lane finishes.
#[test]
fn a_killed_nodes_busy_lane_is_taken_over_and_finished() {
    let Some(url) = common::postgres_database("takeover") else {
        return;
    };
    const POSTS: usize = 40;
    let receiver = Receiver::start(
        (0..POSTS * 2)
            .map(|_| Reply::Slow(Duration::from_millis(150)))
            .collect(),
    );
    let notifiers = webhook("hook", &receiver.url);
    let (a, b) = (node_site(&url, &notifiers), node_site(&url, &notifiers));
    for site in [&a, &b] {
        site.post("old.md", post(0));
    }
    a.run(&["run", "--once"]).expect(0);
    for site in [&a, &b] {
        for n in 1..=POSTS {
            site.post(&format!("p{n:03}.md"), post(n));
        }
    }
    let mut first = start(&a, "first");
    assert!(
        receiver.wait_for(3, Duration::from_secs(30)),
        "the first node sends"
    );
    let second = start(&b, "second");
    assert!(
        wait_until(Duration::from_secs(30), || lanes_of(&status(&b), "first")
            == ["hook"]),
        "status shows the first node holding the lane"
    );
    let before = receiver.requests().len();
    kill_9(&mut first);
    let killed = Instant::now();
    assert!(
        wait_until(Duration::from_secs(30), || lanes_of(&status(&a), "second")
            == ["hook"]),
        "status shows the second node holding the lane after the first died"
    );
    let took = killed.elapsed();
    assert!(
        receiver.wait_for(before + 1, Duration::from_secs(30)),
        "the second node sends"
    );
    assert!(
        wait_until(Duration::from_secs(60), || firsts(&receiver).len() >= POSTS),
        "the lane finishes"
    );
    let doc = status(&a);
    stop(second);
    eprintln!("lane taken over {took:?} after the kill (lease 3 s)");
    let first_node = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "first")
        .unwrap();
    assert!(
        first_node["lanes"].as_array().unwrap().is_empty(),
        "the dead node holds nothing: {doc}"
    );
    let titles: Vec<String> = firsts(&receiver).into_iter().map(|(_, t)| t).collect();
    let expected: Vec<String> = (1..=POSTS).map(|n| format!("Post {n}")).collect();
    assert_eq!(titles, expected, "in order across the takeover");
}

/// A site on a SQLite file moves to PostgreSQL with `tidings state copy`: the copy
/// announces nothing again, and a message that was waiting goes out once, with its id.
#[test]
fn a_state_file_copied_into_postgres_announces_nothing_again() {
    let Some(url) = common::postgres_database("copy") else {
        return;
    };
    let receiver = Receiver::start(vec![Reply::Status(503)]);
    let site = Site::with_settings(&format!(
        "{}\n{}",
        common::BASE_SETTINGS,
        webhook("hook", &receiver.url)
    ));
    site.post("old.md", post(0));
    site.run(&["run", "--once"]).expect(0);
    site.post("p1.md", post(1));
    site.run(&["run", "--once"]).expect(0);
    assert_eq!(
        receiver.requests().len(),
        1,
        "refused once, waiting to retry"
    );
    let waiting = receiver.requests()[0].headers["webhook-id"].clone();

    site.run(&["state", "copy", "--to", &url]).expect(0);
    let again = site.run(&["state", "copy", "--to", &url]);
    assert_ne!(again.0.status.code(), Some(0), "never over a state");
    assert!(
        again.stderr().contains("already holds a state"),
        "{}",
        again.stderr()
    );

    let settings = std::fs::read_to_string(site.path().join("settings.toml")).unwrap();
    std::fs::write(
        site.path().join("settings.toml"),
        format!("{settings}\n[state]\nurl = \"{url}\"\n"),
    )
    .unwrap();
    // Past the retry's time: the waiting message is due.
    let run = site
        .run_at("2030-01-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    assert!(
        run.stdout().contains("0 new, 0 announced; 1 message sent"),
        "{}",
        run.stdout()
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].headers["webhook-id"], waiting,
        "the same message"
    );
}

/// `sslmode=require` in `state.url` encrypts, and checks the server: the role `tls_only`
/// (`.ci/postgres`) may connect over TLS only; the server's certificate, signed by a CA of
/// its own, is accepted with that CA in `PGSSLROOTCERT` and refused without it.
#[test]
fn a_state_over_tls_checks_the_servers_certificate() {
    let Some(admin_url) = common::postgres_database("tls") else {
        return;
    };
    let Ok(ca) = std::env::var("TIDINGS_TEST_PG_CA") else {
        common::unavailable("TIDINGS_TEST_PG_CA is not set (see .ci/run)");
        return;
    };
    let mut url = url::Url::parse(&admin_url).unwrap();
    let name = url.path().trim_start_matches('/').to_owned();
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("ALTER DATABASE {name} OWNER TO tls_only"))
        .unwrap();
    url.set_username("tls_only").unwrap();
    // Trust authentication ignores it; the messages must not show it.
    url.set_password(Some("s3cret")).unwrap();
    url.set_host(Some("localhost")).unwrap();
    url.set_query(None);
    let site_for = |mode: &str| {
        let site = Site::with_settings(&format!(
            "{}\n[state]\nurl = \"{url}?sslmode={mode}\"\n",
            common::BASE_SETTINGS
        ));
        site.post("old.md", post(0));
        site
    };
    let site = site_for("require");
    let run = Run(site
        .command(&["run", "--once"])
        .env("PGSSLROOTCERT", &ca)
        .output()
        .unwrap());
    run.expect(0);

    let refused = Run(site
        .command(&["run", "--once"])
        .env_remove("PGSSLROOTCERT")
        .output()
        .unwrap());
    assert_eq!(refused.0.status.code(), Some(2));
    assert!(
        refused.stderr().to_lowercase().contains("certificate"),
        "an unknown CA is refused: {}",
        refused.stderr()
    );
    assert!(
        !refused.stderr().contains("s3cret") && refused.stderr().contains("***"),
        "the password is left out: {}",
        refused.stderr()
    );

    let plain = Run(site_for("disable")
        .command(&["run", "--once"])
        .output()
        .unwrap());
    assert_eq!(plain.0.status.code(), Some(2));
    assert!(
        plain.stderr().contains("no encryption"),
        "the server takes this role over TLS only: {}",
        plain.stderr()
    );
}

/// A node whose clock runs five minutes ahead (`faketime`) beside one whose clock is right:
/// both keep the database's time, so neither takes a lease the other still holds. Every
/// post reaches every receiver once, in order, and `status` names the skewed clock.
#[test]
fn a_node_whose_clock_runs_ahead_sends_nothing_twice() {
    let Some(url) = common::postgres_database("skew") else {
        return;
    };
    // libfaketime (Debian `faketime`), preloaded into the one node: its clock only.
    let Some(faketime) = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists()) else {
        common::unavailable("libfaketime is not installed (Debian package faketime)");
        return;
    };
    const POSTS: usize = 150;
    let receivers: Vec<Receiver> = (0..3)
        .map(|_| {
            Receiver::start(
                (0..POSTS * 2)
                    .map(|_| Reply::Slow(Duration::from_millis(40)))
                    .collect(),
            )
        })
        .collect();
    let notifiers: String = receivers
        .iter()
        .enumerate()
        .map(|(i, r)| webhook(&format!("hook{i}"), &r.url))
        .collect();
    let (right, ahead) = (node_site(&url, &notifiers), node_site(&url, &notifiers));
    for site in [&right, &ahead] {
        site.post("old.md", post(0));
    }
    right.run(&["run", "--once"]).expect(0);
    for site in [&right, &ahead] {
        for n in 1..=POSTS {
            site.post(&format!("p{n:03}.md"), post(n));
        }
    }
    let first = start(&right, "right");
    // The skewed node arrives while the other is sending every lane.
    assert!(
        wait_until(Duration::from_secs(60), || receivers
            .iter()
            .all(|r| r.requests().len() >= 5)),
        "the first node sends"
    );
    let log = std::fs::File::create(ahead.path().join("ahead.log")).unwrap();
    let second = ahead
        .command(&["run"])
        .env("TIDINGS_NODE", "ahead")
        .env("LD_PRELOAD", faketime)
        .env("FAKETIME", "+5m")
        // Timers and intervals run on the monotonic clock: left as it is.
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let all_arrived = wait_until(Duration::from_secs(120), || {
        receivers.iter().all(|r| firsts(r).len() >= POSTS)
    });
    let doc = status(&right);
    let text = right.run(&["status"]).expect(0).stdout();
    let log = std::fs::read_to_string(ahead.path().join("ahead.log")).unwrap_or_default();
    stop(first);
    stop(second);
    assert!(all_arrived, "every post reached every notifier\n{log}");
    let expected: Vec<String> = (1..=POSTS).map(|n| format!("Post {n}")).collect();
    for (i, receiver) in receivers.iter().enumerate() {
        let titles: Vec<String> = firsts(receiver).into_iter().map(|(_, t)| t).collect();
        assert_eq!(titles, expected, "hook{i}: each post once, in order");
        assert_eq!(
            receiver.requests().len(),
            POSTS,
            "hook{i}: no request repeated, no process was killed"
        );
    }
    let skew = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "ahead")
        .map(|n| n["clock_offset_ms"].as_i64().unwrap_or(0))
        .unwrap_or(0);
    assert!(
        (-310_000..=-290_000).contains(&skew),
        "the ahead node's clock is 5 minutes ahead: {skew} ms\n{doc}"
    );
    assert!(
        text.contains("node ahead: alive") && text.contains("ahead of the database's"),
        "{text}"
    );
}

/// A state address where something accepts connections and never answers (a wrong
/// service, a hung proxy): commands end with exit 2 naming it, after the connect timeout,
/// instead of hanging.
#[test]
fn a_state_that_never_answers_ends_the_command() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepted by the kernel's backlog and never read: no thread needed.
    let site = Site::with_settings(&format!(
        "{}\n[state]\nurl = \"postgres://tidings@127.0.0.1:{port}/tidings?connect_timeout=1\"\n",
        common::BASE_SETTINGS
    ));
    for args in [&["status"][..], &["run", "--once"][..]] {
        let run = site.run(args).expect(2);
        assert!(
            run.stderr().contains(&format!(
                "127.0.0.1:{port} accepted the connection but did not answer"
            )),
            "{args:?}: {}",
            run.stderr()
        );
    }
    drop(listener);
}

/// A second process under a live node's name refuses to start (exit 2, naming the name and
/// the process running it); one started under the name of a node just killed goes ahead.
#[test]
fn a_second_process_under_a_live_nodes_name_refuses_to_start() {
    let Some(url) = common::postgres_database("twins") else {
        return;
    };
    let receiver = Receiver::start(vec![]);
    let site = node_site(&url, &webhook("hook", &receiver.url));
    site.post("old.md", post(0));
    let mut first = start(&site, "twin");
    assert!(
        wait_until(Duration::from_secs(30), || status(&site)["nodes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n["name"] == "twin"))),
        "the first process is listed"
    );
    let second = Run(site
        .command(&["run"])
        .env("TIDINGS_NODE", "twin")
        .output()
        .unwrap());
    let second = second.expect(2);
    assert!(
        second
            .stderr()
            .contains("another process is running as node `twin` ("),
        "{}",
        second.stderr()
    );
    assert!(
        second
            .stderr()
            .contains(&format!(":{}; this one is", first.id())),
        "{}",
        second.stderr()
    );
    // Killed, its name is free again at once (its last heartbeat does not move on).
    kill_9(&mut first);
    let again = start(&site, "twin");
    assert!(wait_until(Duration::from_secs(30), || {
        status(&site)["nodes"].as_array().is_some_and(|n| {
            n.iter()
                .any(|n| n["name"] == "twin" && n["started"] != serde_json::Value::Null)
        })
    }));
    site.post("new.md", post(1));
    assert!(
        receiver.wait_for(1, Duration::from_secs(30)),
        "the restarted node sends"
    );
    stop(again);
}

/// The scanner's role is a lease: freeze the scanning node (SIGSTOP) and another takes the
/// role once the lease runs out and announces the new post; woken again (SIGCONT), the
/// frozen node finds the role gone and records nothing, so nothing is announced twice.
#[test]
fn a_frozen_scanner_loses_its_role_and_records_nothing_when_it_wakes() {
    let Some(url) = common::postgres_database("frozen") else {
        return;
    };
    let receiver = Receiver::start(vec![]);
    let (a, b) = (
        node_site(&url, &webhook("hook", &receiver.url)),
        node_site(&url, &webhook("hook", &receiver.url)),
    );
    for site in [&a, &b] {
        site.post("old.md", post(0));
    }
    let mut first = start(&a, "a");
    let scans = |node: &str| {
        status(&a)["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == node && n["scanner"] == true)
    };
    assert!(
        wait_until(Duration::from_secs(30), || scans("a")),
        "a scans"
    );
    let second = start(&b, "b");
    assert!(
        wait_until(Duration::from_secs(30), || status(&a)["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["name"] == "b")),
        "b runs"
    );
    signal(&first, "STOP");
    for site in [&a, &b] {
        site.post("p001.md", post(1));
    }
    assert!(
        receiver.wait_for(1, Duration::from_secs(60)),
        "the other node takes the role and announces the post"
    );
    assert!(
        wait_until(Duration::from_secs(30), || scans("b")),
        "b scans now: {}",
        status(&a)
    );
    signal(&first, "CONT");
    // Woken, a scans again as it did; its next heartbeat shows it alive.
    let woke = status(&a)["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "a")
        .map(|n| n["heartbeat"].clone())
        .unwrap();
    assert!(wait_until(Duration::from_secs(30), || status(&a)["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["name"] == "a" && n["heartbeat"] != woke)));
    for site in [&a, &b] {
        site.post("p002.md", post(2));
    }
    assert!(
        receiver.wait_for(2, Duration::from_secs(60)),
        "the next post goes too"
    );
    stop(second);
    kill_9(&mut first);
    let titles: Vec<String> = firsts(&receiver).into_iter().map(|(_, t)| t).collect();
    assert_eq!(titles, ["Post 1", "Post 2"]);
    assert_eq!(receiver.requests().len(), 2, "nothing announced twice");
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A row lock held on one lane's messages (an operator's open transaction, a stuck
/// statement) holds up that lane only: each lane and the heartbeat have their own
/// connection, so the other notifier delivers new posts while the lock is held, and the
/// held lane goes on, sending nothing twice, once it is released.
#[test]
fn a_row_lock_on_one_lane_holds_up_no_other() {
    let Some(url) = common::postgres_database("rowlock") else {
        return;
    };
    // hook0's first message takes a while: its row is locked while it is in flight.
    let held = Receiver::start(vec![Reply::Slow(Duration::from_secs(2))]);
    let free = Receiver::start(vec![]);
    let site = node_site(
        &url,
        &(webhook("hook0", &held.url) + &webhook("hook1", &free.url)),
    );
    site.post("old.md", post(0));
    site.run(&["run", "--once"]).expect(0);
    let mut node = start(&site, "solo");
    site.post("p001.md", post(1));
    assert!(
        held.wait_for(1, Duration::from_secs(30)),
        "hook0 is sending: {}",
        std::fs::read_to_string(site.path().join("solo.log")).unwrap_or_default()
    );
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut lock = admin.transaction().unwrap();
    let locked = lock
        .query(
            "SELECT id FROM deliveries WHERE notifier = 'hook0' FOR UPDATE",
            &[],
        )
        .unwrap();
    assert_eq!(locked.len(), 1);
    // Recording hook0's attempt now waits for the lock; hook1 goes on.
    common::wait_until("hook0's record of its attempt waits for the lock", || {
        admin_waiters(&url) >= 1
    });
    site.post("p002.md", post(2));
    assert!(
        free.wait_for(2, Duration::from_secs(60)),
        "hook1 delivers while hook0's row is locked"
    );
    // hook1 got through while hook0's statement is still queued behind the lock: with
    // one connection shared by every lane that cannot happen (hook1 would wait for the
    // lock too, and go on only once hook0's statement gave up).
    let waiting: i64 = admin_waiters(&url);
    assert!(
        waiting >= 1,
        "hook0's statement is still waiting for the lock while hook1 delivered"
    );
    assert_eq!(
        held.requests().len(),
        1,
        "hook0 waits, sending nothing again"
    );
    lock.rollback().unwrap();
    assert!(held.wait_for(2, Duration::from_secs(60)), "hook0 goes on");
    stop_after(&mut node);
    let titles: Vec<String> = firsts(&held).into_iter().map(|(_, t)| t).collect();
    assert_eq!(titles, ["Post 1", "Post 2"]);
    assert_eq!(held.requests().len(), 2, "nothing sent twice");
}

/// How many sessions of this database wait for a lock now.
fn admin_waiters(url: &str) -> i64 {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
            &[],
        )
        .unwrap()
        .get(0)
}

fn stop_after(child: &mut Child) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

/// `email.rate = 5` kept by every process sending to one SMTP server together: two
/// daemons and a manual `tidings send` deliver one digest to 40 readers, and the mail
/// arrives no faster than the one schedule in the state allows (a burst of 5, then one
/// turn every 200 ms: the 40th turn lies at least 6.8 s after the first message's). Each
/// process keeping to 5 a second on its own sends the 40 in about 2 s.
#[test]
fn every_process_sending_mail_keeps_to_one_rate() {
    let Some(url) = common::postgres_database("pace") else {
        return;
    };
    let sink = common::smtp::SmtpSink::start();
    let letters = format!(
        "[email]\nsmtp = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"news@example.org\"\nrate = 5\npool = 4\n\
         [notifiers.letters]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"0 0 0 1 1 *\"\nsubscribers = \"subs.csv\"\n",
        sink.port
    );
    let sites: Vec<Site> = (0..3).map(|_| node_site(&url, &letters)).collect();
    for site in &sites {
        std::fs::write(site.path().join("subs.csv"), common::readers_csv(40)).unwrap();
        site.post("old.md", post(0));
    }
    sites[0].run(&["run", "--once"]).expect(0);
    for site in &sites {
        site.post("p001.md", post(1));
    }
    sites[0].run(&["run", "--once"]).expect(0);
    let nodes = [start(&sites[0], "a"), start(&sites[1], "b")];
    let send = sites[2]
        .command(&["send", "letters"])
        .env("TIDINGS_NODE", "c")
        .output()
        .unwrap();
    assert!(send.status.success(), "{send:?}");
    common::wait_until("the digest reached all 40 readers", || {
        sink.messages().len() >= 40
    });
    for node in nodes {
        stop(node);
    }
    let arrivals: Vec<std::time::SystemTime> = std::fs::read_dir(sink.dir.path())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.metadata().unwrap().modified().unwrap())
        .collect();
    assert_eq!(arrivals.len(), 40, "each reader once");
    let first = arrivals.iter().min().unwrap();
    let last = arrivals.iter().max().unwrap();
    let span = last.duration_since(*first).unwrap();
    // 6.8 s less what the first message may have taken to arrive after its turn.
    assert!(
        span >= Duration::from_secs(5),
        "40 messages at 5 a second (after a burst of 5) took {span:?}"
    );
    let log: String = ["a", "b"]
        .iter()
        .zip(&sites)
        .map(|(n, site)| {
            std::fs::read_to_string(site.path().join(format!("{n}.log"))).unwrap_or_default()
        })
        .collect();
    assert!(!log.contains("cannot take turns"), "{log}");
}

/// A hard bounce read by one node takes the reader off for every node: node a reads it
/// from its Maildir, node b then sends the next digest to the others only.
#[test]
fn an_address_one_node_saw_bounce_gets_no_mail_from_another() {
    let Some(url) = common::postgres_database("bounced") else {
        return;
    };
    let sink = common::smtp::SmtpSink::start();
    let letters = format!(
        "[email]\nsmtp = \"smtp://127.0.0.1:{}?tls=none\"\nfrom = \"news@example.org\"\nrate = 100\n\
         return_path = \"returned@example.org\"\nsecret = \"${{TIDINGS_TEST_SECRET}}\"\n\
         [bounces]\nmaildir = \"bounces\"\n\
         [notifiers.letters]\ntype = \"email\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nsubscribers = \"subs.csv\"\n",
        sink.port
    );
    let (a, b) = (node_site(&url, &letters), node_site(&url, &letters));
    for site in [&a, &b] {
        std::fs::write(
            site.path().join("subs.csv"),
            "email\ngone@example.org\nstays@example.org\nalso@example.org\n",
        )
        .unwrap();
        site.post("old.md", post(0));
    }
    a.run_at("2026-12-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    for site in [&a, &b] {
        site.post("p001.md", post(1));
    }
    a.run_at("2026-12-01T00:00:02Z", &["run", "--once"])
        .expect(0);
    assert_eq!(sink.messages().len(), 3);
    let from = sink.envelope_senders()["gone@example.org"].clone();
    let new = a.path().join("bounces/new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(
        new.join("1.M1.mx"),
        format!(
            "From: MAILER-DAEMON@mx.example.org\r\nTo: {from}\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: text/plain\r\n\r\nNo such user.\r\n\r\n\
             --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n\
             Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n"
        ),
    )
    .unwrap();
    a.run_at("2026-12-01T00:01:00Z", &["run", "--once"])
        .expect(0);
    for site in [&a, &b] {
        site.post("p002.md", post(2));
    }
    let node = start(&b, "b");
    common::wait_until("the next digest reached the two left", || {
        sink.messages().len() >= 5
    });
    stop(node);
    let mut second: Vec<String> = sink.messages()[3..]
        .iter()
        .map(|(r, _)| r.clone())
        .collect();
    second.sort();
    assert_eq!(second, ["also@example.org", "stays@example.org"]);
}
