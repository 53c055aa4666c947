//! A state-file connection shared by async tasks: every call runs on a blocking thread, so
//! SQLite's fsyncs and its wait for another writer never hold an async worker (the
//! server's answers, the lanes' timers).

use std::sync::{Arc, Mutex};

use super::open::{Store, StoreError};

/// A cheap-to-clone handle to one connection.
#[derive(Clone)]
pub struct Handle {
    store: Arc<Mutex<Store>>,
}

impl Handle {
    pub fn new(store: Store) -> Handle {
        Handle {
            store: Arc::new(Mutex::new(store)),
        }
    }

    /// Runs `call` with the connection on a blocking thread.
    pub async fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            // A call that panicked leaves the connection as SQLite left it: usable.
            let mut store = crate::sync::lock(&store);
            call(&mut store)
        })
        .await
        .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
    }

    /// Runs `call` with the connection on this thread (for code already off the async
    /// workers).
    pub fn blocking<T>(
        &self,
        call: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut store = crate::sync::lock(&self.store);
        call(&mut store)
    }
}
