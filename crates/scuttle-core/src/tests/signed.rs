//! Signed origins: writes are signed, relays forward signatures unchanged, forged, changed and
//! unsigned updates refuse their message and move nothing, equivocation is reported.

use super::{exchange, node, NOW};
use crate::signing::{HexKeys, Signing, SigningKey};
use crate::{
    Config, ConfigError, Event, FrameCodec, Message, News, NodeId, ProtocolError, ReceiveError,
    Run, Update,
};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn id(seed: u8) -> String {
    HexKeys::id_of(&key(seed).verifying_key())
}

/// A signing node whose id is its key in hex.
fn signed(seed: u8) -> super::Node {
    node(&id(seed), Config::default())
        .with_signing(Signing::new(key(seed), HexKeys))
        .expect("the key is the id's")
}

/// An update of `source` as `signer` signs it (the source itself, or a forger).
fn update(source: u8, signer: u8, k: &str, v: &str, version: u64) -> Update<String, String> {
    let mut u = Update {
        key: k.into(),
        value: Some(v.into()),
        source_id: NodeId::from(id(source)),
        version,
        timestamp: NOW,
        signature: None,
    };
    let signing = Signing::new(key(signer), HexKeys);
    u.signature = Some(
        signing
            .sign(u.as_ref(), version.saturating_sub(1))
            .expect("strings serialize"),
    );
    u
}

fn ack(updates: Vec<Update<String, String>>, prev: u64) -> Message<String, String> {
    Message::Ack {
        news: News::Updates(vec![Run {
            source: updates[0].source_id.clone(),
            prev: Some(prev),
            updates,
            through: None,
        }]),
    }
}

/// Every entry (key, value, version), the clock and the digest hash.
type Fingerprint = (Vec<(String, Option<String>, u64)>, u64, u64);

/// What a refused message must leave alone.
fn fingerprint(n: &super::Node) -> Fingerprint {
    let mut entries: Vec<_> = n
        .entries()
        .map(|(k, e)| (k.clone(), e.value.clone(), e.version))
        .collect();
    entries.sort();
    (entries, n.version(), n.digest_hash())
}

#[test]
fn signatures_travel_through_relays() {
    let (mut a, mut b, mut c) = (signed(1), signed(2), signed(3));
    a.set(NOW, "k".into(), "from a".into()).unwrap();
    exchange(&mut a, &mut b);
    // c never meets a: it checks a's signature on what b relays.
    exchange(&mut b, &mut c);
    let entry = c.get("k").expect("relayed");
    assert_eq!(entry.value.as_deref(), Some("from a"));
    assert_eq!(entry.source_id.as_str(), id(1));
    assert_eq!(entry.signature, a.get("k").unwrap().signature);
}

#[test]
fn a_forged_update_refuses_the_message_and_moves_nothing() {
    let mut c = signed(3);
    c.set(NOW, "mine".into(), "v".into()).unwrap();
    let before = fingerprint(&c);
    // Peer 2 writes "from" source 1 with its own key.
    let forged = ack(vec![update(1, 2, "k", "forged", 5)], 0);
    let err = c.handle_message(NOW, forged).unwrap_err();
    assert!(
        matches!(
            err,
            ReceiveError::Protocol(ProtocolError::BadSignature { version: 5, .. })
        ),
        "{err:?}"
    );
    assert_eq!(fingerprint(&c), before);
    assert_eq!(c.watermark(&id(1)), 0);
}

#[test]
fn a_changed_value_or_version_breaks_the_signature() {
    let mut c = signed(3);
    let mut changed = update(1, 1, "k", "v", 1);
    changed.value = Some("changed on the way".into());
    assert!(matches!(
        c.handle_message(NOW, ack(vec![changed], 0)),
        Err(ReceiveError::Protocol(ProtocolError::BadSignature { .. }))
    ));
    let mut moved = update(1, 1, "k", "v", 1);
    moved.version = 2;
    assert!(matches!(
        c.handle_message(NOW, ack(vec![moved], 0)),
        Err(ReceiveError::Protocol(ProtocolError::BadSignature { .. }))
    ));
    // A good update after a bad one in the same message: the whole message is refused.
    let good = update(1, 1, "a", "v", 1);
    let mut bad = update(1, 1, "b", "v", 2);
    bad.signature = good.signature.clone();
    assert!(c.handle_message(NOW, ack(vec![good, bad], 0)).is_err());
    assert!(c.is_empty());
}

#[test]
fn unsigned_news_and_ids_that_name_no_key_are_refused() {
    let mut c = signed(3);
    let mut unsigned = update(1, 1, "k", "v", 1);
    unsigned.signature = None;
    assert!(matches!(
        c.handle_message(NOW, ack(vec![unsigned], 0)),
        Err(ReceiveError::Protocol(ProtocolError::Unsigned {
            version: 1,
            ..
        }))
    ));
    let mut nameless = update(1, 1, "k", "v", 1);
    nameless.source_id = NodeId::from("not-a-key");
    assert!(matches!(
        c.handle_message(NOW, ack(vec![nameless], 0)),
        Err(ReceiveError::Protocol(ProtocolError::BadSignature { .. }))
    ));
    assert!(c.is_empty());
}

#[test]
fn equivocation_is_reported_and_refused() {
    let mut c = signed(3);
    c.handle_message(NOW, ack(vec![update(1, 1, "k", "first", 1)], 0))
        .unwrap();
    while c.poll_event().is_some() {}
    // Source 1 signs a second, different update under version 1.
    let second = update(1, 1, "other", "second", 1);
    c.handle_message(NOW, ack(vec![second.clone()], 0)).unwrap();
    assert_eq!(c.value("k").map(String::as_str), Some("first"));
    assert!(c.get("other").is_none());
    assert_eq!(c.stats().equivocations, 1);
    let events: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(
        events,
        vec![Event::Equivocation {
            update: Box::new(second)
        }]
    );
    // The same update again is a plain duplicate, not evidence.
    c.handle_message(NOW, ack(vec![update(1, 1, "k", "first", 1)], 0))
        .unwrap();
    assert_eq!(c.stats().equivocations, 1);
    // A peer that makes up a "second update" without the source's key is the forger.
    assert!(matches!(
        c.handle_message(NOW, ack(vec![update(1, 2, "k", "framed", 1)], 0)),
        Err(ReceiveError::Protocol(ProtocolError::BadSignature { .. }))
    ));
}

#[test]
fn the_key_must_be_the_ids() {
    let err = node("a", Config::default())
        .with_signing(Signing::new(key(1), HexKeys))
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::SigningKeyMismatch {
            id: NodeId::from("a")
        }
    );
    assert!(node(&id(2), Config::default())
        .with_signing(Signing::new(key(1), HexKeys))
        .is_err());
}

#[test]
fn signed_frames_round_trip_with_exact_sizes() {
    let (mut a, mut b) = (signed(1), signed(2));
    for i in 0..5 {
        a.set(NOW, format!("k{i}"), "v".repeat(i)).unwrap();
    }
    a.delete(NOW, "k0".into()).unwrap();
    let codec = FrameCodec::default();
    for msg in exchange(&mut a, &mut b) {
        let mut frame = Vec::new();
        codec.encode(&msg, &mut frame).unwrap();
        assert_eq!(frame.len() - 4, crate::wire::message_len(&msg), "{msg:?}");
        let back: Message<String, String> = codec.decode_frame(&frame).unwrap();
        assert_eq!(back, msg);
    }
    assert_eq!(b.entries().count(), 5, "four values and a tombstone");
    assert!(b.entries().all(|(_, e)| e.signature.is_some()));
}

#[test]
fn an_unsigned_node_relays_signatures_it_holds() {
    // A trusted relay in the middle (no key of its own) keeps and forwards signatures.
    let (mut a, mut c) = (signed(1), signed(3));
    let mut relay = node("relay", Config::default());
    a.set(NOW, "k".into(), "v".into()).unwrap();
    exchange(&mut a, &mut relay);
    exchange(&mut relay, &mut c);
    assert_eq!(c.value("k").map(String::as_str), Some("v"));
}
