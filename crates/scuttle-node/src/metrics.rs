//! Prometheus metrics of a node (`GET /metrics`), on the `prometheus-client` crate (the
//! official Rust client, also used by libp2p's own bandwidth metrics, which land in the same
//! registry).

use std::sync::Mutex;

use prometheus_client::encoding::{text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use scuttle_core::Stats;

use crate::view::{Liveness, MemberCounts};

/// A `state` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// `alive`, `suspect` or `down`.
    pub state: String,
}

/// The node's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    last: Mutex<Stats>,
    /// Remote updates applied (`scuttle_updates_applied_total`).
    pub updates_applied: Counter,
    /// Updates sent to peers as news.
    pub updates_sent: Counter,
    /// Exchanges answered for peers.
    pub exchanges_answered: Counter,
    /// Exchanges that failed (timeouts, closed connections, refusals; never a ban).
    pub exchanges_failed: Counter,
    /// Peers disconnected and refused for breaking the protocol.
    pub bans: Counter,
    /// Connections refused because the peer belongs to another cluster.
    pub foreign_refused: Counter,
    /// Members by liveness.
    pub members: Family<StateLabel, Gauge>,
    /// Members that entered a state.
    pub member_transitions: Family<StateLabel, Counter>,
    /// Times this node learnt that the cluster had declared it down (a false positive, seen
    /// from the victim) and rejoined under a renewed identity.
    pub rejoins: Counter,
    /// Updates refused as equivocation (`scuttle_equivocations_total`).
    pub equivocations: Counter,
    /// Tombstones collected (`scuttle_tombstones_collected_total`).
    pub tombstones_collected: Counter,
    /// Entries forgotten after a rejoin: deleted while this node was away
    /// (`scuttle_stale_forgotten_total`).
    pub stale_forgotten: Counter,
    /// Connections refused at the connection limit (`scuttle_connections_refused_total`).
    pub connections_refused: Counter,
    /// Connected peers.
    pub peers: Gauge,
    /// Live keys.
    pub keys: Gauge,
    /// The core's clock.
    pub version: Gauge,
    /// Seconds from a remote write to its arrival here (writer's clock vs this node's).
    pub replication_lag: Histogram,
}

impl Metrics {
    /// Metrics registered in a fresh registry.
    pub fn new() -> Self {
        Self::with_registry(Registry::default())
    }

    /// Metrics added to `registry` (which may hold libp2p's already).
    pub fn with_registry(mut registry: Registry) -> Self {
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            last: Mutex::new(Stats::default()),
            updates_applied: Counter::default(),
            updates_sent: Counter::default(),
            exchanges_answered: Counter::default(),
            exchanges_failed: Counter::default(),
            bans: Counter::default(),
            foreign_refused: Counter::default(),
            members: Family::default(),
            member_transitions: Family::default(),
            rejoins: Counter::default(),
            equivocations: Counter::default(),
            tombstones_collected: Counter::default(),
            stale_forgotten: Counter::default(),
            connections_refused: Counter::default(),
            peers: Gauge::default(),
            keys: Gauge::default(),
            version: Gauge::default(),
            replication_lag: Histogram::new([
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
        };
        let r = registry.sub_registry_with_prefix("scuttle");
        let counters = [
            (
                "updates_applied",
                "Remote updates applied to the state",
                &m.updates_applied,
            ),
            (
                "updates_sent",
                "Updates sent to peers as news",
                &m.updates_sent,
            ),
            (
                "exchanges_answered",
                "Exchanges answered for peers",
                &m.exchanges_answered,
            ),
            (
                "exchanges_failed",
                "Exchanges that failed (timeouts, closed connections, refusals)",
                &m.exchanges_failed,
            ),
            ("bans", "Peers banned for breaking the protocol", &m.bans),
            (
                "foreign_refused",
                "Connections refused: the peer belongs to another cluster",
                &m.foreign_refused,
            ),
            (
                "rejoins",
                "Times this node was declared down while alive and rejoined",
                &m.rejoins,
            ),
            (
                "equivocations",
                "Updates refused because their source signed another under the same version",
                &m.equivocations,
            ),
            (
                "tombstones_collected",
                "Tombstones collected once every member held them",
                &m.tombstones_collected,
            ),
            (
                "stale_forgotten",
                "Entries forgotten after a rejoin: their delete was collected while this node was away",
                &m.stale_forgotten,
            ),
            (
                "connections_refused",
                "Connections refused at the connection limit (max_connections)",
                &m.connections_refused,
            ),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        let gauges = [
            ("peers_connected", "Connected peers", &m.peers),
            ("keys", "Live keys", &m.keys),
            (
                "version",
                "The core's clock (highest version seen)",
                &m.version,
            ),
        ];
        for (name, help, gauge) in gauges {
            r.register(name, help, gauge.clone());
        }
        r.register("members", "Cluster members by liveness", m.members.clone());
        r.register(
            "member_transitions",
            "Members that entered a liveness state",
            m.member_transitions.clone(),
        );
        r.register(
            "replication_lag_seconds",
            "Time from a remote write to its arrival here",
            m.replication_lag.clone(),
        );
        *m.registry.lock().unwrap_or_else(|e| e.into_inner()) = registry;
        m
    }

    /// Adds what the core's counters grew by since the last call.
    pub fn observe_core(&self, stats: Stats, keys: usize, version: u64) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        self.updates_applied
            .inc_by(stats.updates_applied.saturating_sub(last.updates_applied));
        self.updates_sent
            .inc_by(stats.updates_sent.saturating_sub(last.updates_sent));
        self.exchanges_answered
            .inc_by(stats.digests_answered.saturating_sub(last.digests_answered));
        self.equivocations
            .inc_by(stats.equivocations.saturating_sub(last.equivocations));
        self.tombstones_collected.inc_by(
            stats
                .tombstones_collected
                .saturating_sub(last.tombstones_collected),
        );
        self.stale_forgotten
            .inc_by(stats.stale_forgotten.saturating_sub(last.stale_forgotten));
        *last = stats;
        self.keys.set(i64::try_from(keys).unwrap_or(i64::MAX));
        self.version.set(i64::try_from(version).unwrap_or(i64::MAX));
    }

    /// Sets the members-by-state gauges.
    pub fn observe_members(&self, counts: MemberCounts, peers: usize) {
        for (state, n) in [
            (Liveness::Alive, counts.alive),
            (Liveness::Suspect, counts.suspect),
            (Liveness::Down, counts.down),
        ] {
            self.members
                .get_or_create(&StateLabel {
                    state: state.as_str().into(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.peers.set(i64::try_from(peers).unwrap_or(i64::MAX));
    }

    /// Counts a member entering `state`.
    pub fn transition(&self, state: Liveness) {
        self.member_transitions
            .get_or_create(&StateLabel {
                state: state.as_str().into(),
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing to a String cannot fail.
        let _ = text::encode(&mut out, &registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_the_core_and_render_as_prometheus_text() {
        let m = Metrics::new();
        let stats = Stats {
            updates_applied: 5,
            updates_sent: 7,
            ..Stats::default()
        };
        m.observe_core(stats, 3, 9);
        m.observe_core(
            Stats {
                updates_applied: 6,
                ..stats
            },
            3,
            9,
        );
        m.observe_members(
            MemberCounts {
                alive: 2,
                suspect: 1,
                down: 0,
            },
            2,
        );
        m.transition(Liveness::Suspect);
        m.replication_lag.observe(0.2);
        let text = m.render();
        for line in [
            "scuttle_updates_applied_total 6",
            "scuttle_updates_sent_total 7",
            "scuttle_keys 3",
            "scuttle_members{state=\"alive\"} 2",
            "scuttle_member_transitions_total{state=\"suspect\"} 1",
            "scuttle_replication_lag_seconds_count 1",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
