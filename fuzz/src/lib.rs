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
