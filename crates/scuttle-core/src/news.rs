//! Choosing the news for a peer: its digest diffed against history, in sorter order, under
//! `mtu` and an exact byte budget, cut only at the end of a source's run.
//!
//! This is the one place that decides what fits a message; no transport truncates news.
//!
//! The sorter only decides which source gets the next slot; a slot is always filled with that
//! source's oldest outstanding update, so no version is ever skipped whatever the sorter does.
//! The built-in sorters are followed lazily (a merge by version for breadth, sources by depth
//! for depth), so an exchange touches only the updates it sends; a user sorter sees every
//! candidate (at most `mtu` per source).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::iter::Peekable;

use serde::Serialize;

use crate::error::SortError;
use crate::history::History;
use crate::message::Run;
use crate::policy::SorterKind;
use crate::sorter::{Candidate, Sorter};
use crate::sources::SourceMap;
use crate::state::State;
use crate::types::{Millis, NodeId, UpdateRef, Version};
use crate::wire;

/// News chosen for one message.
pub(crate) struct Chosen<K, V> {
    pub runs: Vec<Run<K, V>>,
    /// Encoded bytes of the news list (`[0, run, ...]`).
    pub bytes: usize,
}

/// The smallest possible encoded item (array head, key, version delta, timestamp): once less
/// than this is left, nothing more can fit.
const MIN_ITEM: usize = 4;

/// One source's outstanding news for the peer, and the run being built from it.
struct Source<'a, K, V, I: Iterator<Item = UpdateRef<'a, K, V>>> {
    id: &'a NodeId,
    prev: Version,
    news: Peekable<I>,
    /// Closed once an update did not fit: a later one would skip it.
    closed: bool,
    last: (Version, Option<Millis>),
    items: Vec<UpdateRef<'a, K, V>>,
    /// Position of this source's run in the message, once it has one.
    run: Option<usize>,
    /// Its tier: lower goes first (see [`choose`]).
    rank: u8,
}

/// Fills a news list for a peer whose watermarks are `theirs`, under `mtu` updates and `budget`
/// encoded bytes (the news list's own head included). `mine` are this node's watermarks.
///
/// With `tiers` (a node that knows its members), this node's own news (`me`) goes first — it
/// alone can vouch for gaps in it, so a peer catching up takes it whatever else it refuses;
/// then sources the peer's digest names and sources `vouched` says are members; then
/// sources whose next signed update links past what the peer holds (a peer that follows
/// links would wait for what lies between, which this node no longer holds); other sources
/// (new to the peer: a new node, or a flood of made-up sources the peer refused) only get
/// what room is left, so a flood cannot crowd out the cluster's own news. Without, every
/// source competes alike.
#[allow(clippy::too_many_arguments)]
pub(crate) fn choose<K, V, S>(
    history: &History<K, V>,
    state: &State<K, V>,
    sorter: &S,
    mine: &SourceMap<Version>,
    theirs: &HashMap<NodeId, Version>,
    me: &NodeId,
    tiers: bool,
    vouched: impl Fn(&NodeId) -> bool,
    mtu: usize,
    budget: usize,
) -> Result<Chosen<K, V>, SortError>
where
    K: Clone + Eq + Hash + Serialize,
    V: Clone + Serialize,
    S: Sorter<K, V> + ?Sized,
{
    let since = |source: &NodeId| theirs.get(source).copied().unwrap_or(0);
    let mut sources: Vec<Source<'_, K, V, _>> = Vec::new();
    for id in history.sources() {
        let prev = since(id);
        let mut news = history.news(state, id.as_str(), prev).peekable();
        let Some(next) = news.peek() else {
            continue;
        };
        let gapped = next.signature.is_some_and(|s| s.link() > prev);
        let rank = match () {
            _ if !tiers => 0,
            _ if id == me => 0,
            _ if gapped => 2,
            _ if theirs.contains_key(id) || vouched(id) => 1,
            _ => 3,
        };
        sources.push(Source {
            id,
            prev,
            news,
            closed: false,
            last: (prev, None),
            items: Vec::new(),
            run: None,
            rank,
        });
    }
    // Stable order whatever the hash map's: ties in every order below fall back to it.
    // Tiers in rank order (see above).
    sources.sort_unstable_by(|a, b| (a.rank, a.id).cmp(&(b.rank, b.id)));

    let mut fill = Fill {
        bytes: wire::news_head_len(0),
        budget,
        runs: 0,
        count: 0,
        mtu,
    };
    for tier in sources.chunk_by_mut(|a, b| a.rank == b.rank) {
        if fill.full() {
            break;
        }
        match sorter.kind() {
            Some(SorterKind::Breadth) => {
                // A merge of the sources by (version, source id): the sorted candidates, lazily.
                let mut heads: BinaryHeap<Reverse<(Version, usize)>> = tier
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(i, s)| s.news.peek().map(|u| Reverse((u.version, i))))
                    .collect();
                while let Some(Reverse((_, i))) = heads.pop() {
                    if fill.full() {
                        break;
                    }
                    let source = &mut tier[i];
                    if fill.take(source) {
                        if let Some(u) = source.news.peek() {
                            heads.push(Reverse((u.version, i)));
                        }
                    }
                }
            }
            Some(SorterKind::Depth) => {
                // Deepest source first, each source's news in order until it is cut.
                let mut depth: Vec<(Reverse<usize>, usize)> = tier
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (Reverse(history.count_since(s.id.as_str(), s.prev)), i))
                    .collect();
                depth.sort_unstable();
                'sources: for (_, i) in depth {
                    while tier[i].news.peek().is_some() {
                        if fill.full() {
                            break 'sources;
                        }
                        if !fill.take(&mut tier[i]) {
                            break;
                        }
                    }
                }
            }
            None => {
                // A user sorter orders every candidate (no source can fill more than `mtu`
                // slots, so its first `mtu` updates suffice); each candidate is a slot for its
                // source.
                let mut candidates: Vec<Candidate<'_, K, V>> = Vec::new();
                let mut index: HashMap<&NodeId, usize> = HashMap::with_capacity(tier.len());
                for (i, s) in tier.iter().enumerate() {
                    index.insert(s.id, i);
                    let outstanding = history.count_since(s.id.as_str(), s.prev);
                    candidates.extend(history.news(state, s.id.as_str(), s.prev).take(mtu).map(
                        |update| Candidate {
                            update,
                            outstanding,
                        },
                    ));
                }
                sorter.sort(&mut candidates)?;
                for c in &candidates {
                    if fill.full() {
                        break;
                    }
                    if let Some(&i) = index.get(c.update.source_id) {
                        fill.take(&mut tier[i]);
                    }
                }
            }
        }
    }

    // Runs in the order they were opened.
    let mut opened: Vec<&mut Source<'_, K, V, _>> =
        sources.iter_mut().filter(|s| s.run.is_some()).collect();
    opened.sort_unstable_by_key(|s| s.run);
    let mut runs = Vec::with_capacity(opened.len() + 1);
    for s in opened {
        // A run holding all of its source's news says how far the sender's watermark goes,
        // so a compacted tail does not keep the peer's watermark behind for good.
        let watermark = mine.get(s.id.as_str()).copied().unwrap_or(0);
        let items = s.items.len();
        let added = wire::uint_len(watermark) + wire::run_head_len(s.id, Some(s.prev), items + 1)
            - wire::run_head_len(s.id, Some(s.prev), items);
        let through = (s.news.peek().is_none()
            && watermark > s.last.0
            && fill.bytes + added <= budget)
            .then(|| {
                fill.bytes += added;
                watermark
            });
        runs.push(Run {
            source: s.id.clone(),
            prev: Some(s.prev),
            updates: s.items.iter().map(UpdateRef::to_owned).collect(),
            through,
        });
    }
    // Sources whose news here is all compacted away: an empty run carries only `through`.
    let mut empty: Vec<(&NodeId, Version)> = mine
        .iter()
        .filter(|(id, &watermark)| {
            let prev = since(id);
            watermark > prev && history.news(state, id.as_str(), prev).next().is_none()
        })
        .map(|(id, &watermark)| (id, watermark))
        .collect();
    empty.sort_unstable();
    for (id, watermark) in empty {
        let prev = since(id);
        let added = wire::run_head_len(id, Some(prev), 1)
            + wire::uint_len(watermark)
            + wire::news_head_len(runs.len() + 1)
            - wire::news_head_len(runs.len());
        if fill.bytes + added > budget {
            continue;
        }
        fill.bytes += added;
        runs.push(Run {
            source: id.clone(),
            prev: Some(prev),
            updates: Vec::new(),
            through: Some(watermark),
        });
    }
    Ok(Chosen {
        runs,
        bytes: fill.bytes,
    })
}

/// The message being filled: its exact size so far and its limits.
struct Fill {
    bytes: usize,
    budget: usize,
    runs: usize,
    count: usize,
    mtu: usize,
}

impl Fill {
    fn full(&self) -> bool {
        self.count >= self.mtu || self.bytes + MIN_ITEM > self.budget
    }

    /// Gives `source` one slot: adds its oldest outstanding update if it fits (and returns
    /// true), or closes the source.
    fn take<'a, K, V, I>(&mut self, source: &mut Source<'a, K, V, I>) -> bool
    where
        K: Serialize,
        V: Serialize,
        I: Iterator<Item = UpdateRef<'a, K, V>>,
    {
        if source.closed {
            return false;
        }
        let Some(&next) = source.news.peek() else {
            return false;
        };
        let (vd, ts) = wire::deltas(source.last, next.version, next.timestamp);
        let mut added = wire::item_len(
            wire::cbor_len(next.key),
            vd,
            ts,
            next.value.map(|v| wire::cbor_len(v)),
        ) + wire::signature_len(next, source.last.0);
        let items = source.items.len();
        added += match source.run {
            Some(_) => {
                wire::run_head_len(source.id, Some(source.prev), items + 1)
                    - wire::run_head_len(source.id, Some(source.prev), items)
            }
            None => {
                wire::run_head_len(source.id, Some(source.prev), 1)
                    + wire::news_head_len(self.runs + 1)
                    - wire::news_head_len(self.runs)
            }
        };
        if self.bytes + added > self.budget {
            source.closed = true;
            return false;
        }
        source.news.next();
        self.bytes += added;
        self.count += 1;
        if source.run.is_none() {
            source.run = Some(self.runs);
            self.runs += 1;
        }
        source.items.push(next);
        source.last = (next.version, Some(next.timestamp));
        true
    }
}
