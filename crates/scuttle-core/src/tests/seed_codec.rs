//! The seed's JSON lines: split a whole message, join it back, decode in linear time.

use bytes::BytesMut;

use super::{exchange, node, NOW};
use crate::codec::seed::{split, Joiner};
use crate::{Config, Digest, JsonLinesCodec, Message, News};

#[test]
fn a_syn_ack_splits_into_seed_lines_and_joins_back() {
    let mut a = node("a", Config::default().with_digest_hashes(false));
    let mut b = node("b", Config::default().with_digest_hashes(false));
    a.set(1, "x".into(), "1".into()).unwrap();
    a.set(2, "x".into(), "2".into()).unwrap();
    a.delete(3, "y".into()).unwrap();
    b.set(1, "z".into(), "3".into()).unwrap();
    let syn = b.start_exchange();
    let syn_ack = a.handle_message(NOW, syn).unwrap().unwrap();
    let lines = split(&syn_ack);
    let text: Vec<String> = lines
        .iter()
        .map(|l| serde_json::to_string(l).unwrap())
        .collect();
    assert_eq!(
        text[0],
        r#"{"key":"x","value":"1","source_id":"a","version":1,"timestamp":1,"prev":0}"#
    );
    assert!(text[2].contains(r#""deleted":true"#));
    assert_eq!(
        text.last().unwrap(),
        r#"{"digest":true,"done":true,"reply":true}"#
    );
    let mut joiner = Joiner::new(100);
    let mut joined = Vec::new();
    for line in lines {
        if let Some(m) = joiner.push(line).unwrap() {
            joined.push(m);
        }
        while let Some(m) = joiner.pop() {
            joined.push(m);
        }
    }
    // News first (as an Ack), then the digest (as a SynAck without news).
    assert_eq!(joined.len(), 2);
    let Message::SynAck { news, digest } = &syn_ack else {
        panic!("not a syn-ack")
    };
    assert_eq!(joined[0], Message::Ack { news: news.clone() });
    assert_eq!(
        joined[1],
        Message::SynAck {
            news: News::default(),
            digest: digest.clone()
        }
    );
    // Applying the two halves is the same as applying the whole.
    let mut b2 = node("b", Config::default().with_digest_hashes(false));
    b2.set(1, "z".into(), "3".into()).unwrap();
    assert!(b2.handle_message(NOW, joined[0].clone()).unwrap().is_none());
    let ack = b2.handle_message(NOW, joined[1].clone()).unwrap();
    assert_eq!(b2.value("x").map(String::as_str), Some("2"));
    assert!(ack.is_some(), "b still sends its news for a");
}

#[test]
fn seed_peers_exchange_over_json_lines() {
    let config = Config::default().with_digest_hashes(false);
    let mut a = node("a", config.clone());
    let mut b = node("b", config);
    a.set(1, "k".into(), "v".into()).unwrap();
    exchange(&mut a, &mut b);
    exchange(&mut a, &mut b);
    // With hashes off, even an idle exchange sends the full digest (seed peers need it).
    let syn = a.start_exchange();
    assert!(matches!(
        syn,
        Message::Syn {
            digest: Digest::Full(_)
        }
    ));
    let mut out = Vec::new();
    let encoder = JsonLinesCodec::<String, String>::default();
    encoder.encode(&syn, &mut out).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(
        text,
        "{\"digest\":true,\"id\":\"a\",\"source_id\":\"a\",\"version\":1}\n{\"digest\":true,\"done\":true}\n"
    );
    let mut decoder = JsonLinesCodec::<String, String>::default();
    let mut buf = BytesMut::from(&out[..]);
    assert_eq!(decoder.decode(&mut buf).unwrap(), Some(syn));
    assert_eq!(decoder.decode(&mut buf).unwrap(), None);
}

#[test]
fn a_seed_update_without_prev_is_trusted_in_order() {
    let mut decoder = JsonLinesCodec::<String, String>::default();
    let mut buf = BytesMut::from(
        &b"{\"key\":\"a\",\"value\":\"1\",\"source_id\":\"s\",\"version\":1}\n{\"key\":\"b\",\"value\":\"2\",\"source_id\":\"s\",\"version\":2}\n"[..],
    );
    let msg = decoder
        .decode(&mut buf)
        .unwrap()
        .expect("the update lines as one ack");
    let mut g = node("g", Config::default());
    assert!(g.handle_message(NOW, msg).unwrap().is_none());
    assert_eq!(g.watermark("s"), 2);
    assert_eq!(g.value("a").map(String::as_str), Some("1"));
}

#[test]
fn a_long_line_in_small_reads_is_scanned_once() {
    let mut decoder = JsonLinesCodec::<String, String>::new(1 << 22, 100);
    let line = format!(
        "{{\"key\":\"k\",\"value\":\"{}\",\"source_id\":\"s\",\"version\":1}}\n",
        "x".repeat(1 << 20)
    );
    let mut buf = BytesMut::new();
    let mut got = None;
    for chunk in line.as_bytes().chunks(64) {
        buf.extend_from_slice(chunk);
        if let Some(m) = decoder.decode(&mut buf).unwrap() {
            got = Some(m);
        }
    }
    // 16k calls on a 1 MiB line: quadratic rescanning would take tens of seconds here.
    let msg = got.expect("the line decodes");
    assert_eq!(msg.news().map(|n| n.len()), Some(1));
}

#[test]
fn an_oversize_line_is_a_typed_error() {
    let mut decoder = JsonLinesCodec::<String, String>::new(16, 100);
    let mut buf = BytesMut::from(&b"{\"digest\":true,\"source_id\":\"abcdefgh\""[..]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Err(crate::DecodeError::FrameTooLarge { max: 16, .. })
    ));
}

#[cfg(feature = "zstd")]
#[test]
fn compressed_frames_are_smaller_and_decode() {
    use crate::FrameCodec;
    let mut a = node("a", Config::default().with_mtu(1000));
    let b = node("b", Config::default());
    for i in 0..200 {
        a.set(i, format!("key-{i:05}"), "the same sixteen".into())
            .unwrap();
    }
    let syn = b.start_exchange();
    let reply = a.handle_message(NOW, syn).unwrap().unwrap();
    let plain = FrameCodec::new(1 << 20);
    let packed = FrameCodec::new(1 << 20).with_compression(512);
    let (mut p, mut c) = (Vec::new(), Vec::new());
    plain.encode(&reply, &mut p).unwrap();
    packed.encode(&reply, &mut c).unwrap();
    assert!(c.len() * 2 < p.len(), "{} vs {}", c.len(), p.len());
    // Any decoder built with the feature reads both.
    let mut buf = BytesMut::from(&c[..]);
    assert_eq!(plain.decode(&mut buf).unwrap(), Some(reply.clone()));
    // A bomb that inflates past the limit is refused.
    let small = FrameCodec::new(1024);
    assert!(small.decode_frame::<String, String>(&c).is_err());
}

#[test]
fn the_seed_codes_digest_entries_with_id() {
    let mut joiner = Joiner::<String, String>::new(10);
    let mut joined = Vec::new();
    for text in [
        r#"{"digest":true,"id":"a","version":3}"#,
        r#"{"digest":true,"done":true}"#,
    ] {
        joined.extend(joiner.push(serde_json::from_str(text).unwrap()).unwrap());
    }
    let digest = vec![(crate::NodeId::from("a"), 3)];
    assert_eq!(
        joined,
        vec![Message::Syn {
            digest: Digest::Full(digest)
        }]
    );
}
