//! `FrameCodec` on arbitrary bytes, whole (`decode_frame`) and streamed in chunks (`decode`),
//! with a large and a small frame limit; built with and without the core's `zstd` feature.
//!
//! Invariants: no panic; a body over the limit is refused before it is buffered or inflated
//! (libFuzzer's `-malloc_limit_mb` catches a large allocation); the streaming decoder makes
//! progress and ends; what decodes re-encodes to the same message.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use scuttle_core::codec::LENGTH_PREFIX;
use scuttle_core::{DecodeError, FrameCodec, Message};

type Msg = Message<String, String>;

/// Chunk sizes for the streamed feed, cycled.
const CHUNKS: [usize; 6] = [1, 3, 4, 7, 64, 1000];

fuzz_target!(|data: &[u8]| {
    for max in [1 << 20, 256] {
        let codec = FrameCodec::new(max);
        whole(&codec, data);
        streamed(&codec, data);
    }
});

/// `decode_frame` on the whole input.
fn whole(codec: &FrameCodec, data: &[u8]) {
    match codec.decode_frame::<String, String>(data) {
        Ok(msg) => {
            let body = data.len() - LENGTH_PREFIX;
            let compressed = data[0] & 0x80 != 0;
            assert!(compressed || body <= codec.max_frame_size());
            assert!(FrameCodec::accepts_compressed() || !compressed);
            round_trip(&msg);
        }
        Err(DecodeError::FrameTooLarge { len, max }) => assert!(len > max),
        Err(_) => {}
    }
}

/// `decode` fed in chunks, as a transport reads; stops at the first error.
fn streamed(codec: &FrameCodec, data: &[u8]) {
    let mut buf = BytesMut::new();
    let mut rest = data;
    let mut chunk = 0;
    let mut frames = 0;
    while !rest.is_empty() {
        let n = CHUNKS[chunk % CHUNKS.len()].min(rest.len());
        chunk += 1;
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let before = buf.len();
            match codec.decode::<String, String>(&mut buf) {
                Ok(Some(msg)) => {
                    // A frame has a prefix at least: every decoded frame consumed bytes.
                    assert!(buf.len() + LENGTH_PREFIX <= before, "no progress");
                    frames += 1;
                    assert!(frames * LENGTH_PREFIX <= data.len());
                    round_trip(&msg);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        // Reserved room is bounded by the input and one maximal frame.
        let bound = 2 * (data.len() + LENGTH_PREFIX + codec.max_frame_size()) + 64;
        assert!(buf.capacity() <= bound, "{} > {bound}", buf.capacity());
    }
}

/// A decoded message encodes (with room to spare) and decodes back to itself.
fn round_trip(msg: &Msg) {
    let codec = FrameCodec::new(1 << 24);
    let mut out = Vec::new();
    codec
        .encode(msg, &mut out)
        .expect("a decoded message encodes");
    let back: Msg = codec
        .decode_frame(&out)
        .expect("an encoded message decodes");
    assert_eq!(&back, msg);
    #[cfg(feature = "zstd")]
    {
        let mut packed = Vec::new();
        codec
            .with_compression(0)
            .encode(msg, &mut packed)
            .expect("a decoded message encodes compressed");
        let back: Msg = codec.decode_frame(&packed).expect("decodes compressed");
        assert_eq!(&back, msg);
    }
}
