//! Codecs: the seed's JSON shapes, CBOR frames, and typed errors on bad input.

#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use proptest::prelude::*;
use scuttle_core::codec::{from_cbor, from_json, to_cbor, to_json};
use scuttle_core::{
    DecodeError, FrameCodec, JsonLinesCodec, Message, NodeId, ProtocolError, Reset, Update,
};
use serde_json::{json, Value};

type Msg = Message<String, Value>;

fn update(value: Option<Value>, prev: Option<u64>) -> Msg {
    Message::Update {
        update: Update {
            key: "age".into(),
            value,
            source_id: NodeId::from("#A"),
            version: 10,
            timestamp: 7,
        },
        prev,
    }
}

#[test]
fn json_uses_the_seed_shapes() {
    let digest: Msg = Message::Digest {
        source_id: NodeId::from("a"),
        version: 3,
        reply: false,
    };
    assert_eq!(
        to_json(&digest).unwrap(),
        r#"{"digest":true,"source_id":"a","version":3}"#
    );
    let done: Msg = Message::DigestDone { reply: false };
    assert_eq!(to_json(&done).unwrap(), r#"{"digest":true,"done":true}"#);
    let up = update(Some(json!(100)), Some(9));
    let text: Value = serde_json::from_str(&to_json(&up).unwrap()).unwrap();
    assert_eq!(
        text,
        json!({"key":"age","value":100,"source_id":"#A","version":10,"timestamp":7,"prev":9})
    );
    let del = update(None, None);
    let text: Value = serde_json::from_str(&to_json(&del).unwrap()).unwrap();
    assert_eq!(
        text,
        json!({"key":"age","deleted":true,"source_id":"#A","version":10,"timestamp":7})
    );
}

#[test]
fn seed_json_without_new_fields_decodes() {
    let msg: Msg =
        from_json(r##"{"key":"age","value":100,"source_id":"#A","version":10}"##).unwrap();
    match msg {
        Message::Update { update, prev } => {
            assert_eq!(update.value, Some(json!(100)));
            assert_eq!((update.timestamp, prev), (0, None));
        }
        other => panic!("{other:?}"),
    }
    // null is a value, not a delete.
    let msg: Msg =
        from_json(r##"{"key":"age","value":null,"source_id":"#A","version":10}"##).unwrap();
    assert!(matches!(msg, Message::Update { update, .. } if update.value == Some(Value::Null)));
}

#[test]
fn bad_json_is_a_typed_error() {
    let cases = [
        r##"{"key":"age","source_id":"#A","version":10}"##, // no value, not deleted
        r#"{"key":"age","value":1,"deleted":true,"source_id":"a","version":1}"#,
        r##"{"key":"age","value":1,"source_id":"#A","version":-1}"##,
        r##"{"key":"age","value":1,"source_id":"#A","version":1.5}"##,
        r##"{"key":"age","value":1,"source_id":"#A","version":"1"}"##,
        r#"{"digest":true,"version":1}"#,
        r##"{"value":1,"source_id":"#A","version":1}"##,
        r#"not json"#,
        r#"{"reset":true}"#,
    ];
    for case in cases {
        assert!(
            matches!(
                from_json::<String, Value>(case),
                Err(DecodeError::Malformed(_))
            ),
            "{case}"
        );
    }
    assert!(matches!(
        from_json::<String, Value>(r#"{"key":"k","value":1,"source_id":"a","version":0}"#),
        Err(DecodeError::Invalid(ProtocolError::ZeroVersion))
    ));
    assert!(matches!(
        from_json::<String, Value>(r#"{"key":"k","value":1,"source_id":"a","version":3,"prev":3}"#),
        Err(DecodeError::Invalid(
            ProtocolError::PrevNotBelowVersion { .. }
        ))
    ));
}

#[test]
fn every_message_round_trips_through_both_codecs() {
    let msgs: Vec<Msg> = vec![
        Message::Digest {
            source_id: NodeId::from("a"),
            version: u64::MAX,
            reply: true,
        },
        Message::DigestDone { reply: true },
        update(Some(json!({"nested": [1, 2.5, "x", null]})), Some(2)),
        update(Some(Value::Null), None),
        update(None, Some(1)),
        Message::Reset(Reset {
            watermarks: vec![(NodeId::from("a"), 4)],
            floors: vec![(NodeId::from("a"), 2)],
            entries: vec![Update {
                key: "k".into(),
                value: None,
                source_id: NodeId::from("a"),
                version: 2,
                timestamp: 1,
            }],
        }),
    ];
    let codec = FrameCodec::new(1024);
    let lines = JsonLinesCodec::new(1024);
    for msg in msgs {
        assert_eq!(
            from_cbor::<String, Value>(&to_cbor(&msg).unwrap()).unwrap(),
            msg
        );
        assert_eq!(
            from_json::<String, Value>(&to_json(&msg).unwrap()).unwrap(),
            msg
        );
        let mut out = Vec::new();
        codec.encode(&msg, &mut out).unwrap();
        assert_eq!(codec.decode_frame::<String, Value>(&out).unwrap(), msg);
        let mut out = Vec::new();
        lines.encode(&msg, &mut out).unwrap();
        let mut buf = BytesMut::from(&out[..]);
        assert_eq!(lines.decode::<String, Value>(&mut buf).unwrap(), Some(msg));
        assert!(buf.is_empty());
    }
}

#[test]
fn frames_arrive_in_pieces_and_back_to_back() {
    let codec = FrameCodec::default();
    let a = update(Some(json!("x")), Some(0));
    let b: Msg = Message::DigestDone { reply: false };
    let mut wire = Vec::new();
    codec.encode(&a, &mut wire).unwrap();
    codec.encode(&b, &mut wire).unwrap();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for byte in wire {
        buf.extend_from_slice(&[byte]);
        while let Some(msg) = codec.decode::<String, Value>(&mut buf).unwrap() {
            got.push(msg);
        }
    }
    assert_eq!(got, vec![a, b]);
}

#[test]
fn oversize_frames_are_refused_both_ways() {
    let codec = FrameCodec::new(64);
    let big = update(Some(json!("x".repeat(100))), None);
    let mut out = vec![1, 2, 3];
    assert!(matches!(
        codec.encode(&big, &mut out),
        Err(scuttle_core::EncodeError::FrameTooLarge { .. })
    ));
    assert_eq!(out, vec![1, 2, 3], "output untouched on error");
    let mut buf = BytesMut::from(&[0u8, 0, 1, 0][..]); // announces 256 bytes
    assert!(matches!(
        codec.decode::<String, Value>(&mut buf),
        Err(DecodeError::FrameTooLarge { len: 256, max: 64 })
    ));
    let lines = JsonLinesCodec::new(16);
    let mut buf = BytesMut::from(&b"{\"digest\":true,\"done\":true,\"padding\":1}"[..]);
    assert!(matches!(
        lines.decode::<String, Value>(&mut buf),
        Err(DecodeError::FrameTooLarge { .. })
    ));
}

#[test]
fn truncated_and_padded_frames_are_errors() {
    let codec = FrameCodec::default();
    let mut frame = Vec::new();
    codec
        .encode(&update(Some(json!(1)), None), &mut frame)
        .unwrap();
    assert!(codec
        .decode_frame::<String, Value>(&frame[..frame.len() - 1])
        .is_err());
    assert!(codec.decode_frame::<String, Value>(&frame[..2]).is_err());
    let mut padded = frame.clone();
    padded.push(0);
    assert!(matches!(
        codec.decode_frame::<String, Value>(&padded),
        Err(DecodeError::TrailingBytes(1))
    ));
}

proptest! {
    /// Arbitrary bytes never panic a decoder: they decode or fail with a typed error.
    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let codec = FrameCodec::new(1 << 16);
        let _ = codec.decode_frame::<String, Value>(&bytes);
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = codec.decode::<String, Value>(&mut buf) {}
        let _ = from_cbor::<String, Value>(&bytes);
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = JsonLinesCodec::default().decode::<String, Value>(&mut buf) {}
    }
}
