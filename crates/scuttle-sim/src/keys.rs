//! Signing keys for simulated nodes: each id's key is derived from the id, so a signed
//! simulation needs no key directory. Anyone can derive them — for simulations only.

use scuttle_core::signing::{Signing, SigningKey, SourceKeys, VerifyingKey};

/// The simulation key of node `id`.
pub fn key_for(id: &str) -> SigningKey {
    // FNV-1a over the id, spread over 32 bytes: distinct ids, distinct keys.
    let mut seed = [0u8; 32];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, chunk) in seed.chunks_mut(8).enumerate() {
        for b in id.bytes().chain([i as u8]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        chunk.copy_from_slice(&h.to_le_bytes());
    }
    SigningKey::from_bytes(&seed)
}

/// Every id's key is [`key_for`] it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimKeys;

impl SourceKeys for SimKeys {
    fn key_of(&self, source: &str) -> Option<VerifyingKey> {
        Some(key_for(source).verifying_key())
    }
}

/// The signing set-up of simulated node `id`.
pub fn signing_for(id: &str) -> Signing {
    Signing::new(key_for(id), SimKeys)
}
