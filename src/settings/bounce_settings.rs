//! `[bounces]`, validated: where bounce reports arrive and how many soft ones an address
//! may have. Reports from a mailbox need the signed return path (`email.return_path`):
//! without it a report cannot be told from a forgery, and anyone could take a reader off
//! the list. A sending service's webhook proves itself instead, and needs `[server]` to be
//! received. The services are listed here, one line each ([`services`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::email_settings::Email;
use super::raw::RawBounces;
use crate::bounces::services::{Service, mailgun, postmark, sendgrid};

/// The most soft bounces `bounces.soft_limit` may allow.
pub const MAX_SOFT_LIMIT: u32 = 100;

/// `[bounces]`: a mailbox, sending services' webhooks, or both.
#[derive(Debug, Clone)]
pub struct Bounces {
    /// A Maildir: `new/` is read, each message then moved to `cur/` marked seen.
    pub maildir: Option<PathBuf>,
    /// An IMAP mailbox: unseen messages are read, then marked seen.
    pub imap: Option<crate::bounces::imap::Mailbox>,
    /// Sending services whose events `tidings serve` takes at `/bounces/<name>`.
    pub services: Vec<Arc<dyn Service>>,
    pub soft_limit: u32,
}

pub fn bounces(
    raw: &RawBounces,
    email: Option<&Email>,
    served: bool,
    base: &Path,
) -> Result<Bounces, (String, String)> {
    let signed = email.is_some_and(|e| e.return_path.is_some() && e.secret.is_some());
    if !signed && (raw.maildir.is_some() || raw.imap.is_some()) {
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
    let services = services(raw)?;
    if let Some(service) = services.first()
        && !served
    {
        let name = service.name();
        return Err((
            format!("bounces.{name}"),
            format!("is received by `tidings serve` at `/bounces/{name}`: it needs `[server]`"),
        ));
    }
    if maildir.is_none() && imap.is_none() && services.is_empty() {
        return Err((
            "bounces".into(),
            "names no source: set `maildir`, `imap` or a sending service (`[bounces.mailgun]`, `[bounces.sendgrid]`, `[bounces.postmark]`)".into(),
        ));
    }
    Ok(Bounces {
        maildir,
        imap,
        services,
        soft_limit: raw.soft_limit,
    })
}

/// The sending services `[bounces]` names: the registry, a line each.
fn services(raw: &RawBounces) -> Result<Vec<Arc<dyn Service>>, (String, String)> {
    let mut out: Vec<Arc<dyn Service>> = Vec::new();
    if let Some(table) = &raw.mailgun {
        out.push(Arc::new(mailgun::Mailgun::from_table(table)?));
    }
    if let Some(table) = &raw.sendgrid {
        out.push(Arc::new(sendgrid::SendGrid::from_table(table)?));
    }
    if let Some(table) = &raw.postmark {
        out.push(Arc::new(postmark::Postmark::from_table(table)?));
    }
    Ok(out)
}
