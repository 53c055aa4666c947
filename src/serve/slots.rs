//! Connection slots: at most [`MAX_CONNECTIONS`] connections served at once, and when they
//! are all taken, the one idle the longest is given up for the newcomer.
//!
//! A cap per client (see `clients`) keeps one address from taking every slot, but twenty
//! addresses holding 64 half-open connections each (connected, no request sent) took them
//! all: a normal reader then waited in the kernel's backlog until the header timeout freed
//! one, 5.5 s. A connection that is not in the middle of a request (it has sent nothing yet,
//! or it is an idle keep-alive) costs the server nothing to close, and its client can
//! connect again; one that is being answered is never cut.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 1024;

/// One open connection, as the slots see it.
struct Entry {
    /// Requests being answered now.
    busy: Arc<AtomicUsize>,
    /// When it last started or finished a request (or connected), in ms since `epoch`.
    last: Arc<AtomicU64>,
    /// Closes it.
    close: Option<oneshot::Sender<()>>,
}

/// Every open connection, in the order they came.
pub struct Slots {
    free: Arc<Semaphore>,
    open: Mutex<BTreeMap<u64, Entry>>,
    next: AtomicU64,
    epoch: Instant,
}

/// One connection's slot, with what its task needs: given back when dropped.
pub struct Slot {
    slots: Arc<Slots>,
    id: u64,
    _permit: OwnedSemaphorePermit,
    /// Resolves when the slot is taken back for a newcomer.
    pub closed: oneshot::Receiver<()>,
    pub activity: Activity,
}

/// What the connection's service reports: a request started, a request answered.
#[derive(Clone)]
pub struct Activity {
    busy: Arc<AtomicUsize>,
    last: Arc<AtomicU64>,
    epoch: Instant,
}

impl Activity {
    pub fn started(&self) {
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.touch();
    }

    pub fn finished(&self) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
        self.touch();
    }

    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
}

impl Default for Slots {
    fn default() -> Slots {
        Slots::with_capacity(MAX_CONNECTIONS)
    }
}

impl Slots {
    pub fn with_capacity(capacity: usize) -> Slots {
        Slots {
            free: Arc::new(Semaphore::new(capacity)),
            open: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// A slot for a connection just accepted: a free one, or the one of the connection idle
    /// the longest (closed for it); when every connection is being answered, the first to
    /// finish.
    pub async fn take(self: &Arc<Self>) -> Slot {
        let permit = match self.free.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.close_idlest();
                self.free
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed")
            }
        };
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (close, closed) = oneshot::channel();
        let activity = Activity {
            busy: Arc::new(AtomicUsize::new(0)),
            last: Arc::new(AtomicU64::new(0)),
            epoch: self.epoch,
        };
        activity.touch();
        crate::sync::lock(&self.open).insert(
            id,
            Entry {
                busy: activity.busy.clone(),
                last: activity.last.clone(),
                close: Some(close),
            },
        );
        Slot {
            slots: self.clone(),
            id,
            _permit: permit,
            closed,
            activity,
        }
    }

    /// Closes the open connection that is answering nothing and has been quiet the longest.
    fn close_idlest(&self) {
        let mut open = crate::sync::lock(&self.open);
        let idlest = open
            .iter()
            .filter(|(_, e)| e.close.is_some() && e.busy.load(Ordering::Relaxed) == 0)
            .min_by_key(|(id, e)| (e.last.load(Ordering::Relaxed), **id))
            .map(|(id, _)| *id);
        if let Some(close) = idlest.and_then(|id| open.get_mut(&id)?.close.take()) {
            let _ = close.send(());
        }
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn open(&self) -> usize {
        crate::sync::lock(&self.open).len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        crate::sync::lock(&self.slots.open).remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_house_gives_up_its_idlest_connection_never_a_busy_one() {
        let slots = Arc::new(Slots::with_capacity(3));
        let mut busy = slots.take().await;
        busy.activity.started();
        let mut first_idle = slots.take().await;
        let mut second_idle = slots.take().await;
        second_idle.activity.started();
        second_idle.activity.finished(); // active more recently than `first_idle`
        assert_eq!(slots.open(), 3);

        let taking = tokio::spawn({
            let slots = slots.clone();
            async move { slots.take().await }
        });
        // The idlest is told to close; when its task ends, its slot goes to the newcomer.
        (&mut first_idle.closed).await.unwrap();
        assert!(
            busy.closed.try_recv().is_err(),
            "a busy connection is never cut"
        );
        assert!(second_idle.closed.try_recv().is_err());
        drop(first_idle);
        let newcomer = taking.await.unwrap();
        assert_eq!(slots.open(), 3);
        drop((newcomer, busy, second_idle));
        assert_eq!(slots.open(), 0);
    }
}
