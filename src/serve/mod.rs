//! `tidings serve`: the web front door. Readers find and fetch the feeds, people sign up for
//! email (double opt-in) and unsubscribe with one click, monitoring reads health and metrics.
//!
//! The server runs on threads of its own beside the daemon, so a long scan never stalls a
//! feed reader. It changes nothing except through the store: a sign-up's confirmation email
//! is queued in the outbox (and the daemon woken to send it); a confirmation or an
//! unsubscribe is a row in the state file that the next digest reads. What the front page
//! lists is the daemon's last build, handed over after each scan: data flows one way.

mod clients;
mod files;
mod health;
mod pages;
mod signup;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

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
        *self.scan_failure.lock().unwrap_or_else(|p| p.into_inner()) = failure;
    }

    /// When and why the last scan failed, if it did.
    pub fn scan_failure(&self) -> Option<(String, String)> {
        self.scan_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The daemon hands over the feeds its last build wrote.
    pub fn publish(&self, listing: Vec<Listed>) {
        *self.listing.write().expect("listing lock") = Arc::new(listing);
    }

    fn listing(&self) -> Arc<Vec<Listed>> {
        self.listing.read().expect("listing lock").clone()
    }

    /// Resolves when the server has queued a message (the daemon then delivers at once).
    pub async fn queued(&self) {
        self.queued.notified().await;
    }

    fn wake_daemon(&self) {
        self.queued.notify_one();
    }
}

/// Opens the listening socket, so an address in use is reported before anything runs.
pub fn bind(server: &Server) -> Result<std::net::TcpListener, String> {
    let listener = std::net::TcpListener::bind(server.listen)
        .map_err(|e| format!("`server.listen`: cannot listen on {}: {e}", server.listen))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("`server.listen`: {e}"))?;
    Ok(listener)
}

/// The running server; [`Running::stop`] shuts it down gracefully.
pub struct Running {
    thread: std::thread::JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish (a few seconds at most), and returns.
    pub fn stop(self) {
        let _ = self.stop.send(true);
        if self.thread.join().is_err() {
            tracing::error!("the server thread panicked");
        }
    }
}

/// Starts serving on `listener` from threads of its own.
pub fn start(
    settings: Arc<Settings>,
    clock: &'static dyn Clock,
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
) -> Result<Running, String> {
    let server = settings
        .server
        .clone()
        .ok_or("the settings have no `[server]` table")?;
    let store = Store::open_for(&settings).map_err(|e| e.to_string())?;
    let state = Arc::new(State {
        pages: pages::Pages::new(&server.pages, &settings.words)?,
        files: files::FeedFiles::new(&settings.feeds.dir),
        base: server.public_url.path().to_owned(),
        signup: signup::Limits::new(server.signups_per_hour),
        metrics: Mutex::new(BTreeMap::new()),
        store: Arc::new(Mutex::new(store)),
        server,
        settings,
        clock,
        shared,
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tidings-serve")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server's threads: {e}"))?;
    let thread = std::thread::Builder::new()
        .name("tidings-serve".into())
        .spawn(move || runtime.block_on(accept(listener, state, stopped)))
        .map_err(|e| format!("cannot start the server's thread: {e}"))?;
    Ok(Running { thread, stop })
}

/// Everything a request may read.
struct State {
    settings: Arc<Settings>,
    server: Server,
    clock: &'static dyn Clock,
    shared: Arc<Shared>,
    /// A connection of the server's own (the daemon has its own); used off the async
    /// threads, see [`State::with_store`].
    store: Arc<Mutex<Store>>,
    files: files::FeedFiles,
    pages: pages::Pages,
    /// The path of `public_url` (`/` or `/news/`): links in pages start with it.
    base: String,
    signup: signup::Limits,
    /// Requests answered, by route and status.
    metrics: Mutex<BTreeMap<(&'static str, u16), u64>>,
}

impl State {
    /// Runs a store call on a blocking thread: SQLite may wait for the daemon's write lock.
    /// Errors come back as text for the log; pages never show them.
    async fn with_store<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut Store) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || call(&mut store.lock().expect("store lock")))
            .await
        {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(format!("store call failed: {e}")),
        }
    }
}

/// Most connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 1024;
/// A client must send its request head within this time (slowloris).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests in flight get this long to finish after a stop.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

async fn accept(
    listener: std::net::TcpListener,
    state: Arc<State>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("server: {e}");
            return;
        }
    };
    tracing::info!(
        listen = %state.server.listen,
        url = %state.server.public_url,
        "serving"
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let clients = Arc::new(clients::Clients::default());
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("never closed"),
            _ = stopped.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        // Behind a trusted proxy every connection is the proxy's: it limits its clients.
        let held = if state.server.trust_forwarded_for {
            None
        } else {
            match clients.hold(peer.ip()) {
                Some(held) => Some(held),
                None => {
                    tracing::debug!(peer = %peer.ip(), "connection refused: the client holds its share");
                    continue; // `stream` and `permit` are dropped: closed, slot free
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let service = hyper::service::service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(respond(&state, peer, request).await) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(64 * 1024)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(held);
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("server: requests still in flight were cut off"),
    }
    tracing::info!("server stopped");
}

/// A response under construction.
type Answer = Response<Full<Bytes>>;

/// Routes one request and adds the headers every response carries.
async fn respond(state: &State, peer: SocketAddr, request: Request<Incoming>) -> Answer {
    let started = Instant::now();
    let method = request.method().clone();
    let raw_path = request.uri().path().to_owned();
    let gzip_ok = request
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(files::accepts_gzip);
    let (route, mut answer) = route(state, peer.ip(), request).await;
    if gzip_ok && (route == "index" || route == "assets") {
        compress(&mut answer);
    }
    if method == Method::HEAD {
        // The headers of a GET, the length included, and no body.
        let length = hyper::body::Body::size_hint(answer.body())
            .exact()
            .unwrap_or(0);
        *answer.body_mut() = Full::new(Bytes::new());
        answer
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    secure(&mut answer, route);
    *state
        .metrics
        .lock()
        .expect("metrics lock")
        .entry((route, answer.status().as_u16()))
        .or_default() += 1;
    tracing::debug!(%method, path = %raw_path, status = answer.status().as_u16(), elapsed = ?started.elapsed(), "request");
    answer
}

async fn route(
    state: &State,
    client: IpAddr,
    request: Request<Incoming>,
) -> (&'static str, Answer) {
    let full = request.uri().path();
    // Behind a proxy that keeps `public_url`'s path, or one that strips it: both work.
    let prefix = state.base.trim_end_matches('/');
    let path = full
        .strip_prefix(prefix)
        .filter(|p| p.starts_with('/'))
        .unwrap_or(full)
        .to_owned();
    let method = request.method().clone();
    let read_only = method == Method::GET || method == Method::HEAD;
    match path.as_str() {
        "/" if read_only => ("index", signup::index(state).await),
        p if p.starts_with("/feeds/") && read_only => (
            "feeds",
            state
                .files
                .answer(&p["/feeds/".len()..], request.headers())
                .unwrap_or_else(|| not_found(state)),
        ),
        "/assets/style.css" if read_only => (
            "assets",
            asset(
                "text/css; charset=utf-8",
                include_str!("../../templates/assets/style.css"),
            ),
        ),
        "/assets/copy.js" if read_only => (
            "assets",
            asset(
                "text/javascript; charset=utf-8",
                include_str!("../../templates/assets/copy.js"),
            ),
        ),
        "/subscribe" if method == Method::POST => {
            let client = client_address(state, client, request.headers());
            ("subscribe", signup::subscribe(state, client, request).await)
        }
        "/confirm" if read_only => ("confirm", signup::confirm(state, &request).await),
        "/unsubscribe" if read_only => ("unsubscribe", signup::unsubscribe_page(state, &request)),
        "/unsubscribe" if method == Method::POST => {
            ("unsubscribe", signup::unsubscribe(state, request).await)
        }
        "/healthz" if read_only => ("healthz", health::healthz(state).await),
        "/metrics" if read_only => ("metrics", health::metrics(state).await),
        "/" | "/subscribe" | "/confirm" | "/unsubscribe" | "/healthz" | "/metrics" => {
            let allow = match path.as_str() {
                "/subscribe" => "POST",
                "/unsubscribe" => "GET, HEAD, POST",
                _ => "GET, HEAD",
            };
            let mut answer = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            answer
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            ("other", answer)
        }
        p if p.starts_with("/feeds/") => {
            let mut answer = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            answer
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            ("feeds", answer)
        }
        _ => ("other", not_found(state)),
    }
}

/// Who is asking: the peer, or behind a trusted proxy the address it appended last to
/// `X-Forwarded-For` (earlier entries are whatever the client claimed).
fn client_address(state: &State, peer: IpAddr, headers: &hyper::HeaderMap) -> IpAddr {
    if !state.server.trust_forwarded_for {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer)
}

/// Gzips a page (the front page of a site with hundreds of feeds is half a megabyte of
/// repetitive HTML; feeds have their own cached gzip form).
fn compress(answer: &mut Answer) {
    use futures_util::FutureExt;
    use http_body_util::BodyExt;
    let length = hyper::body::Body::size_hint(answer.body()).exact();
    if answer.status() != StatusCode::OK || length.is_none_or(|n| n <= 1024) {
        return;
    }
    // A `Full` body is one data frame, ready at once.
    let Some(Some(Ok(frame))) = answer.body_mut().frame().now_or_never() else {
        return;
    };
    let Ok(bytes) = frame.into_data() else {
        return;
    };
    *answer.body_mut() = Full::new(files::gzip(&bytes));
    let headers = answer.headers_mut();
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
}

fn asset(media_type: &'static str, body: &'static str) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    let headers = answer.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    answer
}

/// A plain-text answer (for machines: health, metrics, wrong methods).
fn plain(status: StatusCode, body: impl Into<Bytes>) -> Answer {
    let mut answer = Response::new(Full::new(body.into()));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    answer
}

/// An HTML answer page.
fn page(state: &State, status: StatusCode, page: &pages::Page) -> Answer {
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

fn html_answer(status: StatusCode, html: String) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(html)));
    *answer.status_mut() = status;
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Pages carry tokens and addresses: no cache keeps them.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    answer
}

fn not_found(state: &State) -> Answer {
    page(
        state,
        StatusCode::NOT_FOUND,
        &pages::Page {
            title: "Not found",
            message: state
                .settings
                .words
                .phrase("There is nothing at this address.", &[]),
            form: None,
        },
    )
}

/// Headers every answer carries: no scripts or styles but our own, no framing, no sniffing,
/// and no `Referer` to other sites (a confirmation or unsubscribe URL holds a token). A feed
/// opened in a browser becomes a page through `feed.xsl` (see `feeds::stylesheet`): that page
/// carries its style inline and shows the posts' images from wherever they are, so feeds
/// allow both; scripts stay the site's own.
fn secure(answer: &mut Answer, route: &str) {
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if route == "feeds" {
            "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' https: http: data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
        } else {
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        }),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: with the latter a browser sends `Origin: null` on
    // the sign-up form's own POST, which could then not be told from a forged one.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if route != "feeds" && route != "assets" && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Counts of requests, for `/metrics`.
fn request_counts(state: &State) -> BTreeMap<(&'static str, u16), u64> {
    state.metrics.lock().expect("metrics lock").clone()
}

/// Keeps a map from growing without bound: entries `keep` says are spent go first.
fn prune<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, V>,
    limit: usize,
    keep: impl Fn(&V) -> bool,
) {
    if map.len() > limit {
        map.retain(|_, v| keep(v));
    }
}
