//! What every request handler may read: the settings, the store, the feed files, the page
//! templates, the limits, and what the daemon shares with the server.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use hyper::StatusCode;

use super::answer::{Answer, html_answer, plain};
use super::files;
use super::limits::Limits;
use super::pages;
use crate::clock::Clock;
use crate::feeds::Listed;
use crate::settings::{Server, Settings};
use crate::store::Store;

/// What the daemon and the server share.
#[derive(Default)]
pub struct Shared {
    listing: RwLock<Arc<Vec<Listed>>>,
    queued: tokio::sync::Notify,
    /// What every delivery lane is doing.
    pub board: Arc<crate::deliver::Board>,
    /// The last scan's failure, if it failed: (when, error).
    scan_failure: Mutex<Option<(String, String)>>,
}

impl Shared {
    /// The daemon reports how its last scan went (`None`: it succeeded).
    pub fn scan_result(&self, failure: Option<(String, String)>) {
        *crate::sync::lock(&self.scan_failure) = failure;
    }

    /// When and why the last scan failed, if it did.
    pub fn scan_failure(&self) -> Option<(String, String)> {
        crate::sync::lock(&self.scan_failure).clone()
    }

    /// The daemon hands over the feeds its last build wrote.
    pub fn publish(&self, listing: Vec<Listed>) {
        *crate::sync::write(&self.listing) = Arc::new(listing);
    }

    pub(super) fn listing(&self) -> Arc<Vec<Listed>> {
        crate::sync::read(&self.listing).clone()
    }

    /// Resolves when the server has queued a message (the daemon then delivers at once).
    pub async fn queued(&self) {
        self.queued.notified().await;
    }

    pub(super) fn wake_daemon(&self) {
        self.queued.notify_one();
    }
}

/// Everything a request may read.
pub struct State {
    pub(super) settings: Arc<Settings>,
    pub(super) server: Server,
    pub(super) clock: &'static dyn Clock,
    pub(super) shared: Arc<Shared>,
    /// A connection of the server's own (the daemon has its own); used off the async
    /// threads, see [`State::with_store`].
    pub(super) store: Arc<Mutex<Store>>,
    pub(super) files: files::FeedFiles,
    pub(super) pages: pages::Pages,
    /// The path of `public_url` (`/` or `/news/`): links in pages start with it.
    pub(super) base: String,
    pub(super) signup: Limits,
    /// Requests answered, by route and status.
    pub(super) metrics: Mutex<BTreeMap<(&'static str, u16), u64>>,
}

impl State {
    /// Runs a store call on a blocking thread: SQLite may wait for the daemon's write lock.
    /// Errors come back as text for the log; pages never show them.
    pub async fn with_store<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || call(&mut crate::sync::lock(&store))).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(format!("store call failed: {e}")),
        }
    }
}

/// An HTML answer page.
pub fn page(state: &State, status: StatusCode, page: &pages::Page) -> Answer {
    match state.pages.page(&state.settings, &state.base, page) {
        Ok(html) => html_answer(status, html),
        Err(e) => {
            tracing::error!("{e}");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page template failed\n",
            )
        }
    }
}

/// Counts of requests, for `/metrics`.
pub fn request_counts(state: &State) -> BTreeMap<(&'static str, u16), u64> {
    crate::sync::lock(&state.metrics).clone()
}
