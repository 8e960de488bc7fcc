//! The seed's JSON lines: split a whole message, join it back, decode in linear time.

use bytes::BytesMut;

use super::{exchange, node, NOW};
use crate::codec::seed::{js_number_string, split, Dialect, Joiner, Line};
use crate::{Config, Digest, JsonLinesCodec, Message, News, NodeId};

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
    let msg = got.expect("the line decodes");
    assert_eq!(msg.news().map(|n| n.len()), Some(1));
    // 16k calls on a 1 MiB line: each byte is looked at once (rescanning would look at
    // about 8 GiB).
    assert_eq!(decoder.bytes_scanned(), line.len() as u64);
    // Lines after it, in one read and in single bytes, cost their length too.
    let more = "{\"digest\":true,\"id\":\"s\",\"version\":1}\n{\"digest\":true,\"done\":true}\n";
    buf.extend_from_slice(more.as_bytes());
    assert!(decoder.decode(&mut buf).unwrap().is_some());
    for b in more.bytes() {
        buf.extend_from_slice(&[b]);
        let _ = decoder.decode(&mut buf).unwrap();
    }
    assert_eq!(
        decoder.bytes_scanned(),
        (line.len() + 2 * more.len()) as u64
    );
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

/// A digest comes one line per source: the entry count alone would let long ids pin
/// `max_digest` lines' worth. Its bytes are bounded by one line's (what a frame could hold).
#[test]
fn a_digest_of_long_ids_is_refused_by_its_bytes() {
    let max_line = 4096;
    let mut decoder = JsonLinesCodec::<String, String>::new(max_line, 300);
    let id = "x".repeat(3000);
    let line = format!("{{\"digest\":true,\"source_id\":\"{id}\",\"version\":1}}\n");
    assert!(line.len() < max_line, "each line alone is within bounds");
    let mut buf = BytesMut::from(line.as_bytes());
    assert!(decoder.decode(&mut buf).unwrap().is_none());
    assert!(decoder.has_partial_digest());
    let mut buf = BytesMut::from(line.replace("xxx", "yyy").as_bytes());
    assert!(matches!(
        decoder.decode(&mut buf),
        Err(crate::DecodeError::FrameTooLarge { max, .. }) if max == max_line
    ));
    assert!(
        !decoder.has_partial_digest(),
        "the pending digest is dropped"
    );
    // Short ids still make long digests.
    let mut buf = BytesMut::new();
    for i in 0..200 {
        buf.extend_from_slice(
            format!("{{\"digest\":true,\"source_id\":\"s{i}\",\"version\":1}}\n").as_bytes(),
        );
    }
    buf.extend_from_slice(b"{\"digest\":true,\"done\":true}\n");
    match decoder.decode(&mut buf).unwrap() {
        Some(Message::Syn {
            digest: Digest::Full(entries),
        }) => assert_eq!(entries.len(), 200),
        other => panic!("want a 200-entry digest, got {other:?}"),
    }
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

fn seed_decoder() -> JsonLinesCodec<String, String> {
    JsonLinesCodec::new(1 << 16, 100).with_dialect(Dialect::Seed)
}

fn decode_all(
    decoder: &mut JsonLinesCodec<String, String>,
    text: &str,
) -> Vec<Message<String, String>> {
    let mut buf = BytesMut::from(text.as_bytes());
    let mut out = Vec::new();
    while let Some(m) = decoder.decode(&mut buf).unwrap() {
        out.push(m);
    }
    out
}

fn syn(entries: &[(&str, u64)]) -> Message<String, String> {
    Message::Syn {
        digest: Digest::Full(
            entries
                .iter()
                .map(|(s, v)| (NodeId::from(*s), *v))
                .collect(),
        ),
    }
}

#[test]
fn a_repeated_digest_source_ends_the_seed_digest_that_never_got_done() {
    // The seed's gossip() stopped after two entries (its buffer was full), then started over.
    let text = "{\"digest\":true,\"id\":\"a\",\"version\":3}\n\
                {\"digest\":true,\"id\":\"b\",\"version\":1}\n\
                {\"digest\":true,\"id\":\"b\",\"version\":2}\n";
    let mut decoder = seed_decoder();
    assert_eq!(
        decode_all(&mut decoder, text),
        vec![syn(&[("a", 3), ("b", 1)])]
    );
    assert!(decoder.has_partial_digest());
    // An idle pause ends the second one too.
    assert_eq!(decoder.finish_digest(), Some(syn(&[("b", 2)])));
    assert!(!decoder.has_partial_digest());
    assert_eq!(decoder.finish_digest(), None);
    // Scuttle's own dialect waits for `done`.
    let mut strict = JsonLinesCodec::<String, String>::new(1 << 16, 100);
    assert!(decode_all(&mut strict, text).is_empty());
}

#[test]
fn a_seed_update_without_value_is_a_delete_only_in_the_seed_dialect() {
    let text = "{\"key\":\"k\",\"source_id\":\"s\",\"version\":4}\n";
    let msgs = decode_all(&mut seed_decoder(), text);
    let mut g = node("g", Config::default());
    g.set(1, "k".into(), "v".into()).unwrap();
    assert!(g.handle_message(NOW, msgs[0].clone()).unwrap().is_none());
    assert_eq!(g.value("k"), None);
    assert!(g.get("k").is_some_and(|e| e.value.is_none()), "a tombstone");
    let mut strict = JsonLinesCodec::<String, String>::new(1 << 16, 100);
    let mut buf = BytesMut::from(text.as_bytes());
    assert!(matches!(
        strict.decode(&mut buf),
        Err(crate::DecodeError::Malformed(_))
    ));
}

#[test]
fn number_keys_read_as_their_javascript_string() {
    let text = "{\"key\":1,\"value\":\"a\",\"source_id\":\"#A\",\"version\":1}\n\
                {\"key\":2.5,\"value\":\"b\",\"source_id\":\"#A\",\"version\":2}\n";
    let msgs = decode_all(&mut seed_decoder(), text);
    let mut g = node("g", Config::default());
    for m in msgs {
        g.handle_message(NOW, m).unwrap();
    }
    assert_eq!(g.value("1").map(String::as_str), Some("a"));
    assert_eq!(g.value("2.5").map(String::as_str), Some("b"));
    // A key type that reads numbers keeps them.
    let line: Line<u64, String> = serde_json::from_str("{\"key\":7}").unwrap();
    assert_eq!(line.key, Some(7));
    let cases = [
        ("10", "10"),
        ("-3", "-3"),
        ("1.5", "1.5"),
        ("1.0", "1"),
        ("0.1", "0.1"),
        ("1e21", "1e+21"),
        ("1.5e-7", "1.5e-7"),
        ("100000000000000000000", "100000000000000000000"),
    ];
    for (json, js) in cases {
        let n: serde_json::Number = serde_json::from_str(json).unwrap();
        assert_eq!(js_number_string(&n), js, "{json}");
    }
}

#[test]
fn a_bad_line_is_consumed_so_decoding_goes_on() {
    let mut decoder = seed_decoder();
    let mut buf = BytesMut::from(
        &b"not json\n{\"key\":\"k\",\"value\":\"v\",\"source_id\":\"s\",\"version\":1}\n"[..],
    );
    assert!(matches!(
        decoder.decode(&mut buf),
        Err(crate::DecodeError::Malformed(_))
    ));
    let msg = decoder.decode(&mut buf).unwrap().expect("the next line");
    assert_eq!(msg.news().map(|n| n.len()), Some(1));
}

#[test]
fn a_seed_answering_two_digests_in_a_row_sends_runs_not_a_broken_run() {
    // The same two updates twice (two answers), then an older one: each stays valid.
    let line = |key: &str, version: u64| {
        format!("{{\"key\":\"{key}\",\"value\":\"v{version}\",\"source_id\":\"s\",\"version\":{version}}}\n")
    };
    let text = [
        line("a", 1),
        line("b", 5),
        line("a", 1),
        line("b", 5),
        line("c", 3),
    ]
    .concat();
    let msgs = decode_all(&mut seed_decoder(), &text);
    assert_eq!(msgs.len(), 1);
    let mut g = node("g", Config::default());
    assert!(g.handle_message(NOW, msgs[0].clone()).unwrap().is_none());
    assert_eq!(g.value("a").map(String::as_str), Some("v1"));
    assert_eq!(g.value("b").map(String::as_str), Some("v5"));
    assert_eq!(g.watermark("s"), 5);
}
