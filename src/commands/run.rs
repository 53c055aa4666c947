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
        return run_daemon(&rt, &publisher, &settings, backfill, server_shared);
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

/// The daemon, with the server beside it when `[server]` is set: the socket is opened first
/// (an address in use stops everything before it starts), and the server stops with the
/// daemon.
fn run_daemon(
    rt: &tokio::runtime::Runtime,
    publisher: &Publisher,
    settings: &Arc<Settings>,
    backfill: Option<usize>,
    shared: Arc<serve::Shared>,
) -> Status {
    let Some(server) = &settings.server else {
        crate::systemd::notify("READY=1");
        let fatal = rt.block_on(publisher.run(backfill, None, shutdown_signal()));
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
    let fatal = rt.block_on(publisher.run(backfill, Some(shared), shutdown_signal()));
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

/// Resolves on SIGINT or SIGTERM.
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
