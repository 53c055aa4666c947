//! `tidings build` and `tidings check`: read the content folder, write (or check) every feed.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::common::{Context, Status, report_problems};
use crate::content::{self, cache};
use crate::feeds::{self, Mode};
use crate::progress::Progress;
use crate::settings::{Delivery, NotifierKind, Settings};
use crate::settled;

/// `tidings build` (mode Write) and `tidings check` (mode Check). `check` reads every file
/// and writes nothing, the parse cache included; `build --full` reads every file and writes
/// the cache afresh.
pub fn build(ctx: &Context, mode: Mode, full: bool) -> Status {
    let started = Instant::now();
    let settings = match crate::notify::platforms::load_settings(ctx.config) {
        Ok(settings) => settings,
        Err(e) => {
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    if let Err(message) = feeds::output::probe_writable(&settings.feeds.dir) {
        crate::errln!(
            "error: `feeds.dir` in `{}`: {message}",
            settings.path.display()
        );
        return Status::Failed;
    }
    let progress = if ctx.quiet {
        Progress::hidden()
    } else {
        Progress::on_terminal("reading posts")
    };
    let cache = match (mode, full) {
        (Mode::Check, _) => cache::Use::Off,
        (Mode::Write, true) => cache::Use::Refresh(settings.posts_cache_path()),
        (Mode::Write, false) => cache::Use::On(settings.posts_cache_path()),
    };
    let now = ctx.clock.now();
    let found = match content::find(&settings) {
        Ok(found) => found,
        Err(e) => {
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    let digest = found.digest;
    let racy = found.is_racy(now.into());
    if mode == Mode::Write
        && !full
        && let Some(settled) = settled::still_holds(&settings, digest, now)
    {
        return settled_build(ctx, &settled, started);
    }
    let scan = content::read(found, &settings, &progress, &cache, now.into());
    tracing::debug!(posts = scan.posts.len(), elapsed = ?started.elapsed(), "scanned");
    let report = match feeds::build(&scan.posts, &settings, now, mode, full) {
        Ok(report) => report,
        Err(e) => {
            report_problems(&scan.problems);
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    let mut problems = scan.problems;
    problems.extend(report.problems.iter().cloned());
    report_problems(&problems);
    if mode == Mode::Write {
        settled::remember(
            &settings,
            &settled::Pass {
                content: digest,
                racy,
                now,
                posts: &scan.posts,
                drafts: scan.drafts,
                feeds: &report,
                problems: &problems,
                scan: None,
            },
        );
    }

    if !ctx.quiet {
        let (changed, unchanged, removed) = match mode {
            Mode::Write => ("written", "unchanged", "removed"),
            Mode::Check => ("would be written", "up to date", "would be removed"),
        };
        crate::outln!(
            "{} ({} published, {} scheduled, {} drafts), {} with problems; {}: {} {changed}, {} {unchanged}, {} {removed} in {:.2?}",
            super::common::count(
                report.published + report.scheduled + scan.drafts + problems.len(),
                "post",
                "posts"
            ),
            report.published,
            report.scheduled,
            scan.drafts,
            problems.len(),
            super::common::count(report.feeds, "feed", "feeds"),
            super::common::count(report.changed, "file", "files"),
            report.unchanged,
            report.removed,
            started.elapsed(),
        );
    }
    if let Some(note) = report.left_alone_note(&settings.feeds.dir)
        && !ctx.quiet
    {
        crate::errln!("note: {note}");
    }
    if mode == Mode::Check && !ctx.quiet && scan.pages > 0 {
        crate::outln!(
            "{} the generator builds {} not posts (no date, section pages, no front matter): not in the feeds",
            super::common::count(scan.pages, "page", "pages"),
            if scan.pages == 1 { "is" } else { "are" }
        );
    }
    let mismatched = if mode == Mode::Check {
        check_links(&settings, &scan.posts, now, ctx.quiet)
    } else {
        0
    };
    if mode == Mode::Check && !ctx.quiet {
        print_schedules(&settings, ctx.clock.now());
        print_bounce_webhooks(&settings);
    }
    let skipped = if mode == Mode::Check {
        warn_without_unsubscribe_page(&settings);
        super::common::report_skipped_subscribers(&settings) + rehearse_notifiers(&settings, now)
    } else {
        0
    };
    if problems.is_empty() && skipped == 0 && mismatched == 0 {
        Status::Clean
    } else {
        Status::Problems
    }
}

/// A build when nothing could have changed since the last (see [`crate::settled`]): its
/// problems and counts are reported again, and no file is read or written.
fn settled_build(ctx: &Context, settled: &settled::Settled, started: Instant) -> Status {
    report_problems(&settled.problems);
    if !ctx.quiet {
        crate::outln!(
            "{} ({} published, {} scheduled, {} drafts), {} with problems; {}: 0 files written, {} unchanged, 0 removed in {:.2?} (nothing changed since the last build)",
            super::common::count(
                settled.published + settled.scheduled + settled.drafts + settled.problems.len(),
                "post",
                "posts"
            ),
            settled.published,
            settled.scheduled,
            settled.drafts,
            settled.problems.len(),
            super::common::count(settled.feeds, "feed", "feeds"),
            settled.files,
            started.elapsed(),
        );
    }
    if settled.problems.is_empty() {
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
    crate::outln!(
        "scan `{}`: next {}",
        scan.source(),
        show(scan.upcoming(now, tz, 3))
    );
    for notifier in &settings.notifiers {
        match &notifier.delivery {
            Delivery::Instant if matches!(notifier.kind, NotifierKind::Hub(_)) => crate::outln!(
                "notifier {}: a publish ping for each feed a scan changes",
                notifier.name
            ),
            Delivery::Instant => {
                crate::outln!("notifier {}: instant, after each scan", notifier.name)
            }
            Delivery::Digest(cron) => crate::outln!(
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
        crate::outln!(
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

/// `tidings check [--connect]`: `build` in check mode, then, with `--connect`, a connection
/// to the SMTP server of `[email]` (sending nothing) and to the bounce mailbox over IMAP
/// (reading nothing). A server that refuses is exit 2.
pub fn check(ctx: &Context, connect: bool) -> Status {
    let status = build(ctx, Mode::Check, false);
    if !connect || status == Status::Failed {
        return status;
    }
    let Some(settings) = super::common::load(ctx) else {
        return Status::Failed;
    };
    let Some(email) = &settings.email else {
        crate::outln!("--connect: no `[email]` table, nothing to connect to");
        return status;
    };
    let Some(rt) = super::common::runtime() else {
        return Status::Failed;
    };
    let _entered = rt.enter();
    let status = match rt.block_on(crate::notify::smtp::connect(email)) {
        Ok(said) => {
            crate::outln!("email.smtp: {said}");
            status
        }
        Err(error) => {
            crate::errln!("error: {error}");
            Status::Failed
        }
    };
    let Some(mailbox) = settings.bounces.as_ref().and_then(|b| b.imap.as_ref()) else {
        return status;
    };
    match crate::bounces::imap::check(mailbox) {
        Ok(unseen) => {
            crate::outln!(
                "bounces.imap: logged in to {}; {unseen} unseen messages wait to be read",
                mailbox.shown()
            );
            status
        }
        Err(error) => {
            crate::errln!("error: `bounces.imap`: {error}");
            Status::Failed
        }
    }
}

/// The address to give each sending service `[bounces]` names, under `public_url`.
fn print_bounce_webhooks(settings: &Settings) {
    let (Some(bounces), Some(server)) = (&settings.bounces, &settings.server) else {
        return;
    };
    for service in &bounces.services {
        let name = service.name();
        match server.public_url.join(&format!("bounces/{name}")) {
            Ok(url) => crate::outln!("bounces.{name}: give {name} the webhook address {url}"),
            Err(e) => {
                crate::errln!("bounces.{name}: no webhook address under `server.public_url`: {e}")
            }
        }
    }
}

/// Email without `[server]` or `email.unsubscribe_url` can only offer a mailto unsubscribe,
/// which nothing reads by itself: `check` says so and how to handle it.
/// With `site.output` there: every published post's link is checked against the pages the
/// generator wrote, each that points at no page printed with its post's file. Returns how
/// many.
fn check_links(
    settings: &Settings,
    posts: &[crate::model::Post],
    now: DateTime<Utc>,
    quiet: bool,
) -> usize {
    let Some(output) = &settings.site.output else {
        return 0;
    };
    if !output.is_dir() {
        if !quiet {
            crate::outln!(
                "links not checked: `site.output` (`{}`) is not there yet; build the site, then check again",
                output.display()
            );
        }
        return 0;
    }
    let live: Vec<&crate::model::Post> = posts.iter().filter(|p| p.is_live(now)).collect();
    let missing = crate::generators::missing_pages(output, &settings.site.url, &live);
    for m in &missing {
        crate::errln!(
            "{}: the link {} points at no page in `{}` (no `{}`)",
            m.post.file.display(),
            m.post.url,
            output.display(),
            m.expected.display()
        );
    }
    if !quiet {
        crate::outln!(
            "links: {} of {} point at pages in `{}`",
            live.len() - missing.len(),
            live.len(),
            output.display()
        );
    }
    missing.len()
}

/// Renders each notifier's messages for made-up posts; prints each that fails (a template
/// error, or one that runs out of its fuel) and returns how many did.
fn rehearse_notifiers(settings: &Settings, now: chrono::DateTime<chrono::Utc>) -> usize {
    let mut failed = 0;
    for notifier in &settings.notifiers {
        if let Err(error) = crate::compose::rehearse(settings, notifier, now) {
            crate::errln!("notifiers.{}: {error}", notifier.name);
            failed += 1;
        }
    }
    failed
}

fn warn_without_unsubscribe_page(settings: &Settings) {
    let Some(email) = &settings.email else {
        return;
    };
    let mails = settings
        .notifiers
        .iter()
        .any(|n| matches!(n.kind, NotifierKind::Email(_)));
    if mails && settings.server.is_none() && email.unsubscribe_url.is_none() {
        crate::errln!(
            "warning: without `[server]` or `email.unsubscribe_url`, mail offers no one-click unsubscribe; \
             its List-Unsubscribe is a mailto to {}, which nothing reads: unsubscribe those who write with \
             `tidings unsubscribe ADDRESS`",
            email.from.email
        );
    }
}
