//! `tidings retry NOTIFIER`: failed deliveries go back in the queue, and notifications whose
//! messages could not be made (a template error) are composed again with the settings and
//! templates as they are now.

use super::common::{Context, Status, find_notifier, load};
use crate::compose;
use crate::store::Store;

/// `tidings retry NOTIFIER`.
pub fn retry(ctx: &Context, notifier: &str) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    if find_notifier(&settings, notifier).is_none() {
        return Status::Failed;
    }
    let now = ctx.clock.now();
    let result = Store::open_for(&settings.state).and_then(|mut store| {
        let deliveries = store.retry_failed(notifier, now)?;
        let unmade = store.retry_compositions(notifier)?;
        let composed = if unmade > 0 {
            compose::compose_pending(&mut store, &settings, now, Some(notifier))?
        } else {
            compose::Report::default()
        };
        Ok((deliveries, unmade, composed))
    });
    match result {
        Ok((deliveries, unmade, composed)) => {
            crate::outln!("{deliveries} failed deliveries of {notifier} are queued again");
            if unmade > 0 {
                crate::outln!(
                    "{unmade} notifications that could not be made were composed again: {} messages queued, {} still failing",
                    composed.messages,
                    composed.failed
                );
            }
            if composed.failed > 0 {
                crate::errln!(
                    "error: {} of {notifier}'s notifications still cannot be made; `tidings status` shows why",
                    composed.failed
                );
                return Status::Problems;
            }
            Status::Clean
        }
        Err(e) => {
            crate::errln!("error: {e}");
            Status::Failed
        }
    }
}
