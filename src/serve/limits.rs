//! How often one client may sign up, and how often one address is sent a confirmation:
//! counted in memory, bounded in size.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One confirmation email per address per this long; more requests are answered the same
/// but send nothing.
const RESEND_AFTER: Duration = Duration::from_secs(600);

/// Clients remembered before spent entries are dropped.
const REMEMBERED: usize = 10_000;

/// Sign-up limits: per client address, and per email address.
pub struct Limits {
    per_hour: u32,
    clients: Mutex<HashMap<IpAddr, crate::notify::ratelimit::Bucket>>,
    recent: Mutex<HashMap<(String, String), Instant>>,
}

impl Limits {
    pub fn new(per_hour: u32) -> Limits {
        Limits {
            per_hour,
            clients: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one of the client's sign-ups, or says how long until it has one. IPv6 clients
    /// are counted by their /64, which one host usually holds whole.
    pub(super) fn admit(&self, client: IpAddr) -> Result<(), Duration> {
        let client = match client {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
            v4 => v4,
        };
        let now = Instant::now();
        let mut clients = crate::sync::lock(&self.clients);
        prune(&mut clients, REMEMBERED, |bucket| !bucket.is_full(now));
        let per_hour = f64::from(self.per_hour);
        clients
            .entry(client)
            .or_insert_with(|| {
                crate::notify::ratelimit::Bucket::new(per_hour, per_hour / 3600.0, now)
            })
            .try_take(now)
    }

    /// Whether a confirmation may go to this address now (and notes that one does).
    pub(super) fn first_in_a_while(&self, notifier: &str, address: &str) -> bool {
        let now = Instant::now();
        let mut recent = crate::sync::lock(&self.recent);
        prune(&mut recent, REMEMBERED, |at| {
            now.duration_since(*at) < RESEND_AFTER
        });
        let key = (notifier.to_owned(), address.to_lowercase());
        match recent.get(&key) {
            Some(at) if now.duration_since(*at) < RESEND_AFTER => false,
            _ => {
                recent.insert(key, now);
                true
            }
        }
    }
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
