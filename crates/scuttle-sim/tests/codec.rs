//! Codecs: the seed's JSON shapes, CBOR frames, and typed errors on bad input (the core's own
//! codec tests before protocol v2, ported to whole messages).
#![allow(clippy::unwrap_used)] // tests may panic

use bytes::BytesMut;
use proptest::prelude::*;
use scuttle_core::codec::{from_cbor, to_cbor};
use scuttle_core::{
    DecodeError, Digest, EncodeError, FrameCodec, Gossip, JsonLinesCodec, Message, News, NodeId,
    ProtocolError, ReceiveError, Reset, Run, Update,
};
use serde_json::{json, Value};

type Msg = Message<String, Value>;

fn update(value: Option<Value>, version: u64) -> Update<String, Value> {
    Update {
        key: "age".into(),
        value,
        source_id: NodeId::from("#A"),
        version,
        timestamp: 7,
        signature: None,
    }
}

fn ack(prev: Option<u64>, updates: Vec<Update<String, Value>>) -> Msg {
    Message::Ack {
        news: News::Updates(vec![Run {
            source: NodeId::from("#A"),
            prev,
            updates,
            through: None,
        }]),
    }
}

/// The JSON lines a message is encoded to, as values.
fn lines(msg: &Msg) -> Vec<Value> {
    let mut out = Vec::new();
    JsonLinesCodec::default().encode(msg, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every message `text` decodes to.
fn decode_all(text: &str) -> Result<Vec<Msg>, DecodeError> {
    let mut codec = JsonLinesCodec::default();
    let mut buf = BytesMut::from(text.as_bytes());
    let mut out = Vec::new();
    while let Some(msg) = codec.decode(&mut buf)? {
        out.push(msg);
    }
    Ok(out)
}

#[test]
fn json_uses_the_seed_shapes() {
    let syn: Msg = Message::Syn {
        digest: Digest::Full(vec![(NodeId::from("a"), 3)]),
    };
    assert_eq!(
        lines(&syn),
        [
            // The seed code names the source `id`; `source_id` is kept beside it.
            json!({"digest": true, "id": "a", "source_id": "a", "version": 3}),
            json!({"digest": true, "done": true}),
        ]
    );
    assert_eq!(
        lines(&ack(Some(9), vec![update(Some(json!(100)), 10)])),
        [json!({"key":"age","value":100,"source_id":"#A","version":10,"timestamp":7,"prev":9})]
    );
    assert_eq!(
        lines(&ack(None, vec![update(None, 10)])),
        [json!({"key":"age","deleted":true,"source_id":"#A","version":10,"timestamp":7})]
    );
    // A SynAck is its news, then its digest marked as a reply.
    let syn_ack: Msg = Message::SynAck {
        news: News::Updates(vec![Run {
            source: NodeId::from("#A"),
            prev: Some(0),
            updates: vec![update(Some(json!(1)), 1)],
            through: None,
        }]),
        digest: Digest::Full(vec![(NodeId::from("b"), 2)]),
    };
    assert_eq!(
        lines(&syn_ack),
        [
            json!({"key":"age","value":1,"source_id":"#A","version":1,"timestamp":7,"prev":0}),
            json!({"digest": true, "reply": true, "id": "b", "source_id": "b", "version": 2}),
            json!({"digest": true, "done": true, "reply": true}),
        ]
    );
}

#[test]
fn seed_json_without_new_fields_decodes() {
    let msgs = decode_all("{\"key\":\"age\",\"value\":100,\"source_id\":\"#A\",\"version\":10}\n")
        .unwrap();
    match &msgs[..] {
        [Message::Ack {
            news: News::Updates(runs),
        }] => {
            assert_eq!(runs.len(), 1);
            assert_eq!(runs[0].prev, None, "a seed peer's update carries no prev");
            assert_eq!(runs[0].updates[0].value, Some(json!(100)));
            assert_eq!(runs[0].updates[0].timestamp, 0);
        }
        other => panic!("{other:?}"),
    }
    // null is a value, not a delete.
    let msgs = decode_all("{\"key\":\"age\",\"value\":null,\"source_id\":\"#A\",\"version\":10}\n")
        .unwrap();
    let update = msgs[0].news().unwrap().updates().next().unwrap();
    assert_eq!(update.value, Some(Value::Null));
    // A seed digest is a Syn.
    let msgs = decode_all(
        "{\"digest\":true,\"source_id\":\"a\",\"version\":3}\n{\"digest\":true,\"done\":true}\n",
    )
    .unwrap();
    assert_eq!(
        msgs,
        [Message::Syn {
            digest: Digest::Full(vec![(NodeId::from("a"), 3)])
        }]
    );
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
                decode_all(&format!("{case}\n")),
                Err(DecodeError::Malformed(_))
            ),
            "{case}"
        );
    }
}

#[test]
fn protocol_violations_are_refused_by_the_node() {
    // Well-formed lines that break a rule of the protocol decode, and the node refuses them
    // with a typed error, changing nothing.
    let mut node: Gossip<String, Value> = Gossip::with_defaults("n");
    let cases = [
        (
            r#"{"key":"k","value":1,"source_id":"a","version":0}"#,
            ProtocolError::ZeroVersion,
        ),
        (
            r#"{"key":"k","value":1,"source_id":"a","version":3,"prev":3}"#,
            ProtocolError::PrevNotBelowVersion {
                version: 3,
                prev: 3,
            },
        ),
    ];
    for (line, want) in cases {
        let msgs = decode_all(&format!("{line}\n")).unwrap();
        let [msg] = &msgs[..] else {
            panic!("{msgs:?}");
        };
        match node.handle_message(0, msg.clone()) {
            Err(ReceiveError::Protocol(got)) => assert_eq!(got, want, "{line}"),
            other => panic!("{line}: {other:?}"),
        }
        assert!(node.get("k").is_none() && node.watermark("a") == 0);
    }
}

fn every_message() -> Vec<Msg> {
    vec![
        Message::Syn {
            digest: Digest::Full(vec![(NodeId::from("a"), u64::MAX), (NodeId::from("b"), 1)]),
        },
        Message::Syn {
            digest: Digest::Hash(0xdead_beef_1234),
        },
        Message::SynAck {
            news: News::default(),
            digest: Digest::Hash(7),
        },
        Message::SynAck {
            news: News::Updates(vec![Run {
                source: NodeId::from("#A"),
                prev: Some(1),
                updates: vec![update(Some(json!({"nested": [1, 2.5, "x", null]})), 2)],
                through: Some(5),
            }]),
            digest: Digest::Full(vec![(NodeId::from("a"), 4)]),
        },
        ack(
            Some(2),
            vec![
                update(Some(Value::Null), 3),
                update(None, 4),
                update(Some(json!("x")), 9),
            ],
        ),
        Message::Ack {
            news: News::Reset(Reset {
                watermarks: vec![(NodeId::from("a"), 4)],
                floors: vec![(NodeId::from("a"), 2)],
                entries: vec![Update {
                    key: "k".into(),
                    value: None,
                    source_id: NodeId::from("a"),
                    version: 2,
                    timestamp: 1,
                    signature: None,
                }],
            }),
        },
    ]
}

#[test]
fn every_message_round_trips_through_cbor_and_frames() {
    let codec = FrameCodec::new(1024);
    for msg in every_message() {
        let body = to_cbor(&msg).unwrap();
        assert_eq!(body.len(), scuttle_core::wire::message_len(&msg), "{msg:?}");
        assert_eq!(from_cbor::<String, Value>(&body).unwrap(), msg);
        let mut out = Vec::new();
        codec.encode(&msg, &mut out).unwrap();
        assert_eq!(out.len(), 4 + body.len());
        assert_eq!(codec.decode_frame::<String, Value>(&out).unwrap(), msg);
    }
}

#[test]
fn json_lines_join_back_into_the_messages_split() {
    for msg in every_message() {
        let mut out = Vec::new();
        JsonLinesCodec::default().encode(&msg, &mut out).unwrap();
        let got = decode_all(std::str::from_utf8(&out).unwrap()).unwrap();
        match &msg {
            // A SynAck with news comes back as its news (an Ack), then its digest: applying
            // both is applying the SynAck.
            Message::SynAck { news, digest } if !news.is_empty() => {
                assert_eq!(
                    got,
                    [
                        Message::Ack { news: news.clone() },
                        Message::SynAck {
                            news: News::default(),
                            digest: digest.clone()
                        }
                    ]
                );
            }
            _ => assert_eq!(got, [msg]),
        }
    }
}

#[test]
fn frames_arrive_in_pieces_and_back_to_back() {
    let codec = FrameCodec::default();
    let a = ack(Some(0), vec![update(Some(json!("x")), 1)]);
    let b: Msg = Message::Syn {
        digest: Digest::Hash(3),
    };
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
    let big = ack(None, vec![update(Some(json!("x".repeat(100))), 1)]);
    let mut out = vec![1, 2, 3];
    assert!(matches!(
        codec.encode(&big, &mut out),
        Err(EncodeError::FrameTooLarge { max: 64, .. })
    ));
    assert_eq!(out, vec![1, 2, 3], "output untouched on error");
    let mut buf = BytesMut::from(&[0u8, 0, 1, 0][..]); // announces 256 bytes
    assert!(matches!(
        codec.decode::<String, Value>(&mut buf),
        Err(DecodeError::FrameTooLarge { len: 256, max: 64 })
    ));
    let mut lines: JsonLinesCodec<String, Value> = JsonLinesCodec::new(16, 100);
    let mut buf = BytesMut::from(&b"{\"digest\":true,\"done\":true,\"padding\":1}"[..]);
    assert!(matches!(
        lines.decode(&mut buf),
        Err(DecodeError::FrameTooLarge { .. })
    ));
    let mut out = Vec::new();
    assert!(matches!(
        lines.encode(&big, &mut out),
        Err(EncodeError::FrameTooLarge { max: 16, .. })
    ));
}

#[test]
fn truncated_and_padded_frames_are_errors() {
    let codec = FrameCodec::default();
    let mut frame = Vec::new();
    codec
        .encode(&ack(None, vec![update(Some(json!(1)), 1)]), &mut frame)
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
        let mut lines: JsonLinesCodec<String, Value> = JsonLinesCodec::default();
        while let Ok(Some(_)) = lines.decode(&mut buf) {}
    }
}
