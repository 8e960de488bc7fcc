//! The node: a replicated map driven by scuttlebutt exchanges.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::ops::Bound;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::{ConfigError, ProtocolError, SetError};
use crate::event::{Event, Stats};
use crate::history::History;
use crate::message::{Message, Reset};
use crate::resolver::{LastWriterWins, Resolver};
use crate::sorter::{Candidate, ScuttleBreadth, Sorter};
use crate::types::{Entry, NodeId, Update, Version};

/// A digest being collected from one peer, until its `DigestDone`.
#[derive(Default)]
struct PendingDigest {
    entries: Vec<(NodeId, Version)>,
}

/// A node of the replicated map.
///
/// `Gossip` is sans-IO: it never touches a socket, a timer or a thread. Its methods fall in
/// four families; call them in this order:
///
/// 1. **Getters**: [`get`](Self::get), [`value`](Self::value), [`iter`](Self::iter),
///    [`version`](Self::version), [`watermark`](Self::watermark), [`news`](Self::news), ...
/// 2. **Inputs**: [`receive`](Self::receive) for every message a peer sends.
/// 3. **Commands**: [`set`](Self::set), [`delete`](Self::delete), [`gossip`](Self::gossip)
///    (start an exchange with a peer), [`collect_tombstones`](Self::collect_tombstones).
/// 4. **Outputs**, to drain after every input or command:
///    [`poll_transmit`](Self::poll_transmit) / [`poll_message`](Self::poll_message) for the
///    messages to send, then [`poll_event`](Self::poll_event) for what changed.
///
/// An exchange is push-pull in three batches: A's digest; B's news for A and B's digest (marked
/// as a reply); A's news for B. It always ends.
///
/// ```
/// use scuttle_core::{Gossip, NodeId};
///
/// let mut a: Gossip<String, String> = Gossip::with_defaults("a");
/// let mut b: Gossip<String, String> = Gossip::with_defaults("b");
/// a.set("greeting".into(), "hello".into()).unwrap();
/// b.set("answer".into(), "42".into()).unwrap();
///
/// // Deliver every message until both are idle (a transport does this over the network).
/// a.gossip(b.id());
/// loop {
///     let mut idle = true;
///     while let Some((to, msg)) = a.poll_transmit() {
///         assert_eq!(&to, b.id());
///         b.receive(a.id(), msg).unwrap();
///         idle = false;
///     }
///     while let Some((_, msg)) = b.poll_transmit() {
///         a.receive(b.id(), msg).unwrap();
///         idle = false;
///     }
///     if idle { break; }
/// }
/// assert_eq!(a.value("answer").map(String::as_str), Some("42"));
/// assert_eq!(b.value("greeting").map(String::as_str), Some("hello"));
/// assert_eq!(a.version(), 1);
/// ```
pub struct Gossip<K, V, R = LastWriterWins, S = ScuttleBreadth> {
    id: NodeId,
    config: Config,
    resolver: R,
    sorter: S,
    clock: Arc<dyn Clock>,
    rng: SmallRng,
    version: Version,
    state: HashMap<K, Entry<V>>,
    history: History<K, V>,
    watermarks: HashMap<NodeId, Version>,
    /// Per source, the highest version whose tombstone was collected here or by a peer whose
    /// reset this node merged.
    floors: HashMap<NodeId, Version>,
    /// Live tombstones by (timestamp, source, version), oldest first, for collection.
    tombstones: BTreeMap<(u64, NodeId, Version), K>,
    incoming: HashMap<NodeId, PendingDigest>,
    outbox: BTreeMap<NodeId, VecDeque<Message<K, V>>>,
    last_polled: Option<NodeId>,
    events: VecDeque<Event<K, V>>,
    stats: Stats,
}

impl<K, V> Gossip<K, V, LastWriterWins, ScuttleBreadth>
where
    K: Clone + Eq + Hash,
    V: Clone,
{
    /// A node with the default [`Config`], [`LastWriterWins`] and [`ScuttleBreadth`].
    pub fn with_defaults(id: impl Into<NodeId>) -> Self {
        let config = Config::default();
        Self::build(id.into(), config, LastWriterWins, ScuttleBreadth)
    }
}

impl<K, V, R, S> Gossip<K, V, R, S>
where
    K: Clone + Eq + Hash,
    V: Clone,
    R: Resolver<K, V>,
    S: Sorter<K, V>,
{
    /// A fresh node (version 0, empty state). Fails if `config` breaks a constraint.
    pub fn new(
        id: impl Into<NodeId>,
        config: Config,
        resolver: R,
        sorter: S,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::build(id.into(), config, resolver, sorter))
    }

    fn build(id: NodeId, config: Config, resolver: R, sorter: S) -> Self {
        let seed = config
            .rng_seed
            .unwrap_or_else(|| fnv1a(id.as_str().as_bytes()));
        Gossip {
            id,
            config,
            resolver,
            sorter,
            clock: Arc::new(SystemClock),
            rng: SmallRng::seed_from_u64(seed),
            version: 0,
            state: HashMap::new(),
            history: History::default(),
            watermarks: HashMap::new(),
            floors: HashMap::new(),
            tombstones: BTreeMap::new(),
            incoming: HashMap::new(),
            outbox: BTreeMap::new(),
            last_polled: None,
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Replaces the wall clock (default: [`SystemClock`]).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Loads a saved state, for example after a restart. Every entry becomes known news, the
    /// watermarks and [`version`](Self::version) rise to cover it, and no event is queued.
    ///
    /// A node's own writes survive a restart only if its version restarts above every version
    /// it issued before: load its last state, or let a peer's news for its id raise it.
    pub fn with_state(mut self, entries: impl IntoIterator<Item = (K, Entry<V>)>) -> Self {
        for (key, entry) in entries {
            self.raise_watermark(&entry.source_id, entry.version);
            self.version = self.version.max(entry.version);
            let update = entry.to_update(key);
            self.install(update, None, false);
        }
        self
    }

    // ---------------------------------------------------------------- getters

    /// This node's id (its source id).
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The highest version this node has seen from anyone (0 for a fresh node).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The entry of `key`, tombstones included (`entry.is_deleted()`).
    pub fn get<Q>(&self, key: &Q) -> Option<&Entry<V>>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.state.get(key)
    }

    /// The live value of `key` (`None` when absent or deleted).
    pub fn value<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.state.get(key).and_then(|e| e.value.as_ref())
    }

    /// Whether `key` holds a live value.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.value(key).is_some()
    }

    /// Live keys and values, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.state
            .iter()
            .filter_map(|(k, e)| e.value.as_ref().map(|v| (k, v)))
    }

    /// Every entry, tombstones included, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&K, &Entry<V>)> {
        self.state.iter()
    }

    /// Number of live keys.
    pub fn len(&self) -> usize {
        self.state.len() - self.tombstones.len()
    }

    /// Whether no key holds a live value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The highest version this node holds (or has passed over) from `source`.
    pub fn watermark(&self, source: &str) -> Version {
        self.watermarks.get(source).copied().unwrap_or(0)
    }

    /// Every known source with its watermark (this node's digest).
    pub fn watermarks(&self) -> impl Iterator<Item = (&NodeId, Version)> {
        self.watermarks.iter().map(|(s, v)| (s, *v))
    }

    /// The updates held from `source` above version `since`, ascending: O(log n + k).
    pub fn news<'a>(
        &'a self,
        source: &str,
        since: Version,
    ) -> impl Iterator<Item = &'a Update<K, V>> + 'a {
        self.history.news(source, since)
    }

    /// The updates held for replay.
    pub fn history(&self) -> &History<K, V> {
        &self.history
    }

    /// Counters of what this node did.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether any message waits to be sent.
    pub fn has_outgoing(&self) -> bool {
        !self.outbox.is_empty()
    }

    // ---------------------------------------------------------------- commands

    /// Writes `key = value` locally, gated by the resolver's
    /// [`accept_local`](Resolver::accept_local). Returns the write's version. A rejected write
    /// changes nothing, not even [`version`](Self::version).
    pub fn set(&mut self, key: K, value: V) -> Result<Version, SetError> {
        self.write(key, Some(value))
    }

    /// Deletes `key` locally by writing a tombstone (even when the key is unknown here, so that
    /// the delete also wins over older writes still on their way). Returns its version.
    pub fn delete(&mut self, key: K) -> Result<Version, SetError> {
        self.write(key, None)
    }

    fn write(&mut self, key: K, value: Option<V>) -> Result<Version, SetError> {
        let version = self
            .version
            .checked_add(1)
            .ok_or(SetError::VersionOverflow)?;
        let update = Update {
            key,
            value,
            source_id: self.id.clone(),
            version,
            timestamp: self.clock.now_millis(),
        };
        if !self
            .resolver
            .accept_local(self.state.get(&update.key), &update)
        {
            return Err(SetError::Rejected);
        }
        self.version = version;
        let id = self.id.clone();
        self.raise_watermark(&id, version);
        self.install(update, None, true);
        Ok(version)
    }

    /// Starts an exchange with `peer`: queues this node's digest (in random order, as the seed
    /// does) and a `DigestDone`. Also collects expired tombstones first.
    pub fn gossip(&mut self, peer: &NodeId) {
        self.collect_tombstones();
        self.queue_digest(peer, false);
    }

    /// Forgets expired tombstones (older than [`Config::tombstone_grace`] by the clock) and the
    /// superseded updates of their keys. Returns how many were collected.
    pub fn collect_tombstones(&mut self) -> usize {
        let Some(grace) = self.config.tombstone_grace else {
            return 0;
        };
        let grace = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        let now = self.clock.now_millis();
        let mut collected = HashSet::new();
        while let Some(entry) = self.tombstones.first_entry() {
            let (timestamp, source, version) = entry.key().clone();
            if timestamp.saturating_add(grace) > now {
                break;
            }
            let key = entry.remove();
            self.state.remove(&key);
            self.history.remove(&source, version);
            let floor = self.floors.entry(source).or_insert(0);
            *floor = (*floor).max(version);
            collected.insert(key);
        }
        if collected.is_empty() {
            return 0;
        }
        self.history.forget_superseded(|k| collected.contains(k));
        self.push_event(Event::TombstonesCollected {
            count: collected.len(),
        });
        collected.len()
    }

    /// Drops what is pending for `peer` (a half-received digest and unsent messages), for
    /// example when its connection closes.
    pub fn forget_peer(&mut self, peer: &NodeId) {
        self.incoming.remove(peer);
        self.outbox.remove(peer);
    }

    // ---------------------------------------------------------------- inputs

    /// Handles one message from `peer`. A message that breaks the protocol is refused with an
    /// error and changes nothing.
    pub fn receive(&mut self, peer: &NodeId, msg: Message<K, V>) -> Result<(), ProtocolError> {
        msg.validate()?;
        match msg {
            Message::Digest {
                source_id, version, ..
            } => {
                let max = self.config.max_digest_sources;
                let pending = self.incoming.entry(peer.clone()).or_default();
                if pending.entries.len() >= max {
                    self.incoming.remove(peer);
                    return Err(ProtocolError::DigestTooLarge { max });
                }
                pending.entries.push((source_id, version));
            }
            Message::DigestDone { reply } => {
                let digest = self.incoming.remove(peer).unwrap_or_default();
                self.answer(peer, digest.entries, reply);
            }
            Message::Update { update, prev } => self.apply_news(peer, update, prev),
            Message::Reset(reset) => self.apply_reset(peer, reset),
        }
        Ok(())
    }

    // ---------------------------------------------------------------- outputs

    /// The next message to send, with its recipient; peers take turns.
    pub fn poll_transmit(&mut self) -> Option<(NodeId, Message<K, V>)> {
        let peer = match &self.last_polled {
            Some(last) => self
                .outbox
                .range::<NodeId, _>((Bound::Excluded(last), Bound::Unbounded))
                .next()
                .or_else(|| self.outbox.iter().next())
                .map(|(p, _)| p.clone()),
            None => self.outbox.keys().next().cloned(),
        }?;
        let msg = self.poll_message(&peer)?;
        self.last_polled = Some(peer.clone());
        Some((peer, msg))
    }

    /// The next message to send to `peer`.
    pub fn poll_message(&mut self, peer: &NodeId) -> Option<Message<K, V>> {
        let queue = self.outbox.get_mut(peer)?;
        let msg = queue.pop_front();
        if queue.is_empty() {
            self.outbox.remove(peer);
        }
        msg
    }

    /// How many messages wait for `peer`.
    pub fn outgoing_len(&self, peer: &NodeId) -> usize {
        self.outbox.get(peer).map_or(0, VecDeque::len)
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event<K, V>> {
        self.events.pop_front()
    }

    // ---------------------------------------------------------------- internals

    fn send(&mut self, peer: &NodeId, msg: Message<K, V>) {
        self.outbox.entry(peer.clone()).or_default().push_back(msg);
    }

    fn push_event(&mut self, event: Event<K, V>) {
        if self.config.events {
            self.events.push_back(event);
        }
    }

    fn raise_watermark(&mut self, source: &NodeId, version: Version) {
        match self.watermarks.get_mut(source) {
            Some(w) => *w = (*w).max(version),
            None => {
                self.watermarks.insert(source.clone(), version);
            }
        }
    }

    fn queue_digest(&mut self, peer: &NodeId, reply: bool) {
        let mut digest: Vec<(NodeId, Version)> = self
            .watermarks
            .iter()
            .map(|(s, v)| (s.clone(), *v))
            .collect();
        // Sort first so the shuffle depends only on the seed, not on hash order.
        digest.sort_unstable();
        digest.shuffle(&mut self.rng);
        let queue = self.outbox.entry(peer.clone()).or_default();
        queue.extend(
            digest
                .into_iter()
                .map(|(source_id, version)| Message::Digest {
                    source_id,
                    version,
                    reply,
                }),
        );
        queue.push_back(Message::DigestDone { reply });
    }

    /// Answers a complete digest: news (or a reset), then our own digest unless it was a reply.
    fn answer(&mut self, peer: &NodeId, digest: Vec<(NodeId, Version)>, reply: bool) {
        self.stats.digests_answered += 1;
        let mut theirs: HashMap<NodeId, Version> = HashMap::with_capacity(digest.len());
        for (source, version) in digest {
            let v = theirs.entry(source).or_insert(0);
            *v = (*v).max(version);
        }
        let behind = self
            .floors
            .iter()
            .any(|(s, floor)| theirs.get(s).copied().unwrap_or(0) < *floor);
        if behind {
            let reset = self.make_reset();
            self.stats.resets_sent += 1;
            self.send(peer, Message::Reset(reset));
        } else {
            for msg in self.select_news(&theirs) {
                self.send(peer, msg);
            }
        }
        if !reply {
            self.queue_digest(peer, true);
        }
    }

    /// The first `mtu` updates the peer lacks, in sorter order, each source's in ascending
    /// version with no gap, each carrying its `prev`.
    fn select_news(&mut self, theirs: &HashMap<NodeId, Version>) -> Vec<Message<K, V>> {
        let mtu = self.config.mtu;
        let mut candidates: Vec<Candidate<'_, K, V>> = Vec::new();
        for source in self.history.sources() {
            let since = theirs.get(source).copied().unwrap_or(0);
            let news = self.history.news(source.as_str(), since);
            let outstanding = news.clone().count();
            // No source can fill more than `mtu` slots, so its first `mtu` updates suffice.
            candidates.extend(news.take(mtu).map(|update| Candidate {
                update,
                outstanding,
            }));
        }
        self.sorter.sort(&mut candidates);
        // The sorter picks how many slots each source gets and where; the slots of a source are
        // filled with its oldest outstanding updates (collected before the cut) in ascending order, so a cut never skips a version.
        let mut ascending: HashMap<&NodeId, BTreeMap<Version, &Update<K, V>>> = HashMap::new();
        for c in &candidates {
            ascending
                .entry(&c.update.source_id)
                .or_default()
                .insert(c.update.version, c.update);
        }
        candidates.truncate(mtu);
        let mut last: HashMap<&NodeId, Version> = HashMap::new();
        let mut out = Vec::with_capacity(candidates.len());
        for c in &candidates {
            let source = &c.update.source_id;
            let Some(slot) = ascending.get_mut(source) else {
                continue;
            };
            let Some((_, update)) = slot.pop_first() else {
                continue;
            };
            let prev = last
                .get(source)
                .copied()
                .unwrap_or_else(|| theirs.get(source).copied().unwrap_or(0));
            last.insert(source, update.version);
            out.push(Message::Update {
                update: update.clone(),
                prev: Some(prev),
            });
        }
        self.stats.updates_sent += out.len() as u64;
        out
    }

    fn make_reset(&self) -> Reset<K, V> {
        let mut watermarks: Vec<_> = self
            .watermarks
            .iter()
            .map(|(s, v)| (s.clone(), *v))
            .collect();
        watermarks.sort_unstable();
        let mut floors: Vec<_> = self.floors.iter().map(|(s, v)| (s.clone(), *v)).collect();
        floors.sort_unstable();
        Reset {
            watermarks,
            floors,
            entries: self
                .state
                .iter()
                .map(|(k, e)| e.to_update(k.clone()))
                .collect(),
        }
    }

    fn apply_news(&mut self, peer: &NodeId, update: Update<K, V>, prev: Option<Version>) {
        // The clock moves past every well-formed version, even one skipped below.
        self.version = self.version.max(update.version);
        let watermark = self.watermark(update.source_id.as_str());
        if prev.is_some_and(|p| p > watermark) {
            self.stats.gaps += 1;
            return;
        }
        if update.version <= watermark {
            self.stats.duplicates += 1;
            return;
        }
        // The watermark moves whether or not the resolver accepts: otherwise the same news
        // would be resent forever.
        self.raise_watermark(&update.source_id.clone(), update.version);
        if self.resolver.accept(self.state.get(&update.key), &update) {
            self.stats.updates_applied += 1;
            self.install(update, Some(peer.clone()), true);
        } else {
            self.stats.updates_rejected += 1;
        }
    }

    fn apply_reset(&mut self, peer: &NodeId, reset: Reset<K, V>) {
        let Reset {
            watermarks,
            floors,
            entries,
        } = reset;
        let held: HashSet<K> = entries.iter().map(|u| u.key.clone()).collect();
        for update in entries {
            self.version = self.version.max(update.version);
            if self.resolver.accept(self.state.get(&update.key), &update) {
                self.stats.updates_applied += 1;
                self.install(update, Some(peer.clone()), true);
            }
        }
        let seen: HashMap<NodeId, Version> = watermarks.into_iter().collect();
        // A key the sender has seen but no longer holds had its tombstone collected there.
        let forgotten: Vec<K> = self
            .state
            .iter()
            .filter(|(k, e)| {
                !held.contains(*k) && e.version <= seen.get(&e.source_id).copied().unwrap_or(0)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in &forgotten {
            if let Some(entry) = self.state.remove(key) {
                self.history.remove(&entry.source_id, entry.version);
                self.tombstones
                    .remove(&(entry.timestamp, entry.source_id.clone(), entry.version));
            }
        }
        if !forgotten.is_empty() {
            let doomed: HashSet<&K> = forgotten.iter().collect();
            self.history.forget_superseded(|k| doomed.contains(k));
        }
        for key in forgotten {
            self.push_event(Event::Forgotten { key });
        }
        for (source, version) in seen {
            self.version = self.version.max(version);
            self.raise_watermark(&source, version);
        }
        for (source, floor) in floors {
            let f = self.floors.entry(source).or_insert(0);
            *f = (*f).max(floor);
        }
    }

    /// Makes `update` the state of its key (the caller has checked the resolver), keeps it in
    /// history, marks the update it replaces as superseded, and compacts.
    fn install(&mut self, update: Update<K, V>, from: Option<NodeId>, emit: bool) {
        let entry = update.to_entry();
        if let Some(old) = self.state.get(&update.key) {
            self.history.mark_superseded(&old.source_id, old.version);
            if old.is_deleted() {
                self.tombstones
                    .remove(&(old.timestamp, old.source_id.clone(), old.version));
            }
        }
        if update.is_delete() {
            self.tombstones.insert(
                (update.timestamp, update.source_id.clone(), update.version),
                update.key.clone(),
            );
        }
        let key = update.key.clone();
        self.history.insert(update);
        if emit {
            self.push_event(Event::Update {
                key: key.clone(),
                entry: entry.clone(),
                from,
            });
        }
        self.state.insert(key, entry);
        let dropped = self.history.compact(self.config.max_history);
        if dropped > 0 {
            let history_len = self.history.len();
            self.push_event(Event::Compaction {
                dropped,
                history_len,
            });
        }
    }
}

impl<K, V, R, S> std::fmt::Debug for Gossip<K, V, R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gossip")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("keys", &self.state.len())
            .field("history", &self.history.len())
            .finish_non_exhaustive()
    }
}

/// FNV-1a: a stable hash of the node id for the default digest-order seed.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
