//! Choosing the news for a peer: its digest diffed against history, in sorter order, under
//! `mtu` and an exact byte budget, cut only at the end of a source's run.
//!
//! This is the one place that decides what fits a message; no transport truncates news.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use serde::Serialize;

use crate::error::SortError;
use crate::history::History;
use crate::message::Run;
use crate::sorter::{Candidate, Sorter};
use crate::types::{Entry, Millis, NodeId, UpdateRef, Version};
use crate::wire;

/// News chosen for one message.
pub(crate) struct Chosen<K, V> {
    pub runs: Vec<Run<K, V>>,
    /// Encoded bytes of the news list (`[0, run, ...]`).
    pub bytes: usize,
}

/// One run under construction.
struct Open<'a, K, V> {
    source: &'a NodeId,
    prev: Version,
    last: (Version, Option<Millis>),
    items: Vec<UpdateRef<'a, K, V>>,
    through: Option<Version>,
}

/// Fills a news list for a peer whose watermarks are `theirs`, under `mtu` updates and `budget`
/// encoded bytes (the news list's own head included).
pub(crate) fn choose<K, V, S>(
    history: &History<K, V>,
    state: &HashMap<K, Entry<V>>,
    sorter: &S,
    mine: &HashMap<NodeId, Version>,
    theirs: &HashMap<NodeId, Version>,
    mtu: usize,
    budget: usize,
) -> Result<Chosen<K, V>, SortError>
where
    K: Clone + Eq + Hash + Serialize,
    V: Clone + Serialize,
    S: Sorter<K, V> + ?Sized,
{
    let mut candidates: Vec<Candidate<'_, K, V>> = Vec::new();
    // Per source, its oldest outstanding updates in ascending order: the sorter only decides
    // how many slots a source gets and when, and slots are filled oldest first, so no version
    // is ever skipped whatever the sorter does.
    let mut ascending: HashMap<&NodeId, VecDeque<UpdateRef<'_, K, V>>> = HashMap::new();
    let mut outstanding_of: HashMap<&NodeId, usize> = HashMap::new();
    for source in history.sources() {
        let since = theirs.get(source).copied().unwrap_or(0);
        let outstanding = history.count_since(source.as_str(), since);
        if outstanding == 0 {
            continue;
        }
        // No source can fill more than `mtu` slots, so its first `mtu` updates suffice.
        let first: VecDeque<_> = history
            .news(state, source.as_str(), since)
            .take(mtu)
            .collect();
        candidates.extend(first.iter().map(|&update| Candidate {
            update,
            outstanding,
        }));
        ascending.insert(source, first);
        outstanding_of.insert(source, outstanding);
    }
    sorter.sort(&mut candidates)?;

    let mut bytes = wire::news_head_len(0);
    let mut runs: Vec<Open<'_, K, V>> = Vec::new();
    let mut run_of: HashMap<&NodeId, usize> = HashMap::new();
    let mut count = 0;
    for c in &candidates {
        if count == mtu {
            break;
        }
        let source = c.update.source_id;
        let Some(queue) = ascending.get_mut(source) else {
            continue;
        };
        let Some(&next) = queue.front() else {
            continue;
        };
        let (index, new_run) = match run_of.get(source) {
            Some(&i) => (i, false),
            None => (runs.len(), true),
        };
        let prev = theirs.get(source).copied().unwrap_or(0);
        let (last, items) = if new_run {
            ((prev, None), 0)
        } else {
            (runs[index].last, runs[index].items.len())
        };
        let (vd, ts) = wire::deltas(last, next.version, next.timestamp);
        let mut added = wire::item_len(
            wire::cbor_len(next.key),
            vd,
            ts,
            next.value.map(|v| wire::cbor_len(v)),
        );
        if new_run {
            added += wire::run_head_len(source, Some(prev), 1)
                + wire::news_head_len(runs.len() + 1)
                - wire::news_head_len(runs.len());
        } else {
            added += wire::run_head_len(source, Some(prev), items + 1)
                - wire::run_head_len(source, Some(prev), items);
        }
        if bytes + added > budget {
            // This source's run ends here: a later update of it would skip this one.
            ascending.remove(source);
            continue;
        }
        queue.pop_front();
        bytes += added;
        count += 1;
        if new_run {
            run_of.insert(source, index);
            runs.push(Open {
                source,
                prev,
                last,
                items: Vec::new(),
                through: None,
            });
        }
        let run = &mut runs[index];
        run.items.push(next);
        run.last = (next.version, Some(next.timestamp));
    }
    // A run holding all of its source's news says how far the sender's watermark goes, so a
    // compacted tail does not keep the peer's watermark behind for good.
    for run in &mut runs {
        let watermark = mine.get(run.source).copied().unwrap_or(0);
        let complete = outstanding_of.get(run.source) == Some(&run.items.len());
        let items = run.items.len();
        let added = wire::uint_len(watermark)
            + wire::run_head_len(run.source, Some(run.prev), items + 1)
            - wire::run_head_len(run.source, Some(run.prev), items);
        if complete && watermark > run.last.0 && bytes + added <= budget {
            run.through = Some(watermark);
            bytes += added;
        }
    }
    // Sources whose news here is all compacted away: an empty run carries only `through`.
    let mut empty: Vec<(&NodeId, Version)> = mine
        .iter()
        .filter(|(source, &watermark)| {
            let since = theirs.get(*source).copied().unwrap_or(0);
            watermark > since && !outstanding_of.contains_key(source)
        })
        .map(|(source, &watermark)| (source, watermark))
        .collect();
    empty.sort_unstable();
    for (source, watermark) in empty {
        let prev = theirs.get(source).copied().unwrap_or(0);
        let added = wire::run_head_len(source, Some(prev), 1)
            + wire::uint_len(watermark)
            + wire::news_head_len(runs.len() + 1)
            - wire::news_head_len(runs.len());
        if bytes + added > budget {
            continue;
        }
        bytes += added;
        runs.push(Open {
            source,
            prev,
            last: (prev, None),
            items: Vec::new(),
            through: Some(watermark),
        });
    }
    let runs = runs
        .into_iter()
        .map(|r| Run {
            source: r.source.clone(),
            prev: Some(r.prev),
            updates: r.items.iter().map(UpdateRef::to_owned).collect(),
            through: r.through,
        })
        .collect();
    Ok(Chosen { runs, bytes })
}
