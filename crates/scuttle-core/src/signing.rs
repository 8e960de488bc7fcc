//! Signed origins: every update signed by its source with ed25519, checked by every receiver
//! before anything moves, forwarded unchanged by relays.
//!
//! Without signatures a node trusts whoever hands it a message to say truthfully which source
//! wrote each update: right for one process or a trusted network, wrong for an open mesh,
//! where any peer could forge writes "from" any source. With [`Signing`] a node:
//!
//! * signs each local write with its key (the signature covers the source, version, the
//!   version of its previous write — the *link* — timestamp, key and value, after a domain
//!   tag);
//! * keeps the signature beside the entry and sends it with every copy of the update, so a
//!   relay cannot change what it forwards;
//! * refuses a message in which an update it would apply has no signature
//!   ([`ProtocolError::Unsigned`](crate::ProtocolError::Unsigned)) or a wrong one
//!   ([`ProtocolError::BadSignature`](crate::ProtocolError::BadSignature)): the peer that sent
//!   it is at fault, and the message changes nothing;
//! * under [`Collection::Covered`](crate::Collection::Covered), follows each source's
//!   signed links (a signature covers the version of its source's previous write), so a
//!   relay cannot make it skip news it never received;
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

use crate::types::{Update, UpdateRef, Version};

/// Bytes of an ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Domain separation: a signature over scuttle updates is good for nothing else.
const DOMAIN: &[u8] = b"scuttle/update/v2\0";

/// An ed25519 signature over one update ([`signed_bytes`]), with the *link* it covers: the
/// version of its source's write before this one (0 for its first).
///
/// The link is what lets a receiver check a run of news for completeness: a relay can leave
/// updates out or claim that nothing lay before one, but it cannot change which version the
/// source said came before. Boxed, so an unsigned entry costs one pointer-sized `None`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature(Box<([u8; SIGNATURE_LEN], Version)>);

impl Signature {
    /// A signature from its bytes and the link it covers (whether it is valid is checked when
    /// it is verified).
    pub fn new(bytes: [u8; SIGNATURE_LEN], link: Version) -> Self {
        Signature(Box::new((bytes, link)))
    }

    /// The signature's bytes.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.0 .0
    }

    /// The version of the source's previous write, as the source signed it.
    pub fn link(&self) -> Version {
        self.0 .1
    }

    /// A signature from its bytes, with link 0 (a source's first write).
    pub fn from_bytes(bytes: [u8; SIGNATURE_LEN]) -> Self {
        Self::new(bytes, 0)
    }

    /// A signature from a slice of exactly [`SIGNATURE_LEN`] bytes and its link.
    pub fn from_slice(bytes: &[u8], link: Version) -> Option<Self> {
        <[u8; SIGNATURE_LEN]>::try_from(bytes)
            .ok()
            .map(|b| Self::new(b, link))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(")?;
        for b in &self.0 .0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…, link {})", self.link())
    }
}

/// Self-describing form (store files, JSON): the 64 bytes when the link is 0, else
/// `[link, bytes]`. The binary wire writes links relative to the run instead (see
/// [`crate::wire`]).
impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = serde_bytes_ref(&self.0 .0);
        if self.link() == 0 {
            bytes.serialize(s)
        } else {
            (self.link(), bytes).serialize(s)
        }
    }
}

/// The signature's bytes as a byte string.
fn serde_bytes_ref(bytes: &[u8; SIGNATURE_LEN]) -> impl Serialize + '_ {
    struct B<'a>(&'a [u8]);
    impl Serialize for B<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
    B(bytes)
}

/// The 64 bytes of a signature, from a byte string or (formats without them, JSON) a list of
/// numbers.
pub(crate) struct SignatureBytes(pub(crate) [u8; SIGNATURE_LEN]);

/// Reads [`SignatureBytes`] (the wire's signature reader uses it too).
pub(crate) struct BytesVisitor;

impl<'de> serde::de::Visitor<'de> for BytesVisitor {
    type Value = SignatureBytes;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SIGNATURE_LEN} bytes of an ed25519 signature")
    }
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<SignatureBytes, E> {
        <[u8; SIGNATURE_LEN]>::try_from(v)
            .map(SignatureBytes)
            .map_err(|_| E::invalid_length(v.len(), &self))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<SignatureBytes, A::Error> {
        bytes_from_numbers(&[], seq, &self)
    }
}

/// Reads a list of byte numbers (`read` already read) into 64 bytes.
fn bytes_from_numbers<'de, A: serde::de::SeqAccess<'de>>(
    read: &[u8],
    mut seq: A,
    expected: &dyn serde::de::Expected,
) -> Result<SignatureBytes, A::Error> {
    let mut out = [0u8; SIGNATURE_LEN];
    out[..read.len()].copy_from_slice(read);
    for (i, b) in out.iter_mut().enumerate().skip(read.len()) {
        *b = seq
            .next_element()?
            .ok_or_else(|| serde::de::Error::invalid_length(i, expected))?;
    }
    if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
        return Err(serde::de::Error::invalid_length(
            SIGNATURE_LEN + 1,
            expected,
        ));
    }
    Ok(SignatureBytes(out))
}

impl<'de> Deserialize<'de> for SignatureBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BytesVisitor)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Signature;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a signature: {SIGNATURE_LEN} bytes, or [link, bytes]")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Signature, E> {
                BytesVisitor.visit_bytes(v).map(|b| Signature::new(b.0, 0))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Signature, A::Error> {
                // `[link, bytes]`, or (JSON) the 64 bytes as numbers: a number first either
                // way, then the bytes or the second byte.
                let first: u64 = seq
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                match seq.next_element::<ByteOrBytes>()? {
                    Some(ByteOrBytes::Bytes(b)) => {
                        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                            return Err(serde::de::Error::invalid_length(3, &self));
                        }
                        Ok(Signature::new(b.0, first))
                    }
                    Some(ByteOrBytes::Byte(second)) => {
                        let first = u8::try_from(first).map_err(|_| {
                            serde::de::Error::invalid_value(
                                serde::de::Unexpected::Unsigned(first),
                                &"a byte",
                            )
                        })?;
                        let bytes = bytes_from_numbers(&[first, second], seq, &self)?;
                        Ok(Signature::new(bytes.0, 0))
                    }
                    None => Err(serde::de::Error::invalid_length(1, &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The second element of a signature's sequence form.
enum ByteOrBytes {
    Byte(u8),
    Bytes(SignatureBytes),
}

impl<'de> Deserialize<'de> for ByteOrBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ByteOrBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte or a signature's bytes")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteOrBytes, E> {
                u8::try_from(v)
                    .map(ByteOrBytes::Byte)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteOrBytes, E> {
                BytesVisitor.visit_bytes(v).map(ByteOrBytes::Bytes)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<ByteOrBytes, A::Error> {
                BytesVisitor.visit_seq(seq).map(ByteOrBytes::Bytes)
            }
        }
        d.deserialize_any(V)
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

    /// This node's signature over `update`, linked to `link`: the version of this node's
    /// previous write (0 for its first). The core signs local writes itself; this is for
    /// tools and tests that make updates by hand.
    pub fn sign<K: Serialize, V: Serialize>(
        &self,
        update: UpdateRef<'_, K, V>,
        link: Version,
    ) -> Result<Signature, SignError> {
        let bytes = signed_bytes(update, link)?;
        Ok(Signature::new(self.key.sign(&bytes).to_bytes(), link))
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
        let bytes = signed_bytes(update.as_ref(), signature.link())?;
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

/// The bytes a source signs for an update linked to `link`: a domain tag, the source id
/// (length-prefixed), the version, the link and the timestamp (big-endian), then the key and
/// the value (or nothing, for a delete) in CBOR — self-delimiting, so no two updates share
/// their bytes. Keys and values must serialize the same way on every node (no maps with
/// random iteration order).
pub fn signed_bytes<K: Serialize, V: Serialize>(
    u: UpdateRef<'_, K, V>,
    link: Version,
) -> Result<Vec<u8>, SignError> {
    let source = u.source_id.as_str().as_bytes();
    let mut out = Vec::with_capacity(DOMAIN.len() + 4 + source.len() + 25 + 32);
    out.extend_from_slice(DOMAIN);
    out.extend_from_slice(
        &u32::try_from(source.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(source);
    out.extend_from_slice(&u.version.to_be_bytes());
    out.extend_from_slice(&link.to_be_bytes());
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
