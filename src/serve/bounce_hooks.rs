//! `POST /bounces/<service>`: bounce and complaint events from the sending services
//! `[bounces]` names (`bounces::services`). A request must prove that it comes from its
//! service; what it reports is recorded like a report from the bounce mailbox, each event
//! once on every node. The answers are what the services act on: 200 taken (or already
//! taken), 403 not proved, 400 not events, 503 not stored just now (the service posts it
//! again later).

use std::time::Duration;

use axum::extract::Request;
use chrono::{DateTime, Utc};
use hyper::StatusCode;

use super::answer::{Answer, plain};
use super::body;
use super::state::State;
use crate::bounces::services::{MAX_BODY_BYTES, Posted, Refusal, Service};
use crate::bounces::{Pass, record};
use crate::store::{Store, StoreError};

/// The events must arrive within this time.
const BODY_TIMEOUT: Duration = Duration::from_secs(20);

pub async fn receive(state: &State, name: &str, request: Request) -> Option<Answer> {
    let bounces = state.settings.bounces.as_ref()?;
    let service = bounces.services.iter().find(|s| s.name() == name)?.clone();
    let headers = request.headers().clone();
    let body = match body::read(request, MAX_BODY_BYTES, BODY_TIMEOUT).await {
        Ok(body) => body,
        Err(unread) => return Some(plain(unread.status(), format!("{}\n", unread.status()))),
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

/// What became of a request's events.
enum Taken {
    /// Its nonce was taken before: a replay (or a retry of a request already taken).
    Replayed,
    Recorded(Pass),
}

/// Records the events not taken before. Their keys are taken first, in the store every
/// node shares, so that the same event reaching two nodes at once counts once; they are
/// given back if what they said could not be recorded, so that the service's retry is.
async fn take(
    state: &State,
    service: &dyn Service,
    posted: Posted,
    soft_limit: u32,
    now: DateTime<Utc>,
) -> Answer {
    let from = format!("the {} webhook", service.name());
    let taken = state
        .with_store(move |store| {
            let mut taken = Vec::new();
            let result = take_and_record(store, posted, soft_limit, now, &from, &mut taken);
            if result.is_err()
                && let Err(e) = store.give_back_bounce_events(&taken)
            {
                tracing::error!("bounce event keys not given back: {e}");
            }
            result
        })
        .await;
    match taken {
        Ok(Taken::Recorded(pass)) => plain(
            StatusCode::OK,
            format!(
                "taken: {} suppressed, {} soft\n",
                pass.suppressed, pass.soft
            ),
        ),
        Ok(Taken::Replayed) => {
            tracing::warn!(
                service = service.name(),
                "a signed request seen before: not believed again"
            );
            plain(StatusCode::OK, "already taken\n")
        }
        Err(e) => {
            tracing::error!(service = service.name(), "bounce events not stored: {e}");
            plain(StatusCode::SERVICE_UNAVAILABLE, "try again later\n")
        }
    }
}

/// Takes the request's nonce and its events' keys, pushing each it took onto `taken`,
/// and records the events taken now.
fn take_and_record(
    store: &mut Store,
    posted: Posted,
    soft_limit: u32,
    now: DateTime<Utc>,
    from: &str,
    taken: &mut Vec<String>,
) -> Result<Taken, StoreError> {
    let nonce: Vec<String> = posted.nonce.into_iter().collect();
    if store.take_bounce_events(&nonce, now)?.contains(&false) {
        return Ok(Taken::Replayed);
    }
    taken.extend(nonce);
    let (keys, findings): (Vec<String>, Vec<_>) = posted.events.into_iter().unzip();
    let fresh = store.take_bounce_events(&keys, now)?;
    taken.extend(
        keys.into_iter()
            .zip(&fresh)
            .filter_map(|(k, new)| new.then_some(k)),
    );
    let mut pass = Pass::default();
    for (finding, _) in findings.iter().zip(&fresh).filter(|(_, new)| **new) {
        record(store, soft_limit, finding, now, &mut pass, from)?;
    }
    Ok(Taken::Recorded(pass))
}
