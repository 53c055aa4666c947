//! `[bounces]`, validated: where bounce reports arrive and how many soft ones an address
//! may have. Reading them needs the signed return path (`email.return_path`): without it a
//! report cannot be told from a forgery, and anyone could take a reader off the list.

use std::path::{Path, PathBuf};

use super::email_settings::Email;
use super::raw::RawBounces;

/// The most soft bounces `bounces.soft_limit` may allow.
pub const MAX_SOFT_LIMIT: u32 = 100;

/// `[bounces]`: one source or both.
#[derive(Debug, Clone)]
pub struct Bounces {
    /// A Maildir: `new/` is read, each message then moved to `cur/` marked seen.
    pub maildir: Option<PathBuf>,
    /// An IMAP mailbox: unseen messages are read, then marked seen.
    pub imap: Option<crate::bounces::imap::Mailbox>,
    pub soft_limit: u32,
}

pub fn bounces(
    raw: &RawBounces,
    email: Option<&Email>,
    base: &Path,
) -> Result<Bounces, (String, String)> {
    let signed = email.is_some_and(|e| e.return_path.is_some() && e.secret.is_some());
    if !signed {
        return Err((
            "bounces".into(),
            "needs `email.return_path` (and `email.secret` or `[server]`): only a report for mail sent from the signed return path is believed".into(),
        ));
    }
    if !(1..=MAX_SOFT_LIMIT).contains(&raw.soft_limit) {
        return Err((
            "bounces.soft_limit".into(),
            format!("must be from 1 to {MAX_SOFT_LIMIT}"),
        ));
    }
    let imap = match &raw.imap {
        Some(text) => {
            let password = match &raw.password {
                Some(p) => {
                    super::env::interpolate(p).map_err(|m| ("bounces.password".to_owned(), m))?
                }
                None => {
                    return Err((
                        "bounces.password".into(),
                        "is needed with `bounces.imap`, usually `${IMAP_PASSWORD}`".into(),
                    ));
                }
            };
            Some(
                crate::bounces::imap::Mailbox::parse(text, password.into())
                    .map_err(|m| ("bounces.imap".to_owned(), m))?,
            )
        }
        None if raw.password.is_some() => {
            return Err((
                "bounces.password".into(),
                "is set but `bounces.imap` is not".into(),
            ));
        }
        None => None,
    };
    let maildir = raw.maildir.as_ref().map(|dir| base.join(dir));
    if maildir.is_none() && imap.is_none() {
        return Err((
            "bounces".into(),
            "names no source: set `maildir` or `imap`".into(),
        ));
    }
    Ok(Bounces {
        maildir,
        imap,
        soft_limit: raw.soft_limit,
    })
}
