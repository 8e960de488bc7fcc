//! Both sides on a tiny cluster: they converge and send at least the payload lower bound.
//! No timing thresholds.

use scuttle_bench::{run_chitchat, run_scuttle, Case, ProtocolVersion, Side};

#[test]
fn scuttle_converges_above_the_lower_bound() {
    let case = Case::new(3, 5);
    let row = run_scuttle(&case);
    assert_eq!(row.side, Side::Scuttle);
    assert!(row.converged, "{row:?}");
    assert!(row.rounds > 0, "{row:?}");
    assert!(row.payload_lower_bound > 0);
    assert_eq!(row.payload_lower_bound, case.payload_lower_bound());
    assert!(row.bytes >= row.payload_lower_bound, "{row:?}");
    assert!(row.ratio() >= 1.0, "{row:?}");
    assert!(
        row.idle_bytes_per_node_round.is_some_and(|b| b > 0.0),
        "{row:?}"
    );
}

#[test]
fn chitchat_converges_above_the_lower_bound() {
    for protocol in [ProtocolVersion::V1, ProtocolVersion::V0] {
        let case = Case::new(3, 5);
        let row = run_chitchat(&case, protocol).expect("chitchat runs");
        assert_eq!(row.side, Side::Chitchat(protocol));
        assert!(row.converged, "{row:?}");
        assert!(row.rounds > 0, "{row:?}");
        assert!(row.messages > 0, "{row:?}");
        assert_eq!(row.payload_lower_bound, case.payload_lower_bound());
        assert!(row.bytes >= row.payload_lower_bound, "{row:?}");
        assert!(
            row.idle_bytes_per_node_round.is_some_and(|b| b > 0.0),
            "{row:?}"
        );
    }
}

#[test]
fn both_sides_agree_on_the_workload() {
    let case = Case::new(3, 5);
    let s = run_scuttle(&case);
    let c = run_chitchat(&case, ProtocolVersion::V1).expect("chitchat runs");
    assert_eq!((s.nodes, s.keys), (c.nodes, c.keys));
    assert_eq!(s.payload_lower_bound, c.payload_lower_bound);
    // 3 · 2 · 5 · (len("n0-k0") + 16)
    assert_eq!(s.payload_lower_bound, 3 * 2 * 5 * (5 + 16));
}

#[test]
fn chitchat_refuses_a_single_node() {
    assert!(run_chitchat(&Case::new(1, 5), ProtocolVersion::V1).is_err());
}

#[test]
fn a_round_limit_is_reported_as_not_converged() {
    let case = Case {
        max_rounds: 0,
        ..Case::new(3, 5)
    };
    let s = run_scuttle(&case);
    assert!(!s.converged && s.rounds == 0, "{s:?}");
    // chitchat needs gossip intervals to see its peers as live: with no interval at all it
    // never writes its keys.
    assert!(run_chitchat(&case, ProtocolVersion::V1).is_err());
}
