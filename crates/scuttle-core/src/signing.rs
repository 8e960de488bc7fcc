//! Signed origins: every update signed by its source with ed25519, checked by every receiver
//! before anything moves, forwarded unchanged by relays.
//!
//! Without signatures a node trusts whoever hands it a message to say truthfully which source
//! wrote each update: right for one process or a trusted network, wrong for an open mesh,
//! where any peer could forge writes "from" any source. With [`Signing`] a node:
//!
//! * signs each local write with its key (the signature covers the source, version,
//!   timestamp, key and value, after a domain tag);
//! * keeps the signature beside the entry and sends it with every copy of the update, so a
//!   relay cannot change what it forwards;
//! * refuses a message in which an update it would apply has no signature
//!   ([`ProtocolError::Unsigned`](crate::ProtocolError::Unsigned)) or a wrong one
//!   ([`ProtocolError::BadSignature`](crate::ProtocolError::BadSignature)): the peer that sent
//!   it is at fault, and the message changes nothing;
//! * reports a source that signed two different updates with one version
//!   ([`Event::Equivocation`](crate::Event::Equivocation)): both signatures are the proof.
//!
//! Which key belongs to a source is the [`SourceKeys`] plug-in's answer. [`HexKeys`] reads
//! ids that are the key itself in hex; the libp2p layer reads a source's key out of its
//! `PeerId`, so libp2p nodes need no key set-up beyond their identity.
//!
//! Signatures are ed25519 from `ed25519-dalek` (the RustCrypto implementation that libp2p's
//! identities use too): 64 bytes per update on the wire and on disk, deterministic (one
//! update, one signature — which makes equivocation cheap to spot).

use std::fmt;
use std::sync::Arc;

use ed25519_dalek::{Signer as _, Verifier as _};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::types::{Update, UpdateRef};

/// Bytes of an ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Domain separation: a signature over scuttle updates is good for nothing else.
const DOMAIN: &[u8] = b"scuttle/update/v1\0";

/// An ed25519 signature over one update ([`signed_bytes`]). Boxed, so an unsigned entry costs
/// one pointer-sized `None`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature(Box<[u8; SIGNATURE_LEN]>);

impl Signature {
    /// The signature's bytes.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        *self.0
    }

    /// A signature from its bytes (whether it is valid is checked when it is verified).
    pub fn from_bytes(bytes: [u8; SIGNATURE_LEN]) -> Self {
        Signature(Box::new(bytes))
    }

    /// A signature from a slice of exactly [`SIGNATURE_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; SIGNATURE_LEN]>::try_from(bytes)
            .ok()
            .map(Self::from_bytes)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0[..])
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl<'de> serde::de::Visitor<'de> for Bytes {
            type Value = Signature;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{SIGNATURE_LEN} bytes of an ed25519 signature")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Signature, E> {
                Signature::from_slice(v).ok_or_else(|| E::invalid_length(v.len(), &self))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Signature, A::Error> {
                // Formats without byte strings (JSON) write a list of numbers.
                let mut out = [0u8; SIGNATURE_LEN];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(serde::de::Error::invalid_length(SIGNATURE_LEN + 1, &self));
                }
                Ok(Signature::from_bytes(out))
            }
        }
        d.deserialize_bytes(Bytes)
    }
}

/// Which public key belongs to a source id. `None`: the id names no key this node accepts,
/// and updates from it are refused.
pub trait SourceKeys: Send + Sync {
    /// The key that signs `source`'s updates.
    fn key_of(&self, source: &str) -> Option<VerifyingKey>;
}

impl<F> SourceKeys for F
where
    F: Fn(&str) -> Option<VerifyingKey> + Send + Sync,
{
    fn key_of(&self, source: &str) -> Option<VerifyingKey> {
        self(source)
    }
}

/// Source ids that are their public key in lowercase hex (64 characters): self-certifying,
/// no directory needed. [`HexKeys::id_of`] names a key.
#[derive(Clone, Copy, Debug, Default)]
pub struct HexKeys;

impl HexKeys {
    /// The source id of `key`: its 32 bytes in lowercase hex.
    pub fn id_of(key: &VerifyingKey) -> String {
        key.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl SourceKeys for HexKeys {
    fn key_of(&self, source: &str) -> Option<VerifyingKey> {
        if source.len() != 64 || !source.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&source[2 * i..2 * i + 2], 16).ok()?;
        }
        VerifyingKey::from_bytes(&bytes).ok()
    }
}

/// What a node needs to sign its writes and check everyone's: its own key and where the
/// other sources' keys come from. Give it to [`Gossip::with_signing`](crate::Gossip::with_signing).
#[derive(Clone)]
pub struct Signing {
    key: SigningKey,
    keys: Arc<dyn SourceKeys>,
}

impl Signing {
    /// Signs with `key`; finds sources' keys with `keys`.
    pub fn new(key: SigningKey, keys: impl SourceKeys + 'static) -> Self {
        Signing {
            key,
            keys: Arc::new(keys),
        }
    }

    /// The public half of this node's key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The key `keys` gives for `source`.
    pub fn key_of(&self, source: &str) -> Option<VerifyingKey> {
        self.keys.key_of(source)
    }

    /// This node's signature over `update` (the core signs local writes itself; this is for
    /// tools and tests that make updates by hand).
    pub fn sign<K: Serialize, V: Serialize>(
        &self,
        update: UpdateRef<'_, K, V>,
    ) -> Result<Signature, SignError> {
        let bytes = signed_bytes(update)?;
        Ok(Signature::from_bytes(self.key.sign(&bytes).to_bytes()))
    }

    /// Whether `update` carries a good signature of its source.
    pub fn verify<K: Serialize, V: Serialize>(
        &self,
        update: &Update<K, V>,
    ) -> Result<(), SignError> {
        let signature = update.signature.as_ref().ok_or(SignError::Unsigned)?;
        let key = self
            .keys
            .key_of(update.source_id.as_str())
            .ok_or(SignError::UnknownSource)?;
        let bytes = signed_bytes(update.as_ref())?;
        key.verify(
            &bytes,
            &ed25519_dalek::Signature::from_bytes(&signature.to_bytes()),
        )
        .map_err(|_| SignError::Bad)
    }
}

impl fmt::Debug for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signing")
            .field("verifying_key", &HexKeys::id_of(&self.verifying_key()))
            .finish_non_exhaustive()
    }
}

/// Why an update could not be signed, or its signature does not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// It carries none.
    #[error("the update carries no signature")]
    Unsigned,
    /// Its source names no key.
    #[error("the update's source names no key")]
    UnknownSource,
    /// It does not verify.
    #[error("the signature does not verify")]
    Bad,
    /// Its key or value does not serialize.
    #[error("the update's key or value does not serialize")]
    Serialize,
}

/// The bytes a source signs for an update: a domain tag, the source id (length-prefixed), the
/// version and timestamp (big-endian), then the key and the value (or nothing, for a delete)
/// in CBOR — self-delimiting, so no two updates share their bytes. Keys and values must
/// serialize the same way on every node (no maps with random iteration order).
pub fn signed_bytes<K: Serialize, V: Serialize>(
    u: UpdateRef<'_, K, V>,
) -> Result<Vec<u8>, SignError> {
    let source = u.source_id.as_str().as_bytes();
    let mut out = Vec::with_capacity(DOMAIN.len() + 4 + source.len() + 17 + 32);
    out.extend_from_slice(DOMAIN);
    out.extend_from_slice(
        &u32::try_from(source.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(source);
    out.extend_from_slice(&u.version.to_be_bytes());
    out.extend_from_slice(&u.timestamp.to_be_bytes());
    ciborium::into_writer(u.key, &mut out).map_err(|_| SignError::Serialize)?;
    match u.value {
        Some(v) => {
            out.push(1);
            ciborium::into_writer(v, &mut out).map_err(|_| SignError::Serialize)?;
        }
        None => out.push(0),
    }
    Ok(out)
}
