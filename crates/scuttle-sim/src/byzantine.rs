//! Byzantine peers: well-formed messages a misbehaving node may send, for adversarial
//! simulations (`tests/byzantine.rs`). A [`Byzantine`] is not a node of the [`Sim`](crate::Sim):
//! the test hands its messages straight to honest nodes (`Sim::inject`) and drops the replies.
//!
//! The attacks it makes are the ones the core defends against today: versions far ahead of
//! every clock (to pin it), runs with made-up gaps, floods of made-up sources, bogus digests,
//! news of its own at any version within the bound, and — against nodes that check
//! signatures ([`Byzantine::with_signing`]) — updates forged "from" honest nodes and
//! equivocation (two different updates signed under one version). Resets are not made: the
//! core cannot yet tell a lying reset from an honest one (`docs/security.md`, "Open").

use rand::rngs::SmallRng;
use rand::Rng;
use std::sync::Arc;

use scuttle_core::signing::Signing;

/// Makes the key of an identity a byzantine peer controls.
type KeyFactory = Arc<dyn Fn(&str) -> Signing + Send + Sync>;
use scuttle_core::{hlc, Digest, Message, Millis, News, NodeId, Run, Update, Version};

/// What one hostile message tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Attack {
    /// An update of its own with a version near the maximum, or far ahead of the clock.
    HugeVersion,
    /// A run whose `prev` claims a gap, with a huge version.
    Gap,
    /// Runs from many made-up sources.
    SourceFlood,
    /// A `Syn` whose digest claims random watermarks for random sources.
    BogusDigest,
    /// News of its own, ascending from where it left off, at any version within the bound.
    OwnNews,
    /// Updates "from" an honest node ([`Byzantine::with_victims`]) that it signs itself:
    /// only nodes that check signatures are safe from it.
    Forge,
    /// A second, different update under a version of its own news already sent, signed.
    Equivocate,
    /// An unsolicited reset: high watermarks and floors for honest sources and itself, and
    /// no entries but a few of its own — "forget everything". Only nodes under
    /// [`Collection::Covered`](scuttle_core::Collection::Covered) are safe from it.
    Reset,
}

/// Every attack a node that does not check signatures is defended against, for drawing one.
pub const ATTACKS: [Attack; 5] = [
    Attack::HugeVersion,
    Attack::Gap,
    Attack::SourceFlood,
    Attack::BogusDigest,
    Attack::OwnNews,
];

/// Every attack, for nodes that check signatures and collect tombstones only once every
/// member holds them ([`Collection::Covered`](scuttle_core::Collection::Covered)).
pub const SIGNED_ATTACKS: [Attack; 8] = [
    Attack::HugeVersion,
    Attack::Gap,
    Attack::SourceFlood,
    Attack::BogusDigest,
    Attack::OwnNews,
    Attack::Forge,
    Attack::Equivocate,
    Attack::Reset,
];

/// A byzantine peer with its own source id. Its keys come from `key(n)`, so a test can keep
/// them apart from the honest nodes' keys and check those exactly.
pub struct Byzantine {
    id: NodeId,
    /// The last version of its own news.
    version: Version,
    fakes: u64,
    attacks: Vec<Attack>,
    /// Honest ids it forges updates from.
    victims: Vec<NodeId>,
    /// The keys of the identities it controls (its own and its made-up sources').
    keys: Option<KeyFactory>,
    /// Messages made, per attack.
    pub made: std::collections::HashMap<Attack, u64>,
}

impl std::fmt::Debug for Byzantine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Byzantine")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("attacks", &self.attacks)
            .field("signs", &self.keys.is_some())
            .field("made", &self.made)
            .finish_non_exhaustive()
    }
}

impl Byzantine {
    /// A byzantine peer named `id`.
    pub fn new(id: impl Into<NodeId>) -> Self {
        Byzantine {
            id: id.into(),
            version: 0,
            fakes: 0,
            attacks: ATTACKS.to_vec(),
            victims: Vec::new(),
            keys: None,
            made: Default::default(),
        }
    }

    /// Signs every update it sends: its own news and its made-up sources' with their keys,
    /// which `keys` makes (identities are free to make); updates forged "from" honest nodes
    /// with its own key, since it does not have theirs.
    pub fn with_signing(mut self, keys: impl Fn(&str) -> Signing + Send + Sync + 'static) -> Self {
        self.keys = Some(Arc::new(keys));
        self
    }

    /// The honest ids [`Attack::Forge`] writes "from".
    pub fn with_victims(mut self, victims: Vec<NodeId>) -> Self {
        self.victims = victims;
        self
    }

    /// Makes only `attacks` (for narrowing a failure down).
    pub fn with_attacks(mut self, attacks: &[Attack]) -> Self {
        self.attacks = attacks.to_vec();
        self
    }

    /// Its id.
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// One hostile message at `now`, of a random attack; keys from `key`, values from `value`.
    pub fn message<K, V>(
        &mut self,
        rng: &mut SmallRng,
        now: Millis,
        key: impl Fn(u32) -> K,
        value: impl Fn(u32) -> V,
    ) -> Message<K, V>
    where
        K: serde::Serialize,
        V: serde::Serialize,
    {
        let attack = self.attacks[rng.gen_range(0..self.attacks.len())];
        let keys = self.keys.clone();
        let (me, victims) = (self.id.clone(), self.victims.clone());
        *self.made.entry(attack).or_default() += 1;
        // `link`: the version it signs as the source's previous one.
        let update = |source: &NodeId, version: Version, link: Version, rng: &mut SmallRng| {
            let mut u = Update {
                key: key(rng.gen_range(0..16)),
                value: Some(value(rng.gen())),
                source_id: source.clone(),
                version,
                timestamp: now,
                signature: None,
            };
            let signer = if victims.contains(source) {
                &me
            } else {
                source
            };
            u.signature = keys
                .as_ref()
                .and_then(|keys| keys(signer.as_str()).sign(u.as_ref(), link).ok());
            u
        };
        let ack = |runs| Message::Ack {
            news: News::Updates(runs),
        };
        match attack {
            Attack::HugeVersion => {
                let version = match rng.gen_range(0..3) {
                    0 => Version::MAX,
                    1 => hlc(now.saturating_add(3_600_000)),
                    _ => self.version.saturating_add(1 << 40),
                };
                ack(vec![Run {
                    source: self.id.clone(),
                    prev: Some(self.version),
                    updates: vec![update(
                        &self.id,
                        version.max(self.version + 1),
                        self.version,
                        rng,
                    )],
                    through: None,
                }])
            }
            Attack::Gap => {
                let prev = rng.gen_range(self.version + 1..=Version::MAX - 1);
                ack(vec![Run {
                    source: self.id.clone(),
                    prev: Some(prev),
                    updates: vec![update(&self.id, Version::MAX, prev, rng)],
                    through: None,
                }])
            }
            Attack::SourceFlood => {
                let runs = (0..rng.gen_range(1..50))
                    .map(|_| {
                        self.fakes += 1;
                        let source = NodeId::from(format!("{}-fake-{}", self.id, self.fakes));
                        Run {
                            prev: Some(0),
                            updates: vec![update(&source, 1, 0, rng)],
                            source,
                            through: None,
                        }
                    })
                    .collect();
                ack(runs)
            }
            Attack::BogusDigest => Message::Syn {
                digest: Digest::Full(
                    (0..rng.gen_range(0..20))
                        .map(|i| (NodeId::from(format!("bogus-{i}")), rng.gen()))
                        .collect(),
                ),
            },
            Attack::OwnNews => {
                let prev = self.version;
                // Ascending versions within a generous bound of the clock.
                let step = rng.gen_range(1..1_000_000);
                let first = prev
                    .max(hlc(now.saturating_sub(1_000)))
                    .saturating_add(step);
                let updates: Vec<_> = (0..rng.gen_range(1..5))
                    .map(|i| {
                        update(
                            &self.id,
                            first + i,
                            if i == 0 { prev } else { first + i - 1 },
                            rng,
                        )
                    })
                    .collect();
                self.version = updates.last().map_or(prev, |u| u.version);
                ack(vec![Run {
                    source: self.id.clone(),
                    prev: Some(prev),
                    updates,
                    through: None,
                }])
            }
            Attack::Forge => {
                let Some(victim) = self
                    .victims
                    .get(rng.gen_range(0..self.victims.len().max(1)))
                else {
                    return Message::Syn {
                        digest: Digest::Full(Vec::new()),
                    };
                };
                // Low versions (already held: it tries to pass as a duplicate or an
                // equivocation) and high ones (new news).
                let version = if rng.gen_bool(0.5) {
                    rng.gen_range(1..10)
                } else {
                    hlc(now.saturating_sub(1_000)).saturating_add(rng.gen_range(1..1_000))
                };
                ack(vec![Run {
                    source: victim.clone(),
                    prev: Some(version - 1),
                    updates: vec![update(victim, version, version - 1, rng)],
                    through: None,
                }])
            }
            Attack::Reset => {
                let high = hlc(now.saturating_add(1_000));
                let marks: Vec<(NodeId, Version)> = self
                    .victims
                    .iter()
                    .chain([&self.id])
                    .map(|s| (s.clone(), high))
                    .collect();
                self.version = self.version.max(high);
                let entries = (0..rng.gen_range(0..3))
                    .map(|i| update(&self.id, high - i, 0, rng))
                    .collect();
                Message::Ack {
                    news: News::Reset(scuttle_core::Reset {
                        watermarks: marks.clone(),
                        floors: marks,
                        entries,
                    }),
                }
            }
            Attack::Equivocate => {
                if self.version == 0 {
                    self.version = hlc(now);
                }
                // Another update under its latest version: honest nodes that hold the first
                // report it; others may take either.
                ack(vec![Run {
                    source: self.id.clone(),
                    prev: Some(self.version - 1),
                    updates: vec![update(&self.id, self.version, self.version - 1, rng)],
                    through: None,
                }])
            }
        }
    }
}
