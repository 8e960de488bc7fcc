//! Signed links under `Collection::Covered`: every update names its source's previous
//! version, so a relay cannot make a node skip a source's news it never received; a source
//! speaks for its own gaps; superseded updates stay until every member holds them.

use super::{exchange_from as exchange, Node, NOW};
use crate::signing::{HexKeys, Signing, SigningKey};
use crate::{Collection, Config, FrameCodec, Message, News, Run, Update};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn id(seed: u8) -> String {
    HexKeys::id_of(&key(seed).verifying_key())
}

/// A signing node under `Covered`, with members 1, 2 and 3.
fn member(seed: u8, config: Config) -> Node {
    let mut n = super::node(&id(seed), config.with_collection(Collection::Covered))
        .with_signing(Signing::new(key(seed), HexKeys))
        .expect("the key is the id's");
    n.set_members([id(1), id(2), id(3)]);
    n
}

/// `update` alone in a run that claims nothing of its source lies before it.
fn skipping(update: Update<String, String>) -> Message<String, String> {
    Message::Ack {
        news: News::Updates(vec![Run {
            source: update.source_id.clone(),
            prev: Some(0),
            updates: vec![update],
            through: None,
        }]),
    }
}

#[test]
fn writes_are_linked_to_their_sources_previous_write() {
    let mut a = member(1, Config::default());
    let v1 = a.set(NOW, "x".into(), "1".into()).unwrap();
    let v2 = a.set(NOW, "y".into(), "2".into()).unwrap();
    let link = |k: &str| a.get(k).unwrap().signature.as_ref().unwrap().link();
    assert_eq!((link("x"), link("y")), (0, v1));
    assert!(v2 > v1);
}

#[test]
fn a_relay_cannot_make_a_node_skip_a_members_earlier_write() {
    let (mut a, mut c) = (member(1, Config::default()), member(3, Config::default()));
    a.set(NOW, "x".into(), "first".into()).unwrap();
    a.set(NOW, "y".into(), "second".into()).unwrap();
    let second = a.get("y").unwrap().to_update("y".to_string());

    // Member 2 replays a's second write (genuine, signed) as if nothing came before it.
    c.handle_message_from(NOW, &id(2), skipping(second.clone()))
        .expect("well-formed, genuine news is not an error");
    assert_eq!(c.get("y"), None, "it waits for the write it links to");
    assert_eq!(c.watermark(&id(1)), 0, "nothing was skipped");
    assert_eq!(c.stats().gaps, 1);

    // The same through the codec: the link survives the wire.
    let (codec, mut frame) = (FrameCodec::default(), Vec::new());
    codec.encode(&skipping(second), &mut frame).unwrap();
    let decoded: Message<String, String> = codec.decode_frame(&frame).unwrap();
    c.handle_message_from(NOW, &id(2), decoded).unwrap();
    assert_eq!(c.watermark(&id(1)), 0);

    // An honest exchange brings both, in order.
    exchange(&mut c, &mut a);
    exchange(&mut a, &mut c);
    assert_eq!(c.value("x").map(String::as_str), Some("first"));
    assert_eq!(c.value("y").map(String::as_str), Some("second"));
}

#[test]
fn a_source_speaks_for_its_own_gaps() {
    let (mut a, mut c) = (member(1, Config::default()), member(3, Config::default()));
    a.set(NOW, "x".into(), "first".into()).unwrap();
    let v2 = a.set(NOW, "y".into(), "second".into()).unwrap();
    let second = a.get("y").unwrap().to_update("y".to_string());
    // From the source itself the gap is taken: a source may leave out its own writes (it
    // could have withheld them anyway), and compacts its own superseded ones.
    c.handle_message_from(NOW, &id(1), skipping(second))
        .unwrap();
    assert_eq!(c.value("y").map(String::as_str), Some("second"));
    assert_eq!(c.watermark(&id(1)), v2);
}

#[test]
fn a_departed_sources_gap_is_taken_up_to_what_every_member_holds() {
    // Source 4 is not a member: it left. Member 2 says it holds 4's news up to v2.
    let mut gone = super::node(&id(4), Config::default())
        .with_signing(Signing::new(key(4), HexKeys))
        .unwrap();
    gone.set(NOW, "x".into(), "first".into()).unwrap();
    gone.set(NOW, "y".into(), "second".into()).unwrap();
    let second = gone.get("y").unwrap().to_update("y".to_string());
    // Full digests (no hash-only opening), so each claim below is a real digest.
    let full = Config::default().with_digest_hashes(false);
    let mut b = member(2, full.clone());
    let mut c = member(3, Config::default());
    exchange(&mut gone, &mut b);
    exchange(&mut b, &mut gone);
    assert_eq!(b.watermark(&id(4)), 2);

    // Before any member said what it holds, the gap waits.
    c.handle_message_from(NOW, &id(2), skipping(second.clone()))
        .unwrap();
    assert_eq!(c.get("y"), None);
    // b's digest (its own word, authenticated) covers 4 up to 2; member 1 has said nothing
    // yet, so it must, too.
    let syn = b.start_exchange();
    c.handle_message_from(NOW, &id(2), syn).unwrap();
    let mut a = member(1, full);
    exchange(&mut gone, &mut a);
    exchange(&mut a, &mut gone);
    let syn = a.start_exchange();
    c.handle_message_from(NOW, &id(1), syn).unwrap();
    c.handle_message_from(NOW, &id(2), skipping(second))
        .unwrap();
    assert_eq!(c.value("y").map(String::as_str), Some("second"));
}

#[test]
fn superseded_updates_stay_until_every_member_holds_them() {
    let config = Config::default().with_max_history(0);
    let mut a = member(1, config.clone());
    let (mut b, mut c) = (member(2, config.clone()), member(3, config));
    a.set(NOW, "k".into(), "1".into()).unwrap();
    a.set(NOW, "k".into(), "2".into()).unwrap();
    a.handle_timeout(NOW).unwrap();
    assert_eq!(a.superseded_len(), 1, "members 2 and 3 hold nothing yet");

    for other in [&mut b, &mut c] {
        exchange(&mut a, other);
        exchange(other, &mut a);
    }
    // Both said (in their own digests) that they hold a's news up to the latest.
    exchange(&mut b, &mut a);
    exchange(&mut c, &mut a);
    a.handle_timeout(NOW).unwrap();
    assert_eq!(a.superseded_len(), 0, "every member holds it: compacted");
}

/// After `rejoin` every watermark is zero, as an empty node's: a fresh peer's digest would
/// look the same, and an idle exchange would never carry what the rejoining node holds. It
/// restarts from its store here, signed, as the libp2p node does.
#[test]
fn a_rejoining_node_is_not_idle_with_an_empty_peer() {
    let store = crate::MemoryStore::new();
    let config = Config::default().with_versions(crate::Versions::Hybrid);
    let mut a = member(1, config.clone()).with_store(store.clone()).unwrap();
    a.set(NOW, "kept".into(), "yes".into()).unwrap();
    drop(a);
    let mut a = member(1, config.clone()).with_store(store).unwrap();
    a.rejoin();
    let mut b = member(2, config);
    for _ in 0..2 {
        exchange(&mut a, &mut b);
        exchange(&mut b, &mut a);
    }
    assert_eq!(b.value("kept").map(String::as_str), Some("yes"));
    assert!(!a.is_rejoining(), "its own entry came back from b");
    assert_eq!(a.value("kept").map(String::as_str), Some("yes"));
}
