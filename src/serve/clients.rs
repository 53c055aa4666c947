//! How many connections each client holds, so that one client cannot take every slot.
//!
//! The server serves at most `MAX_CONNECTIONS` at once. Without a cap per client, one
//! address opening thousands of idle connections (each held for the header timeout) kept
//! every slot busy and other readers waited in the backlog: with 2,000 such connections, 5 of
//! 6 probes failed. A client is an IPv4 address or an IPv6 /64 (what one household or host is
//! given, so rotating through its addresses gains nothing). Behind a trusted proxy every
//! connection comes from the proxy, which limits its own clients; no cap applies there.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// Connections one client may hold at once.
pub const MAX_PER_CLIENT: usize = 64;

/// Open connections by client.
#[derive(Default)]
pub struct Clients {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its client's count, given back when dropped.
pub struct Held {
    clients: Arc<Clients>,
    client: IpAddr,
}

impl Clients {
    /// A place for one more connection from `peer`, or `None` when it already holds
    /// `MAX_PER_CLIENT`.
    pub fn hold(self: &Arc<Self>, peer: IpAddr) -> Option<Held> {
        let client = client_of(peer);
        let mut open = crate::sync::lock(&self.open);
        let count = open.entry(client).or_insert(0);
        if *count >= MAX_PER_CLIENT {
            return None;
        }
        *count += 1;
        Some(Held {
            clients: self.clone(),
            client,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = crate::sync::lock(&self.clients.open);
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// The client an address belongs to: itself for IPv4 (and IPv4-mapped IPv6), its /64 for
/// IPv6.
fn client_of(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_its_share_and_gets_it_back() {
        let clients = Arc::new(Clients::default());
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<Held> = (0..MAX_PER_CLIENT)
            .map(|_| clients.hold(one).unwrap())
            .collect();
        assert!(clients.hold(one).is_none());
        assert!(clients.hold("192.0.2.2".parse().unwrap()).is_some());
        // The same IPv6 /64 is one client; another /64 is another.
        let v6 = Arc::new(Clients::default());
        let _all: Vec<Held> = (0..MAX_PER_CLIENT)
            .map(|i| {
                v6.hold(format!("2001:db8:0:1::{i:x}").parse().unwrap())
                    .unwrap()
            })
            .collect();
        assert!(v6.hold("2001:db8:0:1::ffff".parse().unwrap()).is_none());
        assert!(v6.hold("2001:db8:0:2::1".parse().unwrap()).is_some());
        drop(held);
        assert!(
            clients.hold(one).is_some(),
            "given back when the connections end"
        );
        assert!(
            clients.open.lock().unwrap().len() <= 1,
            "no count kept for nobody"
        );
    }
}
