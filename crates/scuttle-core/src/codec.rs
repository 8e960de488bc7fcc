//! Putting messages on the wire.
//!
//! * [`FrameCodec`]: one message per frame, a 4-byte big-endian length then the compact CBOR
//!   body (see [`wire`](crate::wire) for its shape). The body is what
//!   [`Config::max_message_bytes`](crate::Config::max_message_bytes) bounds.
//! * [`JsonLinesCodec`]: the seed's JSON lines, for interop with simple-scuttle peers. It
//!   splits a whole message into the seed's line shapes and joins lines back into messages
//!   ([`seed`] does the splitting and joining on values, for bindings).
//!
//! Both decoders follow tokio-util's `Decoder` shape: `Ok(None)` until a whole frame is
//! buffered, a typed error (never a panic) for bad or oversize input.
//!
//! ```
//! use bytes::BytesMut;
//! use scuttle_core::{FrameCodec, Gossip, Message};
//!
//! let a: Gossip<String, String> = Gossip::with_defaults("a");
//! let codec = FrameCodec::new(1 << 16);
//! let mut buf = Vec::new();
//! codec.encode(&a.start_exchange(), &mut buf).unwrap();
//! let mut bytes = BytesMut::from(&buf[..]);
//! let msg: Message<String, String> = codec.decode(&mut bytes).unwrap().unwrap();
//! assert_eq!(msg, a.start_exchange());
//! ```

use bytes::{Buf, BytesMut};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::DecodeError;
pub use crate::error::EncodeError;
use crate::message::Message;

pub mod seed;

/// Bytes of the length prefix of a [`FrameCodec`] frame.
pub const LENGTH_PREFIX: usize = 4;

/// The bit of the length prefix that marks a zstd-compressed body.
const COMPRESSED: u32 = 1 << 31;

/// Encodes a message to its CBOR body (no length prefix).
pub fn to_cbor<K: Serialize, V: Serialize>(msg: &Message<K, V>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(crate::wire::message_len(msg));
    ciborium::into_writer(msg, &mut out).map_err(|e| EncodeError::Serialize(e.to_string()))?;
    Ok(out)
}

/// Decodes a CBOR body (no length prefix) into a message.
pub fn from_cbor<K: DeserializeOwned, V: DeserializeOwned>(
    bytes: &[u8],
) -> Result<Message<K, V>, DecodeError> {
    let mut reader = bytes;
    let msg =
        ciborium::from_reader(&mut reader).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !reader.is_empty() {
        return Err(DecodeError::TrailingBytes(reader.len()));
    }
    Ok(msg)
}

/// Length-prefixed CBOR frames with a maximum body size.
///
/// The prefix is the body's length as a big-endian `u32`; its top bit marks a body compressed
/// with zstd (cargo feature `zstd`). Compression is off unless
/// `with_compression` (feature `zstd`) turns it on, which a transport does only once
/// the peer said it accepts compressed frames; a decoder built with the feature accepts both.
/// The byte budget (`max_message_bytes`) counts the uncompressed body, so compression only
/// ever makes a frame smaller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameCodec {
    max_frame_size: usize,
    compress_above: Option<usize>,
}

impl Default for FrameCodec {
    /// A codec for the default [`Config::max_message_bytes`](crate::Config::max_message_bytes).
    fn default() -> Self {
        FrameCodec::new(crate::Config::default().max_message_bytes)
    }
}

impl FrameCodec {
    /// A codec refusing bodies above `max_frame_size` bytes. Give it the node's
    /// `max_message_bytes` (or more): the core never builds a larger message.
    pub fn new(max_frame_size: usize) -> Self {
        FrameCodec {
            max_frame_size,
            compress_above: None,
        }
    }

    /// Compresses bodies longer than `above` bytes with zstd when that makes them smaller.
    /// Only for peers that accept compressed frames (negotiate it in the transport's
    /// handshake).
    #[cfg(feature = "zstd")]
    pub fn with_compression(mut self, above: usize) -> Self {
        self.compress_above = Some(above);
        self
    }

    /// Whether this codec can read compressed frames (built with the `zstd` feature).
    pub fn accepts_compressed() -> bool {
        cfg!(feature = "zstd")
    }

    /// The largest body accepted.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Appends one frame to `out`.
    pub fn encode<K: Serialize, V: Serialize>(
        &self,
        msg: &Message<K, V>,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let start = out.len();
        out.extend_from_slice(&[0; LENGTH_PREFIX]);
        if let Err(e) = ciborium::into_writer(msg, &mut *out) {
            out.truncate(start);
            return Err(EncodeError::Serialize(e.to_string()));
        }
        let len = out.len() - start - LENGTH_PREFIX;
        if len > self.max_frame_size || len >= COMPRESSED as usize {
            out.truncate(start);
            return Err(EncodeError::FrameTooLarge {
                len,
                max: self.max_frame_size,
            });
        }
        let mut prefix = len as u32;
        if self.compress_above.is_some_and(|above| len > above) {
            prefix = self.compress_body(out, start, prefix);
        }
        out[start..start + LENGTH_PREFIX].copy_from_slice(&prefix.to_be_bytes());
        Ok(())
    }

    /// Replaces the body at `out[start + LENGTH_PREFIX..]` by its zstd compression when that is
    /// shorter; returns the prefix to write.
    #[cfg(feature = "zstd")]
    fn compress_body(&self, out: &mut Vec<u8>, start: usize, prefix: u32) -> u32 {
        let body = &out[start + LENGTH_PREFIX..];
        match zstd::bulk::compress(body, 3) {
            Ok(packed) if packed.len() < body.len() => {
                out.truncate(start + LENGTH_PREFIX);
                out.extend_from_slice(&packed);
                packed.len() as u32 | COMPRESSED
            }
            _ => prefix,
        }
    }

    #[cfg(not(feature = "zstd"))]
    fn compress_body(&self, _out: &mut Vec<u8>, _start: usize, prefix: u32) -> u32 {
        prefix
    }

    /// Decodes a body, decompressing it first when its prefix says so.
    fn decode_body<K: DeserializeOwned, V: DeserializeOwned>(
        &self,
        body: &[u8],
        compressed: bool,
    ) -> Result<Message<K, V>, DecodeError> {
        if !compressed {
            return from_cbor(body);
        }
        #[cfg(feature = "zstd")]
        {
            // Bounded: a body that inflates past the limit is refused, not allocated.
            let plain = zstd::bulk::decompress(body, self.max_frame_size)
                .map_err(|e| DecodeError::Malformed(format!("bad compressed frame: {e}")))?;
            from_cbor(&plain)
        }
        #[cfg(not(feature = "zstd"))]
        {
            let _ = body;
            Err(DecodeError::Malformed(
                "compressed frame, but zstd support is not built in".into(),
            ))
        }
    }

    /// Takes one whole frame off the front of `buf`, or `Ok(None)` until one is buffered.
    pub fn decode<K: DeserializeOwned, V: DeserializeOwned>(
        &self,
        buf: &mut BytesMut,
    ) -> Result<Option<Message<K, V>>, DecodeError> {
        let Some((len, compressed)) = self.frame_len(buf)? else {
            return Ok(None);
        };
        if buf.len() < LENGTH_PREFIX + len {
            buf.reserve(LENGTH_PREFIX + len - buf.len());
            return Ok(None);
        }
        buf.advance(LENGTH_PREFIX);
        let body = buf.split_to(len);
        self.decode_body(&body, compressed).map(Some)
    }

    /// Decodes exactly one frame (prefix included) held whole in `frame`.
    pub fn decode_frame<K: DeserializeOwned, V: DeserializeOwned>(
        &self,
        frame: &[u8],
    ) -> Result<Message<K, V>, DecodeError> {
        let (len, compressed) = self
            .frame_len(frame)?
            .ok_or_else(|| DecodeError::Malformed("frame shorter than its length prefix".into()))?;
        let body = &frame[LENGTH_PREFIX..];
        match body.len().cmp(&len) {
            std::cmp::Ordering::Less => Err(DecodeError::Malformed(format!(
                "frame announces {len} bytes but holds {}",
                body.len()
            ))),
            std::cmp::Ordering::Greater => Err(DecodeError::TrailingBytes(body.len() - len)),
            std::cmp::Ordering::Equal => self.decode_body(body, compressed),
        }
    }

    /// The body length and whether it is compressed, once the prefix is buffered.
    fn frame_len(&self, buf: &[u8]) -> Result<Option<(usize, bool)>, DecodeError> {
        let Some(prefix) = buf.get(..LENGTH_PREFIX) else {
            return Ok(None);
        };
        let mut bytes = [0u8; LENGTH_PREFIX];
        bytes.copy_from_slice(prefix);
        let prefix = u32::from_be_bytes(bytes);
        let len = (prefix & !COMPRESSED) as usize;
        if len > self.max_frame_size {
            return Err(DecodeError::FrameTooLarge {
                len,
                max: self.max_frame_size,
            });
        }
        Ok(Some((len, prefix & COMPRESSED != 0)))
    }
}

/// The seed's newline-delimited JSON, one seed shape per line.
///
/// Encoding splits a message into lines ([`seed::split`]); decoding joins lines back
/// ([`seed::Joiner`]): a digest becomes a `Syn` (or a `SynAck` when its lines are marked
/// `"reply": true`), and consecutive update lines become one `Ack`.
///
/// The decoder keeps its scan position, so each buffered byte is looked at once however the
/// line arrives ([`bytes_scanned`](Self::bytes_scanned) counts them), and refuses a line longer
/// than `max_line` bytes with [`DecodeError::FrameTooLarge`] as soon as that many bytes
/// without a newline are buffered. A line that does not parse is consumed before
/// [`DecodeError::Malformed`] is returned, so a transport that skips bad lines (seed peers)
/// just calls `decode` again.
///
/// [`with_dialect`](Self::with_dialect)`(`[`seed::Dialect::Seed`]`)` also reads what the seed's
/// JavaScript code really sends; [`finish_digest`](Self::finish_digest) ends a digest the seed
/// never finished.
#[derive(Debug)]
pub struct JsonLinesCodec<K, V> {
    max_line: usize,
    /// How far into the buffer no newline was found (the next scan starts there).
    scanned: usize,
    bytes_scanned: u64,
    joiner: seed::Joiner<K, V>,
}

impl<K, V> JsonLinesCodec<K, V> {
    /// A codec refusing lines above `max_line` bytes, and digests above `max_digest` entries
    /// or `max_line` bytes of source ids and versions in all (what one binary frame could
    /// hold) with [`DecodeError::FrameTooLarge`].
    pub fn new(max_line: usize, max_digest: usize) -> Self {
        JsonLinesCodec {
            max_line,
            scanned: 0,
            bytes_scanned: 0,
            joiner: seed::Joiner::new(max_digest).with_max_digest_bytes(max_line),
        }
    }

    /// Reads `dialect` (see [`seed::Dialect`]).
    pub fn with_dialect(mut self, dialect: seed::Dialect) -> Self {
        self.joiner = self.joiner.with_dialect(dialect);
        self
    }

    /// The longest line accepted, in bytes (newline not counted).
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Bytes the decoder has looked at while searching for newlines, in total: at most once
    /// per byte received.
    pub fn bytes_scanned(&self) -> u64 {
        self.bytes_scanned
    }

    /// Whether a digest has begun and not ended (see [`finish_digest`](Self::finish_digest)).
    pub fn has_partial_digest(&self) -> bool {
        self.joiner.has_partial_digest()
    }

    /// Ends a half-received digest as if its `done` had come, and returns the next whole
    /// message ([`seed::Joiner::finish_digest`]).
    pub fn finish_digest(&mut self) -> Option<Message<K, V>> {
        self.joiner.finish_digest()
    }
}

impl<K, V> Default for JsonLinesCodec<K, V> {
    fn default() -> Self {
        let config = crate::Config::default();
        JsonLinesCodec::new(config.max_message_bytes, config.max_digest_sources)
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> JsonLinesCodec<K, V> {
    /// Appends the message's lines to `out`.
    pub fn encode(&self, msg: &Message<K, V>, out: &mut Vec<u8>) -> Result<(), EncodeError>
    where
        K: Clone,
        V: Clone,
    {
        for line in seed::split(msg) {
            let start = out.len();
            serde_json::to_writer(&mut *out, &line)
                .map_err(|e| EncodeError::Serialize(e.to_string()))?;
            let len = out.len() - start;
            if len > self.max_line {
                out.truncate(start);
                return Err(EncodeError::FrameTooLarge {
                    len,
                    max: self.max_line,
                });
            }
            out.push(b'\n');
        }
        Ok(())
    }

    /// The next whole message, or `Ok(None)` until one is buffered.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message<K, V>>, DecodeError> {
        loop {
            if let Some(msg) = self.joiner.pop() {
                return Ok(Some(msg));
            }
            // A caller that cleared the buffer behind our back restarts the scan.
            let from = if self.scanned <= buf.len() {
                self.scanned
            } else {
                0
            };
            let unseen = &buf[from..];
            let found = unseen.iter().position(|&b| b == b'\n');
            self.bytes_scanned += found.map_or(unseen.len(), |i| i + 1) as u64;
            let Some(offset) = found else {
                self.scanned = buf.len();
                if buf.len() > self.max_line {
                    return Err(DecodeError::FrameTooLarge {
                        len: buf.len(),
                        max: self.max_line,
                    });
                }
                // No whole line: hand over the updates joined so far, if any.
                return Ok(self.joiner.flush());
            };
            let end = from + offset;
            self.scanned = 0;
            if end > self.max_line {
                buf.advance(end + 1);
                return Err(DecodeError::FrameTooLarge {
                    len: end,
                    max: self.max_line,
                });
            }
            let line = buf.split_to(end + 1);
            let text = std::str::from_utf8(&line[..end])
                .map_err(|e| DecodeError::Malformed(e.to_string()))?
                .trim();
            if text.is_empty() {
                continue;
            }
            let line: seed::Line<K, V> =
                serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
            if let Some(msg) = self.joiner.push(line)? {
                return Ok(Some(msg));
            }
            // The line only added to a message still being joined: read on.
        }
    }
}
