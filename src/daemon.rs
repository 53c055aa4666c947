//! The long-running publisher and its one-shot form. Independent parts joined only by the
//! state file:
//!
//! - the **scanner** (a thread of its own): scans on `schedule.scan`, cuts digests when
//!   they fire, records what is new in short transactions; it never waits for a delivery;
//! - two **composers** (threads of their own, each with its own connection): make the
//!   messages of what the scanner recorded, outside any scan transaction; one makes mail,
//!   the other every other kind, so a post's webhook or chat message never waits behind
//!   a mailing to thousands;
//! - one **lane** per notifier and one for confirmation mail (async tasks), each draining
//!   its own rows of the outbox; a lane whose task panics is restarted after a pause.
//!
//! `tidings run --once` does each step once, in order, and returns when every lane has
//! sent what is due.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore, watch};

use crate::clock::Clock;
use crate::compose;
use crate::deliver::pace::Pace;
use crate::deliver::{self, Board, Lane, LaneState, Mode, transport};
use crate::notify;
use crate::scanner::{ScanError, ScanReport, Scanner};
use crate::serve;
use crate::settings::{NotifierKind, Settings};
use crate::store::{self, Handle, LaneRows, RunLock, Store, StoreError};

/// What stops the publisher from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start a transport: {0}")]
    Transport(String),
    #[error(
        "another process is running as node `{node}` ({other}; this one is {this}): two processes under one name would send the same lanes twice; give each its own name (TIDINGS_NODE)"
    )]
    NameInUse {
        node: String,
        other: String,
        this: String,
    },
}

/// The name of the lane that sends confirmation mail.
pub const CONFIRM_LANE: &str = "confirm";

/// The composer looks for work at least this often.
const COMPOSER_ROUND: Duration = Duration::from_secs(60);

/// A lane after a panic waits this long before it starts again.
const LANE_RESTART: Duration = Duration::from_secs(30);

/// The state file, its lock and the lanes, ready to run.
pub struct Publisher {
    settings: Arc<Settings>,
    clock: &'static dyn Clock,
    lanes: Vec<Arc<Lane>>,
    /// The heartbeat's own connection, with a shared state (see [`own_connection`]).
    beat: Option<Handle>,
    shared: deliver::Shared,
    _lock: RunLock,
}

/// What `run --once` did.
#[derive(Debug, Default)]
pub struct PassReport {
    pub scan: ScanReport,
    pub composed: compose::Report,
    pub delivered: deliver::Report,
}

impl Publisher {
    /// Opens the state file, takes its lock, and sets up one lane per notifier plus the
    /// confirmation lane. Must be called inside a Tokio runtime (the SMTP pool starts a task).
    /// Only a `daemon` is a node other nodes see (and share the work and pace with); a
    /// one-shot command (`run --once`, `send`) comes and goes unlisted.
    pub fn open(
        settings: Arc<Settings>,
        clock: &'static dyn Clock,
        board: Arc<Board>,
        daemon: bool,
    ) -> Result<Publisher, StartError> {
        let mut store = Store::open_for(&settings.state)?;
        let lock = store.lock()?;
        // Nodes sharing a state decide leases against each other's records: they all keep
        // the database's time, whatever their own clocks say.
        let following = (store.is_shared() && !clock.is_pinned())
            .then(|| &*Box::leak(Box::new(crate::clock::Following::new(clock))));
        let clock: &'static dyn Clock = match following {
            Some(following) => {
                follow_database(&store, following)?;
                following
            }
            None => clock,
        };
        if daemon && store.is_shared() {
            refuse_a_second_process(&store, clock, settings.state.lease)?;
        }
        store.node_started(clock.now(), daemon)?;
        // Messages held by a setting that was wrong go now: it may have been fixed.
        let released = store.release_halted(None, clock.now())?;
        if released > 0 {
            tracing::info!(
                messages = released,
                "messages held by a wrong setting are tried again"
            );
        }
        let poll = store
            .is_shared()
            .then(|| store::nodes::POLL.min(store::nodes::heartbeat_every(settings.state.lease)));
        let client = notify::http::client().map_err(StartError::Transport)?;
        let lanes = lanes(&settings, &client)?;
        let beat = if daemon {
            own_connection(&settings)?
        } else {
            None
        };
        Ok(Publisher {
            beat,
            shared: deliver::Shared {
                store: Handle::new(store),
                clock,
                following,
                board,
                poll,
                lease: settings.state.lease,
            },
            settings,
            clock,
            lanes,
            _lock: lock,
        })
    }

    /// The clock this node keeps (with a shared state, the database's time).
    pub fn clock(&self) -> &'static dyn Clock {
        self.clock
    }

    /// A scanner with its own connection.
    pub fn scanner(&self, backfill: Option<usize>) -> Result<Scanner<'_>, StoreError> {
        Ok(Scanner::new(
            &self.settings,
            self.clock,
            Store::open_for(&self.settings.state)?,
            backfill,
        ))
    }

    /// Composes what is waiting (of `only`, when given) on a connection of its own while
    /// the lanes send what each stored batch holds: a large mailing starts going out with
    /// its first batch instead of after its last (measured: 10,000 signed digests, 17.3 s
    /// one after the other). The lanes go round until composing is over, then once more.
    pub fn compose_and_deliver(
        &self,
        rt: &tokio::runtime::Runtime,
        only: Option<&str>,
    ) -> Result<(compose::Report, deliver::Report), StoreError> {
        let composing = AtomicBool::new(true);
        // Wakes the lanes' pause between rounds as soon as composing is over.
        let composed_all = tokio::sync::Notify::new();
        std::thread::scope(|scope| {
            let delivering = scope.spawn(|| {
                rt.block_on(async {
                    let mut total = deliver::Report::default();
                    loop {
                        let last = !composing.load(Ordering::Acquire);
                        let pass = self.deliver_due(only).await;
                        let idle = pass.sent + pass.retrying + pass.failed + pass.skipped == 0;
                        total.add(pass);
                        if last {
                            return total;
                        }
                        if idle {
                            tokio::select! {
                                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                                _ = composed_all.notified() => {}
                            }
                        }
                    }
                })
            });
            let composed = Store::open_for(&self.settings.state).and_then(|mut store| {
                compose::compose_pending(&mut store, &self.settings, self.clock.now(), only)
            });
            composing.store(false, Ordering::Release);
            composed_all.notify_one();
            let delivered = delivering.join().unwrap_or_else(|panic| {
                tracing::error!("delivering stopped: {}", compose::panic_text(&panic));
                deliver::Report::default()
            });
            composed.map(|composed| (composed, delivered))
        })
    }

    /// Sends what is due now on every lane (of `only`, when given), side by side.
    pub async fn deliver_due(&self, only: Option<&str>) -> deliver::Report {
        let runs = self
            .lanes
            .iter()
            .filter(|lane| only.is_none_or(|name| lane.name == name || lane.name == CONFIRM_LANE))
            .map(|lane| lane.run(&self.shared, Mode::Once));
        let mut report = deliver::Report::default();
        for lane in futures_util::future::join_all(runs).await {
            report.add(lane);
        }
        report
    }

    /// `run --once`: scan, cut due digests, compose, deliver what is due. The state is
    /// worked on this thread, the deliveries on `rt` (a PostgreSQL connection blocks on a
    /// runtime of its own, which must not be inside another).
    pub fn once(
        &self,
        rt: &tokio::runtime::Runtime,
        backfill: Option<usize>,
    ) -> Result<PassReport, ScanError> {
        let mut scanner = self.scanner(backfill)?;
        let scan = scanner.scan()?;
        scanner.fire_digests()?;
        let (composed, delivered) = self.compose_and_deliver(rt, None)?;
        // What was sent left its bodies' space free: give it back before leaving.
        scanner.give_space_back();
        Ok(PassReport {
            scan,
            composed,
            delivered,
        })
    }

    /// Runs until `stop` fires: the scanner and composer threads and every lane. `server`,
    /// when the front door runs beside, gets each build's listing and the scans' health,
    /// and wakes the confirmation lane when it queues a mail. Returns why it stopped on its
    /// own (the state file went away under it), if it did.
    pub async fn run(
        &self,
        backfill: Option<usize>,
        server: Option<Arc<serve::Shared>>,
        stop: impl Future<Output = ()>,
    ) -> Option<String> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (fatal_tx, mut fatal_rx) = watch::channel(None::<String>);
        let wakes: HashMap<String, Arc<Notify>> = self
            .lanes
            .iter()
            .map(|lane| (lane.name.clone(), Arc::new(Notify::new())))
            .collect();
        let composer_wake = Arc::new(ComposerWakes::default());
        let scanner_wake = Arc::new(Wake::default());
        let scanning = Arc::new(AtomicBool::new(false));

        // Two composers: mailings, and every other kind (see `compose_pending_of`).
        let composers: Vec<std::io::Result<std::thread::JoinHandle<()>>> = [true, false]
            .into_iter()
            .map(|mail| {
                let (settings, clock, wakes_, lanes) = (
                    self.settings.clone(),
                    self.clock,
                    composer_wake.clone(),
                    wakes.clone(),
                );
                let every = self.shared.poll.unwrap_or(COMPOSER_ROUND);
                std::thread::Builder::new()
                    .name(if mail { "mail composer" } else { "composer" }.into())
                    .spawn(move || {
                        let wake = if mail { &wakes_.mail } else { &wakes_.other };
                        composer_loop(&settings, clock, wake, &lanes, every, mail)
                    })
            })
            .collect();
        let scanner = {
            let (settings, clock, wake, composer_wake, lanes, server, scanning) = (
                self.settings.clone(),
                self.clock,
                scanner_wake.clone(),
                composer_wake.clone(),
                wakes.clone(),
                server.clone(),
                scanning.clone(),
            );
            std::thread::Builder::new()
                .name("scanner".into())
                .spawn(move || {
                    let loop_parts = Loop {
                        wake: &wake,
                        composer: &composer_wake,
                        lanes: &lanes,
                        server: server.as_deref(),
                        scanning: &scanning,
                    };
                    scanner_loop(&settings, clock, backfill, loop_parts)
                })
        };
        let not_started = composers
            .iter()
            .map(|c| c.as_ref().err())
            .chain([scanner.as_ref().err()])
            .flatten()
            .next();
        if let Some(e) = not_started {
            tracing::error!("cannot start a thread: {e}");
            return Some(format!("cannot start a thread: {e}"));
        }
        let mut tasks = tokio::task::JoinSet::new();
        for lane in &self.lanes {
            let wake = wakes[&lane.name].clone();
            tasks.spawn(supervise(
                lane.clone(),
                self.shared.clone(),
                wake,
                stop_rx.clone(),
            ));
        }
        let mut beat = self.shared.clone();
        if let Some(own) = &self.beat {
            beat.store = own.clone();
        }
        tasks.spawn(heartbeat(beat, scanning.clone(), fatal_tx, stop_rx.clone()));
        if let Some(server) = server {
            // The server queues confirmation mail, and the operator's page puts failed
            // messages back or cuts a digest: what they made goes at once, not at the next
            // scan. The composer and every lane look (those with nothing to do sleep again).
            let lanes: Vec<Arc<Notify>> = wakes.values().cloned().collect();
            let composer = composer_wake.clone();
            let mut stopped = stop_rx.clone();
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = server.queued() => {
                            composer.notify();
                            lanes.iter().for_each(|lane| lane.notify_one());
                        }
                        _ = stopped.wait_for(|s| *s) => return,
                    }
                }
            });
        }
        tracing::info!(
            lanes = self.lanes.len(),
            "running; scans on `{}`",
            self.settings.schedule.scan.source()
        );
        let fatal = tokio::select! {
            _ = stop => None,
            error = fatal_rx.wait_for(Option::is_some) => error.ok().and_then(|e| e.clone()),
        };
        if let Some(error) = &fatal {
            tracing::error!("{error}; stopping");
        }
        // A lane abandons its attempt in flight, unmarked: it is sent again, with the same
        // id, next time. A scan or composition in progress is a transaction that either
        // commits or is rolled back when the process ends.
        let _ = stop_tx.send(true);
        scanner_wake.stop();
        composer_wake.stop();
        while tasks.join_next().await.is_some() {}
        tracing::info!("stopped");
        fatal
    }
}

impl Drop for Publisher {
    /// A publisher going away (after `run --once`, `send`, or the daemon) lets its leases
    /// go, so other nodes need not wait for them to run out.
    fn drop(&mut self) {
        let now = self.clock.now();
        if let Err(e) = self.shared.store.blocking(|store| store.node_stopped(now)) {
            tracing::warn!("cannot give up this node's leases: {e}; they run out by themselves");
        }
    }
}

/// One lane per notifier, plus the confirmation lane when any notifier takes sign-ups.
/// Email lanes share the SMTP server's pace and its pool of connections.
fn lanes(settings: &Settings, client: &reqwest::Client) -> Result<Vec<Arc<Lane>>, StartError> {
    let wants_mail = settings
        .notifiers
        .iter()
        .any(|n| matches!(n.kind, NotifierKind::Email(_)));
    let mail = match (&settings.email, wants_mail) {
        (Some(email), true) => Some(Arc::new(transport::MailTransport {
            mailer: notify::smtp::mailer(email).map_err(StartError::Transport)?,
            email: email.clone(),
        })),
        _ => None,
    };
    let mail_pace = mail.as_ref().map(|mail| {
        (
            Arc::new(Pace::shared(mail.server(), mail.email.rate)),
            Arc::new(Semaphore::new(mail.email.pool as usize)),
            mail.email.pool as usize,
        )
    });
    let mut lanes = Vec::new();
    for notifier in &settings.notifiers {
        let transport = transport::for_notifier(notifier, client, mail.as_ref())
            .map_err(StartError::Transport)?;
        let is_mail = matches!(notifier.kind, NotifierKind::Email(_));
        let (pacer, slots, batch) = match (&mail_pace, is_mail) {
            (Some((pacer, slots, pool)), true) => (pacer.clone(), slots.clone(), *pool),
            _ => {
                let (burst, rate) = transport.rate().unwrap_or((f64::MAX, f64::MAX));
                (
                    Arc::new(Pace::own(burst, rate)),
                    Arc::new(Semaphore::new(1)),
                    1,
                )
            }
        };
        lanes.push(Arc::new(Lane {
            name: notifier.name.clone(),
            rows: LaneRows {
                notifier: Some(notifier.name.clone()),
                ordered: !is_mail,
            },
            transport,
            max_attempts: notifier.max_attempts,
            pacer,
            slots,
            batch,
            readers: match &notifier.kind {
                NotifierKind::Email(target) => Some(target.clone()),
                _ => None,
            },
            held_until: Mutex::new(None),
            store: own_connection(settings)?,
        }));
    }
    if let (Some(mail), Some((pacer, slots, pool))) = (&mail, &mail_pace) {
        let max_attempts = settings
            .notifiers
            .iter()
            .filter(|n| matches!(n.kind, NotifierKind::Email(_)))
            .map(|n| n.max_attempts)
            .max()
            .unwrap_or(10);
        lanes.push(Arc::new(Lane {
            name: CONFIRM_LANE.into(),
            rows: LaneRows {
                notifier: None,
                ordered: false,
            },
            transport: mail.clone(),
            max_attempts,
            pacer: pacer.clone(),
            slots: slots.clone(),
            batch: *pool,
            readers: None,
            held_until: Mutex::new(None),
            store: own_connection(settings)?,
        }));
    }
    Ok(lanes)
}

/// A connection of its own, with a shared state (PostgreSQL): for each lane and for the
/// heartbeat, so that a lock or a slow statement on one holds up none of the others. With a
/// state file, the one shared connection serves (one process writes at a time anyway).
fn own_connection(settings: &Settings) -> Result<Option<Handle>, StartError> {
    match settings.state.location {
        store::Location::Postgres(_) => Ok(Some(Handle::new(Store::open_for(&settings.state)?))),
        store::Location::File(_) => Ok(None),
    }
}

/// Runs a lane until told to stop; a lane whose task panicked is reported on the board and
/// started again after [`LANE_RESTART`] (its rows are still in the outbox).
async fn supervise(
    lane: Arc<Lane>,
    shared: deliver::Shared,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let task = {
            let (lane, shared, wake, stop) =
                (lane.clone(), shared.clone(), wake.clone(), stop.clone());
            tokio::spawn(async move { lane.run(&shared, Mode::Daemon { wake, stop }).await })
        };
        match task.await {
            Ok(_) => return,
            Err(e) => {
                let error = if e.is_panic() {
                    compose::panic_text(&e.into_panic())
                } else {
                    "cancelled".into()
                };
                tracing::error!(lane = %lane.name, "lane stopped: {error}; starting again in {}s", LANE_RESTART.as_secs());
                shared.board.set(
                    &lane.name,
                    LaneState::Broken { error },
                    lane.transport.timeout().as_secs(),
                    shared.clock.now(),
                );
                tokio::select! {
                    _ = tokio::time::sleep(LANE_RESTART) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    }
}

/// Refuses to start when another live process runs under this node's name. A record that
/// looks alive may be a process just killed (restarted at once under its name): it is
/// watched for one heartbeat, and only a heartbeat that moves on is another process.
fn refuse_a_second_process(
    store: &Store,
    clock: &dyn Clock,
    lease: Duration,
) -> Result<(), StartError> {
    let Some((beat, _)) = store.other_instance(clock.now())? else {
        return Ok(());
    };
    std::thread::sleep(store::nodes::heartbeat_every(lease) + Duration::from_millis(500));
    match store.other_instance(clock.now())? {
        Some((again, other)) if again != beat => Err(StartError::NameInUse {
            node: store.node().to_owned(),
            other,
            this: format!("pid {}", std::process::id()),
        }),
        _ => Ok(()),
    }
}

/// How far a node's clock may be from the database's before it says so: beyond this,
/// a receiver's clock check (webhook timestamps, five minutes by custom) is at risk too.
const CLOCK_WARN: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// Sets `following` by the database's clock (the middle of the round trip taken as the
/// moment the database read its clock), and says so when the node's own clock is off by
/// more than [`CLOCK_WARN`], once per change of more than a second.
fn follow_database(store: &Store, following: &crate::clock::Following) -> Result<(), StoreError> {
    let before = following.now();
    let Some(database) = store.database_now()? else {
        return Ok(());
    };
    let after = following.now();
    let middle = before + (after - before) / 2;
    let previous = following.offset();
    following.correct(database - middle);
    let offset = following.offset();
    if offset.abs() > CLOCK_WARN && (offset - previous).abs() > chrono::TimeDelta::seconds(1) {
        tracing::warn!(
            offset_ms = offset.num_milliseconds(),
            "this node's clock is {:.1} s {} the database's; it keeps the database's time for leases, due times and webhook timestamps (fix the node's clock: NTP)",
            offset.num_milliseconds().abs() as f64 / 1000.0,
            if offset > chrono::TimeDelta::zero() {
                "behind"
            } else {
                "ahead of"
            }
        );
    }
    Ok(())
}

/// Says three times a lease that this node lives (and whether it scans), renewing its
/// leases, until told to stop, and logs when the number of nodes alive changes. Each beat also makes sure the state file is still the one opened: one
/// deleted or replaced under the daemon stops it (`fatal`), since what it recorded after
/// would be lost.
async fn heartbeat(
    shared: deliver::Shared,
    scanning: Arc<AtomicBool>,
    fatal: watch::Sender<Option<String>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut seen = 1;
    loop {
        if let Ok(Some(error)) = shared.store.call(|store| Ok(store.file_replaced())).await {
            let _ = fatal.send(Some(format!(
                "{error}: restore it, or start again on purpose (a new state treats every post as already announced; see `--backfill`)"
            )));
            return;
        }
        let scanner = scanning.load(Ordering::Relaxed);
        let (clock, following) = (shared.clock, shared.following);
        match shared
            .store
            .call(move |store| {
                if let Some(following) = following {
                    follow_database(store, following)?;
                }
                store.heartbeat(scanner, clock.now(), following.map(|f| f.offset()))
            })
            .await
        {
            Ok(alive) if shared.poll.is_some() && alive != seen => {
                seen = alive;
                tracing::info!(
                    nodes = alive,
                    "nodes alive; together they keep to `email.rate`"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!("heartbeat: {e}; this node's leases run out unless it recovers")
            }
        }
        // A service manager's watchdog hears from every beat the runtime gets to.
        if crate::systemd::watched() {
            crate::systemd::notify("WATCHDOG=1");
        }
        tokio::select! {
            _ = tokio::time::sleep(store::nodes::heartbeat_every(shared.lease)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The scanner thread: scan when `schedule.scan` says, cut digests when they fire, then
/// wake the composer and every lane (a lane also picks up rows `tidings retry` put back).
fn scanner_loop(
    settings: &Settings,
    clock: &'static dyn Clock,
    backfill: Option<usize>,
    Loop {
        wake,
        composer,
        lanes,
        server,
        scanning,
    }: Loop,
) {
    let store = match Store::open_for(&settings.state) {
        Ok(store) => store,
        Err(e) => {
            tracing::error!("scanner: {e}");
            if let Some(server) = server {
                server.scan_result(Some((store::stamp(clock.now()), e.to_string())));
            }
            return;
        }
    };
    let mut scanner = Scanner::new(settings, clock, store, backfill);
    if server.is_some() {
        // The front page lists the feeds, which only a full scan works out.
        scanner.want_listing();
    }
    let tz = settings.site.timezone;
    let mut next_scan = clock.now();
    loop {
        let now = clock.now();
        if now >= next_scan {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scanner.scan()))
                .unwrap_or_else(|panic| {
                    Err(ScanError::Store(StoreError::Task(compose::panic_text(
                        &panic,
                    ))))
                });
            match result {
                Ok(report) => {
                    scanning.store(!report.follower, Ordering::Relaxed);
                    for problem in &report.problems {
                        tracing::warn!("{problem}");
                    }
                    if let Some(server) = server {
                        server.scan_result(None);
                        // A settled scan worked nothing out: the listing stands.
                        if !report.settled {
                            server.publish(report.feeds.listing);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!("scan failed: {e}; trying again at the next scan");
                    if let Some(server) = server {
                        server.scan_result(Some((store::stamp(now), e.to_string())));
                    }
                }
            }
            next_scan = settings
                .schedule
                .scan
                .next_after(clock.now(), tz)
                .unwrap_or_else(|| notify::after(now, Duration::from_secs(300)));
        }
        match scanner.fire_digests() {
            Ok(_) => {}
            Err(e) => tracing::error!("digests: {e}"),
        }
        composer.notify();
        for lane in lanes.values() {
            lane.notify_one();
        }
        let next_digest = scanner.next_digests().unwrap_or(None);
        let wake_at = next_digest.map_or(next_scan, |d| d.min(next_scan));
        if wake.wait(until(clock, wake_at)) {
            return;
        }
    }
}

/// What the scanner thread wakes and tells.
struct Loop<'a> {
    wake: &'a Wake,
    composer: &'a ComposerWakes,
    lanes: &'a HashMap<String, Arc<Notify>>,
    server: Option<&'a serve::Shared>,
    /// Whether this node scanned at its last scan (for its heartbeat).
    scanning: &'a AtomicBool,
}

/// The composer thread: composes what is waiting whenever woken, and wakes the lanes that
/// got messages.
fn composer_loop(
    settings: &Settings,
    clock: &'static dyn Clock,
    wake: &Wake,
    lanes: &HashMap<String, Arc<Notify>>,
    every: Duration,
    mail: bool,
) {
    let mut store = match Store::open_for(&settings.state) {
        Ok(store) => store,
        Err(e) => {
            tracing::error!("composer: {e}");
            return;
        }
    };
    loop {
        match compose::compose_pending_of(&mut store, settings, clock.now(), None, Some(mail)) {
            Ok(report) => {
                for name in &report.notifiers {
                    if let Some(lane) = lanes.get(name) {
                        lane.notify_one();
                    }
                }
            }
            Err(e) => tracing::error!("composer: {e}; trying again shortly"),
        }
        // Woken by the scanner; a minute at most, so a failed round is tried again (with
        // a shared state, sooner: other nodes' scanners record what is to be composed).
        if wake.wait(every) {
            return;
        }
    }
}

/// How long from now until `at`, never negative, never beyond a day.
fn until(clock: &dyn Clock, at: DateTime<Utc>) -> Duration {
    (at - clock.now())
        .to_std()
        .unwrap_or(Duration::ZERO)
        .min(notify::MAX_WAIT)
}

/// The two composers' wakes: both look when there may be something to compose.
#[derive(Default)]
struct ComposerWakes {
    mail: Wake,
    other: Wake,
}

impl ComposerWakes {
    fn notify(&self) {
        self.mail.notify();
        self.other.notify();
    }

    fn stop(&self) {
        self.mail.stop();
        self.other.stop();
    }
}

/// Wakes a thread that waits, or tells it to stop.
#[derive(Default)]
pub struct Wake {
    /// (woken, stopped)
    state: Mutex<(bool, bool)>,
    signal: Condvar,
}

impl Wake {
    pub fn notify(&self) {
        crate::sync::lock(&self.state).0 = true;
        self.signal.notify_all();
    }

    pub fn stop(&self) {
        crate::sync::lock(&self.state).1 = true;
        self.signal.notify_all();
    }

    /// Waits until woken or `timeout`; returns true when told to stop.
    pub fn wait(&self, timeout: Duration) -> bool {
        let state = crate::sync::lock(&self.state);
        let (mut state, _) = self
            .signal
            .wait_timeout_while(state, timeout, |(woken, stopped)| !*woken && !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        state.0 = false;
        state.1
    }
}
