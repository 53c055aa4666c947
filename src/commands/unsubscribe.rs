//! `tidings unsubscribe`: no more mail to an address.

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
