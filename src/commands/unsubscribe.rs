//! `tidings unsubscribe`: no more mail to an address, named or carried by a signed token.

use super::{Context, Status, find_notifier, load};
use crate::store::Store;

/// `tidings unsubscribe EMAIL [--notifier NAME]`.
pub fn unsubscribe(ctx: &Context, address: &str, notifier: Option<&str>) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    if address.parse::<lettre::Address>().is_err() {
        eprintln!("error: `{address}` is not an email address");
        return Status::Failed;
    }
    if let Some(name) = notifier
        && find_notifier(&settings, name).is_none()
    {
        return Status::Failed;
    }
    match Store::open(&settings.state_path)
        .and_then(|store| store.unsubscribe(address, notifier, ctx.clock.now()))
    {
        Ok(()) => {
            println!(
                "{address} gets no more mail from {}",
                notifier.unwrap_or("any notifier")
            );
            Status::Clean
        }
        Err(e) => {
            eprintln!("error: {e}");
            Status::Failed
        }
    }
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
        eprintln!("error: no `email.secret` or `server.secret` to check the token with");
        return Status::Failed;
    };
    let grant = match crate::tokens::verify(&secret, token.trim(), ctx.clock.now()) {
        Ok(grant) if grant.action == "unsubscribe" => grant,
        Ok(_) => {
            eprintln!("error: the token is not an unsubscribe token");
            return Status::Failed;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failed;
        }
    };
    unsubscribe(ctx, &grant.address, Some(&grant.notifier))
}
