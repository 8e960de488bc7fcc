//! Writes the seed corpora under `corpus/<target>/` from [`scuttle_fuzz::seeds`] (the
//! `core_messages` seeds excepted). In fuzz/:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz build --features zstd,tokio --target-dir target/zstd write_seeds`,
//! then run `target/zstd/<host>/release/write_seeds`. With `zstd`, compressed frames are written
//! too; with `tokio`, the `tokio_codec` streams.

use std::fs;
use std::path::Path;

use scuttle_core::{FrameCodec, JsonLinesCodec};
use scuttle_fuzz::seeds;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    fs::create_dir_all(&dir).expect("corpus directory");
    fs::write(dir.join(name), bytes).expect("seed file");
}

fn main() {
    let codec = FrameCodec::new(1 << 20);
    let json = JsonLinesCodec::<String, String>::new(1 << 16, 1 << 10);
    let mut all_frames = Vec::new();
    let mut all_lines = Vec::new();
    for (name, msg) in seeds::messages() {
        let mut frame = Vec::new();
        codec.encode(&msg, &mut frame).expect("encodes");
        write("frame_codec", name, &frame);
        write("c_frame", name, &frame);
        all_frames.extend_from_slice(&frame);
        #[cfg(feature = "zstd")]
        {
            let mut packed = Vec::new();
            codec
                .with_compression(0)
                .encode(&msg, &mut packed)
                .expect("encodes");
            if packed != frame {
                write("frame_codec", &format!("{name}_zstd"), &packed);
            }
        }
        // json_lines inputs start with two bytes: the chunking seed and the limits selector.
        let mut lines = vec![0u8, 0xff];
        json.encode(&msg, &mut lines).expect("encodes");
        write("json_lines", name, &lines);
        all_lines.extend_from_slice(&lines[2..]);
    }
    write("frame_codec", "all", &all_frames);
    write("c_frame", "all", &all_frames);
    let mut lines = vec![7u8, 0xff];
    lines.extend_from_slice(&all_lines);
    write("json_lines", "all", &lines);
    #[cfg(feature = "tokio")]
    tokio_seeds(&all_frames, &all_lines);
}

/// A hello then every message, in both formats (`tokio_codec` inputs start with a selector
/// byte, format in its low bit, and a chunking seed byte).
#[cfg(feature = "tokio")]
fn tokio_seeds(frames: &[u8], lines: &[u8]) {
    use scuttle_tokio::{Hello, WireFormat};
    for (name, select, format, body) in [
        ("cbor", 0x0e, WireFormat::Cbor, frames),
        ("json", 0x0f, WireFormat::JsonLines, lines),
    ] {
        let mut input = vec![select, 3];
        let hello = Hello::new("a".into()).with_zstd(true);
        input.extend_from_slice(&hello.to_bytes(format).expect("encodes"));
        input.extend_from_slice(body);
        write("tokio_codec", name, &input);
    }
}
