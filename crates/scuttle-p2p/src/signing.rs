//! Signed origins over libp2p: a source's id is its `PeerId`, and an ed25519 `PeerId` holds
//! its public key, so nodes need no key set-up beyond their libp2p identity.
//!
//! ```
//! use scuttle_core::Gossip;
//! use scuttle_p2p::signing;
//!
//! let key = libp2p::identity::Keypair::generate_ed25519();
//! let id = key.public().to_peer_id().to_string();
//! let mut node: Gossip<String, String> = Gossip::with_defaults(id)
//!     .with_signing(signing::from_keypair(&key).expect("an ed25519 key"))
//!     .unwrap();
//! node.set(1, "k".into(), "v".into()).unwrap();
//! assert!(node.get("k").unwrap().signature.is_some());
//! ```

use libp2p::identity::{Keypair, PublicKey};
use libp2p::PeerId;
use scuttle_core::signing::{Signing, SigningKey, SourceKeys, VerifyingKey};

/// Reads a source's key out of its id, a `PeerId` whose multihash inlines an ed25519 public
/// key (libp2p inlines keys this short). Ids that are not such peer ids name no key.
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerIdKeys;

impl SourceKeys for PeerIdKeys {
    fn key_of(&self, source: &str) -> Option<VerifyingKey> {
        let peer: PeerId = source.parse().ok()?;
        let hash = peer.as_ref();
        // 0x00: the identity multihash, whose digest is the protobuf-encoded public key.
        if hash.code() != 0 {
            return None;
        }
        let key = PublicKey::try_decode_protobuf(hash.digest())
            .ok()?
            .try_into_ed25519()
            .ok()?;
        VerifyingKey::from_bytes(&key.to_bytes()).ok()
    }
}

/// The signing set-up of a node whose identity is `keypair`: it signs with the key and reads
/// every source's key from its peer id. `None` for keys that are not ed25519.
pub fn from_keypair(keypair: &Keypair) -> Option<Signing> {
    let ed = keypair.clone().try_into_ed25519().ok()?;
    let secret: [u8; 32] = ed.secret().as_ref().try_into().ok()?;
    Some(Signing::new(SigningKey::from_bytes(&secret), PeerIdKeys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_id_names_its_key() {
        let key = Keypair::generate_ed25519();
        let signing = from_keypair(&key).expect("ed25519");
        let id = key.public().to_peer_id().to_string();
        assert_eq!(PeerIdKeys.key_of(&id), Some(signing.verifying_key()));
        assert_eq!(PeerIdKeys.key_of("not a peer id"), None);
        assert_eq!(PeerIdKeys.key_of(""), None);
    }
}
