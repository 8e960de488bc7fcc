//! Codecs: length-prefixed CBOR frames (the default) and seed-shaped JSON (lines).
//!
//! Decoders work on a caller-owned buffer and answer `Ok(None)` until a whole frame is there,
//! so a transport wraps them in a few lines. Oversize or malformed input is a typed
//! [`DecodeError`], never a panic.
//!
//! ```
//! use bytes::BytesMut;
//! use scuttle_core::{FrameCodec, Message, NodeId};
//!
//! let codec = FrameCodec::default();
//! let msg: Message<String, String> = Message::DigestDone { reply: false };
//! let mut out = Vec::new();
//! codec.encode(&msg, &mut out).unwrap();
//!
//! let mut buf = BytesMut::from(&out[..3]);
//! assert!(codec.decode::<String, String>(&mut buf).unwrap().is_none()); // not yet
//! buf.extend_from_slice(&out[3..]);
//! assert_eq!(codec.decode(&mut buf).unwrap(), Some(msg));
//! ```

use bytes::{Buf, BytesMut};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::DecodeError;
use crate::message::{Message, Wire};

/// Bytes of the big-endian length prefix before each CBOR frame.
pub const LENGTH_PREFIX: usize = 4;

/// A message could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded message is larger than the maximum frame size.
    #[error("encoded message of {len} bytes exceeds the maximum frame size of {max} bytes")]
    FrameTooLarge {
        /// The encoded size.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The key or value type could not be serialized.
    #[error("serialization failed: {0}")]
    Serialize(String),
}

/// Encodes one message as CBOR, without a length prefix.
pub fn to_cbor<K, V>(msg: &Message<K, V>) -> Result<Vec<u8>, EncodeError>
where
    K: Serialize + Clone,
    V: Serialize + Clone,
{
    let mut out = Vec::new();
    ciborium::into_writer(&Wire::from(msg), &mut out)
        .map_err(|e| EncodeError::Serialize(e.to_string()))?;
    Ok(out)
}

/// Decodes one message from CBOR bytes (no length prefix); the whole slice must be used.
pub fn from_cbor<K, V>(bytes: &[u8]) -> Result<Message<K, V>, DecodeError>
where
    K: DeserializeOwned,
    V: DeserializeOwned,
{
    let mut reader = bytes;
    let wire: Wire<K, V> =
        ciborium::from_reader(&mut reader).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !reader.is_empty() {
        return Err(DecodeError::TrailingBytes(reader.len()));
    }
    Message::try_from(wire)
}

/// Encodes one message in the seed's JSON shape.
pub fn to_json<K, V>(msg: &Message<K, V>) -> Result<String, EncodeError>
where
    K: Serialize + Clone,
    V: Serialize + Clone,
{
    serde_json::to_string(&Wire::from(msg)).map_err(|e| EncodeError::Serialize(e.to_string()))
}

/// Decodes one message from the seed's JSON shape.
pub fn from_json<K, V>(text: &str) -> Result<Message<K, V>, DecodeError>
where
    K: DeserializeOwned,
    V: DeserializeOwned,
{
    let wire: Wire<K, V> =
        serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    Message::try_from(wire)
}

/// Length-prefixed CBOR frames: a 4-byte big-endian length, then one CBOR message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameCodec {
    max_frame_size: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(crate::Config::default().max_frame_size)
    }
}

impl FrameCodec {
    /// A codec that refuses frames whose body is larger than `max_frame_size` bytes.
    pub fn new(max_frame_size: usize) -> Self {
        FrameCodec { max_frame_size }
    }

    /// The largest frame body accepted.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Appends one frame to `out`. On error `out` is left as it was.
    pub fn encode<K, V>(&self, msg: &Message<K, V>, out: &mut Vec<u8>) -> Result<(), EncodeError>
    where
        K: Serialize + Clone,
        V: Serialize + Clone,
    {
        let body = to_cbor(msg)?;
        let len = u32::try_from(body.len())
            .ok()
            .filter(|&l| l as usize <= self.max_frame_size)
            .ok_or(EncodeError::FrameTooLarge {
                len: body.len(),
                max: self.max_frame_size,
            })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&body);
        Ok(())
    }

    /// Takes one whole frame off the front of `buf`; `Ok(None)` until one is complete.
    /// An oversize length is refused as soon as the prefix arrives.
    pub fn decode<K, V>(&self, buf: &mut BytesMut) -> Result<Option<Message<K, V>>, DecodeError>
    where
        K: DeserializeOwned,
        V: DeserializeOwned,
    {
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

    /// Decodes a buffer that holds exactly one whole frame (prefix included).
    pub fn decode_frame<K, V>(&self, frame: &[u8]) -> Result<Message<K, V>, DecodeError>
    where
        K: DeserializeOwned,
        V: DeserializeOwned,
    {
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

/// Newline-delimited JSON in the seed's shapes, for peers in other languages and debugging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonLinesCodec {
    max_line: usize,
}

impl Default for JsonLinesCodec {
    fn default() -> Self {
        JsonLinesCodec::new(crate::Config::default().max_frame_size)
    }
}

impl JsonLinesCodec {
    /// A codec that refuses lines longer than `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        JsonLinesCodec { max_line }
    }

    /// Appends one message and a newline to `out`. On error `out` is left as it was.
    pub fn encode<K, V>(&self, msg: &Message<K, V>, out: &mut Vec<u8>) -> Result<(), EncodeError>
    where
        K: Serialize + Clone,
        V: Serialize + Clone,
    {
        let text = to_json(msg)?;
        if text.len() > self.max_line {
            return Err(EncodeError::FrameTooLarge {
                len: text.len(),
                max: self.max_line,
            });
        }
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
        Ok(())
    }

    /// Takes one line off the front of `buf`; `Ok(None)` until a newline arrives. Blank lines
    /// are skipped.
    pub fn decode<K, V>(&self, buf: &mut BytesMut) -> Result<Option<Message<K, V>>, DecodeError>
    where
        K: DeserializeOwned,
        V: DeserializeOwned,
    {
        loop {
            let Some(end) = buf.iter().position(|&b| b == b'\n') else {
                if buf.len() > self.max_line {
                    return Err(DecodeError::FrameTooLarge {
                        len: buf.len(),
                        max: self.max_line,
                    });
                }
                return Ok(None);
            };
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
            return from_json(text).map(Some);
        }
    }
}
