//! The node: a replicated map driven by scuttlebutt exchanges.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use serde::Serialize;

use crate::config::{hlc, Collection, Config, Versions, HLC_COUNTER_BITS, MAX_COUNTER_VERSION};
use crate::error::{ConfigError, OpenError, ProtocolError, ReceiveError, SetError};
use crate::event::{Event, Stats};
use crate::history::History;
use crate::message::{Digest, Message, News, Reset};
use crate::news;
use crate::rejoin::Rejoining;
use crate::resolver::{LastWriterWins, Resolver};
use crate::signing::{SignError, Signing};
use crate::sorter::{ScuttleBreadth, Sorter};
use crate::sources::SourceMap;
use crate::state::State;
use crate::store::{Batch, Store, StoreError};
use crate::types::{Entry, Millis, NodeId, Update, UpdateRef, Version};
use crate::wire;

/// A node of the replicated map.
///
/// `Gossip` is sans-IO: it never touches a socket, a timer, a thread or a clock, and it keeps
/// no per-peer state. Its methods fall in four families:
///
/// 1. **Getters**: [`get`](Self::get), [`value`](Self::value), [`iter`](Self::iter),
///    [`version`](Self::version), [`watermark`](Self::watermark), [`news`](Self::news), ...
/// 2. **Inputs**: [`handle_message`](Self::handle_message) for every message a peer sends,
///    returning the reply to send back; [`handle_timeout`](Self::handle_timeout) when
///    [`poll_timeout`](Self::poll_timeout)'s time has come.
/// 3. **Commands**: [`set`](Self::set), [`delete`](Self::delete),
///    [`start_exchange`](Self::start_exchange) (the message that opens an exchange).
/// 4. **Outputs**, to drain after every input or command: [`poll_event`](Self::poll_event),
///    then [`poll_timeout`](Self::poll_timeout).
///
/// Time is always an argument (`now`, milliseconds since the Unix epoch on the caller's
/// clock). An exchange is three messages, each one frame: A's [`Message::Syn`], B's
/// [`Message::SynAck`], A's [`Message::Ack`] (left out when A has no news for B).
///
/// ```
/// use scuttle_core::{Gossip, Message};
///
/// let mut a: Gossip<String, String> = Gossip::with_defaults("a");
/// let mut b: Gossip<String, String> = Gossip::with_defaults("b");
/// let now = 1_700_000_000_000;
/// a.set(now, "greeting".into(), "hello".into()).unwrap();
/// b.set(now, "answer".into(), "42".into()).unwrap();
///
/// // A transport carries each message to the other node and the reply back.
/// let syn = a.start_exchange();
/// let syn_ack = b.handle_message(now, syn).unwrap().expect("B answers a Syn");
/// if let Some(ack) = a.handle_message(now, syn_ack).unwrap() {
///     assert!(b.handle_message(now, ack).unwrap().is_none(), "an Ack ends the exchange");
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
    version: Version,
    state: State<K, V>,
    history: History<K, V>,
    watermarks: SourceMap<Version>,
    /// Sum of a hash of every `(source, watermark)`: the digest hash, kept up to date in O(1).
    digest_hash: u64,
    /// Whether the last exchange found this node's digest equal to a peer's (and nothing
    /// changed since): the next exchange opens with the hash only.
    in_sync: bool,
    /// Per source, the highest version whose tombstone was collected here or by a peer whose
    /// reset this node merged.
    floors: HashMap<NodeId, Version>,
    /// Live tombstones by (timestamp, source, version), oldest first, for collection.
    tombstones: BTreeMap<(Millis, NodeId, Version), K>,
    events: VecDeque<Event<K, V>>,
    stats: Stats,
    /// Where every change is persisted before it is made in memory, if anywhere.
    store: Option<Box<dyn Store<K, V> + Send + Sync>>,
    /// Whether local writes are open (see [`Config::catch_up`]).
    caught_up: bool,
    /// The first `now` this node was given: the catch-up period counts from it.
    started: Option<Millis>,
    /// Whether a peer's digest has been heard (catching up).
    heard_peer: bool,
    /// The highest version of this node's own updates a peer's digest claimed (catching up).
    own_target: Version,
    /// The highest version of this node's own updates it has written or held: the link of
    /// its next signed write.
    own_last: Version,
    /// Where the next cut digest starts (an atomic only because `start_exchange` takes
    /// `&self`).
    digest_cuts: AtomicU64,
    /// This node's key and the sources' keys, when updates are signed (see [`crate::signing`]).
    signing: Option<Signing>,
    /// The other members of the cluster, as the membership layer last said
    /// ([`Collection::Covered`]).
    members: Option<HashSet<NodeId>>,
    /// Per member, the highest watermark per source it has claimed in a digest of its own.
    coverage: HashMap<NodeId, HashMap<NodeId, Version>>,
    /// After [`rejoin`](Self::rejoin): the entries held from before, not heard again yet.
    rejoining: Option<Rejoining<K>>,
}

/// The updates already won inside the message being decided, found by their key's hash in
/// the state (computed once per update): a later update of the same key meets the winner, not
/// the state. Keys whose hashes collide go to a second map keyed by the key itself.
struct Won<'a, K, V> {
    by_hash: HashMap<u64, &'a Update<K, V>, BuildHasherDefault<Prehashed>>,
    collided: HashMap<&'a K, &'a Update<K, V>>,
}

impl<K, V> Default for Won<'_, K, V> {
    fn default() -> Self {
        Won {
            by_hash: HashMap::default(),
            collided: HashMap::new(),
        }
    }
}

impl<'a, K: Eq + Hash, V> Won<'a, K, V> {
    fn get(&self, hash: u64, key: &K) -> Option<&'a Update<K, V>> {
        match self.by_hash.get(&hash) {
            Some(w) if w.key == *key => Some(*w),
            Some(_) => self.collided.get(key).copied(),
            None => None,
        }
    }

    fn insert(&mut self, hash: u64, update: &'a Update<K, V>) {
        match self.by_hash.get(&hash) {
            Some(w) if w.key != update.key => {
                self.collided.insert(&update.key, update);
            }
            _ => {
                self.by_hash.insert(hash, update);
            }
        }
    }
}

/// A hasher for keys that are already hashes (the state's keyed SipHash of a key).
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in for completeness.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Where an installed update comes from; it decides the event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Loaded with `with_state`: no event.
    Loaded,
    /// A local write.
    Local,
    /// News from a peer.
    Remote,
}

/// What applying one message's news would do; computed in full before anything changes.
struct Plan<K> {
    /// Indexes (in the message's update order) of the updates to install, with their key's
    /// hash in the state.
    installs: Vec<(usize, u64)>,
    /// Watermarks to raise.
    raises: Vec<(NodeId, Version)>,
    /// Highest version this message moves a watermark to (skipped news moves nothing).
    clock: Version,
    /// Keys a reset shows were deleted and collected by the sender.
    forgotten: Vec<K>,
    /// Floors a reset raises.
    floors: Vec<(NodeId, Version)>,
    applied: u64,
    /// Updates left for later because their version is beyond the clock bound.
    ahead: u64,
    /// Updates (or a reset) left out because they named too many new sources.
    sources_refused: u64,
    rejected: u64,
    duplicates: u64,
    gaps: u64,
    /// Resets ignored (under `Collection::Covered`).
    resets_ignored: u64,
    /// Indexes of updates refused as equivocation (their source signed another update with
    /// the same version, held here).
    equivocations: Vec<usize>,
    /// Updates taken while rejoining (see `Gossip::rejoin`).
    heard: Vec<(NodeId, Version)>,
}

impl<K, V> Gossip<K, V, LastWriterWins, ScuttleBreadth>
where
    K: Clone + Eq + Hash + Serialize,
    V: Clone + Serialize,
{
    /// A node with the default [`Config`], [`LastWriterWins`] and [`ScuttleBreadth`].
    pub fn with_defaults(id: impl Into<NodeId>) -> Self {
        Self::build(id.into(), Config::default(), LastWriterWins, ScuttleBreadth)
    }
}

impl<K, V, R, S> Gossip<K, V, R, S>
where
    K: Clone + Eq + Hash + Serialize,
    V: Clone + Serialize,
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
        let caught_up = config_catch_up_open(&config);
        Gossip {
            id,
            config,
            resolver,
            sorter,
            version: 0,
            state: State::default(),
            history: History::default(),
            watermarks: SourceMap::default(),
            digest_hash: 0,
            in_sync: false,
            floors: HashMap::new(),
            tombstones: BTreeMap::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            store: None,
            caught_up,
            started: None,
            heard_peer: false,
            own_target: 0,
            own_last: 0,
            digest_cuts: AtomicU64::new(0),
            signing: None,
            members: None,
            coverage: HashMap::new(),
            rejoining: None,
        }
    }

    /// The other live members of the cluster (this node's own id is ignored), as the
    /// membership layer says; call again whenever it changes. Under
    /// [`Collection::Covered`] a tombstone is collected only once every member has said, in
    /// a digest of its own ([`handle_message_from`](Self::handle_message_from)), that it
    /// holds it; a member that leaves stops holding collection back.
    pub fn set_members<I>(&mut self, members: I)
    where
        I: IntoIterator,
        I::Item: Into<NodeId>,
    {
        let members: HashSet<NodeId> = members
            .into_iter()
            .map(Into::into)
            .filter(|m| *m != self.id)
            .collect();
        self.coverage.retain(|m, _| members.contains(m));
        self.members = Some(members);
    }

    /// Rejoins the cluster after time away (declared down, partitioned for longer than the
    /// membership kept this node, stopped): the others may have collected tombstones without
    /// it, so values it holds may have been deleted meanwhile, and nothing would ever correct
    /// them — their versions are below every member's watermark.
    ///
    /// Every watermark starts again from zero and nothing is dropped: the members send
    /// everything again, and each entry held from before that comes back is *heard*. (This
    /// node's own watermark moves only with news until its own entries are settled, so that a
    /// write of its own meanwhile does not pass over them; versions still never repeat.)
    /// Under [`Collection::Covered`], once this node's watermark for a source has passed an
    /// entry that was not heard, and every other member (see
    /// [`set_members`](Self::set_members)) has said it holds that source past it, no member
    /// holds it any more: it is forgotten ([`Event::Forgotten`], [`Stats::stale_forgotten`]).
    /// Entries above what the members hold — its own writes the others never got, say — stay
    /// and spread.
    ///
    /// Costs one full catch-up. The libp2p node calls it when it had no live member for
    /// longer than its member grace, and when it restarts from its data directory after
    /// longer than that.
    pub fn rejoin(&mut self) {
        let held = self
            .state
            .iter()
            .map(|(k, e)| (e.source_id.clone(), e.version, k.clone()));
        self.rejoining = Some(Rejoining::new(held));
        for (_, w) in self.watermarks.iter_mut() {
            *w = 0;
        }
        self.digest_hash = 0;
        self.in_sync = false;
    }

    /// Whether a peer's digest with hash `h` equals this node's. Never while rejoining: the
    /// watermarks start from zero then, but the entries held do not, so equal digests would
    /// not mean that the peer holds what this node does.
    fn same_digest(&self, h: u64) -> bool {
        self.rejoining.is_none() && h == self.digest_hash
    }

    /// Whether this node's own entries from before a rejoin are still being heard again.
    fn own_rejoining(&self) -> bool {
        self.rejoining
            .as_ref()
            .is_some_and(|r| r.sources().any(|s| *s == self.id))
    }

    /// Whether entries held from before [`rejoin`](Self::rejoin) are still waiting to be
    /// heard again or forgotten.
    pub fn is_rejoining(&self) -> bool {
        self.rejoining.is_some()
    }

    /// Forgets the entries held from before a rejoin that no member holds any more (see
    /// [`rejoin`](Self::rejoin)). With a store, the removal is persisted first.
    fn forget_unheard(&mut self) -> Result<(), StoreError> {
        let Some(rejoining) = &self.rejoining else {
            return Ok(());
        };
        let Some(members) = &self.members else {
            return Ok(());
        };
        let bound: HashMap<NodeId, Version> = rejoining
            .sources()
            .map(|s| {
                let others = self.others_claim(members, s);
                (s.clone(), others.min(self.watermark(s.as_str())))
            })
            .collect();
        let Some(rejoining) = self.rejoining.as_mut() else {
            return Ok(());
        };
        let due = rejoining.take_due(&bound);
        let done = rejoining.is_done();
        // Only entries still held as they were: one since replaced is not stale.
        let stale: Vec<K> = due
            .into_iter()
            .filter(|(s, v, k)| {
                self.state
                    .get(k)
                    .is_some_and(|e| e.source_id == *s && e.version == *v)
            })
            .map(|(_, _, k)| k)
            .collect();
        if !stale.is_empty() {
            if let Some(store) = self.store.as_mut() {
                store.commit(&Batch {
                    puts: Vec::new(),
                    removes: stale.iter().collect(),
                    watermarks: Vec::new(),
                    floors: Vec::new(),
                    clock: self.version,
                })?;
            }
        }
        if done {
            self.rejoining = None;
        }
        // Its own entries settled: its own watermark takes in the writes made meanwhile.
        if !self.own_rejoining() {
            let own = self.id.clone();
            self.raise_watermark(&own, self.own_last);
        }
        for key in stale {
            if let Some((_, _, entry)) = self.state.remove(&key) {
                self.history.remove(&entry.source_id, entry.version);
                self.tombstones
                    .remove(&(entry.timestamp, entry.source_id.clone(), entry.version));
            }
            self.stats.stale_forgotten += 1;
            self.push_event(Event::Forgotten { key });
        }
        Ok(())
    }

    /// Signs this node's writes with `signing`'s key and refuses every update whose source's
    /// signature does not verify (see [`crate::signing`]). Fails if the key is not the one
    /// `signing` names for this node's id (its peers would refuse every write).
    ///
    /// ```
    /// use scuttle_core::signing::{HexKeys, Signing, SigningKey};
    /// use scuttle_core::Gossip;
    ///
    /// let key = SigningKey::from_bytes(&[7; 32]);
    /// let id = HexKeys::id_of(&key.verifying_key());
    /// let mut a: Gossip<String, String> = Gossip::with_defaults(id)
    ///     .with_signing(Signing::new(key, HexKeys))
    ///     .unwrap();
    /// a.set(1, "k".into(), "v".into()).unwrap();
    /// assert!(a.get("k").unwrap().signature.is_some());
    /// ```
    pub fn with_signing(mut self, signing: Signing) -> Result<Self, ConfigError> {
        if signing.key_of(self.id.as_str()) != Some(signing.verifying_key()) {
            return Err(ConfigError::SigningKeyMismatch {
                id: self.id.clone(),
            });
        }
        self.signing = Some(signing);
        Ok(self)
    }

    /// Whether this node signs its writes and checks signatures.
    pub fn is_signing(&self) -> bool {
        self.signing.is_some()
    }

    /// Opens `store` for this fresh node: loads what it holds (entries, watermarks, floors,
    /// clock; no events), then persists every later change there before making it. A store
    /// that held data also opens local writes at once (the node knows its own versions).
    ///
    /// ```
    /// use scuttle_core::{Config, Gossip, LastWriterWins, MemoryStore, ScuttleBreadth};
    ///
    /// let store = MemoryStore::new();
    /// let mut a: Gossip<String, String> =
    ///     Gossip::new("a", Config::default(), LastWriterWins, ScuttleBreadth)
    ///         .unwrap()
    ///         .with_store(store.clone())
    ///         .unwrap();
    /// a.set(1, "k".into(), "v".into()).unwrap();
    /// drop(a); // a crash
    /// let a: Gossip<String, String> = Gossip::with_defaults("a").with_store(store).unwrap();
    /// assert_eq!(a.value("k").map(String::as_str), Some("v"));
    /// assert_eq!(a.version(), 1);
    /// ```
    pub fn with_store(
        mut self,
        store: impl Store<K, V> + Send + Sync + 'static,
    ) -> Result<Self, OpenError> {
        if !(self.state.len() == 0 && self.watermarks.iter().next().is_none() && self.version == 0)
        {
            return Err(OpenError::NotFresh);
        }
        let mut store: Box<dyn Store<K, V> + Send + Sync> = Box::new(store);
        let snapshot = store.load()?;
        if !snapshot.is_empty() {
            self.caught_up = true;
        }
        for (source, version) in &snapshot.watermarks {
            self.raise_watermark(source, *version);
        }
        for (source, floor) in snapshot.floors {
            let f = self.floors.entry(source).or_insert(0);
            *f = (*f).max(floor);
        }
        self.version = self.version.max(snapshot.clock);
        for (key, entry) in snapshot.entries {
            self.raise_watermark(&entry.source_id, entry.version);
            self.version = self.version.max(entry.version);
            self.install(entry.to_update(key), Origin::Loaded);
        }
        // Loading compacts, quietly.
        self.events.clear();
        self.store = Some(store);
        Ok(self)
    }

    /// Makes every change so far durable, for stores that group commits (a no-op otherwise).
    pub fn flush(&mut self) -> Result<(), StoreError> {
        match self.store.as_mut() {
            Some(store) => store.flush(),
            None => Ok(()),
        }
    }

    /// Whether local writes are open: always, unless [`Config::catch_up`] is set and this node
    /// started empty and has neither caught up with a peer nor waited out the period.
    pub fn is_caught_up(&self) -> bool {
        self.caught_up
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
            self.install(entry.to_update(key), Origin::Loaded);
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

    /// The resolver.
    pub fn resolver(&self) -> &R {
        &self.resolver
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

    /// The hash of this node's full digest: equal on two nodes exactly when (up to a 64-bit
    /// collision) they hold the same watermarks.
    pub fn digest_hash(&self) -> u64 {
        self.digest_hash
    }

    /// The updates held from `source` above version `since`, ascending: O(log n + k).
    pub fn news<'a>(
        &'a self,
        source: &str,
        since: Version,
    ) -> impl Iterator<Item = UpdateRef<'a, K, V>> + 'a {
        self.history.news(&self.state, source, since)
    }

    /// Number of updates held for replay (current and superseded).
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Number of superseded updates held for replay.
    pub fn superseded_len(&self) -> usize {
        self.history.superseded_len()
    }

    /// Counters of what this node did.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    // ---------------------------------------------------------------- commands

    /// Writes `key = value` locally at time `now`, gated by the resolver's
    /// [`accept_local`](Resolver::accept_local). Returns the write's version. A refused write
    /// changes nothing, not even [`version`](Self::version); a write that could never fit one
    /// message is refused with [`SetError::TooLarge`].
    pub fn set(&mut self, now: Millis, key: K, value: V) -> Result<Version, SetError<R::Error>> {
        self.write(now, key, Some(value))
    }

    /// Deletes `key` locally at time `now` by writing a tombstone (even when the key is
    /// unknown here, so that the delete also wins over older writes still on their way).
    pub fn delete(&mut self, now: Millis, key: K) -> Result<Version, SetError<R::Error>> {
        self.write(now, key, None)
    }

    fn write(
        &mut self,
        now: Millis,
        key: K,
        value: Option<V>,
    ) -> Result<Version, SetError<R::Error>> {
        self.open_writes(now)?;
        let next = self
            .version
            .checked_add(1)
            .ok_or(SetError::VersionOverflow)?;
        let version = match self.config.versions {
            Versions::Counter => next,
            Versions::Hybrid => next.max(hlc(now)),
        };
        let mut update = Update {
            key,
            value,
            source_id: self.id.clone(),
            version,
            timestamp: now,
            signature: None,
        };
        if let Some(signing) = &self.signing {
            // The link: this node's previous write, so receivers can tell a run of its news
            // that leaves one out.
            let link = self.own_last.max(self.watermark(self.id.as_str()));
            update.signature = Some(
                signing
                    .sign(update.as_ref(), link)
                    .map_err(|_| SetError::Unsignable)?,
            );
        }
        let len = self.smallest_message_for(&update);
        if len > self.config.max_message_bytes {
            return Err(SetError::TooLarge {
                len,
                max: self.config.max_message_bytes,
            });
        }
        let accepted = self
            .resolver
            .accept_local(self.state.get(&update.key), &update)
            .map_err(SetError::Policy)?;
        if !accepted {
            return Err(SetError::Rejected);
        }
        if let Some(store) = self.store.as_mut() {
            store.commit(&Batch {
                puts: vec![&update],
                removes: Vec::new(),
                watermarks: vec![(&update.source_id, version)],
                floors: Vec::new(),
                clock: version,
            })?;
        }
        self.version = version;
        // While its own entries from before a rejoin are being heard again, its own watermark
        // moves only with news (see `rejoin`); `own_last` keeps the write.
        if !self.own_rejoining() {
            self.raise_watermark(&update.source_id, version);
        }
        self.own_last = self.own_last.max(version);
        self.install(update, Origin::Local);
        Ok(version)
    }

    /// Refuses local writes while the node is catching up (see [`Config::catch_up`]).
    fn open_writes(&mut self, now: Millis) -> Result<(), SetError<R::Error>> {
        let started = *self.started.get_or_insert(now);
        if self.caught_up {
            return Ok(());
        }
        let period = self.config.catch_up.map_or(0, duration_millis);
        if now < started.saturating_add(period) {
            return Err(SetError::CatchingUp);
        }
        self.caught_up = true;
        Ok(())
    }

    /// The highest remote version this node takes at `now`: beyond it news waits.
    fn clock_ceiling(&self, now: Millis) -> Version {
        let bound = match self.config.versions {
            Versions::Counter => MAX_COUNTER_VERSION,
            Versions::Hybrid => {
                let skew = duration_millis(self.config.max_clock_skew);
                hlc(now.saturating_add(skew)).saturating_add((1 << HLC_COUNTER_BITS) - 1)
            }
        };
        bound.max(self.version)
    }

    /// A peer's digest that names this node shows how far its own versions went (before a
    /// restart, say): the clock rises to it (within the bound), so the next write is above.
    /// A node catching up opens its writes once it holds its own updates up to there: a
    /// write before that would raise its own watermark over them, and they would never come
    /// back to it.
    fn learn_from_digest(&mut self, theirs: Option<&HashMap<NodeId, Version>>, now: Millis) {
        if let Some(mine) = theirs.and_then(|t| t.get(&self.id)) {
            if *mine <= self.clock_ceiling(now) {
                self.version = self.version.max(*mine);
                self.own_target = self.own_target.max(*mine);
            }
        }
        self.heard_peer = true;
        self.check_caught_up();
    }

    fn check_caught_up(&mut self) {
        if !self.caught_up && self.heard_peer {
            self.caught_up = self.watermark(self.id.as_str()) >= self.own_target;
        }
    }

    /// The largest size the smallest message carrying `update` alone can take (an `Ack` with
    /// one run, whatever its `prev`).
    fn smallest_message_for(&self, update: &Update<K, V>) -> usize {
        wire::message_head_len(1)
            + wire::news_head_len(1)
            + wire::run_head_len(&update.source_id, Some(Version::MAX), 1)
            + wire::item_len(
                wire::cbor_len(&update.key),
                Version::MAX,
                i128::from(update.timestamp),
                update.value.as_ref().map(|v| wire::cbor_len(v)),
            )
            + if self.signing.is_some() {
                wire::MAX_SIGNATURE_WIRE_LEN
            } else {
                0
            }
    }

    /// The message that opens an exchange with a peer: this node's digest, or only its hash
    /// when the last exchange found both sides equal and nothing changed since.
    ///
    /// A full digest that would not fit `max_message_bytes` is cut to the entries that fit,
    /// starting at a place that moves with the digest hash: a peer treats a source left out
    /// as unknown and answers with that source's news from the start (duplicates, never a
    /// loss).
    pub fn start_exchange(&self) -> Message<K, V> {
        Message::Syn {
            digest: if self.in_sync && self.config.digest_hashes {
                Digest::Hash(self.digest_hash)
            } else {
                let budget = self
                    .config
                    .max_message_bytes
                    .saturating_sub(wire::message_head_len(1));
                Digest::Full(self.digest_within(budget))
            },
        }
    }

    /// Collects the tombstones whose grace period has passed at `now`, and the superseded
    /// updates of their keys. Returns how many were collected. With a store, the collection is
    /// persisted first; if the store fails nothing is collected.
    pub fn handle_timeout(&mut self, now: Millis) -> Result<usize, StoreError> {
        self.started.get_or_insert(now);
        if self.strict_chains() {
            self.compact_held();
        }
        self.forget_unheard()?;
        let Some(grace) = self.grace_millis() else {
            return Ok(0);
        };
        // Under `Covered`, a tombstone is stable once every member holds it (so every later
        // write beats it) and it is within the members' stable bound (see `stable_bound`).
        let covered = self.config.collection == Collection::Covered;
        let bound = if covered { self.stable_bound() } else { None };
        let mut held: HashMap<NodeId, Version> = HashMap::new();
        let mut stable = |source: &NodeId, version: Version| match (&self.members, bound) {
            (Some(members), Some(bound)) => {
                let low = *held
                    .entry(source.clone())
                    .or_insert_with(|| self.lowest_claim(members, source));
                version <= low && version <= bound
            }
            _ => false,
        };
        let due: Vec<((Millis, NodeId, Version), K)> = self
            .tombstones
            .iter()
            .take_while(|((timestamp, _, _), _)| timestamp.saturating_add(grace) <= now)
            .filter(|((_, source, version), _)| !covered || stable(source, *version))
            .map(|(at, key)| (at.clone(), key.clone()))
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        if let Some(store) = self.store.as_mut() {
            let mut floors: HashMap<&NodeId, Version> = HashMap::new();
            for ((_, source, version), _) in &due {
                let f = floors.entry(source).or_insert(0);
                *f = (*f).max(*version);
            }
            store.commit(&Batch {
                puts: Vec::new(),
                removes: due.iter().map(|(_, key)| key).collect(),
                watermarks: Vec::new(),
                floors: floors.into_iter().collect(),
                clock: self.version,
            })?;
        }
        let mut collected = HashSet::new();
        for (at, key) in due {
            self.tombstones.remove(&at);
            let (_, source, version) = at;
            self.state.remove(&key);
            self.history.remove(&source, version);
            let floor = self.floors.entry(source).or_insert(0);
            *floor = (*floor).max(version);
            collected.insert(key);
        }
        // Even under strict chains, where a member still without one of these could not
        // follow its source's links past it: kept, it would bring the key back to a node
        // that never held it. That member takes the gap from the source itself.
        self.history
            .forget_superseded(|_, _, k| collected.contains(k));
        self.stats.tombstones_collected += collected.len() as u64;
        self.push_event(Event::TombstonesCollected {
            count: collected.len(),
        });
        Ok(collected.len())
    }

    // ---------------------------------------------------------------- inputs

    /// Handles one message from a peer and returns the reply to send back, if any: a
    /// [`Message::SynAck`] for a `Syn`, a [`Message::Ack`] for a `SynAck` (none when this node
    /// has no news for the peer), nothing for an `Ack`.
    ///
    /// `now` is the local clock: with [`Versions::Hybrid`], news whose version is more than
    /// [`Config::max_clock_skew`] ahead of it waits (it moves nothing, so it is offered again).
    ///
    /// Decide, then commit: every check, every resolver decision and the reply are computed
    /// first, then the change is persisted (with a store), then made. A message that breaks
    /// the protocol, whose resolver or sorter fails, or whose change the store refuses, is
    /// refused with an error and changes nothing.
    pub fn handle_message(
        &mut self,
        now: Millis,
        msg: Message<K, V>,
    ) -> Result<Option<Message<K, V>>, ReceiveError<R::Error>> {
        self.receive(now, None, msg)
    }

    /// [`handle_message`](Self::handle_message) for a message whose sender the transport
    /// has authenticated as member `from` (libp2p: the peer id). Under
    /// [`Collection::Covered`] its digest counts as `from`'s word on what it holds; from a
    /// sender that is not a member it counts for nothing.
    pub fn handle_message_from(
        &mut self,
        now: Millis,
        from: &str,
        msg: Message<K, V>,
    ) -> Result<Option<Message<K, V>>, ReceiveError<R::Error>> {
        self.receive(now, Some(from), msg)
    }

    fn receive(
        &mut self,
        now: Millis,
        from: Option<&str>,
        msg: Message<K, V>,
    ) -> Result<Option<Message<K, V>>, ReceiveError<R::Error>> {
        let reply = self.receive_one(now, from, msg)?;
        // News and digests move what a rejoining node may forget, and what every member
        // holds (strict chains compact only that).
        self.forget_unheard()?;
        if self.strict_chains() {
            self.compact_held();
        }
        Ok(reply)
    }

    fn receive_one(
        &mut self,
        now: Millis,
        from: Option<&str>,
        msg: Message<K, V>,
    ) -> Result<Option<Message<K, V>>, ReceiveError<R::Error>> {
        msg.validate()?;
        self.started.get_or_insert(now);
        match msg {
            Message::Syn { digest } => {
                // An equal hash means equal watermarks, rejoining or not.
                let same = matches!(digest, Digest::Hash(h) if h == self.digest_hash);
                self.note_coverage(from, &digest, same);
                self.answer_syn(now, digest).map(Some)
            }
            Message::SynAck { news, digest } => {
                let plan = self.decide(now, from, &news)?;
                let (reply, theirs) = match &digest {
                    Digest::Full(theirs) => {
                        let theirs = self.digest_map(theirs)?;
                        let budget = self
                            .config
                            .max_message_bytes
                            .saturating_sub(wire::message_head_len(1));
                        let news = self.choose_news(&theirs, budget)?;
                        (
                            (!news.is_empty()).then_some(Message::Ack { news }),
                            Some(theirs),
                        )
                    }
                    Digest::Hash(_) => (None, None),
                };
                self.persist(&plan, &news)?;
                self.commit(plan, news);
                let equal = match &digest {
                    Digest::Full(theirs) => hash_pairs(theirs) == self.digest_hash,
                    Digest::Hash(h) => *h == self.digest_hash,
                };
                let same = equal && self.same_digest(self.digest_hash);
                self.in_sync = same;
                self.note_coverage(from, &digest, equal);
                if theirs.is_some() || same {
                    self.learn_from_digest(theirs.as_ref(), now);
                }
                Ok(reply)
            }
            Message::Ack { news } => {
                let plan = self.decide(now, from, &news)?;
                self.persist(&plan, &news)?;
                self.commit(plan, news);
                self.check_caught_up();
                Ok(None)
            }
        }
    }

    // ---------------------------------------------------------------- outputs

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event<K, V>> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work next: the time the oldest
    /// tombstone's grace period ends, or `None`.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let grace = self.grace_millis()?;
        let ((timestamp, _, _), _) = self.tombstones.first_key_value()?;
        Some(timestamp.saturating_add(grace))
    }

    // ---------------------------------------------------------------- internals

    fn grace_millis(&self) -> Option<Millis> {
        self.config.tombstone_grace.map(duration_millis)
    }

    fn full_digest(&self) -> Vec<(NodeId, Version)> {
        let mut digest: Vec<(NodeId, Version)> = self
            .watermarks
            .iter()
            .map(|(s, v)| (s.clone(), *v))
            .collect();
        digest.sort_unstable();
        digest
    }

    /// The full digest, or as many of its entries as fit `budget` encoded bytes.
    fn digest_within(&self, budget: usize) -> Vec<(NodeId, Version)> {
        let digest = self.full_digest();
        let entries: usize = digest
            .iter()
            .map(|(s, v)| wire::digest_entry_len(s, *v))
            .sum();
        if digest.is_empty() || wire::uint_len(2 * digest.len() as u64) + entries <= budget {
            return digest;
        }
        // Each cut starts where the last one ended, so every source is named in turn: a cut
        // that always left out the same sources could stall them for good (a peer answers a
        // left-out source from its start, which may be all duplicates here).
        let turn = self.digest_cuts.load(AtomicOrdering::Relaxed);
        let start = (self.digest_hash.wrapping_add(turn) % digest.len() as u64) as usize;
        let mut kept = Vec::new();
        let mut entries_len = 0;
        for (source, version) in digest.iter().cycle().skip(start).take(digest.len()) {
            let entry = wire::digest_entry_len(source, *version);
            if wire::uint_len(2 * (kept.len() as u64 + 1)) + entries_len + entry > budget {
                break;
            }
            entries_len += entry;
            kept.push((source.clone(), *version));
        }
        self.digest_cuts
            .fetch_add(kept.len().max(1) as u64, AtomicOrdering::Relaxed);
        kept
    }

    fn digest_map(
        &self,
        digest: &[(NodeId, Version)],
    ) -> Result<HashMap<NodeId, Version>, ProtocolError> {
        let max = self.config.max_digest_sources;
        if digest.len() > max {
            return Err(ProtocolError::DigestTooLarge { max });
        }
        let mut theirs = HashMap::with_capacity(digest.len());
        for (source, version) in digest {
            let v = theirs.entry(source.clone()).or_insert(0);
            *v = (*v).max(*version);
        }
        Ok(theirs)
    }

    fn answer_syn(
        &mut self,
        now: Millis,
        digest: Digest,
    ) -> Result<Message<K, V>, ReceiveError<R::Error>> {
        // A source named at 0 adds nothing to a digest's hash: a peer that names one this node
        // does not know (a node rejoining, whose watermarks start from zero but not what it
        // holds) is not idle with it, or its news would never be asked for.
        let idle = match &digest {
            Digest::Hash(h) => self.same_digest(*h),
            Digest::Full(theirs) => {
                self.same_digest(hash_pairs(theirs))
                    && theirs
                        .iter()
                        .all(|(s, v)| *v > 0 || self.watermarks.get(s.as_str()).is_some())
            }
        };
        self.stats.digests_answered += 1;
        let hashes = self.config.digest_hashes;
        if idle {
            self.learn_from_digest(None, now);
            self.stats.idle_exchanges += 1;
            self.in_sync = true;
            let room = self
                .config
                .max_message_bytes
                .saturating_sub(wire::message_head_len(2) + wire::news_head_len(0));
            let digest = if hashes {
                Digest::Hash(self.digest_hash)
            } else {
                Digest::Full(self.digest_within(room))
            };
            return Ok(Message::SynAck {
                news: News::default(),
                digest,
            });
        }
        let Digest::Full(theirs) = digest else {
            // Only a hash, and it differs: the initiator learns it is not in sync and answers
            // with its news; it pulls in full next time.
            let room = self
                .config
                .max_message_bytes
                .saturating_sub(wire::message_head_len(2) + wire::news_head_len(0));
            return Ok(Message::SynAck {
                news: News::default(),
                digest: Digest::Full(self.digest_within(room)),
            });
        };
        let theirs = self.digest_map(&theirs)?;
        let reply = self.answer_full_digest(&theirs)?;
        self.learn_from_digest(Some(&theirs), now);
        Ok(reply)
    }

    /// The `SynAck` for a peer whose full digest is `theirs`.
    fn answer_full_digest(
        &mut self,
        theirs: &HashMap<NodeId, Version>,
    ) -> Result<Message<K, V>, ReceiveError<R::Error>> {
        let hashes = self.config.digest_hashes;
        // The digest always fits; the news gets what is left.
        let room = self
            .config
            .max_message_bytes
            .saturating_sub(wire::message_head_len(2) + wire::news_head_len(0));
        let mine = Digest::Full(self.digest_within(room));
        let budget = |digest: &Digest| {
            self.config
                .max_message_bytes
                .saturating_sub(wire::message_head_len(2) + wire::digest_len(digest))
        };
        let (with_digest, with_hash) = (budget(&mine), budget(&Digest::Hash(self.digest_hash)));
        let news = self.choose_news(theirs, with_digest)?;
        if hashes && news.is_empty() && with_hash > with_digest {
            // Nothing fits beside a full digest (a large update, many sources): send the news
            // with only the hash, so an update near `max_message_bytes` still moves when its
            // holder only answers. The initiator then sends nothing back this time.
            let news = self.choose_news(theirs, with_hash)?;
            if !news.is_empty() {
                return Ok(Message::SynAck {
                    news,
                    digest: Digest::Hash(self.digest_hash),
                });
            }
        }
        Ok(Message::SynAck { news, digest: mine })
    }

    /// The news for a peer whose watermarks are `theirs`, under `budget` bytes: a reset when
    /// the peer is behind a collected tombstone and the reset fits, incremental news otherwise.
    fn choose_news(
        &mut self,
        theirs: &HashMap<NodeId, Version>,
        budget: usize,
    ) -> Result<News<K, V>, ReceiveError<R::Error>> {
        // Under `Covered` no reset is sent: a member is never behind a collection, and others
        // get incremental news, which passes over collected versions like compacted ones.
        let behind = self.config.collection == Collection::AfterGrace
            && self
                .floors
                .iter()
                .any(|(s, floor)| theirs.get(s).copied().unwrap_or(0) < *floor);
        if behind {
            let reset = News::Reset(self.make_reset());
            if wire::news_len(&reset) <= budget {
                self.stats.resets_sent += 1;
                return Ok(reset);
            }
            self.stats.resets_too_large += 1;
        }
        let chosen = news::choose(
            &self.history,
            &self.state,
            &self.sorter,
            &self.watermarks,
            theirs,
            &self.id,
            // With a membership, this node's own news and its members' go before strangers'.
            self.members.is_some(),
            |s| *s == self.id || self.is_member(s),
            self.config.mtu,
            budget,
        )?;
        debug_assert!(chosen.bytes <= budget);
        let runs = chosen.runs;
        self.stats.updates_sent += runs.iter().map(|r| r.updates.len() as u64).sum::<u64>();
        Ok(News::Updates(runs))
    }

    fn make_reset(&self) -> Reset<K, V> {
        let mut floors: Vec<_> = self.floors.iter().map(|(s, v)| (s.clone(), *v)).collect();
        floors.sort_unstable();
        Reset {
            watermarks: self.full_digest(),
            floors,
            entries: self
                .state
                .iter()
                .map(|(k, e)| e.to_update(k.clone()))
                .collect(),
        }
    }

    /// Every decision `news` asks for, without changing anything.
    fn decide(
        &self,
        now: Millis,
        from: Option<&str>,
        news: &News<K, V>,
    ) -> Result<Plan<K>, ReceiveError<R::Error>> {
        let ceiling = self.clock_ceiling(now);
        let mut plan = Plan {
            installs: Vec::new(),
            raises: Vec::new(),
            clock: 0,
            forgotten: Vec::new(),
            floors: Vec::new(),
            applied: 0,
            ahead: 0,
            sources_refused: 0,
            rejected: 0,
            duplicates: 0,
            gaps: 0,
            equivocations: Vec::new(),
            resets_ignored: 0,
            heard: Vec::new(),
        };
        // Keys already won inside this message: later updates of the same key meet them.
        let mut won = Won::default();
        let decide_one =
            |u: &'_ Update<K, V>, hash: u64, won: &Won<'_, K, V>| match won.get(hash, &u.key) {
                Some(w) => self.resolver.accept(Some(&w.to_entry()), u),
                None => self.resolver.accept(self.state.get_hashed(hash, &u.key), u),
            };
        match news {
            News::Updates(runs) => {
                let mut index = 0;
                let mut marks: HashMap<&NodeId, Version> = HashMap::new();
                let room = self
                    .config
                    .max_sources
                    .saturating_sub(self.watermarks.len());
                let mut new_sources = 0;
                for run in runs {
                    let start = index;
                    index += run.updates.len();
                    let known = self.watermarks.get(run.source.as_str()).is_some()
                        || marks.contains_key(&run.source);
                    // Members are vouched for by the membership layer: a flood of made-up
                    // sources that fills the table cannot keep them out.
                    if !known && !self.is_member(&run.source) {
                        if new_sources >= room {
                            plan.sources_refused += run.updates.len().max(1) as u64;
                            continue;
                        }
                        new_sources += 1;
                    }
                    let mark = marks
                        .entry(&run.source)
                        .or_insert_with(|| self.watermark(run.source.as_str()));
                    if run.prev.is_some_and(|p| p > *mark) {
                        plan.gaps += run.updates.len() as u64;
                        continue;
                    }
                    // How far this node takes the sender's word that nothing lies between
                    // (see `skip_limit`); computed at the first gap only.
                    let mut limit = None;
                    let mut skip_limit =
                        || *limit.get_or_insert_with(|| self.skip_limit(from, &run.source));
                    // Versions rise along a run: from the first one beyond the clock bound on,
                    // the run waits (and moves nothing, the clock included).
                    let mut complete = true;
                    for (i, u) in run.updates.iter().enumerate() {
                        if u.version <= *mark {
                            plan.duplicates += 1;
                            if self.equivocates(u)? {
                                plan.equivocations.push(start + i);
                            }
                            continue;
                        }
                        if u.version > ceiling {
                            plan.ahead += (run.updates.len() - i) as u64;
                            complete = false;
                            break;
                        }
                        // Checked before anything moves: a forged update refuses the message.
                        self.check_signature(u)?;
                        // The source signed which of its versions came before: news that
                        // leaves one out waits for it, unless the gap is one to take on
                        // the sender's word.
                        let link = u.signature.as_ref().map_or(0, |s| s.link());
                        if self.strict_chains() && link > *mark && link > skip_limit() {
                            plan.gaps += (run.updates.len() - i) as u64;
                            complete = false;
                            break;
                        }
                        // The watermark moves whether or not the resolver accepts: otherwise
                        // the same news would be resent forever.
                        *mark = u.version;
                        if self.rejoining.is_some() {
                            plan.heard.push((u.source_id.clone(), u.version));
                        }
                        plan.clock = plan.clock.max(u.version);
                        let hash = self.state.hash_of(&u.key);
                        if decide_one(u, hash, &won).map_err(ReceiveError::Policy)? {
                            won.insert(hash, u);
                            plan.installs.push((start + i, hash));
                            plan.applied += 1;
                        } else {
                            plan.rejected += 1;
                        }
                    }
                    match run.through {
                        Some(through)
                            if self.strict_chains()
                                && through > *mark
                                && through > skip_limit() =>
                        {
                            plan.gaps += 1;
                        }
                        Some(through) if complete && through <= ceiling => {
                            plan.clock = plan.clock.max(through);
                            *mark = (*mark).max(through);
                        }
                        Some(_) if complete => plan.ahead += 1,
                        _ => {}
                    }
                }
                // Only real rises: a source named by news that moved nothing is not learned.
                plan.raises = marks
                    .into_iter()
                    .filter(|(s, v)| *v > self.watermark(s.as_str()))
                    .map(|(s, v)| (s.clone(), v))
                    .collect();
            }
            News::Reset(_) if self.config.collection == Collection::Covered => {
                // No reset is needed (nothing is collected before every member holds it) or
                // trusted: it changes nothing, not even through its entries, which would be
                // relayed onward as if nothing of their sources lay before them.
                plan.resets_ignored += 1;
            }
            News::Reset(reset) => {
                let too_far = reset
                    .entries
                    .iter()
                    .map(|u| u.version)
                    .chain(reset.watermarks.iter().map(|(_, v)| *v))
                    .any(|v| v > ceiling);
                if too_far {
                    plan.ahead += 1;
                    return Ok(plan);
                }
                let new: HashSet<&NodeId> = reset
                    .watermarks
                    .iter()
                    .map(|(s, _)| s)
                    .chain(reset.entries.iter().map(|u| &u.source_id))
                    .filter(|s| self.watermarks.get(s.as_str()).is_none() && !self.is_member(s))
                    .collect();
                if self.watermarks.len() + new.len() > self.config.max_sources {
                    plan.sources_refused += 1;
                    return Ok(plan);
                }
                for (i, u) in reset.entries.iter().enumerate() {
                    plan.clock = plan.clock.max(u.version);
                    // An entry at or below this node's watermark was seen here already (and is
                    // held, dominated, or deleted and collected): merging it again could bring
                    // back a collected delete.
                    if u.version <= self.watermark(u.source_id.as_str()) {
                        continue;
                    }
                    self.check_signature(u)?;
                    let hash = self.state.hash_of(&u.key);
                    if decide_one(u, hash, &won).map_err(ReceiveError::Policy)? {
                        won.insert(hash, u);
                        plan.installs.push((i, hash));
                        plan.applied += 1;
                    }
                }
                for (s, v) in &reset.watermarks {
                    plan.clock = plan.clock.max(*v);
                    plan.raises.push((s.clone(), *v));
                }
                // A key the sender has seen but no longer holds had its tombstone collected
                // there.
                let seen: HashMap<&NodeId, Version> =
                    reset.watermarks.iter().map(|(s, v)| (s, *v)).collect();
                let held: HashSet<&K> = reset.entries.iter().map(|u| &u.key).collect();
                plan.forgotten = self
                    .state
                    .iter()
                    .filter(|(k, e)| {
                        !held.contains(k)
                            && e.version <= seen.get(&e.source_id).copied().unwrap_or(0)
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                plan.floors = reset.floors.clone();
            }
        }
        Ok(plan)
    }

    /// Records member `from`'s digest as its word on what it holds (`same`: the digest is
    /// this node's own, by hash). Only under [`Collection::Covered`], only for members, and
    /// only for sources this node knows (so a member cannot grow it with made-up ones).
    fn note_coverage(&mut self, from: Option<&str>, digest: &Digest, same: bool) {
        if self.config.collection != Collection::Covered {
            return;
        }
        let Some(members) = self.members.as_ref() else {
            return;
        };
        let Some(member) = from.and_then(|from| members.get(from)) else {
            return;
        };
        let cover = self.coverage.entry(member.clone()).or_default();
        let mut raise = |source: &NodeId, version: Version| {
            let w = cover.entry(source.clone()).or_insert(0);
            *w = (*w).max(version);
        };
        if same {
            for (source, version) in self.watermarks.iter() {
                raise(source, *version);
            }
        } else if let Digest::Full(entries) = digest {
            // Sources this node does not know count too, up to `max_sources` per member: a
            // member's claim on its own writes is what keeps a tombstone from being collected
            // here before an older write of that member arrived (see `stable_bound`), and
            // members' claims on a departed source let a gap in its news be crossed (see
            // `skip_limit`).
            let max = self.config.max_sources;
            for (source, version) in entries {
                if self.watermarks.get(source.as_str()).is_some()
                    || cover.contains_key(source)
                    || cover.len() < max
                    || members.contains(source.as_str())
                {
                    let w = cover.entry(source.clone()).or_insert(0);
                    *w = (*w).max(*version);
                }
            }
        }
    }

    /// Whether `source` is a member (see [`set_members`](Self::set_members)).
    fn is_member(&self, source: &NodeId) -> bool {
        self.members
            .as_ref()
            .is_some_and(|m| m.contains(source.as_str()))
    }

    /// Whether runs must follow their sources' signed links: with signatures under
    /// [`Collection::Covered`]. Elsewhere a run's `prev` and `through` are taken on the
    /// sender's word (trusted peers; unsigned updates could be forged anyway).
    fn strict_chains(&self) -> bool {
        self.signing.is_some() && self.config.collection == Collection::Covered
    }

    /// Up to which version this node takes `from`'s word, in news from `source`, that nothing
    /// lies between (a signed link above its watermark, or a run's `through`).
    ///
    /// A source speaks for its own writes: any gap. A member's chain is never compacted above
    /// any member's watermark (see `compact`), so from a relay no gap is taken. A source that
    /// is no longer a member (or this node's own, after a restart without a store) may have
    /// had old updates compacted before this node counted: a gap is taken up to what every
    /// other member says it holds of the source.
    fn skip_limit(&self, from: Option<&str>, source: &NodeId) -> Version {
        if !self.strict_chains() || from == Some(source.as_str()) {
            return Version::MAX;
        }
        if *source != self.id && self.is_member(source) {
            return 0;
        }
        self.members
            .as_ref()
            .map_or(0, |members| self.others_claim(members, source))
    }

    /// The lowest claim of the members other than this node on `source`; 0 with none (then
    /// nobody else holds anything).
    fn others_claim(&self, members: &HashSet<NodeId>, source: &NodeId) -> Version {
        members
            .iter()
            .filter(|m| **m != self.id)
            .map(|m| self.claim(m, source))
            .min()
            .unwrap_or(0)
    }

    /// What member `m` (this node included) has said it holds of `source`.
    fn claim(&self, m: &NodeId, source: &NodeId) -> Version {
        if *m == self.id {
            self.watermark(source.as_str())
        } else {
            self.coverage
                .get(m)
                .and_then(|c| c.get(source))
                .copied()
                .unwrap_or(0)
        }
    }

    /// The lowest claim of any member (this node included) on `source`.
    fn lowest_claim(&self, members: &HashSet<NodeId>, source: &NodeId) -> Version {
        members
            .iter()
            .chain([&self.id])
            .map(|m| self.claim(m, source))
            .min()
            .unwrap_or(0)
    }

    /// Below which version a tombstone is stable as far as the members' own writes go (see
    /// [`Collection::Covered`]): every member must hold every member's writes up to where
    /// that member says its writes reach, or up to the tombstone's version if lower — the
    /// writes a member made before it saw the tombstone, which the tombstone may beat. For a
    /// member `s` that all hold up to its own claim nothing is owed; otherwise the tombstone's
    /// version must not pass what all hold of `s`. `None`: no members known, nothing is stable.
    fn stable_bound(&self) -> Option<Version> {
        let members = self.members.as_ref()?;
        Some(
            members
                .iter()
                .chain([&self.id])
                .filter_map(|s| {
                    let low = self.lowest_claim(members, s);
                    (low < self.claim(s, s)).then_some(low)
                })
                .min()
                .unwrap_or(Version::MAX),
        )
    }

    /// Refuses `u` unless it carries its source's signature (when this node checks them).
    fn check_signature(&self, u: &Update<K, V>) -> Result<(), ProtocolError> {
        let Some(signing) = &self.signing else {
            return Ok(());
        };
        signing.verify(u).map_err(|e| match e {
            SignError::Unsigned => ProtocolError::Unsigned {
                source_id: u.source_id.clone(),
                version: u.version,
            },
            SignError::UnknownSource | SignError::Bad | SignError::Serialize => {
                ProtocolError::BadSignature {
                    source_id: u.source_id.clone(),
                    version: u.version,
                }
            }
        })
    }

    /// Whether `u`, at or below its source's watermark, is a second update its source signed
    /// under a version held here. Signatures are deterministic, so the same update has the
    /// same signature: only a different one is looked at, and if it does not verify the peer
    /// forged it (an error), else the source equivocated.
    fn equivocates(&self, u: &Update<K, V>) -> Result<bool, ProtocolError> {
        if self.signing.is_none() {
            return Ok(false);
        }
        let Some(held) = self
            .history
            .find(&self.state, u.source_id.as_str(), u.version)
        else {
            return Ok(false);
        };
        if held.signature == u.signature.as_ref() {
            return Ok(false);
        }
        self.check_signature(u)?;
        let link = |s: Option<&crate::signing::Signature>| s.map_or(0, |s| s.link());
        let same = crate::signing::signed_bytes(held, link(held.signature)).ok()
            == crate::signing::signed_bytes(u.as_ref(), link(u.signature.as_ref())).ok();
        Ok(!same)
    }

    /// Hands the store what committing `plan` for `news` will change, before it changes.
    fn persist(&mut self, plan: &Plan<K>, news: &News<K, V>) -> Result<(), StoreError> {
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        let puts: Vec<&Update<K, V>> = match news {
            News::Updates(runs) => {
                let all: Vec<&Update<K, V>> = runs.iter().flat_map(|r| &r.updates).collect();
                plan.installs
                    .iter()
                    .filter_map(|(i, _)| all.get(*i).copied())
                    .collect()
            }
            News::Reset(reset) => plan
                .installs
                .iter()
                .filter_map(|(i, _)| reset.entries.get(*i))
                .collect(),
        };
        let watermarks = &self.watermarks;
        let raises: Vec<(&NodeId, Version)> = plan
            .raises
            .iter()
            .filter(|(s, v)| watermarks.get(s.as_str()).is_none_or(|w| *w < *v))
            .map(|(s, v)| (s, *v))
            .collect();
        let floors: Vec<(&NodeId, Version)> = plan.floors.iter().map(|(s, v)| (s, *v)).collect();
        let batch = Batch {
            puts,
            removes: plan.forgotten.iter().collect(),
            watermarks: raises,
            floors,
            clock: self.version.max(plan.clock),
        };
        if batch.is_empty() {
            return Ok(());
        }
        store.commit(&batch)
    }

    /// Carries out a plan made by [`decide`](Self::decide) for the same `news`.
    fn commit(&mut self, plan: Plan<K>, news: News<K, V>) {
        self.version = self.version.max(plan.clock);
        self.stats.ahead += plan.ahead;
        self.stats.sources_refused += plan.sources_refused;
        if plan.sources_refused > 0 {
            self.push_event(Event::SourceLimit {
                refused: plan.sources_refused,
            });
        }
        self.stats.updates_applied += plan.applied;
        self.stats.updates_rejected += plan.rejected;
        self.stats.duplicates += plan.duplicates;
        self.stats.gaps += plan.gaps;
        self.stats.equivocations += plan.equivocations.len() as u64;
        self.stats.resets_ignored += plan.resets_ignored;
        match news {
            News::Updates(runs) => {
                let mut updates: Vec<Option<Update<K, V>>> =
                    runs.into_iter().flat_map(|r| r.updates).map(Some).collect();
                for &i in &plan.equivocations {
                    if let Some(u) = updates.get_mut(i).and_then(Option::take) {
                        self.push_event(Event::Equivocation {
                            update: Box::new(u),
                        });
                    }
                }
                for (source, version) in &plan.raises {
                    self.raise_watermark(source, *version);
                }
                if let Some(rejoining) = self.rejoining.as_mut() {
                    for (source, version) in &plan.heard {
                        rejoining.heard(source, *version);
                    }
                }
                for (i, hash) in plan.installs {
                    if let Some(u) = updates.get_mut(i).and_then(Option::take) {
                        self.install_hashed(u, Origin::Remote, hash);
                    }
                }
            }
            News::Reset(reset) => self.commit_reset(plan, reset),
        }
    }

    fn commit_reset(&mut self, plan: Plan<K>, reset: Reset<K, V>) {
        let Reset { entries, .. } = reset;
        let mut entries: Vec<Option<Update<K, V>>> = entries.into_iter().map(Some).collect();
        for (i, hash) in plan.installs {
            if let Some(u) = entries.get_mut(i).and_then(Option::take) {
                self.install_hashed(u, Origin::Remote, hash);
            }
        }
        let forgotten = plan.forgotten;
        for key in &forgotten {
            if let Some((_, _, entry)) = self.state.remove(key) {
                self.history.remove(&entry.source_id, entry.version);
                self.tombstones
                    .remove(&(entry.timestamp, entry.source_id.clone(), entry.version));
            }
        }
        if !forgotten.is_empty() {
            let doomed: HashSet<&K> = forgotten.iter().collect();
            self.history.forget_superseded(|_, _, k| doomed.contains(k));
        }
        for key in forgotten {
            self.push_event(Event::Forgotten { key });
        }
        for (source, version) in plan.raises {
            self.raise_watermark(&source, version);
        }
        for (source, floor) in plan.floors {
            let f = self.floors.entry(source).or_insert(0);
            *f = (*f).max(floor);
        }
    }

    fn push_event(&mut self, event: Event<K, V>) {
        if self.config.events {
            self.events.push_back(event);
        }
    }

    fn raise_watermark(&mut self, source: &NodeId, version: Version) {
        if *source == self.id {
            self.own_last = self.own_last.max(version);
        }
        let old = match self.watermarks.get_mut(source.as_str()) {
            Some(w) if *w >= version => return,
            Some(w) => std::mem::replace(w, version),
            None => {
                self.watermarks.get_or_insert_with(source, || version);
                if version == 0 {
                    return;
                }
                0
            }
        };
        // A zero watermark adds nothing to the hash, as in `hash_pairs`.
        if old > 0 {
            self.digest_hash = self.digest_hash.wrapping_sub(pair_hash(source, old));
        }
        self.digest_hash = self.digest_hash.wrapping_add(pair_hash(source, version));
        self.in_sync = false;
    }

    /// Makes `update` the state of its key (the caller has asked the resolver), records it in
    /// history, moves the value it replaces into history as superseded, and compacts.
    fn install(&mut self, update: Update<K, V>, origin: Origin) {
        let hash = self.state.hash_of(&update.key);
        self.install_hashed(update, origin, hash);
    }

    /// [`install`](Self::install) with the key's hash in the state.
    fn install_hashed(&mut self, update: Update<K, V>, origin: Origin, hash: u64) {
        let Update {
            key,
            value,
            source_id,
            version,
            timestamp,
            signature,
        } = update;
        let entry = Entry {
            value,
            version,
            source_id,
            timestamp,
            signature,
        };
        if entry.is_deleted() {
            self.tombstones
                .insert((timestamp, entry.source_id.clone(), version), key.clone());
        }
        if origin != Origin::Loaded && self.config.events {
            self.events.push_back(Event::Update {
                key: key.clone(),
                entry: entry.clone(),
                local: origin == Origin::Local,
            });
        }
        let (id, old) = self.state.insert_hashed(hash, key, entry);
        if let Some((_, entry)) = self.state.slot(id) {
            self.history.insert_current(&entry.source_id, version, id);
        }
        if let Some(old) = old {
            if old.is_deleted() {
                self.tombstones
                    .remove(&(old.timestamp, old.source_id.clone(), old.version));
            }
            // The superseded update keeps its own copy of the key (rare: history bounds it).
            if let Some((key, _)) = self.state.slot(id) {
                let key = key.clone();
                self.history.supersede(key, old);
            }
        }
        // Under strict chains compaction happens once per message (see `receive`), where it
        // knows what every member holds.
        if !self.strict_chains() {
            let dropped = self.history.compact(self.config.max_history);
            self.compacted(dropped);
        }
    }

    /// Under strict chains: drops the oldest superseded updates that every member holds
    /// (a member without one could not follow its source's links past it), down to
    /// `max_history`.
    fn compact_held(&mut self) {
        if self.history.len() <= self.config.max_history {
            return;
        }
        let low = self.lowest_claims();
        let up_to = low.values().copied().max().unwrap_or(0);
        let dropped = self
            .history
            .compact_where(self.config.max_history, up_to, |s, v| {
                low.get(s).is_some_and(|l| v <= *l)
            });
        self.compacted(dropped);
    }

    /// The lowest claim of any member on each source history holds (none with no members
    /// known).
    fn lowest_claims(&self) -> HashMap<NodeId, Version> {
        let Some(members) = &self.members else {
            return HashMap::new();
        };
        self.history
            .sources()
            .map(|s| (s.clone(), self.lowest_claim(members, s)))
            .collect()
    }

    fn compacted(&mut self, dropped: usize) {
        if dropped > 0 {
            let history_len = self.history.len();
            self.push_event(Event::Compaction {
                dropped,
                history_len,
            });
        }
    }
}

fn duration_millis(d: std::time::Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether writes are open from the start: unless a catch-up period is configured.
fn config_catch_up_open(config: &Config) -> bool {
    config.catch_up.is_none()
}

impl<K, V, R, S> std::fmt::Debug for Gossip<K, V, R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gossip")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("keys", &self.state.len())
            .finish_non_exhaustive()
    }
}

/// The digest hash of a full digest (what [`Gossip::digest_hash`] keeps incrementally).
pub(crate) fn hash_pairs(digest: &[(NodeId, Version)]) -> u64 {
    let mut best: HashMap<&NodeId, Version> = HashMap::with_capacity(digest.len());
    for (s, v) in digest {
        let e = best.entry(s).or_insert(0);
        *e = (*e).max(*v);
    }
    best.into_iter()
        .filter(|(_, v)| *v > 0)
        .fold(0u64, |h, (s, v)| h.wrapping_add(pair_hash(s, v)))
}

/// A well-mixed hash of one digest entry (FNV-1a of the id, then a splitmix64 finaliser), so
/// the wrapping sum over entries is order-free and cheap to update.
fn pair_hash(source: &NodeId, version: Version) -> u64 {
    let id = source
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let mut z = id ^ version.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod won_tests {
    use super::Won;
    use crate::{NodeId, Update};

    fn up(key: &str, version: u64) -> Update<String, u8> {
        Update {
            key: key.into(),
            value: Some(0),
            source_id: NodeId::from("s"),
            version,
            timestamp: 0,
            signature: None,
        }
    }

    #[test]
    fn keys_whose_hashes_collide_stay_apart() {
        let (a, b, a2) = (up("a", 1), up("b", 2), up("a", 3));
        let mut won = Won::default();
        won.insert(7, &a);
        won.insert(7, &b); // same hash, another key
        assert_eq!(won.get(7, &"a".to_string()).map(|u| u.version), Some(1));
        assert_eq!(won.get(7, &"b".to_string()).map(|u| u.version), Some(2));
        assert!(won.get(7, &"c".to_string()).is_none());
        won.insert(7, &a2); // the same key wins again
        assert_eq!(won.get(7, &"a".to_string()).map(|u| u.version), Some(3));
        assert!(won.get(8, &"a".to_string()).is_none());
    }
}
