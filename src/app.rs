//! One function per command: wires settings, content, clock and feeds together and decides
//! the exit status.
//!
//! Exit status: 0 when everything was read (and, for `run --once`, everything due was
//! delivered or is scheduled for retry), 1 when some posts had problems or deliveries failed
//! for good (every good post is still published), 2 when nothing could be done (bad settings,
//! unreadable content folder, unwritable feeds folder, a state file in use).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::content::{self, Problem};
use crate::feeds::{self, Mode};
use crate::notify::{self, PostItem};
use crate::progress::Progress;
use crate::run::{DeliveryReport, RunError, Runner, ScanReport, compose};
use crate::serve;
use crate::settings::{Delivery, EmailTarget, Notifier, NotifierKind, Settings};
use crate::store::{NotifierStatus, ScanRecord, Store, StoreError};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything was read and published.
    Clean,
    /// Some posts had problems; the rest were published.
    Problems,
    /// Nothing was done.
    Failed,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(match status {
            Status::Clean => 0,
            Status::Problems => 1,
            Status::Failed => 2,
        })
    }
}

/// Options shared by every command.
pub struct Context<'a> {
    pub config: &'a Path,
    pub quiet: bool,
    /// `'static`: the server's threads read it too.
    pub clock: &'static dyn Clock,
}

/// `tidings build` (mode Write) and `tidings check` (mode Check).
pub fn build(ctx: &Context, mode: Mode) -> Status {
    let started = Instant::now();
    let settings = match Settings::from_file(ctx.config) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    let progress = if ctx.quiet {
        Progress::hidden()
    } else {
        Progress::on_terminal("reading posts")
    };
    let scan = match content::scan(&settings, &progress) {
        Ok(scan) => scan,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    tracing::debug!(posts = scan.posts.len(), elapsed = ?started.elapsed(), "scanned");
    let report = match feeds::build(&scan.posts, &settings, ctx.clock.now(), mode) {
        Ok(report) => report,
        Err(e) => {
            report_problems(&scan.problems);
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    let mut problems = scan.problems;
    problems.extend(report.problems.iter().cloned());
    report_problems(&problems);

    if !ctx.quiet {
        let (changed, unchanged, removed) = match mode {
            Mode::Write => ("written", "unchanged", "removed"),
            Mode::Check => ("would be written", "up to date", "would be removed"),
        };
        println!(
            "{} posts ({} published, {} scheduled, {} drafts), {} with problems; {} feeds: {} files {changed}, {} {unchanged}, {} {removed} in {:.2?}",
            report.published + report.scheduled + scan.drafts + problems.len(),
            report.published,
            report.scheduled,
            scan.drafts,
            problems.len(),
            report.feeds,
            report.changed,
            report.unchanged,
            report.removed,
            started.elapsed(),
        );
    }
    if mode == Mode::Check && !ctx.quiet {
        print_schedules(&settings, ctx.clock.now());
    }
    if problems.is_empty() {
        Status::Clean
    } else {
        Status::Problems
    }
}

/// When the scan and every digest fire next, in the site's time zone.
fn print_schedules(settings: &Settings, now: DateTime<Utc>) {
    let tz = settings.site.timezone;
    let show = |times: Vec<DateTime<Utc>>| {
        times
            .iter()
            .map(|t| {
                t.with_timezone(&tz)
                    .format("%a %Y-%m-%d %H:%M %Z")
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let scan = &settings.schedule.scan;
    println!(
        "scan `{}`: next {}",
        scan.source(),
        show(scan.upcoming(now, tz, 3))
    );
    for notifier in &settings.notifiers {
        match &notifier.delivery {
            Delivery::Instant if matches!(notifier.kind, NotifierKind::Hub(_)) => println!(
                "notifier {}: a publish ping for each feed a scan changes",
                notifier.name
            ),
            Delivery::Instant => println!("notifier {}: instant, after each scan", notifier.name),
            Delivery::Digest(cron) => println!(
                "notifier {}: digest `{}`: next {}",
                notifier.name,
                cron.source(),
                show(cron.upcoming(now, tz, 3))
            ),
        }
    }
    if let Some(server) = &settings.server {
        let signups: Vec<&str> = settings
            .notifiers
            .iter()
            .filter(|n| matches!(&n.kind, NotifierKind::Email(target) if target.signup))
            .map(|n| n.name.as_str())
            .collect();
        println!(
            "server: listens on {}, reached at {}; sign-up for: {}",
            server.listen,
            server.public_url,
            if signups.is_empty() {
                "none".to_owned()
            } else {
                signups.join(", ")
            }
        );
    }
}

fn load(ctx: &Context) -> Option<Settings> {
    match Settings::from_file(ctx.config) {
        Ok(settings) => Some(settings),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a single-threaded runtime always starts")
}

/// `tidings run [--once] [--backfill N]`.
pub fn run(ctx: &Context, once: bool, backfill: Option<usize>) -> Status {
    match load(ctx) {
        Some(settings) => run_with(ctx, &settings, once, backfill),
        None => Status::Failed,
    }
}

/// `run` with settings already read (`serve` reads them first to check for `[server]`).
fn run_with(ctx: &Context, settings: &Settings, once: bool, backfill: Option<usize>) -> Status {
    // The runtime comes first: the SMTP pool starts a task when it is made, and is dropped
    // (before the runtime) when `runner` goes.
    let rt = runtime();
    let _entered = rt.enter();
    let mut runner = match Runner::new(settings, ctx.clock, backfill) {
        Ok(runner) => runner,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    if !once {
        return run_daemon(&rt, &mut runner, settings, ctx.clock);
    }
    match rt.block_on(one_pass(&mut runner)) {
        Ok((scan, delivered)) => {
            report_problems(&scan.problems);
            let failed = delivered.failed + scan.unbuildable;
            if !ctx.quiet {
                println!(
                    "{} posts, {} new, {} announced; {} messages sent, {} to retry, {} failed",
                    scan.posts,
                    scan.new_posts,
                    scan.announced,
                    delivered.sent,
                    delivered.retrying,
                    failed
                );
            }
            if scan.problems.is_empty() && failed == 0 {
                Status::Clean
            } else {
                Status::Problems
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            Status::Failed
        }
    }
}

/// `tidings serve`: `run` with `[server]` required.
pub fn serve(ctx: &Context) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    if settings.server.is_none() {
        eprintln!(
            "error: `tidings serve` needs a `[server]` table in `{}` (listen, public_url, secret)",
            settings.path.display()
        );
        return Status::Failed;
    }
    run_with(ctx, &settings, false, None)
}

/// The daemon, with the server beside it when `[server]` is set: the socket is opened first
/// (an address in use stops everything before it starts), and the server stops with the
/// daemon.
fn run_daemon(
    rt: &tokio::runtime::Runtime,
    runner: &mut Runner<'_>,
    settings: &Settings,
    clock: &'static dyn Clock,
) -> Status {
    let Some(server) = &settings.server else {
        rt.block_on(daemon(runner, settings, clock, None));
        return Status::Clean;
    };
    let shared = Arc::new(serve::Shared::default());
    let started = serve::bind(server).and_then(|listener| {
        serve::start(Arc::new(settings.clone()), clock, listener, shared.clone())
    });
    let running = match started {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    rt.block_on(daemon(runner, settings, clock, Some(&shared)));
    running.stop();
    Status::Clean
}

async fn one_pass(runner: &mut Runner<'_>) -> Result<(ScanReport, DeliveryReport), RunError> {
    let scan = runner.scan()?;
    runner.fire_digests()?;
    let delivered = runner.deliver().await?;
    Ok((scan, delivered))
}

/// Runs until SIGINT or SIGTERM. A signal abandons the delivery in flight without marking it
/// (it is sent again, with the same id, next time) and returns at once.
async fn daemon(
    runner: &mut Runner<'_>,
    settings: &Settings,
    clock: &dyn Clock,
    shared: Option<&serve::Shared>,
) {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let tz = settings.site.timezone;
    let mut next_scan = clock.now();
    tracing::info!("running; scans on `{}`", settings.schedule.scan.source());
    loop {
        let now = clock.now();
        if now >= next_scan {
            match runner.scan() {
                Ok(report) => {
                    report_problems(&report.problems);
                    if let Some(shared) = shared {
                        shared.publish(report.feeds.listing);
                    }
                }
                Err(e) => tracing::error!("scan failed: {e}; trying again at the next scan"),
            }
            next_scan = settings
                .schedule
                .scan
                .next_after(clock.now(), tz)
                .unwrap_or(now + chrono::Duration::minutes(5));
        }
        if let Err(e) = runner.fire_digests() {
            tracing::error!("digests: {e}");
        }
        tokio::select! {
            result = runner.deliver() => if let Err(e) = result { tracing::error!("delivery: {e}") },
            _ = &mut shutdown => break,
        }
        let wake = runner.next_wake(next_scan).unwrap_or(next_scan);
        let wait = (wake - clock.now()).to_std().unwrap_or_default();
        // The server queues confirmation emails: they go at once, not at the next wake.
        let queued = async {
            match shared {
                Some(shared) => shared.queued().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = queued => {}
            _ = &mut shutdown => break,
        }
    }
    tracing::info!("stopped");
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `tidings status [--json]`.
pub fn status(ctx: &Context, json: bool) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let read = || -> Result<(Option<ScanRecord>, Vec<NotifierStatus>), StoreError> {
        if !settings.state_path.exists() {
            // Nothing has run yet; looking must not create the state file.
            let empty = settings.notifiers.iter().map(|n| NotifierStatus {
                name: n.name.clone(),
                ..NotifierStatus::default()
            });
            return Ok((None, empty.collect()));
        }
        let store = Store::open(&settings.state_path)?;
        let notifiers = settings
            .notifiers
            .iter()
            .map(|n| store.notifier_status(&n.name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((store.last_scan()?, notifiers))
    };
    let (last_scan, notifiers) = match read() {
        Ok(found) => found,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    if json {
        let doc = serde_json::json!({ "last_scan": last_scan, "notifiers": notifiers });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("plain values serialize")
        );
        return Status::Clean;
    }
    match &last_scan {
        Some(scan) => println!(
            "last scan {}: {} posts, {} new, {} with problems, {} ms",
            scan.at, scan.posts, scan.new_posts, scan.problems, scan.duration_ms
        ),
        None => println!("no scan yet: run `tidings run` (or `tidings run --once`)"),
    }
    for n in &notifiers {
        print!(
            "{}: {} queued for digest, {} pending, {} retrying, {} failed, {} sent",
            n.name, n.queued, n.pending, n.retrying, n.failed, n.sent
        );
        if n.skipped > 0 {
            print!(", {} skipped (unsubscribed while waiting)", n.skipped);
        }
        if n.signups > 0 {
            print!("; {} signed up", n.signups);
        }
        if let Some(next) = &n.next_attempt {
            print!("; next attempt {next}");
        }
        if let Some(error) = &n.last_error {
            print!("; last error: {error}");
        }
        if let Some(error) = &n.last_failure {
            print!("; last failure: {error}");
        }
        println!();
    }
    Status::Clean
}

/// The notifier called `name`, or an error naming the ones there are.
fn find_notifier<'s>(settings: &'s Settings, name: &str) -> Option<&'s Notifier> {
    let found = settings.notifiers.iter().find(|n| n.name == name);
    if found.is_none() {
        let known: Vec<&str> = settings.notifiers.iter().map(|n| n.name.as_str()).collect();
        eprintln!(
            "error: no notifier `{name}` in `{}`; known: {}",
            settings.path.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    }
    found
}

/// `tidings preview NOTIFIER [--to EMAIL] [--html FILE]`: the unsent messages as they will
/// go, and the next digest as it would be cut now. Reads the state file; writes nothing there.
pub fn preview(ctx: &Context, name: &str, to: Option<&str>, html_file: Option<&Path>) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let Some(notifier) = find_notifier(&settings, name) else {
        return Status::Failed;
    };
    if !settings.state_path.exists() {
        println!("nothing to preview: `tidings run` has not recorded anything yet");
        return Status::Clean;
    }
    let result = (|| -> Result<(), String> {
        let store = Store::open(&settings.state_path).map_err(|e| e.to_string())?;
        let unsent = store.unsent(name).map_err(|e| e.to_string())?;
        for delivery in &unsent {
            println!(
                "unsent message {} ({} attempts so far):",
                delivery.message_id, delivery.attempts
            );
            println!("{}", readable(&delivery.body));
        }
        let queued = store.peek_queue(name).map_err(|e| e.to_string())?;
        let unsubscribed = store.unsubscribed(name).map_err(|e| e.to_string())?;
        let signups = store.signups(name).map_err(|e| e.to_string())?;
        let mut audience = notify::email::Audience::new(&signups, unsubscribed);
        if !matches!(notifier.delivery, Delivery::Digest(_)) || queued.is_empty() {
            if unsent.is_empty() {
                println!("nothing queued for {name}");
            }
            return Ok(());
        }
        let items: Vec<PostItem> = queued
            .iter()
            .filter_map(|(_, json)| serde_json::from_str(json).ok())
            .collect();
        let ids: Vec<String> = queued.iter().map(|(id, _)| id.clone()).collect();
        let now = ctx.clock.now();
        if let (NotifierKind::Email(target), Some(email)) = (&notifier.kind, &settings.email) {
            let everyone: Vec<_> = std::mem::take(&mut audience.signed_up)
                .into_iter()
                .chain(target.recipients.iter().cloned())
                .collect();
            let recipient = notify::email::recipient(&everyone, to)
                .ok_or_else(|| format!("`{}` is not a recipient of {name}", to.unwrap_or("?")))?;
            let one = EmailTarget {
                recipients: vec![recipient.clone()],
                ..target.clone()
            };
            let mut rendered = Vec::new();
            notify::email::render(
                &settings,
                email,
                name,
                &one,
                true,
                notifier.max_posts,
                &items,
                &ids,
                now,
                &audience,
                &mut |message| {
                    rendered.push(message);
                    Ok(())
                },
            )?;
            let Some(message) = rendered.first() else {
                println!(
                    "next digest: nothing for {} (unsubscribed, or none of the posts match their filters)",
                    recipient.address()
                );
                return Ok(());
            };
            println!(
                "next digest for {}: {} of {} queued posts",
                message.recipient,
                message.posts.len(),
                items.len()
            );
            println!("Subject: {}\n\n{}", message.subject, message.text);
            if let Some(path) = html_file {
                std::fs::write(path, &message.html)
                    .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
                println!("(HTML part written to {})", path.display());
            }
            return Ok(());
        }
        let mut messages = Vec::new();
        compose(
            &settings,
            notifier,
            "posts.digest",
            "preview",
            &items,
            &ids,
            now,
            &audience,
            &mut |id, posts, body| {
                messages.push((id, posts, body));
                Ok(())
            },
        )?;
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("1 {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        println!(
            "next digest: {} in {}",
            plural(items.len(), "post"),
            plural(messages.len(), "message")
        );
        for (_, _, body) in &messages {
            println!("{}", readable(body));
        }
        Ok(())
    })();
    match result {
        Ok(()) => Status::Clean,
        Err(e) => {
            eprintln!("error: {e}");
            Status::Failed
        }
    }
}

/// A stored body for people: an email as its message text, JSON pretty-printed.
fn readable(body: &str) -> String {
    if let Ok(stored) = serde_json::from_str::<notify::email::Stored>(body) {
        return stored.eml;
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_else(|_| body.to_owned()),
        Err(_) => body.to_owned(),
    }
}

/// `tidings send NOTIFIER`: cut its digest now and deliver what is due for it.
pub fn send(ctx: &Context, name: &str) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let Some(notifier) = find_notifier(&settings, name) else {
        return Status::Failed;
    };
    if !matches!(notifier.delivery, Delivery::Digest(_)) {
        eprintln!(
            "error: {name} sends instantly; `send` is for digests (its messages go out with every `run`)"
        );
        return Status::Failed;
    }
    let rt = runtime();
    let _entered = rt.enter();
    let mut runner = match Runner::new(&settings, ctx.clock, None) {
        Ok(runner) => runner,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    let result = rt.block_on(async {
        let made = runner.send_now(name)?;
        let delivered = runner.deliver().await?;
        Ok::<_, RunError>((made, delivered))
    });
    match result {
        Ok((made, delivered)) => {
            println!(
                "{made} messages made; {} sent, {} to retry, {} failed",
                delivered.sent, delivered.retrying, delivered.failed
            );
            if delivered.failed > 0 {
                Status::Problems
            } else {
                Status::Clean
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            Status::Failed
        }
    }
}

/// `tidings unsubscribe EMAIL [--notifier NAME]`.
pub fn unsubscribe(ctx: &Context, address: &str, notifier: Option<&str>) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    if address.parse::<lettre::Address>().is_err() {
        eprintln!("error: `{address}` is not an email address");
        return Status::Failed;
    }
    if let Some(name) = notifier
        && find_notifier(&settings, name).is_none()
    {
        return Status::Failed;
    }
    match Store::open(&settings.state_path)
        .and_then(|store| store.unsubscribe(address, notifier, ctx.clock.now()))
    {
        Ok(()) => {
            println!(
                "{address} gets no more mail from {}",
                notifier.unwrap_or("any notifier")
            );
            Status::Clean
        }
        Err(e) => {
            eprintln!("error: {e}");
            Status::Failed
        }
    }
}

/// `tidings retry NOTIFIER`.
pub fn retry(ctx: &Context, notifier: &str) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    if find_notifier(&settings, notifier).is_none() {
        return Status::Failed;
    }
    match Store::open(&settings.state_path)
        .and_then(|store| store.retry_failed(notifier, ctx.clock.now()))
    {
        Ok(n) => {
            println!("{n} failed deliveries of {notifier} are queued again");
            Status::Clean
        }
        Err(e) => {
            eprintln!("error: {e}");
            Status::Failed
        }
    }
}

fn report_problems(problems: &[Problem]) {
    for problem in problems {
        eprintln!("{problem}");
    }
}
