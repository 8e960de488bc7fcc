//! The tokio adapter's decoders of what a peer sends on a connection: its hello
//! (`HelloCodec`), then its messages (`WireCodec`), in both wire formats, fed in chunks.
//!
//! Input: a selector byte (wire format, frame limit), a chunking seed byte, then the stream.
//! Invariants: no panic; the hello decoder buffers no more than one hello's limit and a read;
//! every decoded frame consumed bytes; the stream ends (`decode_eof`) with a message, an
//! error or nothing left.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use scuttle_core::codec::LENGTH_PREFIX;
use scuttle_core::{Config, Message};
use scuttle_fuzz::chunk_sizes;
use scuttle_tokio::codec::{HelloCodec, WireCodec, MAX_HELLO_SIZE};
use scuttle_tokio::WireFormat;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let [select, seed, stream @ ..] = data else {
        return;
    };
    let format = if select & 1 == 0 {
        WireFormat::Cbor
    } else {
        WireFormat::JsonLines
    };
    let config = Config::default().with_max_message_bytes(64 << ((select >> 1) & 7));
    let sizes = chunk_sizes(*seed);
    let mut chunks = Chunks {
        rest: stream,
        sizes: sizes.iter().cycle(),
    };
    let mut buf = BytesMut::new();

    // The hello.
    let mut hello = HelloCodec::new(format);
    loop {
        let fed = chunks.feed(&mut buf);
        let got = if fed {
            hello.decode(&mut buf)
        } else {
            hello.decode_eof(&mut buf)
        };
        match got {
            Ok(Some(_)) => break,
            Ok(None) if fed => {
                assert!(
                    buf.len() <= MAX_HELLO_SIZE + LENGTH_PREFIX + 64,
                    "{}",
                    buf.len()
                );
            }
            Ok(None) | Err(_) => return,
        }
    }

    // The messages.
    let mut wire = WireCodec::<String, String>::new(format, &config);
    loop {
        let fed = chunks.feed(&mut buf);
        loop {
            let before = buf.len();
            let got: Result<Option<Message<String, String>>, _> = if fed {
                wire.decode(&mut buf)
            } else {
                wire.decode_eof(&mut buf)
            };
            match got {
                // A frame always consumes bytes; a JSON line may complete two messages.
                Ok(Some(_)) if matches!(format, WireFormat::Cbor) => {
                    assert!(buf.len() < before, "a frame from no bytes");
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
            if !fed && buf.is_empty() {
                break;
            }
        }
        if !fed {
            return;
        }
    }
});

/// The rest of the stream, cut into reads.
struct Chunks<'a, I> {
    rest: &'a [u8],
    sizes: I,
}

impl<'a, I: Iterator<Item = &'a usize>> Chunks<'a, I> {
    /// Appends the next read to `buf`; `false` at the end of the stream.
    fn feed(&mut self, buf: &mut BytesMut) -> bool {
        if self.rest.is_empty() {
            return false;
        }
        let n = self.sizes.next().copied().unwrap_or(1).min(self.rest.len());
        buf.extend_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        true
    }
}
