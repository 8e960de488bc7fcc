//! The three messages of an exchange.
//!
//! An exchange between an initiator A and a responder B is push-pull in three whole messages,
//! each one frame on the wire:
//!
//! 1. [`Message::Syn`]: A's [`Digest`];
//! 2. [`Message::SynAck`]: B's [`News`] for A, and B's own digest;
//! 3. [`Message::Ack`]: A's news for B (not sent when A has none).
//!
//! A digest is either the full `(source, version)` list or, when the sender believes the
//! cluster is idle, only its 64-bit hash ([`Digest::Hash`]): an idle exchange then costs a
//! few bytes whatever the number of sources. `docs/protocol.md` shows the bytes.

use crate::error::ProtocolError;
use crate::types::{NodeId, Update, Version};

/// Version of the wire protocol; transports exchange it in their handshake.
pub const PROTOCOL_VERSION: u32 = 2;

/// One message of an exchange. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<K, V> {
    /// Opens an exchange: the initiator's digest.
    Syn {
        /// What the initiator holds.
        digest: Digest,
    },
    /// Answers a [`Syn`](Message::Syn): news the initiator lacks, and the responder's digest
    /// so the initiator can answer with its own news.
    SynAck {
        /// News for the initiator (empty when the digest was only a hash).
        news: News<K, V>,
        /// What the responder holds.
        digest: Digest,
    },
    /// Closes an exchange: the initiator's news for the responder.
    Ack {
        /// News for the responder.
        news: News<K, V>,
    },
}

/// What a node holds: its watermark for every source it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Digest {
    /// Every known source with the sender's watermark for it.
    Full(Vec<(NodeId, Version)>),
    /// Only the hash of the full digest ([`digest_hash`](crate::Gossip::digest_hash)): the
    /// sender believes the receiver holds the same. A receiver whose hash differs answers with
    /// its full digest.
    Hash(u64),
}

/// The updates one node sends another in an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum News<K, V> {
    /// Incremental news, grouped per source.
    Updates(Vec<Run<K, V>>),
    /// A state-based catch-up for a peer behind collected tombstones. See [`Reset`].
    Reset(Reset<K, V>),
}

impl<K, V> Default for News<K, V> {
    fn default() -> Self {
        News::Updates(Vec::new())
    }
}

impl<K, V> News<K, V> {
    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        match self {
            News::Updates(runs) => runs.is_empty(),
            News::Reset(_) => false,
        }
    }

    /// Number of updates carried (entries of a reset included).
    pub fn len(&self) -> usize {
        match self {
            News::Updates(runs) => runs.iter().map(|r| r.updates.len()).sum(),
            News::Reset(reset) => reset.entries.len(),
        }
    }

    /// Every update carried, run by run.
    pub fn updates(&self) -> impl Iterator<Item = &Update<K, V>> {
        let runs: &[Run<K, V>] = match self {
            News::Updates(runs) => runs,
            News::Reset(_) => &[],
        };
        let entries: &[Update<K, V>] = match self {
            News::Updates(_) => &[],
            News::Reset(reset) => &reset.entries,
        };
        runs.iter().flat_map(|r| r.updates.iter()).chain(entries)
    }
}

/// Consecutive news from one source, in ascending version with nothing skipped.
///
/// The receiver applies the run only if its watermark for `source` is at least `prev`;
/// otherwise an earlier update was lost or reordered and the run waits for a later exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run<K, V> {
    /// The source every update of the run comes from.
    pub source: NodeId,
    /// The version the receiver is known to hold from `source` just before the first update.
    /// `None` (seed JSON peers) trusts in-order delivery.
    pub prev: Option<Version>,
    /// The updates, ascending by version; each `source_id` equals `source`.
    pub updates: Vec<Update<K, V>>,
    /// Set when the run holds all the sender's news from `source`: the sender holds nothing
    /// else from it up to this version (what lay between was superseded and compacted), so the
    /// receiver's watermark may rise to it. Without it a compacted tail would keep two
    /// watermarks apart for good.
    pub through: Option<Version>,
}

/// A state-based catch-up, sent instead of news to a peer behind a source's collected
/// tombstones.
///
/// The receiver merges `entries` through its resolver, forgets every key it holds that the
/// sender has seen (entry version at or below the sender's watermark for its source) but no
/// longer holds, and raises its watermarks to the sender's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reset<K, V> {
    /// The sender's watermark for every source it knows.
    pub watermarks: Vec<(NodeId, Version)>,
    /// For each source, the highest version whose tombstones the sender collected.
    pub floors: Vec<(NodeId, Version)>,
    /// The sender's whole state, tombstones included.
    pub entries: Vec<Update<K, V>>,
}

impl<K, V> Message<K, V> {
    /// The news carried, if any.
    pub fn news(&self) -> Option<&News<K, V>> {
        match self {
            Message::Syn { .. } => None,
            Message::SynAck { news, .. } | Message::Ack { news } => Some(news),
        }
    }

    /// The digest carried, if any.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Message::Syn { digest } | Message::SynAck { digest, .. } => Some(digest),
            Message::Ack { .. } => None,
        }
    }

    /// Checks the rules every message must follow.
    /// [`Gossip::handle_message`](crate::Gossip::handle_message) calls it first (codecs only
    /// decode), so a message from a peer is checked once and a broken one changes nothing.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        match self.news() {
            Some(News::Updates(runs)) => runs.iter().try_for_each(Run::validate),
            Some(News::Reset(reset)) => reset.entries.iter().try_for_each(|u| {
                if u.version == 0 {
                    Err(ProtocolError::ZeroVersion)
                } else {
                    Ok(())
                }
            }),
            None => Ok(()),
        }
    }
}

impl<K, V> Run<K, V> {
    /// Checks that versions are above zero, strictly ascending from `prev`, and that every
    /// update names the run's source.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        let mut last = self.prev;
        for u in &self.updates {
            if u.version == 0 {
                return Err(ProtocolError::ZeroVersion);
            }
            if u.source_id != self.source {
                return Err(ProtocolError::MixedRun);
            }
            if let Some(prev) = last {
                if prev >= u.version {
                    return Err(ProtocolError::PrevNotBelowVersion {
                        version: u.version,
                        prev,
                    });
                }
            }
            last = Some(u.version);
        }
        match (last, self.through) {
            (Some(last), Some(through)) if through < last => {
                Err(ProtocolError::PrevNotBelowVersion {
                    version: through,
                    prev: last,
                })
            }
            _ => Ok(()),
        }
    }
}
