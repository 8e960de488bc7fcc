//! `JsonLinesCodec` on arbitrary bytes, fed whole and in chunks of arbitrary sizes.
//!
//! Input: a chunking seed byte, a limits byte (line and digest limits), then the stream.
//! Invariants: no panic; every call ends and makes progress (a whole message needs a line
//! of its own, so there are never more messages than lines); a line over the limit is
//! refused; chunking changes neither whether the stream fails nor, when it does not, the
//! digests and updates it carries (only where update lines are cut into `Ack`s).
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use scuttle_core::{DecodeError, JsonLinesCodec, Message, News, Update};
use scuttle_fuzz::chunk_sizes;

type Msg = Message<String, String>;

/// What a stream carries, whatever the chunking: digests, resets and updates, in order.
#[derive(Debug, PartialEq)]
enum Item {
    Syn(scuttle_core::Digest),
    SynAck(scuttle_core::Digest),
    Update(Update<String, String>),
    Reset(scuttle_core::Reset<String, String>),
}

fuzz_target!(|data: &[u8]| {
    let [seed, limits, stream @ ..] = data else {
        return;
    };
    let max_line = 16usize << (limits & 7);
    let max_digest = 1 + usize::from(limits >> 3);
    let whole = feed(stream, &[stream.len().max(1)], max_line, max_digest);
    let sizes = chunk_sizes(*seed);
    let chunked = feed(stream, &sizes, max_line, max_digest);
    match (whole, chunked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "chunking changed the content"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("chunking changed the outcome: whole {a:?}, chunked {b:?}"),
    }
});

/// Feeds `stream` in chunks cycling through `sizes`, decoding after each chunk until the
/// decoder wants more; the items carried, or the first error.
fn feed(
    stream: &[u8],
    sizes: &[usize],
    max_line: usize,
    max_digest: usize,
) -> Result<Vec<Item>, DecodeError> {
    let lines = stream.iter().filter(|&&b| b == b'\n').count();
    let mut codec = JsonLinesCodec::<String, String>::new(max_line, max_digest);
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut messages = 0;
    let mut rest = stream;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = (*size).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        while let Some(msg) = codec.decode(&mut buf)? {
            messages += 1;
            assert!(messages <= lines, "{messages} messages from {lines} lines");
            flatten(msg, &mut items);
        }
        // What stays buffered is at most one partial line, within the limit.
        assert!(!buf.contains(&b'\n') && buf.len() <= max_line);
    }
    Ok(items)
}

fn flatten(msg: Msg, items: &mut Vec<Item>) {
    let news = match msg {
        Message::Syn { digest } => return items.push(Item::Syn(digest)),
        Message::SynAck { news, digest } => {
            flatten_news(news, items);
            return items.push(Item::SynAck(digest));
        }
        Message::Ack { news } => news,
    };
    flatten_news(news, items);
}

fn flatten_news(news: News<String, String>, items: &mut Vec<Item>) {
    match news {
        News::Updates(runs) => {
            for run in runs {
                assert!(run.updates.iter().all(|u| u.source_id == run.source));
                items.extend(run.updates.into_iter().map(Item::Update));
            }
        }
        News::Reset(reset) => items.push(Item::Reset(reset)),
    }
}
