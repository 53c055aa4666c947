//! `tidings unsubscribe`: no more mail to an address, named or carried by a signed token.

use super::common::{Context, Status, find_notifier, load};
use crate::settings::secret::ExposeSecret;
use crate::settings::{NotifierKind, Settings};
use crate::store::{Store, StoreError};

/// `tidings unsubscribe EMAIL [--notifier NAME]`.
pub fn unsubscribe(ctx: &Context, address: &str, notifier: Option<&str>) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    if address.parse::<lettre::Address>().is_err() {
        crate::errln!("error: `{address}` is not an email address");
        return Status::Failed;
    }
    if let Some(name) = notifier {
        match find_notifier(&settings, name) {
            None => return Status::Failed,
            Some(found) if !matches!(found.kind, NotifierKind::Email(_)) => {
                crate::errln!(
                    "error: `{name}` is not an email notifier; only email notifiers have subscribers"
                );
                return Status::Failed;
            }
            Some(_) => {}
        }
    }
    let result = Store::open_for(&settings.state).and_then(|store| {
        let known = is_known(&settings, &store, address, notifier)?;
        store.unsubscribe(address, notifier, ctx.clock.now())?;
        Ok(known)
    });
    match result {
        Ok(known) => {
            let from = notifier.unwrap_or("any notifier");
            if known {
                crate::outln!("{address} gets no more mail from {from}");
            } else {
                crate::outln!(
                    "{address} is on no list of {from}; it is recorded as unsubscribed all the same, so it gets no mail if it is added later"
                );
            }
            Status::Clean
        }
        Err(e) => {
            crate::errln!("error: {e}");
            Status::Failed
        }
    }
}

/// Whether `address` is a recipient of `notifier` (or of any email notifier): in its `to`,
/// its subscriber list, or its confirmed sign-ups.
fn is_known(
    settings: &Settings,
    store: &Store,
    address: &str,
    notifier: Option<&str>,
) -> Result<bool, StoreError> {
    let wanted = address.trim().to_lowercase();
    for candidate in &settings.notifiers {
        let NotifierKind::Email(target) = &candidate.kind else {
            continue;
        };
        if notifier.is_some_and(|name| name != candidate.name) {
            continue;
        }
        if target.readers().contains(&wanted)
            || store
                .signups(&candidate.name)?
                .iter()
                .any(|s| s.address.trim().to_lowercase() == wanted)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `tidings unsubscribe --token TOKEN`: what a page of one's own at `email.unsubscribe_url`
/// does with the `token` of a List-Unsubscribe link (signed with `email.secret`, or
/// `server.secret`).
pub fn unsubscribe_token(ctx: &Context, token: &str) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let secret = settings
        .email
        .as_ref()
        .and_then(|email| email.secret.clone())
        .or_else(|| settings.server.as_ref().map(|server| server.secret.clone()));
    let Some(secret) = secret else {
        crate::errln!("error: no `email.secret` or `server.secret` to check the token with");
        return Status::Failed;
    };
    let grant = match crate::tokens::verify(secret.expose_secret(), token.trim(), ctx.clock.now()) {
        Ok(grant) if grant.action == "unsubscribe" => grant,
        Ok(_) => {
            crate::errln!("error: the token is not an unsubscribe token");
            return Status::Failed;
        }
        Err(e) => {
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    unsubscribe(ctx, &grant.address, Some(&grant.notifier))
}
