//! Framing: the hello of the handshake and the core codecs wrapped for `tokio_util`.
//!
//! | format | hello | messages |
//! |---|---|---|
//! | [`WireFormat::Cbor`] | 4-byte big-endian length + CBOR map | [`FrameCodec`] frames |
//! | [`WireFormat::JsonLines`] | one JSON line | [`JsonLinesCodec`] lines (seed shapes) |
//!
//! The hello is the map `{"protocol_version": 1, "node_id": "a"}` in either format.

use std::marker::PhantomData;

use bytes::{Buf, BytesMut};
use scuttle_core::{FrameCodec, JsonLinesCodec, Message, NodeId, PROTOCOL_VERSION};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio_util::codec::{Decoder, Encoder};

use crate::config::WireFormat;
use crate::error::ConnectionError;

/// The largest hello accepted, in bytes.
pub const MAX_HELLO_SIZE: usize = 64 * 1024;

/// The first frame each side of a connection sends, before any message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The sender's protocol version ([`PROTOCOL_VERSION`]).
    pub protocol_version: u32,
    /// The sender's node id.
    pub node_id: NodeId,
}

impl Hello {
    /// This node's hello.
    pub fn new(node_id: NodeId) -> Self {
        Hello {
            protocol_version: PROTOCOL_VERSION,
            node_id,
        }
    }

    /// The hello as it goes on the wire in `format`.
    pub fn to_bytes(&self, format: WireFormat) -> Result<Vec<u8>, ConnectionError> {
        match format {
            WireFormat::Cbor => {
                let mut body = Vec::new();
                ciborium::into_writer(self, &mut body)
                    .map_err(|e| ConnectionError::Handshake(e.to_string()))?;
                let len = u32::try_from(body.len())
                    .ok()
                    .filter(|&l| l as usize <= MAX_HELLO_SIZE)
                    .ok_or_else(|| ConnectionError::Handshake("hello too large".into()))?;
                let mut out = len.to_be_bytes().to_vec();
                out.extend_from_slice(&body);
                Ok(out)
            }
            WireFormat::JsonLines => {
                let mut out = serde_json::to_vec(self)
                    .map_err(|e| ConnectionError::Handshake(e.to_string()))?;
                out.push(b'\n');
                Ok(out)
            }
        }
    }
}

/// A hello as read, with every field optional so that the version is checked first.
#[derive(Deserialize)]
struct RawHello {
    #[serde(default)]
    protocol_version: Option<u32>,
    #[serde(default)]
    node_id: Option<NodeId>,
}

impl RawHello {
    fn check(self) -> Result<Hello, ConnectionError> {
        let theirs = self
            .protocol_version
            .ok_or_else(|| ConnectionError::Handshake("hello without `protocol_version`".into()))?;
        if theirs != PROTOCOL_VERSION {
            return Err(ConnectionError::VersionMismatch {
                ours: PROTOCOL_VERSION,
                theirs,
            });
        }
        let node_id = self
            .node_id
            .ok_or_else(|| ConnectionError::Handshake("hello without `node_id`".into()))?;
        Ok(Hello {
            protocol_version: theirs,
            node_id,
        })
    }
}

/// Decodes the peer's hello (the first frame of a connection).
#[derive(Clone, Copy, Debug)]
pub struct HelloCodec {
    format: WireFormat,
}

impl HelloCodec {
    /// A hello decoder for `format`.
    pub fn new(format: WireFormat) -> Self {
        HelloCodec { format }
    }
}

impl Decoder for HelloCodec {
    type Item = Hello;
    type Error = ConnectionError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Hello>, ConnectionError> {
        match self.format {
            WireFormat::Cbor => {
                let Some(prefix) = buf.get(..4) else {
                    return Ok(None);
                };
                let mut len = [0u8; 4];
                len.copy_from_slice(prefix);
                let len = u32::from_be_bytes(len) as usize;
                if len > MAX_HELLO_SIZE {
                    return Err(ConnectionError::Handshake(format!(
                        "hello frame of {len} bytes exceeds {MAX_HELLO_SIZE} bytes \
                         (is the peer using the CBOR wire format?)"
                    )));
                }
                if buf.len() < 4 + len {
                    return Ok(None);
                }
                buf.advance(4);
                let body = buf.split_to(len);
                let mut reader = &body[..];
                let raw: RawHello = ciborium::from_reader(&mut reader)
                    .map_err(|e| ConnectionError::Handshake(format!("malformed hello: {e}")))?;
                if !reader.is_empty() {
                    return Err(ConnectionError::Handshake(
                        "trailing bytes after the hello".into(),
                    ));
                }
                raw.check().map(Some)
            }
            WireFormat::JsonLines => loop {
                // Fail fast on a peer that speaks CBOR (or anything else) instead of waiting
                // for a newline that may never come.
                if let Some(&first) = buf.iter().find(|b| !b.is_ascii_whitespace()) {
                    if first != b'{' {
                        return Err(ConnectionError::Handshake(
                            "the hello is not a JSON object \
                             (is the peer using the JSON-lines wire format?)"
                                .into(),
                        ));
                    }
                }
                let Some(end) = buf.iter().position(|&b| b == b'\n') else {
                    if buf.len() > MAX_HELLO_SIZE {
                        return Err(ConnectionError::Handshake(format!(
                            "no end of line in the first {MAX_HELLO_SIZE} bytes"
                        )));
                    }
                    return Ok(None);
                };
                let line = buf.split_to(end + 1);
                let text = std::str::from_utf8(&line[..end])
                    .map_err(|e| ConnectionError::Handshake(format!("malformed hello: {e}")))?
                    .trim();
                if text.is_empty() {
                    continue;
                }
                let raw: RawHello = serde_json::from_str(text)
                    .map_err(|e| ConnectionError::Handshake(format!("malformed hello: {e}")))?;
                return raw.check().map(Some);
            },
        }
    }
}

/// The core's codecs as a `tokio_util` [`Decoder`] and [`Encoder`] of
/// [`Message`]s, in either [`WireFormat`].
///
/// ```
/// use bytes::BytesMut;
/// use scuttle_core::Message;
/// use scuttle_tokio::{codec::WireCodec, WireFormat};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec: WireCodec<String, String> = WireCodec::new(WireFormat::JsonLines, 1024);
/// let mut buf = BytesMut::new();
/// codec.encode(Message::DigestDone { reply: false }, &mut buf).unwrap();
/// assert_eq!(&buf[..], b"{\"digest\":true,\"done\":true}\n");
/// assert_eq!(codec.decode(&mut buf).unwrap(), Some(Message::DigestDone { reply: false }));
/// ```
pub struct WireCodec<K, V> {
    format: WireFormat,
    frames: FrameCodec,
    lines: JsonLinesCodec,
    scratch: Vec<u8>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> WireCodec<K, V> {
    /// A codec for `format` that refuses frames (or lines) longer than `max_frame_size` bytes.
    pub fn new(format: WireFormat, max_frame_size: usize) -> Self {
        WireCodec {
            format,
            frames: FrameCodec::new(max_frame_size),
            lines: JsonLinesCodec::new(max_frame_size),
            scratch: Vec::new(),
            _types: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for WireCodec<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireCodec")
            .field("format", &self.format)
            .field("max_frame_size", &self.frames.max_frame_size())
            .finish()
    }
}

impl<K: DeserializeOwned, V: DeserializeOwned> Decoder for WireCodec<K, V> {
    type Item = Message<K, V>;
    type Error = ConnectionError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message<K, V>>, ConnectionError> {
        let msg = match self.format {
            WireFormat::Cbor => self.frames.decode(buf)?,
            WireFormat::JsonLines => self.lines.decode(buf)?,
        };
        Ok(msg)
    }
}

impl<K, V> Encoder<Message<K, V>> for WireCodec<K, V>
where
    K: Serialize + Clone,
    V: Serialize + Clone,
{
    type Error = ConnectionError;

    fn encode(&mut self, msg: Message<K, V>, dst: &mut BytesMut) -> Result<(), ConnectionError> {
        self.scratch.clear();
        match self.format {
            WireFormat::Cbor => self.frames.encode(&msg, &mut self.scratch)?,
            WireFormat::JsonLines => self.lines.encode(&msg, &mut self.scratch)?,
        }
        dst.extend_from_slice(&self.scratch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn decode_hello(format: WireFormat, bytes: &[u8]) -> Result<Option<Hello>, ConnectionError> {
        HelloCodec::new(format).decode(&mut BytesMut::from(bytes))
    }

    #[test]
    fn hello_round_trips_in_both_formats() {
        for format in [WireFormat::Cbor, WireFormat::JsonLines] {
            let hello = Hello::new(NodeId::from("node-a"));
            let bytes = hello.to_bytes(format).unwrap();
            assert!(decode_hello(format, &bytes[..bytes.len() - 1])
                .unwrap()
                .is_none());
            assert_eq!(decode_hello(format, &bytes).unwrap(), Some(hello));
        }
    }

    #[test]
    fn json_hello_is_the_documented_line() {
        let bytes = Hello::new(NodeId::from("a"))
            .to_bytes(WireFormat::JsonLines)
            .unwrap();
        assert_eq!(bytes, b"{\"protocol_version\":1,\"node_id\":\"a\"}\n");
    }

    #[test]
    fn wrong_version_is_named_before_missing_fields() {
        let err = decode_hello(WireFormat::JsonLines, b"{\"protocol_version\":7}\n").unwrap_err();
        assert!(matches!(
            err,
            ConnectionError::VersionMismatch { ours: 1, theirs: 7 }
        ));
    }

    #[test]
    fn garbage_and_oversize_hellos_are_refused() {
        let err = decode_hello(WireFormat::Cbor, &[0xff; 16]).unwrap_err();
        assert!(matches!(err, ConnectionError::Handshake(_)), "{err}");
        let err = decode_hello(WireFormat::Cbor, &[0, 0, 0, 3, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(matches!(err, ConnectionError::Handshake(_)), "{err}");
        let err = decode_hello(WireFormat::JsonLines, b"not json\n").unwrap_err();
        assert!(matches!(err, ConnectionError::Handshake(_)), "{err}");
        let err = decode_hello(WireFormat::JsonLines, &[0, 0, 0, 9, 0xa2]).unwrap_err();
        assert!(err.to_string().contains("JSON-lines"), "{err}");
        let mut long = vec![b'{'];
        long.resize(MAX_HELLO_SIZE + 1, b' ');
        let err = decode_hello(WireFormat::JsonLines, &long).unwrap_err();
        assert!(matches!(err, ConnectionError::Handshake(_)), "{err}");
    }

    #[test]
    fn wire_codec_round_trips_cbor_and_refuses_oversize() {
        let mut codec: WireCodec<String, String> = WireCodec::new(WireFormat::Cbor, 64);
        let mut buf = BytesMut::new();
        let msg = Message::Digest {
            source_id: NodeId::from("a"),
            version: 3,
            reply: true,
        };
        codec.encode(msg.clone(), &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(msg));
        let mut big = BytesMut::from(&[0u8, 0, 1, 0][..]);
        assert!(matches!(
            codec.decode(&mut big),
            Err(ConnectionError::Decode(_))
        ));
    }
}
