//! `tidings serve`: the web front door. Readers find and fetch the feeds, people sign up for
//! email (double opt-in) and unsubscribe with one click, monitoring reads health and metrics.
//!
//! The routes are an axum `Router` (extractors for the form and the links' tokens, 405 with
//! `Allow` and `HEAD` from its method routing) under tower-http layers (gzip for pages,
//! headers every answer carries, a request timeout). It is served from an accept loop of our
//! own, because neither offers what it does: at most [`MAX_CONNECTIONS`] connections and a
//! share of them per client address, a deadline for the request head (slowloris), and a
//! graceful stop that lets requests in flight finish.
//!
//! The server runs on threads of its own beside the daemon, so a long scan never stalls a
//! feed reader. It changes nothing except through the store: a sign-up's confirmation email
//! is queued in the outbox (and the daemon woken to send it); a confirmation or an
//! unsubscribe is a row in the state file that the next digest reads. What the front page
//! lists is the daemon's last build, handed over after each scan: data flows one way.

mod admin;
mod answer;
mod body;
mod bounce_hooks;
mod clients;
mod feed_page;
mod files;
mod health;
mod limits;
mod pages;
mod signup;
mod slots;
mod state;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, Request, State as With};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response as Reply};
use axum::routing::{get, post};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::clock::Clock;
use crate::settings::{Server, Settings};
use crate::store::Store;
use answer::{Answer, asset};
use state::{State, page};

pub use state::Shared;

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
    let store = Store::open_for(&settings.state).map_err(|e| e.to_string())?;
    let state = Arc::new(State {
        pages: pages::Pages::new(&server.pages, &settings.words)?,
        files: files::FeedFiles::new(&settings.feeds.dir),
        base: server.public_url.path().to_owned(),
        signup: limits::Limits::new(server.signups_per_hour),
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
    let app = router(state.clone());
    let prefix = state.base.trim_end_matches('/').to_owned();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(slots::Slots::default());
    let clients = Arc::new(clients::Clients::default());
    loop {
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
        let slot = tokio::select! {
            slot = slots.take() => slot,
            _ = stopped.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        // The router, told who is asking (the per-client limits need the peer's address).
        // Behind a proxy that keeps `public_url`'s path, or one that strips it: both work.
        // The slots hear when a request starts and ends: a connection answering one is
        // never closed for a newcomer.
        let prefix = prefix.clone();
        let (started, finished) = (slot.activity.clone(), slot.activity.clone());
        let service = app
            .clone()
            .map_request(move |mut request: hyper::Request<_>| {
                started.started();
                strip_prefix(&mut request, &prefix);
                request.extensions_mut().insert(Peer(peer.ip()));
                request
            })
            .map_response(move |response| {
                finished.finished();
                response
            });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(64 * 1024)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let mut slot = slot;
            tokio::select! {
                _ = connection => {}
                _ = &mut slot.closed => {} // given up for a newcomer: dropped, closed
            }
            drop(held);
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("server: requests still in flight were cut off"),
    }
    tracing::info!("server stopped");
}

/// The client's address as the socket saw it (put in each request by the accept loop).
#[derive(Clone, Copy)]
struct Peer(IpAddr);

/// Which route answered, for the metrics, the security headers and compression (a
/// response extension; answers from the router itself, a 405 or a 404, carry none).
#[derive(Clone, Copy)]
struct Route(&'static str);

/// How long one request may take, body included, before it is answered 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Pages (the front page, its stylesheet and script) larger than this are gzipped when
/// the client takes it; feeds carry their own cached gzip form.
const COMPRESS_ABOVE: u16 = 1024;

/// The routes, then the layers every answer passes through (outermost last): the body
/// limit, compression of pages, the route's security headers, the headers every answer
/// carries, the metrics and request log, and the request timeout. `GET` routes answer
/// `HEAD` too; a route asked with another method answers 405 with `Allow`.
fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/feeds/{*file}", get(feed))
        .route("/assets/style.css", get(style))
        .route("/assets/copy.js", get(script))
        .route("/subscribe", post(subscribe))
        .route("/confirm", get(confirm))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/admin", get(admin_page))
        .route("/admin/{action}", post(admin_act))
        .route("/bounces/{service}", post(bounce_events))
        .fallback(nothing_here)
        .layer(DefaultBodyLimit::max(signup::MAX_FORM_BYTES))
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .no_br()
                .no_deflate()
                .no_zstd()
                .compress_when(SizeAbove::new(COMPRESS_ABOVE).and(
                    |_: StatusCode,
                     _: hyper::Version,
                     _: &hyper::HeaderMap,
                     extensions: &hyper::http::Extensions| {
                        extensions
                            .get::<Route>()
                            .is_some_and(|Route(r)| *r == "index" || *r == "assets")
                    },
                )),
        )
        .layer(middleware::from_fn(secure))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // `same-origin`, not `no-referrer`: with the latter a browser sends `Origin: null`
        // on the sign-up form's own POST, which could then not be told from a forged one.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(middleware::from_fn_with_state(state.clone(), account))
        .layer(middleware::from_fn(refuse_declared_oversize))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

/// `/news/feeds/rss.xml` becomes `/feeds/rss.xml` when `public_url` is `…/news/`.
fn strip_prefix<B>(request: &mut hyper::Request<B>, prefix: &str) {
    if prefix.is_empty() {
        return;
    }
    let uri = request.uri();
    let Some(rest) = uri
        .path()
        .strip_prefix(prefix)
        .filter(|p| p.starts_with('/'))
    else {
        return;
    };
    let target = match uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    if let Ok(target) = target.parse() {
        *request.uri_mut() = target;
    }
}

/// Names an answer with its route.
fn named(route: &'static str, mut answer: Answer) -> Reply {
    answer.extensions_mut().insert(Route(route));
    answer.into_response()
}

async fn index(With(state): With<Arc<State>>) -> Reply {
    named("index", signup::index(&state).await)
}

/// `GET /feeds/…`: the path as it came, still encoded, so `files` sees an encoded `/` or
/// `..` for what it is.
async fn feed(With(state): With<Arc<State>>, request: Request) -> Reply {
    let path = request.uri().path();
    let file = path.strip_prefix("/feeds/").unwrap_or(path);
    let accept = request
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    if files::wants_html(accept)
        && let Some(page) = feed_as_page(&state, file)
    {
        return named("feeds", page);
    }
    let mut answer = state
        .files
        .answer(file, request.headers())
        .unwrap_or_else(|| not_found(&state));
    if answer.status() != hyper::StatusCode::NOT_FOUND {
        let feeds = &state.settings.feeds;
        for link in files::websub_links(file, &feeds.url, &feeds.hubs) {
            answer.headers_mut().append(hyper::header::LINK, link);
        }
    }
    named("feeds", answer)
}

/// A feed file as a page for a browser (see `feed_page`); `None` when it is no feed, or
/// cannot be shown (the file is then served as it is, its stylesheet still named).
fn feed_as_page(state: &State, raw: &str) -> Option<Answer> {
    let (format, bytes) = state.files.feed(raw)?;
    let feed = feed_page::read(format, &bytes, &state.settings)?;
    match state.pages.feed(&state.settings, &state.base, &feed) {
        Ok(html) => {
            let mut answer = answer::html_answer(hyper::StatusCode::OK, html);
            let headers = answer.headers_mut();
            // The page changes with the feed: cached as briefly as the feed, per Accept.
            headers.insert(
                hyper::header::CACHE_CONTROL,
                hyper::header::HeaderValue::from_static("public, max-age=300"),
            );
            headers.insert(
                hyper::header::VARY,
                hyper::header::HeaderValue::from_static("Accept-Encoding, Accept"),
            );
            Some(answer)
        }
        Err(e) => {
            tracing::error!("{e}");
            None
        }
    }
}

async fn style() -> Reply {
    named(
        "assets",
        asset(
            "text/css; charset=utf-8",
            include_str!("../../templates/assets/style.css"),
        ),
    )
}

async fn script() -> Reply {
    named(
        "assets",
        asset(
            "text/javascript; charset=utf-8",
            include_str!("../../templates/assets/copy.js"),
        ),
    )
}

async fn subscribe(
    With(state): With<Arc<State>>,
    Extension(Peer(peer)): Extension<Peer>,
    headers: hyper::HeaderMap,
    form: signup::FormFields,
) -> Reply {
    let client = client_address(&state, peer, &headers);
    named(
        "subscribe",
        signup::subscribe(&state, client, &headers, form).await,
    )
}

/// The `token` of a confirmation or unsubscribe link (none: a link that does not work).
#[derive(serde::Deserialize)]
struct Link {
    #[serde(default)]
    token: String,
}

/// A query that cannot be read is a link without a token.
fn token(link: Result<Query<Link>, axum::extract::rejection::QueryRejection>) -> String {
    link.map(|Query(link)| link.token).unwrap_or_default()
}

async fn confirm(
    With(state): With<Arc<State>>,
    link: Result<Query<Link>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    named("confirm", signup::confirm(&state, &token(link)).await)
}

async fn unsubscribe_page(
    With(state): With<Arc<State>>,
    link: Result<Query<Link>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    named(
        "unsubscribe",
        signup::unsubscribe_page(&state, &token(link)),
    )
}

async fn unsubscribe(
    With(state): With<Arc<State>>,
    link: Result<Query<Link>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Reply {
    named(
        "unsubscribe",
        signup::unsubscribe(&state, &token(link), request).await,
    )
}

async fn healthz(With(state): With<Arc<State>>) -> Reply {
    named("healthz", health::healthz(&state).await)
}

async fn metrics(With(state): With<Arc<State>>) -> Reply {
    named("metrics", health::metrics(&state).await)
}

async fn admin_page(With(state): With<Arc<State>>, headers: HeaderMap) -> Reply {
    named("admin", admin::page(&state, &headers).await)
}

/// `POST /admin/retry` and `POST /admin/send`.
async fn admin_act(
    With(state): With<Arc<State>>,
    Path(action): Path<String>,
    headers: HeaderMap,
    form: signup::FormFields,
) -> Reply {
    let action = match action.as_str() {
        "retry" => admin::Action::Retry,
        "send" => admin::Action::Send,
        _ => return nothing_here(With(state)).await,
    };
    let fields = form.map(|Form(f)| f).unwrap_or_default();
    named("admin", admin::act(&state, &headers, action, &fields).await)
}

/// `POST /bounces/<service>`: a sending service's events; 404 for a service `[bounces]`
/// does not name.
async fn bounce_events(
    With(state): With<Arc<State>>,
    Path(service): Path<String>,
    request: Request,
) -> Reply {
    match bounce_hooks::receive(&state, &service, request).await {
        Some(answer) => named("bounces", answer),
        None => nothing_here(With(state)).await,
    }
}

async fn nothing_here(With(state): With<Arc<State>>) -> Reply {
    named("other", not_found(&state))
}

/// A request that declares a body larger than its route takes is answered 413 at once,
/// before its body (which may never come) is waited for.
async fn refuse_declared_oversize(request: Request, next: Next) -> Reply {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = if request.uri().path().starts_with("/bounces/") {
        crate::bounces::services::MAX_BODY_BYTES
    } else {
        signup::MAX_FORM_BYTES
    };
    if declared.is_some_and(|n| n > limit as u64) {
        let mut answer = Response::new(Full::new(Bytes::from_static(b"request body too large\n")));
        *answer.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        answer.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        answer
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return answer.into_response();
    }
    next.run(request).await
}

/// Counts the answer by route and status, and logs it.
async fn account(With(state): With<Arc<State>>, request: Request, next: Next) -> Reply {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let answer = next.run(request).await;
    let route = route_of(&answer, &path);
    *crate::sync::lock(&state.metrics)
        .entry((route, answer.status().as_u16()))
        .or_default() += 1;
    tracing::debug!(%method, %path, status = answer.status().as_u16(), elapsed = ?started.elapsed(), "request");
    answer
}

/// The route an answer came from; the router's own answers (405) count under the route
/// their path belongs to.
fn route_of(answer: &Reply, path: &str) -> &'static str {
    match answer.extensions().get::<Route>() {
        Some(Route(route)) => route,
        None if path.starts_with("/feeds/") => "feeds",
        None => "other",
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

/// The route's own security headers: no scripts or styles but our own, no framing, and
/// no cache for pages (they carry tokens and addresses). A feed opened in a browser becomes
/// a page through `feed.xsl` (see `feeds::stylesheet`): that page carries its style inline
/// and shows the posts' images from wherever they are, so feeds allow both; scripts stay
/// the site's own. (`nosniff`, the referrer policy and `X-Frame-Options` are set for every
/// answer by their own layers.)
async fn secure(request: Request, next: Next) -> Reply {
    let path = request.uri().path().to_owned();
    let mut answer = next.run(request).await;
    let route = route_of(&answer, &path);
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if route == "feeds" {
            "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' https: http: data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
        } else {
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        }),
    );
    if route != "feeds" && route != "assets" && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    answer
}
