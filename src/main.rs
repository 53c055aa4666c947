//! The `tidings` binary: parse the command line, set up logging, run the command.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use tidings::cli::{Cli, Command, LogFormat, ReadersCommand, StateCommand};
use tidings::commands::{self as app, Context};
use tidings::feeds::Mode;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read when it starts: pages a build has freed go back to the system
/// within a fifth of a second rather than ten, in one step. A cold build of 10,000 posts then
/// peaks at about 93 MB rather than 101, as fast (returning them at once made it 30% slower).
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static ALLOCATOR_SETTINGS: &[u8; 36] = b"dirty_decay_ms:200,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon says what it finds and sends by default; one-shot commands (`run --once`
    // included, whose summary goes to stdout) only warn, and `-v` adds those lines.
    let daemon = matches!(
        cli.command,
        Command::Run { once: false, .. } | Command::Serve
    ) && !cli.quiet;
    let level = match cli.verbose + u8::from(daemon) {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let logs = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    match cli.log_format {
        // Colours only for a person at a terminal, not in log files and journals.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // One JSON object a line, the event's fields at the top level.
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    let clock = match tidings::clock::from_env() {
        Ok(clock) => clock,
        Err(e) => {
            tidings::errln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let ctx = Context {
        config: &cli.config,
        quiet: cli.quiet,
        clock,
    };
    let status = match cli.command {
        Command::Init { site, force } => {
            app::init(site.as_deref().unwrap_or(std::path::Path::new(".")), force)
        }
        Command::Build { full } => app::build(&ctx, Mode::Write, full),
        Command::Check { connect } => app::check(&ctx, connect),
        Command::Run { once, backfill } => app::run(&ctx, once, backfill),
        Command::Serve => app::serve(&ctx),
        Command::Status { json } => app::status(&ctx, json),
        Command::Retry { notifier } => app::retry(&ctx, &notifier),
        Command::State {
            action: StateCommand::Copy { to },
        } => app::state_copy(&ctx, &to),
        Command::Readers { action } => match action {
            ReadersCommand::List { notifier, json } => {
                app::readers::list(&ctx, notifier.as_deref(), json)
            }
            ReadersCommand::Export { json } => app::readers::export(&ctx, json),
            ReadersCommand::Import { file } => app::readers::import(&ctx, &file),
            ReadersCommand::Remove { email, notifier } => {
                app::readers::remove(&ctx, &email, notifier.as_deref())
            }
            ReadersCommand::Erase {
                email,
                keep_suppression,
            } => app::readers::erase(&ctx, &email, keep_suppression),
        },
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tidings", &mut script);
            tidings::out!("{}", String::from_utf8_lossy(&script));
            app::Status::Clean
        }
        Command::Man => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => {
                    tidings::out!("{}", String::from_utf8_lossy(&page));
                    app::Status::Clean
                }
                Err(e) => {
                    tidings::errln!("error: {e}");
                    app::Status::Failed
                }
            }
        }
        Command::Preview { notifier, to, html } => {
            app::preview(&ctx, &notifier, to.as_deref(), html.as_deref())
        }
        Command::Send { notifier } => app::send(&ctx, &notifier),
        Command::Unsubscribe {
            email,
            notifier,
            token,
        } => match (email, token) {
            (_, Some(token)) => app::unsubscribe_token(&ctx, &token),
            (Some(email), None) => app::unsubscribe(&ctx, &email, notifier.as_deref()),
            (None, None) => {
                tidings::errln!("error: name an address, or give --token");
                app::Status::Failed
            }
        },
    };
    status.into()
}
