//! `tidings run [--once]` and `tidings serve`: the publisher, once or as a daemon, with the
//! web front door beside it when `[server]` is set.

use std::sync::Arc;

use super::common::{Context, Status, load, report_problems, runtime};
use crate::daemon::Publisher;
use crate::serve;
use crate::settings::Settings;

/// `tidings run [--once] [--backfill N]`.
pub fn run(ctx: &Context, once: bool, backfill: Option<usize>) -> Status {
    match load(ctx) {
        Some(settings) => run_with(ctx, settings, once, backfill),
        None => Status::Failed,
    }
}

/// `tidings serve`: `run` with `[server]` required.
pub fn serve(ctx: &Context) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    if settings.server.is_none() {
        crate::errln!(
            "error: `tidings serve` needs a `[server]` table in `{}` (listen, public_url, secret)",
            settings.path.display()
        );
        return Status::Failed;
    }
    run_with(ctx, settings, false, None)
}

/// `run` with settings already read (`serve` reads them first to check for `[server]`).
fn run_with(ctx: &Context, settings: Settings, once: bool, backfill: Option<usize>) -> Status {
    // The runtime comes first: the SMTP pool starts a task when it is made, and is dropped
    // (before the runtime) when the publisher goes.
    let Some(rt) = runtime() else {
        return Status::Failed;
    };
    let _entered = rt.enter();
    let skipped = super::common::report_skipped_subscribers(&settings);
    let settings = Arc::new(settings);
    let server_shared = Arc::new(serve::Shared::default());
    let board = server_shared.board.clone();
    let publisher = match Publisher::open(settings.clone(), ctx.clock, board, !once) {
        Ok(publisher) => publisher,
        Err(e) => {
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    if !once {
        return run_daemons(ctx, &rt, publisher, settings, backfill, server_shared);
    }
    match publisher.once(&rt, backfill) {
        Ok(pass) => {
            report_problems(&pass.scan.problems);
            let failed = pass.delivered.failed + pass.composed.failed;
            let held = pass.delivered.halted;
            if !ctx.quiet {
                crate::out!(
                    "{}, {} new, {} announced; {} sent, {} to retry, {} failed",
                    super::common::count(pass.scan.posts, "post", "posts"),
                    pass.scan.new_posts,
                    pass.scan.announced,
                    super::common::count(pass.delivered.sent, "message", "messages"),
                    pass.delivered.retrying,
                    failed
                );
                if held > 0 {
                    crate::out!(", {held} held until a setting is fixed");
                }
                crate::outln!();
            }
            if pass.scan.problems.is_empty() && failed == 0 && skipped == 0 && held == 0 {
                Status::Clean
            } else {
                Status::Problems
            }
        }
        Err(e) => {
            crate::errln!("error: {e}");
            Status::Failed
        }
    }
}

/// The daemon until SIGINT or SIGTERM. SIGHUP reads the settings again (and with them
/// the templates, the catalogs and the DKIM keys): when they are sound, the daemon stops
/// as on SIGTERM (what is in flight is finished and recorded, leases are let go) and starts
/// again on them in the same process; when they are not, the reason is logged and the
/// daemon goes on as it was. Subscriber lists need no signal: they are read as they are
/// at every message.
fn run_daemons(
    ctx: &Context,
    rt: &tokio::runtime::Runtime,
    mut publisher: Publisher,
    mut settings: Arc<Settings>,
    mut backfill: Option<usize>,
    mut shared: Arc<serve::Shared>,
) -> Status {
    loop {
        let reload: Arc<std::sync::Mutex<Option<Settings>>> = Arc::default();
        let signal = stop_signal(ctx.config.to_owned(), reload.clone());
        let status = run_daemon(rt, &publisher, &settings, backfill, shared, signal);
        let Some(next) = crate::sync::lock(&reload).take() else {
            return status;
        };
        drop(publisher);
        tracing::info!(settings = %next.path.display(), "settings read again: starting on them");
        settings = Arc::new(next);
        shared = Arc::new(serve::Shared::default());
        backfill = None;
        publisher = match Publisher::open(settings.clone(), ctx.clock, shared.board.clone(), true) {
            Ok(publisher) => publisher,
            Err(e) => {
                crate::errln!("error: {e}");
                return Status::Failed;
            }
        };
    }
}

/// The daemon, with the server beside it when `[server]` is set: the socket is opened first
/// (an address in use stops everything before it starts), and the server stops with the
/// daemon.
fn run_daemon(
    rt: &tokio::runtime::Runtime,
    publisher: &Publisher,
    settings: &Arc<Settings>,
    backfill: Option<usize>,
    shared: Arc<serve::Shared>,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> Status {
    let Some(server) = &settings.server else {
        crate::systemd::notify("READY=1");
        let fatal = rt.block_on(publisher.run(backfill, None, signal));
        crate::systemd::notify("STOPPING=1");
        return stopped(fatal);
    };
    let started = serve::bind(server).and_then(|listener| {
        // The daemon's clock: with a shared state, the database's time.
        serve::start(
            settings.clone(),
            publisher.clock(),
            listener,
            shared.clone(),
        )
    });
    let running = match started {
        Ok(running) => running,
        Err(e) => {
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    crate::systemd::notify("READY=1");
    let fatal = rt.block_on(publisher.run(backfill, Some(shared), signal));
    crate::systemd::notify("STOPPING=1");
    running.stop();
    stopped(fatal)
}

/// How a daemon that stopped ends: cleanly on a signal, with exit 2 and the reason when it
/// stopped on its own.
fn stopped(fatal: Option<String>) -> Status {
    match fatal {
        None => Status::Clean,
        Some(error) => {
            crate::errln!("error: {error}");
            Status::Failed
        }
    }
}

/// Resolves on SIGINT or SIGTERM, and on SIGHUP once the settings at `path` read again
/// without fault (left in `reload`); a SIGHUP whose settings have a fault is logged with
/// it, and waiting goes on.
async fn stop_signal(path: std::path::PathBuf, reload: Arc<std::sync::Mutex<Option<Settings>>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hangup.recv() => {
                let read = path.clone();
                let loaded = tokio::task::spawn_blocking(move || {
                    crate::notify::platforms::load_settings(&read)
                })
                .await;
                match loaded {
                    Ok(Ok(settings)) => {
                        crate::systemd::notify("RELOADING=1");
                        *crate::sync::lock(&reload) = Some(settings);
                        return;
                    }
                    Ok(Err(e)) => tracing::error!(
                        "SIGHUP: the settings were not read again, the daemon goes on as it was: {e}"
                    ),
                    Err(e) => tracing::error!("SIGHUP: reading the settings stopped: {e}"),
                }
            }
        }
    }
}
