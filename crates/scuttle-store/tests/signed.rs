//! Signatures are kept: a signing node restarted from its file still holds every signature
//! (its own writes' and those it relays), so a peer that checks signatures takes its news.
#![allow(clippy::unwrap_used)] // tests may panic

use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleBreadth};
use scuttle_sim::keys::signing_for;
use scuttle_sim::Pair;
use scuttle_store::RedbStore;

type Node = Gossip<String, String>;

fn signed(id: &str) -> Node {
    Gossip::new(id, Config::default(), LastWriterWins, ScuttleBreadth)
        .unwrap()
        .with_signing(signing_for(id))
        .unwrap()
}

#[test]
fn a_restarted_signing_node_relays_good_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.redb");
    // b learns a's writes and makes its own, on file.
    let mut pair = Pair::new(
        signed("a"),
        signed("b")
            .with_store(RedbStore::open(&path, "b").unwrap())
            .unwrap(),
    );
    for i in 0..20 {
        pair.a
            .set(pair.now, format!("a{i}"), "x".repeat(i))
            .unwrap();
    }
    pair.a.delete(pair.now, "a0".into()).unwrap();
    pair.b.set(pair.now, "b".into(), "own".into()).unwrap();
    pair.drive_bounded(50).unwrap();
    let held: Vec<_> = pair
        .b
        .entries()
        .map(|(k, e)| (k.clone(), e.clone()))
        .collect();
    drop(pair);

    // Restarted from the file: every entry comes back with its signature.
    let b = signed("b")
        .with_store(RedbStore::open(&path, "b").unwrap())
        .unwrap();
    for (key, entry) in &held {
        assert!(entry.signature.is_some(), "{key}");
        assert_eq!(b.get(key), Some(entry), "{key}");
    }
    // A fresh signing peer checks them all and takes them.
    let mut pair = Pair::new(b, signed("c"));
    pair.drive_bounded(50).unwrap();
    assert!(pair.identical());
    assert_eq!(pair.b.entries().count(), 21);
}
