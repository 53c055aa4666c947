//! Bounces and complaints: reports read at every pass of the scanning node from where the
//! mail server delivers the return path's mail (`[bounces] maildir`), and what they do to
//! the list. A hard bounce or a complaint takes the address off every list at once, its
//! reason kept; soft bounces are counted and take it off at `bounces.soft_limit` (see
//! `store::bounces`). Reports are believed only for the address whose signed return-path
//! token they carry ([`report`]).

pub mod imap;
pub mod maildir;
pub mod report;
pub mod services;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use crate::settings::Email;
use crate::settings::bounce_settings::Bounces;
use crate::store::{Store, StoreError};
use report::{Read, Verdict};

/// What one pass over the bounce mailbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Reports read (a message too large to be one is not counted).
    pub read: usize,
    /// Addresses taken off every list (hard bounces, complaints, soft ones at the limit).
    pub suppressed: usize,
    /// Soft bounces counted.
    pub soft: usize,
    /// Reports not believed (no signed return path for the address they name).
    pub unsigned: usize,
}

/// Reads what arrived in the bounce mailboxes and records it. A message is marked seen
/// only once what it says is recorded: if the state cannot be written, it is read again
/// at the next pass. A mailbox that cannot be read is reported, and tried again then.
pub fn read_pass(
    bounces: &Bounces,
    email: &Email,
    store: &mut Store,
    now: DateTime<Utc>,
) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    let (Some(return_path), Some(secret)) = (&email.return_path, &email.secret) else {
        return Ok(pass);
    };
    let mut handle = |shown: &str, bytes: Option<&[u8]>| -> Result<(), StoreError> {
        let Some(bytes) = bytes else {
            tracing::warn!(
                file = %shown,
                "larger than {} bytes: not a bounce report; marked seen",
                report::MAX_REPORT_BYTES
            );
            return Ok(());
        };
        pass.read += 1;
        let signed = |address: &str, token: &str| {
            crate::tokens::is_return_token(secret.expose_secret(), address, token)
        };
        match report::read(bytes, return_path.user(), signed) {
            Read::Findings(findings) => {
                for finding in findings {
                    record(store, bounces.soft_limit, &finding, now, &mut pass, shown)?;
                }
            }
            Read::Unsigned(named) => {
                pass.unsigned += 1;
                tracing::warn!(
                    file = %shown,
                    "a report about {} without its signed return path: not believed",
                    named.join(", ")
                );
            }
            Read::NotAReport => tracing::debug!(file = %shown, "not a bounce report"),
        }
        Ok(())
    };
    if let Some(dir) = &bounces.maildir {
        maildir_pass(dir, &mut handle)?;
    }
    if let Some(mailbox) = &bounces.imap {
        match imap::pass(mailbox, report::MAX_REPORT_BYTES, &mut handle) {
            Ok(recorded) => recorded?,
            Err(e) => tracing::warn!("bounces.imap: {e}"),
        }
    }
    Ok(pass)
}

/// The Maildir's new messages, each handed to `handle` and then marked seen.
fn maildir_pass(
    dir: &std::path::Path,
    handle: &mut imap::Handler<'_, StoreError>,
) -> Result<(), StoreError> {
    let waiting = match maildir::waiting(dir) {
        Ok(waiting) => waiting,
        Err(e) => {
            tracing::warn!("bounces.maildir `{}`: {e}", dir.display());
            return Ok(());
        }
    };
    for message in waiting {
        let shown = message.path.display().to_string();
        match maildir::read(&message, report::MAX_REPORT_BYTES) {
            Ok(bytes) => handle(&shown, bytes.as_deref())?,
            Err(e) => {
                tracing::warn!(file = %shown, "cannot read it: {e}");
                continue;
            }
        }
        mark(dir, &message);
    }
    Ok(())
}

/// Records what a report or a service's event found about one address; `from` names
/// where it came from in the log (a file, a webhook).
pub fn record(
    store: &mut Store,
    soft_limit: u32,
    finding: &report::Finding,
    now: DateTime<Utc>,
    pass: &mut Pass,
    from: &str,
) -> Result<(), StoreError> {
    let address = &finding.address;
    match &finding.verdict {
        Verdict::Hard(reason) | Verdict::Complaint(reason) => {
            if store.suppress(address, reason, now)? {
                pass.suppressed += 1;
                tracing::info!(%address, from, "taken off every list: {reason}");
            }
        }
        Verdict::Soft(status) => {
            pass.soft += 1;
            let (count, suppressed) = store.soft_bounce(address, status, now, soft_limit)?;
            if suppressed {
                pass.suppressed += 1;
                tracing::info!(%address, from, count, "taken off every list: soft bounces reached bounces.soft_limit");
            } else {
                tracing::info!(%address, from, count, "soft bounce: {status}");
            }
        }
    }
    Ok(())
}

fn mark(dir: &std::path::Path, message: &maildir::Waiting) {
    if let Err(e) = maildir::mark_seen(dir, message) {
        tracing::warn!(file = %message.path.display(), "cannot mark it seen: {e}");
    }
}
