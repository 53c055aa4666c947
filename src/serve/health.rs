//! `GET /healthz` and `GET /metrics`: is the state file reachable and how old is the last
//! scan; and the numbers a Prometheus server scrapes. Both read the store; neither writes.

use std::fmt::Write;

use hyper::StatusCode;
use hyper::header::{self, HeaderValue};

use super::answer::{Answer, plain};
use super::state::{State, request_counts};
use crate::store::{Counts, ScanRecord, parse_stamp};

/// `GET /healthz`: 200 `ok` with the last scan's age and every lane's state when all is
/// well; 503 `degraded` when the last scan failed or a lane is stuck (broken, or sending
/// past every timeout); 503 `error` when the state file does not answer.
pub async fn healthz(state: &State) -> Answer {
    let now = state.clock.now();
    let (status, body) = match state.with_store(|store| store.last_scan()).await {
        Ok(last) => {
            let age = last
                .as_ref()
                .map(|scan| (now - parse_stamp(&scan.at)).num_seconds().max(0));
            let scan_failure = state.shared.scan_failure();
            let stuck = state.shared.board.stuck(now);
            let healthy = scan_failure.is_none() && stuck.is_empty();
            let body = serde_json::json!({
                "status": if healthy { "ok" } else { "degraded" },
                "store": "ok",
                "last_scan": last.as_ref().map(|scan| scan.at.clone()),
                "last_scan_age_seconds": age,
                "last_scan_duration_ms": last.as_ref().map(|scan| scan.duration_ms),
                "scan_failed": scan_failure.map(|(at, error)| serde_json::json!({"at": at, "error": error})),
                "stuck_lanes": stuck,
                "lanes": state.shared.board.snapshot(),
            });
            let status = if healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, body)
        }
        Err(e) => {
            tracing::error!("healthz: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "error", "store": "unreachable"}),
            )
        }
    };
    let mut answer = plain(status, format!("{body}\n"));
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    answer
}

/// `GET /metrics`: Prometheus text exposition format 0.0.4.
pub async fn metrics(state: &State) -> Answer {
    let read = state
        .with_store(|store| Ok((store.counts()?, store.last_scan()?)))
        .await;
    let (counts, last) = match read {
        Ok(read) => read,
        Err(e) => {
            tracing::error!("metrics: {e}");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the state file cannot be read\n",
            );
        }
    };
    let mut answer = plain(
        StatusCode::OK,
        exposition(&counts, last.as_ref(), &request_counts(state)),
    );
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    answer
}

/// The metrics as text: each family's `# HELP` and `# TYPE`, then its samples.
fn exposition(
    counts: &Counts,
    last: Option<&ScanRecord>,
    requests: &std::collections::BTreeMap<(&'static str, u16), u64>,
) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    family(
        "tidings_posts_seen",
        "gauge",
        "Posts recorded in the state file.",
        vec![(String::new(), counts.posts.to_string())],
    );
    family(
        "tidings_deliveries",
        "gauge",
        "Messages in the outbox by notifier and status (pending, sent, failed).",
        counts
            .deliveries
            .iter()
            .map(|(notifier, status, n)| {
                (
                    format!(
                        "{{notifier=\"{}\",status=\"{}\"}}",
                        escape(notifier),
                        escape(status)
                    ),
                    n.to_string(),
                )
            })
            .collect(),
    );
    family(
        "tidings_signups",
        "gauge",
        "Confirmed sign-ups by notifier.",
        counts
            .signups
            .iter()
            .map(|(notifier, n)| {
                (
                    format!("{{notifier=\"{}\"}}", escape(notifier)),
                    n.to_string(),
                )
            })
            .collect(),
    );
    if let Some(scan) = last {
        let one = |value: String| vec![(String::new(), value)];
        family(
            "tidings_last_scan_duration_seconds",
            "gauge",
            "How long the last scan took.",
            one((scan.duration_ms as f64 / 1000.0).to_string()),
        );
        family(
            "tidings_last_scan_timestamp_seconds",
            "gauge",
            "When the last scan ran (Unix time).",
            one(parse_stamp(&scan.at).timestamp().to_string()),
        );
        family(
            "tidings_last_scan_posts",
            "gauge",
            "Posts the last scan read.",
            one(scan.posts.to_string()),
        );
    }
    family(
        "tidings_http_requests_total",
        "counter",
        "Requests answered by this process, by route and status.",
        requests
            .iter()
            .map(|((route, status), n)| {
                (
                    format!("{{route=\"{route}\",status=\"{status}\"}}"),
                    n.to_string(),
                )
            })
            .collect(),
    );
    out
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_groups_samples_under_their_family() {
        let counts = Counts {
            posts: 3,
            deliveries: vec![
                ("daily".into(), "sent".into(), 2),
                (
                    "websub:https://hub.example/\"x\"".into(),
                    "pending".into(),
                    1,
                ),
            ],
            signups: vec![("daily".into(), 1)],
        };
        let mut requests = std::collections::BTreeMap::new();
        requests.insert(("feeds", 200), 5);
        let text = exposition(&counts, None, &requests);
        assert!(
            text.contains("# TYPE tidings_posts_seen gauge\ntidings_posts_seen 3\n"),
            "{text}"
        );
        assert!(text.contains(
            "tidings_deliveries{notifier=\"websub:https://hub.example/\\\"x\\\"\",status=\"pending\"} 1\n"
        ));
        assert!(text.contains("tidings_http_requests_total{route=\"feeds\",status=\"200\"} 5\n"));
        assert!(!text.contains("last_scan"));
    }
}
