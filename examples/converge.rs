//! A few in-memory nodes in a ring converge on each other's writes, over `scuttle-sim`'s
//! network (every message a whole `Syn`, `SynAck` or `Ack`).
//!
//! Run: `cargo run --release -p scuttle-gossip --example converge`

use scuttle::Gossip;
use scuttle_sim::{Faults, Sim};

/// Steps one round may take before the example gives up (a round needs three).
const ROUND_STEPS: u64 = 100;

fn main() -> Result<(), scuttle_sim::SimError> {
    let n = 5;
    let mut sim = Sim::new(
        n,
        1,
        Faults::none(),
        Gossip::<String, String>::with_defaults,
    );
    for i in 0..n {
        for k in 0..20 {
            sim.set(
                i,
                format!("key-{i}-{k}"),
                format!("value {k} from node {i}"),
            )?;
        }
    }
    let mut rounds = 0;
    while !sim.replicas_identical() {
        rounds += 1;
        // Each node opens one exchange with its right-hand neighbour; the round ends when
        // every message and reply has been delivered.
        for i in 0..n {
            sim.gossip(i, (i + 1) % n);
        }
        sim.run_until_quiet(ROUND_STEPS)?;
    }
    let stats = sim.stats();
    println!(
        "{n} nodes converged on {} keys after {rounds} rounds: {} messages, {} bytes",
        sim.node(0).len(),
        stats.messages,
        stats.bytes,
    );
    Ok(())
}
