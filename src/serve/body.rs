//! Reading a request's body whole, bounded in size and in time: a client that sends more
//! than a route takes, or sends it too slowly, is refused rather than waited for.

use std::time::Duration;

use axum::extract::Request;
use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::Bytes;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    TooSlow,
    TooLarge,
}

impl Unread {
    /// The status that answers it.
    pub fn status(self) -> StatusCode {
        match self {
            Unread::TooSlow => StatusCode::REQUEST_TIMEOUT,
            Unread::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }
}

/// The body of `request`, at most `limit` bytes, arriving within `within`.
pub async fn read(request: Request, limit: usize, within: Duration) -> Result<Bytes, Unread> {
    let body = Limited::new(request.into_body(), limit);
    match tokio::time::timeout(within, body.collect()).await {
        Err(_) => Err(Unread::TooSlow),
        Ok(Err(_)) => Err(Unread::TooLarge),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}
