//! Command-line interface definitions (clap). Parsing only; `app` does the work.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Publishes RSS, Atom and JSON feeds for a Hexo / Jekyll / Hugo style content folder.
#[derive(Debug, Parser)]
#[command(
    name = "tidings",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("TIDINGS_COMMIT"), ")"),
    about
)]
pub struct Cli {
    /// Settings file; relative paths in it resolve against its folder.
    #[arg(
        long,
        global = true,
        default_value = "settings.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,

    /// Print only problems, not the summary.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Log what is being done (repeat for more detail).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// How log lines are written: `text` for people, `json` for a log pipeline (one JSON
    /// object a line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a settings file for an existing Hexo, Jekyll, Hugo or Zola site, read from the
    /// site's own configuration (`SITE_DIR/settings.toml`; `--config` is not used).
    Init {
        /// The site's folder (default: the current one).
        site: Option<PathBuf>,
        /// Replace an existing `settings.toml`.
        #[arg(long)]
        force: bool,
    },
    /// Read the content folder and write every feed.
    Build {
        /// Read and parse every post file and render every feed, trusting neither the parse
        /// cache (it is written afresh) nor the feeds manifest.
        #[arg(long)]
        full: bool,
    },
    /// Read settings and content and report every problem; write nothing. Also shows when
    /// the schedules fire next.
    Check {
        /// Also connect to the SMTP server (EHLO, STARTTLS, login) and report; sends nothing.
        #[arg(long)]
        connect: bool,
    },
    /// Publish: scan on the schedule, rebuild feeds, and deliver notifications until stopped
    /// (SIGINT or SIGTERM); also serves when the settings have a `[server]` table.
    Run {
        /// One pass (scan, build, record, deliver what is due), then exit.
        #[arg(long)]
        once: bool,
        /// On the first scan of an archive, announce its newest N posts (default: none).
        #[arg(long, value_name = "N")]
        backfill: Option<usize>,
    },
    /// `run` with the web front door required: publish, deliver, and serve the feed index,
    /// the feeds, sign-up and one-click unsubscribe, health and metrics (`[server]`).
    Serve,
    /// Show each notifier's outbox and the last scan.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print the exact payloads a notifier would send next (its unsent messages and its next
    /// digest); sends and marks nothing.
    Preview {
        /// The notifier's name, as in `[notifiers.<name>]`.
        notifier: String,
        /// Email: whose digest to show (default: the first recipient).
        #[arg(long, value_name = "EMAIL")]
        to: Option<String>,
        /// Email: also write the HTML part to this file, to open in a browser.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Send a digest notifier's pending digest now, whatever its schedule says.
    Send {
        /// The notifier's name.
        notifier: String,
    },
    /// Stop mail to an address (from one notifier, or from all), even if it stays in a
    /// subscriber list.
    Unsubscribe {
        /// The address.
        #[arg(required_unless_present = "token")]
        email: Option<String>,
        /// Only from this notifier.
        #[arg(long, value_name = "NAME")]
        notifier: Option<String>,
        /// Act on a signed unsubscribe token instead (the `token` of a List-Unsubscribe
        /// link), as a page of your own at `email.unsubscribe_url` would.
        #[arg(long, conflicts_with_all = ["email", "notifier"])]
        token: Option<String>,
    },
    /// Put a notifier's failed deliveries back in the queue.
    Retry {
        /// The notifier's name, as in `[notifiers.<name>]`.
        notifier: String,
    },
    /// Work on the state as a whole.
    State {
        #[command(subcommand)]
        action: StateCommand,
    },
    /// The email readers: list them, export and import what the state keeps of them
    /// (sign-ups, unsubscribes), take a sign-up off, or erase every trace of an address.
    Readers {
        #[command(subcommand)]
        action: ReadersCommand,
    },
    /// Print a completion script for a shell (e.g. `tidings completions bash >
    /// /usr/share/bash-completion/completions/tidings`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), made from these very options: `tidings man >
    /// /usr/share/man/man1/tidings.1`.
    Man,
}

/// `tidings readers …`
#[derive(Debug, Subcommand)]
pub enum ReadersCommand {
    /// Every reader of every email notifier (subscriber list, `to`, sign-ups) and whether
    /// they unsubscribed.
    List {
        /// Only this notifier's.
        #[arg(long, value_name = "NAME")]
        notifier: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write what the state keeps of readers (sign-ups, unsubscribes) to stdout, as CSV
    /// (or JSON), for `import`.
    Export {
        /// JSON instead of CSV.
        #[arg(long)]
        json: bool,
    },
    /// Store sign-ups and unsubscribes from an export (CSV, or JSON); every record is
    /// checked before any is stored.
    Import {
        /// The file `export` wrote.
        file: PathBuf,
    },
    /// Take an address's sign-up off (every notifier's, or one's); they may sign up again.
    Remove {
        /// The address.
        email: String,
        /// Only this notifier's sign-up.
        #[arg(long, value_name = "NAME")]
        notifier: Option<String>,
    },
    /// Delete every trace of an address: sign-ups, unsubscribes, and every message to it.
    Erase {
        /// The address.
        email: String,
        /// Keep its unsubscribes and bounce or complaint suppressions under the address's
        /// SHA-256 (not the address): a subscriber list that still names it does not mail
        /// it again; a new confirmed sign-up lifts them.
        #[arg(long)]
        keep_suppression: bool,
    },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// `tidings state …`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy the state the settings name, whole, into an empty PostgreSQL database (or SQLite
    /// file): posts stay seen, messages sent stay sent, so nothing is announced again.
    /// Stop `tidings run` first; then point `state.url` at the copy.
    Copy {
        /// Where to: `postgres://user@host:port/db` (password from `PGPASSWORD` or
        /// `${VAR}`), or a file path.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}
