//! Helpers shared by scuttle's fuzz targets (see `fuzz_targets/` and docs/fuzzing.md).
//!
//! * [`arb`]: fuzz bytes become well-formed protocol messages (structured fuzzing through the
//!   `arbitrary` crate), so `core_messages` explores the state machine, not the decoder.
//! * [`recording`]: a resolver that logs every decision, so a target can check that the state
//!   only changes through the resolver.
//! * [`seeds`]: the valid messages the seed corpora under `corpus/` are made of.
#![deny(missing_docs)]

pub mod arb;
pub mod recording;
pub mod seeds;

/// Chunk sizes of 1 to 64 bytes from one seed byte (a small xorshift), for feeding a decoder
/// as a transport's reads would.
pub fn chunk_sizes(seed: u8) -> Vec<usize> {
    let mut x = u32::from(seed) | 0x100;
    (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 64) as usize + 1
        })
        .collect()
}
