//! `POST /bounces/<service>`: bounce and complaint events from the sending services
//! `[bounces]` names (`bounces::services`). A request must prove that it comes from its
//! service; what it reports is recorded like a report from the bounce mailbox, each event
//! once. The answers are what the services act on: 200 taken (or already taken), 403 not
//! proved, 400 not events, 503 not stored just now (the service posts it again later).

use std::time::Duration;

use axum::extract::Request;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;

use super::answer::{Answer, plain};
use super::state::State;
use crate::bounces::services::{MAX_BODY_BYTES, Posted, Refusal, Service};
use crate::bounces::{Pass, record};

/// The events must arrive within this time.
const BODY_TIMEOUT: Duration = Duration::from_secs(20);

pub async fn receive(state: &State, name: &str, request: Request) -> Option<Answer> {
    let bounces = state.settings.bounces.as_ref()?;
    let service = bounces.services.iter().find(|s| s.name() == name)?.clone();
    let headers = request.headers().clone();
    let body = Limited::new(request.into_body(), MAX_BODY_BYTES);
    let body = match tokio::time::timeout(BODY_TIMEOUT, body.collect()).await {
        Err(_) => return Some(plain(StatusCode::REQUEST_TIMEOUT, "too slow\n")),
        Ok(Err(_)) => return Some(plain(StatusCode::PAYLOAD_TOO_LARGE, "too large\n")),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let now = state.clock.now();
    let posted = match service.read(&headers, &body, now) {
        Ok(posted) => posted,
        Err(Refusal::Unproven(why)) => {
            tracing::warn!(service = name, "bounce events refused: {why}");
            return Some(plain(StatusCode::FORBIDDEN, "forbidden\n"));
        }
        Err(Refusal::Malformed(why)) => {
            tracing::warn!(service = name, "bounce events not read: {why}");
            return Some(plain(StatusCode::BAD_REQUEST, "not events\n"));
        }
    };
    Some(take(state, service.as_ref(), posted, bounces.soft_limit, now).await)
}

/// Records the events not taken before. Their keys are taken first, so that the same
/// request arriving twice at once counts once, and given back if the store failed.
async fn take(
    state: &State,
    service: &dyn Service,
    posted: Posted,
    soft_limit: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Answer {
    let (keys, events) = {
        let mut seen = crate::sync::lock(&state.seen_events);
        if let Some(nonce) = &posted.nonce
            && !seen.take(nonce, now)
        {
            tracing::warn!(
                service = service.name(),
                "a signed request seen before: not believed again"
            );
            return plain(StatusCode::OK, "already taken\n");
        }
        let mut keys: Vec<String> = posted.nonce.iter().cloned().collect();
        let mut events = Vec::new();
        for (key, finding) in posted.events {
            if seen.take(&key, now) {
                keys.push(key);
                events.push(finding);
            }
        }
        (keys, events)
    };
    let from = format!("the {} webhook", service.name());
    let recorded = state
        .with_store(move |store| {
            let mut pass = Pass::default();
            for finding in &events {
                record(store, soft_limit, finding, now, &mut pass, &from)?;
            }
            Ok(pass)
        })
        .await;
    match recorded {
        Ok(pass) => plain(
            StatusCode::OK,
            format!(
                "taken: {} suppressed, {} soft\n",
                pass.suppressed, pass.soft
            ),
        ),
        Err(e) => {
            crate::sync::lock(&state.seen_events).give_back(&keys);
            tracing::error!(service = service.name(), "bounce events not stored: {e}");
            plain(StatusCode::SERVICE_UNAVAILABLE, "try again later\n")
        }
    }
}
