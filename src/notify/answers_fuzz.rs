//! A property test over every receiver-answer parser: thousands of generated answers (any
//! status, `Retry-After` headers of every shape, JSON bodies with absurd numbers, wrong
//! types, deep nesting, cut off mid-way) must give a verdict without panicking, and every
//! wait a verdict asks for must stay within [`super::outcome::MAX_WAIT`] and be computable into a
//! next-attempt time.

use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::http::Answer;
use super::outcome::{MAX_WAIT, Outcome, after, parse_retry_after, retry_wait};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "0.5",
    "-0.0",
    "1e300",
    "-1e300",
    "1e-300",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999999999999",
    "130101",
    "45009",
    "9499",
    "429",
];

const KEYS: &[&str] = &[
    "retry_after",
    "retry_after_ms",
    "parameters",
    "ok",
    "error_code",
    "description",
    "errcode",
    "errmsg",
    "code",
    "msg",
    "errcode",
    "message",
    "global",
];

/// A JSON-ish value: mostly valid, sometimes deep, sometimes cut off.
fn value(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth > 6 { 4 } else { 7 }) {
        0 | 1 => rng.pick(NUMBERS).to_owned(),
        2 => format!("\"{}\"", rng.pick(&["soon", "", "later", "\\u0000", "é"])),
        3 => rng.pick(&["true", "false", "null"]).to_owned(),
        4 => format!("[{}]", value(rng, depth + 1)),
        _ => {
            let fields: Vec<String> = (0..rng.below(4))
                .map(|_| format!("\"{}\": {}", rng.pick(KEYS), value(rng, depth + 1)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

fn body(rng: &mut Rng) -> String {
    let mut text = match rng.below(10) {
        0 => "[".repeat(rng.below(5000)),
        1 => "<html>Bad Gateway</html>".into(),
        _ => value(rng, 0),
    };
    if rng.below(8) == 0 {
        let cut = rng.below(text.len() + 1);
        text.truncate(text.floor_char_boundary(cut));
    }
    text
}

fn header(rng: &mut Rng) -> Option<String> {
    match rng.below(6) {
        0 => None,
        1 => Some(rng.pick(NUMBERS).to_owned()),
        2 => Some(
            rng.pick(&[
                "Fri, 31 Dec 9999 23:59:59 GMT",
                "Thu, 01 Jan 1970 00:00:00 GMT",
                "Wed, 02 Dec 2026 08:00:30 GMT",
                "not a date",
                "",
                " 120 ",
            ])
            .to_owned(),
        ),
        _ => Some(rng.next().to_string()),
    }
}

#[test]
fn no_receiver_answer_panics_or_asks_for_more_than_the_cap() {
    let now = Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap();
    let mut rng = Rng(0x7469_6469_6e67_7321);
    for round in 0..20_000 {
        let status = match rng.below(4) {
            0 => 200,
            1 => 429,
            2 => [500, 502, 503, 404, 400, 408, 425][rng.below(7)],
            _ => rng.below(1000) as u16,
        };
        let retry_after = header(&mut rng).and_then(|h| parse_retry_after(&h, now));
        assert!(retry_after.is_none_or(|w| w <= MAX_WAIT), "{retry_after:?}");
        let answer = Answer {
            status,
            retry_after,
            body: body(&mut rng),
        };
        let mut outcomes = vec![answer.outcome()];
        outcomes.extend(super::platforms::ALL.iter().map(|p| p.classify(&answer)));
        for outcome in outcomes {
            if let Outcome::Retry { after: asked, .. } = outcome {
                assert!(
                    asked.is_none_or(|w| w <= MAX_WAIT),
                    "round {round}: {asked:?} for {answer:?}"
                );
                let attempts = (rng.below(200) as u32).max(1);
                let wait = retry_wait(asked, attempts, "msg_fuzz", super::outcome::READER_CAP);
                assert!(wait <= MAX_WAIT && wait >= Duration::from_secs(1));
                assert!(after(now, wait) <= now + chrono::Duration::hours(24));
            }
        }
    }
}
