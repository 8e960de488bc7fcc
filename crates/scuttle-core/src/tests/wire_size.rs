//! The size functions the news builder relies on equal the encoder's output, and every message
//! survives an encode/decode round trip.

use proptest::prelude::*;

use crate::codec::{from_cbor, to_cbor};
use crate::signing::Signature;
use crate::wire::message_len;
use crate::{Digest, Message, News, NodeId, Reset, Run, Update};

fn int() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..30, 0u64..70_000, any::<u64>()]
}

fn value() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.8, "[a-z\u{e9}]{0,300}")
}

fn run() -> impl Strategy<Value = Run<String, String>> {
    (
        "[a-z]{1,30}",
        prop::option::weighted(0.9, 0u64..1 << 40),
        prop::collection::vec(("[a-z0-9]{0,40}", 1u64..100_000, int(), value()), 0..30),
        prop::option::of(0u64..1 << 20),
    )
        .prop_map(|(source, prev, items, through)| {
            let source = NodeId::from(source);
            let mut version = prev.unwrap_or(0);
            let updates = items
                .into_iter()
                .map(|(key, delta, timestamp, value)| {
                    version += delta;
                    Update {
                        key,
                        value,
                        source_id: source.clone(),
                        version,
                        timestamp,
                        signature: None,
                    }
                })
                .collect();
            let through = through.map(|t| t + version);
            Run {
                source,
                prev,
                updates,
                through,
            }
        })
}

/// `news`, and half the time signed throughout: each signature's link is, by the choices,
/// the one a reader infers (the previous item's version) or any other.
fn news() -> impl Strategy<Value = News<String, String>> {
    (
        unsigned_news(),
        any::<bool>(),
        prop::collection::vec((any::<bool>(), int(), any::<u8>()), 200),
    )
        .prop_map(|(mut news, signed, choices)| {
            if signed {
                let mut choices = choices.into_iter().cycle();
                let mut sign = |u: &mut Update<String, String>, implied: u64| {
                    let (same, other, byte) = choices.next().unwrap_or_default();
                    let link = if same { implied } else { other };
                    u.signature = Some(Signature::new([byte; 64], link));
                };
                match &mut news {
                    News::Updates(runs) => {
                        for run in runs {
                            let mut last = run.prev.unwrap_or(0);
                            for u in &mut run.updates {
                                sign(u, last);
                                last = u.version;
                            }
                        }
                    }
                    News::Reset(reset) => reset.entries.iter_mut().for_each(|u| sign(u, 0)),
                }
            }
            news
        })
}

fn unsigned_news() -> impl Strategy<Value = News<String, String>> {
    let pairs = || prop::collection::vec(("[a-z]{0,12}".prop_map(NodeId::from), int()), 0..20);
    prop_oneof![
        4 => prop::collection::vec(run(), 0..6).prop_map(News::Updates),
        1 => (pairs(), pairs(), prop::collection::vec(run(), 0..3)).prop_map(|(w, f, runs)| {
            News::Reset(Reset {
                watermarks: w,
                floors: f,
                entries: runs.into_iter().flat_map(|r| r.updates).collect(),
            })
        }),
    ]
}

fn digest() -> impl Strategy<Value = Digest> {
    prop_oneof![
        any::<u64>().prop_map(Digest::Hash),
        prop::collection::vec(("[a-z]{0,12}".prop_map(NodeId::from), int()), 0..40)
            .prop_map(Digest::Full),
    ]
}

fn message() -> impl Strategy<Value = Message<String, String>> {
    prop_oneof![
        digest().prop_map(|digest| Message::Syn { digest }),
        (news(), digest()).prop_map(|(news, digest)| Message::SynAck { news, digest }),
        news().prop_map(|news| Message::Ack { news }),
    ]
}

proptest! {
    #[test]
    fn message_len_is_the_encoded_length(msg in message()) {
        let bytes = to_cbor(&msg).expect("strings always serialize");
        prop_assert_eq!(message_len(&msg), bytes.len());
        let back: Message<String, String> = from_cbor(&bytes).expect("own encoding decodes");
        prop_assert_eq!(back, msg);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = from_cbor::<String, String>(&bytes);
    }
}

#[test]
fn a_null_value_is_a_value_and_a_delete_is_not() {
    let source = NodeId::from("a");
    let msg: Message<String, serde_json::Value> = Message::Ack {
        news: News::Updates(vec![Run {
            source: source.clone(),
            prev: Some(0),
            updates: vec![
                Update {
                    key: "null".into(),
                    value: Some(serde_json::Value::Null),
                    source_id: source.clone(),
                    version: 1,
                    timestamp: 5,
                    signature: None,
                },
                Update {
                    key: "gone".into(),
                    value: None,
                    source_id: source,
                    version: 2,
                    timestamp: 4,
                    signature: None,
                },
            ],
            through: Some(9),
        }]),
    };
    let bytes = to_cbor(&msg).expect("encodes");
    assert_eq!(message_len(&msg), bytes.len());
    assert_eq!(
        from_cbor::<String, serde_json::Value>(&bytes).expect("decodes"),
        msg
    );
}

#[test]
fn a_run_costs_a_few_bytes_per_update_beyond_key_and_value() {
    // 100 updates of 4-byte keys and 16-byte values in one run, written within a second.
    let source = NodeId::from("node-1");
    let updates: Vec<_> = (1..=100u64)
        .map(|v| Update {
            key: format!("k{v:03}"),
            value: Some("x".repeat(16)),
            source_id: source.clone(),
            version: v,
            timestamp: 1_700_000_000_000 + v * 7,
            signature: None,
        })
        .collect();
    let payload: usize = updates.iter().map(|_| 4 + 16).sum();
    let msg: Message<String, String> = Message::Ack {
        news: News::Updates(vec![Run {
            source,
            prev: Some(0),
            updates,
            through: None,
        }]),
    };
    let len = message_len(&msg);
    // Per update: array head, two string heads, version delta, timestamp delta = 5 bytes.
    assert!(
        len <= payload + 100 * 5 + 30,
        "{len} bytes for {payload} payload bytes"
    );
}
