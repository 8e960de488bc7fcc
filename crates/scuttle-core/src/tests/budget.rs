//! News fills a message under `mtu` and `max_message_bytes`, never skipping a version.

use std::collections::HashMap;

use proptest::prelude::*;

use super::{exchange, node, NOW};
use crate::wire::message_len;
use crate::{Config, Digest, Message, News, NodeId, ScuttleDepth, Version};

#[derive(Debug, Clone)]
struct Case {
    budget: usize,
    mtu: usize,
    depth: bool,
    /// Per source: writes as (key, value length).
    writes: Vec<Vec<(u8, usize)>>,
    /// Per source: where the peer's watermark sits, as a fraction of the source's writes.
    behind: Vec<Option<u8>>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        120usize..3_000,
        1usize..40,
        any::<bool>(),
        prop::collection::vec(prop::collection::vec((0u8..12, 0usize..120), 1..25), 1..5),
        prop::collection::vec(prop::option::of(0u8..=100), 5),
    )
        .prop_map(|(budget, mtu, depth, writes, behind)| Case {
            budget,
            mtu,
            depth,
            writes,
            behind,
        })
}

/// Gives `hub` every write of the case's sources, through exchanges each source starts (no
/// message above the budget).
fn feed<S: crate::Sorter<String, String>>(
    hub: &mut crate::Gossip<String, String, crate::LastWriterWins, S>,
    case: &Case,
    config: &Config,
) -> Result<(), TestCaseError> {
    let mut now = 1_000;
    for (s, writes) in case.writes.iter().enumerate() {
        let mut source = node(&format!("source-{s}"), config.clone());
        for (key, len) in writes {
            now += 3;
            // Writes too large for the budget are refused; that is tested elsewhere.
            let _ = source.set(now, format!("k{key}"), "v".repeat(*len));
        }
        let id = source.id().clone();
        for _ in 0..500 {
            let syn = source.start_exchange();
            let syn_ack = hub
                .handle_message(NOW, syn)
                .expect("valid")
                .expect("answered");
            prop_assert!(message_len(&syn_ack) <= case.budget);
            if let Some(ack) = source.handle_message(NOW, syn_ack).expect("valid") {
                prop_assert!(message_len(&ack) <= case.budget);
                hub.handle_message(NOW, ack).expect("valid");
            }
            if hub.watermark(id.as_str()) == source.watermark(id.as_str()) {
                break;
            }
        }
        prop_assert_eq!(hub.watermark(id.as_str()), source.watermark(id.as_str()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn news_respects_both_limits_and_never_skips(case in case()) {
        let config = Config::default()
            .with_max_message_bytes(case.budget)
            .with_mtu(case.mtu)
            .with_max_history(5);
        let mut hub = node("hub", config.clone());
        feed(&mut hub, &case, &config)?;
        // A peer with some of each source.
        let mut theirs: HashMap<NodeId, Version> = HashMap::new();
        let mut digest = Vec::new();
        for (s, behind) in case.behind.iter().enumerate().take(case.writes.len()) {
            let source = NodeId::from(format!("source-{s}"));
            if let Some(pct) = behind {
                let held = hub.watermark(source.as_str()) * u64::from(*pct) / 100;
                theirs.insert(source.clone(), held);
                digest.push((source, held));
            }
        }
        let reply = hub
            .handle_message(NOW, Message::Syn { digest: Digest::Full(digest) })
            .expect("a syn is valid")
            .expect("a syn is answered");
        prop_assert!(message_len(&reply) <= case.budget, "{} > {}", message_len(&reply), case.budget);
        let Some(News::Updates(runs)) = reply.news() else {
            return Err(TestCaseError::fail("no reset without tombstones"));
        };
        let sent: usize = runs.iter().map(|r| r.updates.len()).sum();
        prop_assert!(sent <= case.mtu);
        for run in runs {
            let since = theirs.get(&run.source).copied().unwrap_or(0);
            prop_assert_eq!(run.prev, Some(since));
            let expected: Vec<Version> = hub
                .news(run.source.as_str(), since)
                .take(run.updates.len())
                .map(|u| u.version)
                .collect();
            let got: Vec<Version> = run.updates.iter().map(|u| u.version).collect();
            prop_assert_eq!(got, expected, "a run is the oldest news of its source, none skipped");
        }
        // Anything left out would not have fit: the message is full or every source is done.
        let outstanding: usize = (0..case.writes.len())
            .map(|s| {
                let source = format!("source-{s}");
                let since = theirs.get(source.as_str()).copied().unwrap_or(0);
                hub.news(&source, since).count()
            })
            .sum();
        if sent < outstanding && sent < case.mtu {
            prop_assert!(!runs.is_empty() || outstanding > 0);
        }
    }
}

#[test]
fn peers_with_different_mtu_interoperate() {
    let mut small = node("small", Config::default().with_mtu(1));
    let mut large = node("large", Config::default().with_mtu(50));
    for i in 0..20 {
        small.set(i, format!("s{i}"), "v".into()).unwrap();
        large.set(i, format!("l{i}"), "v".into()).unwrap();
    }
    let mut rounds = 0;
    while small.len() < 40 || large.len() < 40 {
        exchange(&mut small, &mut large);
        rounds += 1;
        assert!(rounds <= 20, "no progress");
    }
    // small sends one update per message, large up to 50: large caught up in the same rounds.
    assert_eq!(rounds, 20);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// The lazy paths for the built-in sorters choose exactly what sorting every candidate
    /// would.
    #[test]
    fn built_in_sorters_match_the_full_sort(case in case()) {
        use crate::sorter::{Candidate, Sorter};
        use crate::{Gossip, LastWriterWins, ScuttleBreadth};
        type Dyn = crate::DynSorter<String, String>;
        let config = Config::default()
            .with_max_message_bytes(case.budget)
            .with_mtu(case.mtu)
            .with_max_history(5);
        let built_in: Dyn = if case.depth { Box::new(ScuttleDepth) } else { Box::new(ScuttleBreadth) };
        let depth = case.depth;
        let generic: Dyn = Box::new(move |c: &mut [Candidate<'_, String, String>]| {
            if depth {
                ScuttleDepth.sort(c).expect("infallible");
            } else {
                ScuttleBreadth.sort(c).expect("infallible");
            }
        });
        let mut replies = Vec::new();
        for sorter in [built_in, generic] {
            let mut hub = Gossip::new("hub", config.clone(), LastWriterWins, sorter).expect("valid");
            feed(&mut hub, &case, &config)?;
            let digest: Vec<(NodeId, Version)> = case
                .behind
                .iter()
                .enumerate()
                .take(case.writes.len())
                .filter_map(|(s, pct)| {
                    let source = NodeId::from(format!("source-{s}"));
                    pct.map(|p| {
                        let held = hub.watermark(source.as_str()) * u64::from(p) / 100;
                        (source, held)
                    })
                })
                .collect();
            replies.push(hub.handle_message(NOW, Message::Syn { digest: Digest::Full(digest) }));
        }
        let generic = replies.pop().expect("two replies").expect("valid");
        let built_in = replies.pop().expect("two replies").expect("valid");
        prop_assert_eq!(built_in, generic);
    }
}
