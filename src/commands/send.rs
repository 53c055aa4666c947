//! `tidings send NOTIFIER`: cut a digest now and deliver what is due for it.

use std::sync::Arc;

use super::common::{Context, Status, find_notifier, load, runtime};
use crate::daemon::Publisher;
use crate::settings::Delivery;

/// `tidings send NOTIFIER`.
pub fn send(ctx: &Context, name: &str) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let Some(notifier) = find_notifier(&settings, name) else {
        return Status::Failed;
    };
    if !matches!(notifier.delivery, Delivery::Digest(_)) {
        crate::errln!(
            "error: {name} sends instantly; `send` is for digests (its messages go out with every `run`)"
        );
        return Status::Failed;
    }
    let Some(rt) = runtime() else {
        return Status::Failed;
    };
    let _entered = rt.enter();
    let publisher = match Publisher::open(Arc::new(settings), ctx.clock, Default::default(), false)
    {
        Ok(publisher) => publisher,
        Err(e) => {
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    let result = (|| {
        publisher.scanner(None)?.send_now(name)?;
        Ok::<_, crate::scanner::ScanError>(publisher.compose_and_deliver(&rt, Some(name))?)
    })();
    let (composed, delivered) = match result {
        Ok(done) => done,
        Err(e) => {
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    crate::outln!(
        "{} messages made; {} sent, {} to retry, {} failed",
        composed.messages,
        delivered.sent,
        delivered.retrying,
        delivered.failed
    );
    if delivered.failed + composed.failed > 0 {
        Status::Problems
    } else {
        Status::Clean
    }
}
