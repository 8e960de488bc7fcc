//! The connected peers: connection counts, the requests in flight to each, the per-peer rate
//! limit (a token bucket) and the bans of peers that broke the protocol.
//!
//! Nothing here is a protocol rule: the core keeps no per-peer state, and this table only
//! knows what the swarm and the request-response layer report.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::request_response::OutboundRequestId;
use libp2p::PeerId;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::config::RateLimit;

/// Which message an outbound request carries, to read its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// A `Syn`: the response is the peer's `SynAck`.
    Syn,
    /// An `Ack`: the response is empty (request-response's completion).
    Ack,
}

/// A token bucket for one peer's inbound requests.
#[derive(Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub(crate) fn full(limit: RateLimit, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(limit.requests),
            last: now,
        }
    }

    /// Takes a token at `now`, if one is left.
    pub(crate) fn take(&mut self, limit: RateLimit, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        let cap = f64::from(limit.requests);
        let rate = cap / limit.per.as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(cap);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct Peer {
    connections: usize,
    /// False once a request failed with `UnsupportedProtocols`.
    speaks_scuttle: bool,
    bucket: Bucket,
    in_flight: HashMap<OutboundRequestId, Sent>,
}

/// The peer table and the bans.
#[derive(Debug)]
pub(crate) struct Peers {
    limit: RateLimit,
    peers: HashMap<PeerId, Peer>,
    banned: HashMap<PeerId, Instant>,
}

impl Peers {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Peers {
            limit,
            peers: HashMap::new(),
            banned: HashMap::new(),
        }
    }

    /// A connection to `peer` opened; true if it is the first one.
    pub(crate) fn connected(&mut self, peer: PeerId) -> bool {
        let limit = self.limit;
        let state = self.peers.entry(peer).or_insert_with(|| Peer {
            connections: 0,
            speaks_scuttle: true,
            bucket: Bucket::full(limit, Instant::now()),
            in_flight: HashMap::new(),
        });
        state.connections += 1;
        state.connections == 1
    }

    /// A connection to `peer` closed and `remaining` are left; true if it was the last one.
    pub(crate) fn disconnected(&mut self, peer: &PeerId, remaining: usize) -> bool {
        if remaining > 0 {
            if let Some(state) = self.peers.get_mut(peer) {
                state.connections = remaining;
            }
            return false;
        }
        self.peers.remove(peer).is_some()
    }

    /// Whether `peer` is connected.
    pub(crate) fn contains(&self, peer: &PeerId) -> bool {
        self.peers.contains_key(peer)
    }

    /// The connected peers that speak scuttle.
    pub(crate) fn gossiping(&self) -> impl Iterator<Item = &PeerId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.speaks_scuttle)
            .map(|(id, _)| id)
    }

    /// Up to `n` random peers that speak scuttle and have no exchange in flight.
    pub(crate) fn pick(&self, n: usize, rng: &mut impl Rng) -> Vec<PeerId> {
        let mut candidates: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.speaks_scuttle && p.in_flight.is_empty())
            .map(|(id, _)| *id)
            .collect();
        // Sorted first, so the choice depends only on the rng.
        candidates.sort_unstable();
        candidates.choose_multiple(rng, n).copied().collect()
    }

    /// Takes one inbound request from `peer` out of its budget; false when over the limit or
    /// not connected.
    pub(crate) fn admit(&mut self, peer: &PeerId) -> bool {
        let limit = self.limit;
        self.peers
            .get_mut(peer)
            .is_some_and(|p| p.bucket.take(limit, Instant::now()))
    }

    /// Records an outbound request.
    pub(crate) fn sent(&mut self, peer: &PeerId, id: OutboundRequestId, what: Sent) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.in_flight.insert(id, what);
        }
    }

    /// Forgets an outbound request that was answered or failed; returns what it carried.
    pub(crate) fn finished(&mut self, peer: &PeerId, id: OutboundRequestId) -> Option<Sent> {
        self.peers.get_mut(peer)?.in_flight.remove(&id)
    }

    /// The peer does not speak scuttle: leave it out of rounds.
    pub(crate) fn unsupported(&mut self, peer: &PeerId) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.speaks_scuttle = false;
        }
    }

    /// Refuses `peer` for `duration` from now (nothing when `duration` is zero).
    pub(crate) fn ban(&mut self, peer: PeerId, duration: Duration) {
        if !duration.is_zero() {
            self.banned.insert(peer, Instant::now() + duration);
        }
    }

    /// Whether `peer` is refused now.
    pub(crate) fn is_banned(&self, peer: &PeerId) -> bool {
        self.banned
            .get(peer)
            .is_some_and(|until| *until > Instant::now())
    }

    /// Forgets expired bans.
    pub(crate) fn prune_bans(&mut self) {
        let now = Instant::now();
        self.banned.retain(|_, until| *until > now);
    }

    /// The requests in flight to `peer`.
    #[cfg(test)]
    pub(crate) fn in_flight(&self, peer: &PeerId) -> Vec<(OutboundRequestId, Sent)> {
        self.peers
            .get(peer)
            .map(|p| p.in_flight.iter().map(|(id, s)| (*id, *s)).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn peer() -> PeerId {
        libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id()
    }

    #[test]
    fn bucket_allows_a_burst_refuses_then_refills() {
        let limit = RateLimit {
            requests: 3,
            per: Duration::from_secs(3),
        };
        let start = Instant::now();
        let mut bucket = Bucket::full(limit, start);
        assert!((0..3).all(|_| bucket.take(limit, start)));
        assert!(!bucket.take(limit, start));
        // One token per second comes back (time is an argument: no sleeping).
        let later = start + Duration::from_secs(1);
        assert!(bucket.take(limit, later));
        assert!(!bucket.take(limit, later));
        // Never more than the burst.
        let much_later = start + Duration::from_secs(3600);
        assert_eq!(
            (0..10).filter(|_| bucket.take(limit, much_later)).count(),
            3
        );
    }

    #[test]
    fn table_counts_connections_and_requests() {
        let mut peers = Peers::new(RateLimit::default());
        let (a, b) = (peer(), peer());
        assert!(peers.connected(a));
        assert!(!peers.connected(a));
        assert!(peers.connected(b));
        assert!(!peers.disconnected(&a, 1));
        assert!(peers.contains(&a));
        assert_eq!(peers.gossiping().count(), 2);

        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(peers.pick(5, &mut rng).len(), 2);
        assert_eq!(peers.pick(1, &mut rng).len(), 1);

        // A peer with an exchange in flight is not picked again.
        let id = request_id();
        peers.sent(&a, id, Sent::Syn);
        assert_eq!(peers.pick(5, &mut rng), vec![b]);
        assert_eq!(peers.finished(&a, id), Some(Sent::Syn));
        assert_eq!(peers.finished(&a, id), None);

        peers.unsupported(&b);
        assert_eq!(peers.gossiping().collect::<Vec<_>>(), vec![&a]);
        assert_eq!(peers.pick(5, &mut rng), vec![a]);

        assert!(peers.disconnected(&a, 0));
        assert!(!peers.contains(&a));
        assert!(!peers.admit(&a), "no budget for a peer that is gone");
        assert!(peers.admit(&b));
    }

    #[test]
    fn bans_expire_and_zero_bans_nothing() {
        let mut peers = Peers::new(RateLimit::default());
        let (a, b) = (peer(), peer());
        peers.ban(a, Duration::from_secs(3600));
        peers.ban(b, Duration::ZERO);
        assert!(peers.is_banned(&a));
        assert!(!peers.is_banned(&b));
        let past = Instant::now().checked_sub(Duration::from_secs(1));
        peers.banned.insert(b, past.unwrap_or_else(Instant::now));
        assert!(!peers.is_banned(&b));
        peers.prune_bans();
        assert!(!peers.banned.contains_key(&b), "expired bans are forgotten");
        assert!(peers.is_banned(&a));
    }

    /// An outbound request id, as request-response hands them out.
    fn request_id() -> OutboundRequestId {
        let mut rr: libp2p::request_response::Behaviour<crate::Codec> =
            libp2p::request_response::Behaviour::with_codec(
                crate::Codec::new(1024),
                [(
                    crate::PROTOCOL_NAME,
                    libp2p::request_response::ProtocolSupport::Full,
                )],
                Default::default(),
            );
        rr.send_request(&peer(), crate::Frame::Empty)
    }
}
