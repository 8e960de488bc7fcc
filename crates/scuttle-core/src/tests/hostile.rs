//! Bounds a peer cannot push a node past (more in scuttle-sim's `tests/byzantine.rs`).

use super::{node, NOW};
use crate::{Config, Event, Message, News, NodeId, Reset, Run, Update};

fn run(source: &str, version: u64) -> Run<String, String> {
    Run {
        source: NodeId::from(source),
        prev: Some(0),
        updates: vec![Update {
            key: format!("{source}-key"),
            value: Some("x".into()),
            source_id: NodeId::from(source),
            version,
            timestamp: 0,
            signature: None,
        }],
        through: None,
    }
}

#[test]
fn a_node_learns_no_more_than_max_sources() {
    let mut a = node("a", Config::default().with_max_sources(6));
    a.set(NOW, "mine".into(), "v".into()).unwrap();
    let flood: Vec<_> = (0..20).map(|i| run(&format!("fake{i:02}"), 1)).collect();
    a.handle_message(
        NOW,
        Message::Ack {
            news: News::Updates(flood),
        },
    )
    .unwrap();
    // "a" itself plus five.
    assert_eq!(a.watermarks().count(), 6);
    assert_eq!(a.len(), 6);
    assert_eq!(a.stats().sources_refused, 15);
    let mut limit = false;
    while let Some(e) = a.poll_event() {
        limit |= matches!(e, Event::SourceLimit { refused: 15 });
    }
    assert!(limit);
    // Known sources still move.
    a.handle_message(
        NOW,
        Message::Ack {
            news: News::Updates(vec![Run {
                prev: Some(1),
                ..run("fake00", 2)
            }]),
        },
    )
    .unwrap();
    assert_eq!(a.watermark("fake00"), 2);
    // A reset naming too many new sources is left out whole.
    let reset = Reset {
        watermarks: (0..20)
            .map(|i| (NodeId::from(format!("r{i}")), 1))
            .collect(),
        floors: Vec::new(),
        entries: Vec::new(),
    };
    let before: Vec<_> = a.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    a.handle_message(
        NOW,
        Message::Ack {
            news: News::Reset(reset),
        },
    )
    .unwrap();
    let after: Vec<_> = a.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(before, after);
    assert_eq!(a.watermarks().count(), 6);
}

#[test]
fn a_flood_cannot_keep_members_out() {
    let mut a = node("a", Config::default().with_max_sources(6));
    a.set_members(["member"]);
    let flood: Vec<_> = (0..20).map(|i| run(&format!("fake{i:02}"), 1)).collect();
    a.handle_message(
        NOW,
        Message::Ack {
            news: News::Updates(flood),
        },
    )
    .unwrap();
    assert_eq!(a.watermarks().count(), 6, "the table is full");
    // A member the table has never seen still gets in.
    a.handle_message(
        NOW,
        Message::Ack {
            news: News::Updates(vec![run("member", 1)]),
        },
    )
    .unwrap();
    assert_eq!(a.watermark("member"), 1);
    assert_eq!(a.value("member-key").map(String::as_str), Some("x"));
    // Another stranger still does not.
    a.handle_message(
        NOW,
        Message::Ack {
            news: News::Updates(vec![run("stranger", 1)]),
        },
    )
    .unwrap();
    assert_eq!(a.watermark("stranger"), 0);
}
