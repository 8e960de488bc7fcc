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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameCodec {
    max_frame_size: usize,
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
        FrameCodec { max_frame_size }
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
        match u32::try_from(len) {
            Ok(l) if len <= self.max_frame_size => {
                out[start..start + LENGTH_PREFIX].copy_from_slice(&l.to_be_bytes());
                Ok(())
            }
            _ => {
                out.truncate(start);
                Err(EncodeError::FrameTooLarge {
                    len,
                    max: self.max_frame_size,
                })
            }
        }
    }

    /// Takes one whole frame off the front of `buf`, or `Ok(None)` until one is buffered.
    pub fn decode<K: DeserializeOwned, V: DeserializeOwned>(
        &self,
        buf: &mut BytesMut,
    ) -> Result<Option<Message<K, V>>, DecodeError> {
        let Some(len) = self.frame_len(buf)? else {
            return Ok(None);
        };
        if buf.len() < LENGTH_PREFIX + len {
            buf.reserve(LENGTH_PREFIX + len - buf.len());
            return Ok(None);
        }
        buf.advance(LENGTH_PREFIX);
        let body = buf.split_to(len);
        from_cbor(&body).map(Some)
    }

    /// Decodes exactly one frame (prefix included) held whole in `frame`.
    pub fn decode_frame<K: DeserializeOwned, V: DeserializeOwned>(
        &self,
        frame: &[u8],
    ) -> Result<Message<K, V>, DecodeError> {
        let len = self
            .frame_len(frame)?
            .ok_or_else(|| DecodeError::Malformed("frame shorter than its length prefix".into()))?;
        let body = &frame[LENGTH_PREFIX..];
        match body.len().cmp(&len) {
            std::cmp::Ordering::Less => Err(DecodeError::Malformed(format!(
                "frame announces {len} bytes but holds {}",
                body.len()
            ))),
            std::cmp::Ordering::Greater => Err(DecodeError::TrailingBytes(body.len() - len)),
            std::cmp::Ordering::Equal => from_cbor(body),
        }
    }

    fn frame_len(&self, buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        let Some(prefix) = buf.get(..LENGTH_PREFIX) else {
            return Ok(None);
        };
        let mut bytes = [0u8; LENGTH_PREFIX];
        bytes.copy_from_slice(prefix);
        let len = u32::from_be_bytes(bytes) as usize;
        if len > self.max_frame_size {
            return Err(DecodeError::FrameTooLarge {
                len,
                max: self.max_frame_size,
            });
        }
        Ok(Some(len))
    }
}

/// The seed's newline-delimited JSON, one seed shape per line.
///
/// Encoding splits a message into lines ([`seed::split`]); decoding joins lines back
/// ([`seed::Joiner`]): a digest becomes a `Syn` (or a `SynAck` when its lines are marked
/// `"reply": true`), and consecutive update lines become one `Ack`. The decoder keeps its scan
/// position, so a long line arriving in small reads costs time linear in its length.
#[derive(Debug)]
pub struct JsonLinesCodec<K, V> {
    max_line: usize,
    scanned: usize,
    joiner: seed::Joiner<K, V>,
}

impl<K, V> JsonLinesCodec<K, V> {
    /// A codec refusing lines above `max_line` bytes and digests above `max_digest` entries.
    pub fn new(max_line: usize, max_digest: usize) -> Self {
        JsonLinesCodec {
            max_line,
            scanned: 0,
            joiner: seed::Joiner::new(max_digest),
        }
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
            let Some(offset) = buf[self.scanned..].iter().position(|&b| b == b'\n') else {
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
            let end = self.scanned + offset;
            self.scanned = 0;
            if end > self.max_line {
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
