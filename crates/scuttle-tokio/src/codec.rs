//! Framing: the hello of the handshake, and the core's codecs wrapped for `tokio_util`.
//!
//! | format | hello | messages |
//! |---|---|---|
//! | [`WireFormat::Cbor`] | 4-byte big-endian length + CBOR map | [`FrameCodec`] frames (the same length prefix) |
//! | [`WireFormat::JsonLines`] | one JSON line | [`JsonLinesCodec`] lines (the seed's shapes) |
//! | [`WireFormat::SeedJson`] | none | [`JsonLinesCodec`] lines in the seed's dialect; bad lines skipped |
//!
//! The hello is the map `{"protocol_version": 2, "node_id": "a"}` in either format, plus
//! `"zstd": true` from a node with [`NodeConfig::compression`](crate::NodeConfig::compression)
//! on (a hello without it means "no"). Its frames
//! are cut by `tokio_util`'s [`LengthDelimitedCodec`] (configured as the core's length prefix)
//! and [`LinesCodec`], so no framing is written by hand here.

use bytes::{Bytes, BytesMut};
use scuttle_core::codec::seed::Dialect;
use scuttle_core::codec::LENGTH_PREFIX;
use scuttle_core::{
    Config, DecodeError, FrameCodec, JsonLinesCodec, Message, NodeId, PROTOCOL_VERSION,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec, LinesCodec};

use crate::config::WireFormat;
use crate::error::ConnectionError;

/// The largest hello accepted, in bytes.
pub const MAX_HELLO_SIZE: usize = 64 * 1024;

/// How many times `max_message_bytes` a JSON line may take. The core budgets the compact CBOR
/// body of a message exactly; the same content as JSON lines takes more bytes (field names,
/// escaped strings, numbers as text), so the line limit is a generous multiple of it. It only
/// bounds what a peer can make this node buffer.
pub const JSON_LINE_FACTOR: usize = 16;

/// CBOR bodies longer than this many bytes are compressed on a connection where both sides
/// turned compression on (smaller ones gain too little to pay for it).
pub const COMPRESS_ABOVE: usize = 256;

fn is_false(b: &bool) -> bool {
    !*b
}

/// The first frame each side of a connection sends, before any message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The sender's protocol version ([`PROTOCOL_VERSION`]).
    pub protocol_version: u32,
    /// The sender's node id: the peer id in this node's events.
    pub node_id: NodeId,
    /// The sender accepts zstd-compressed CBOR frames (it turned compression on). Sent only
    /// when `true`; a hello without it means `false`.
    #[serde(default, rename = "zstd", skip_serializing_if = "is_false")]
    pub accepts_zstd: bool,
}

impl Hello {
    /// The hello of node `node_id`, with this crate's [`PROTOCOL_VERSION`], not offering
    /// compression.
    pub fn new(node_id: NodeId) -> Self {
        Hello {
            protocol_version: PROTOCOL_VERSION,
            node_id,
            accepts_zstd: false,
        }
    }

    /// Sets [`accepts_zstd`](Self::accepts_zstd) (only if this build can read compressed
    /// frames).
    pub fn with_zstd(mut self, on: bool) -> Self {
        self.accepts_zstd = on && FrameCodec::accepts_compressed();
        self
    }

    /// The hello as it goes on the wire in `format`.
    pub fn to_bytes(&self, format: WireFormat) -> Result<Vec<u8>, ConnectionError> {
        let bad = |e: &dyn std::fmt::Display| ConnectionError::Handshake(e.to_string());
        match format {
            WireFormat::Cbor => {
                let mut body = Vec::new();
                ciborium::into_writer(self, &mut body).map_err(|e| bad(&e))?;
                let mut out = BytesMut::new();
                hello_frames()
                    .encode(Bytes::from(body), &mut out)
                    .map_err(|e| bad(&e))?;
                Ok(out.to_vec())
            }
            // Seed peers get no hello; were one asked for, it would be a JSON line.
            WireFormat::JsonLines | WireFormat::SeedJson => {
                let mut out = serde_json::to_vec(self).map_err(|e| bad(&e))?;
                out.push(b'\n');
                Ok(out)
            }
        }
    }
}

fn hello_frames() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(LENGTH_PREFIX)
        .max_frame_length(MAX_HELLO_SIZE)
        .new_codec()
}

/// A hello as read, with every field optional so that the version is checked first.
#[derive(Deserialize)]
struct RawHello {
    #[serde(default)]
    protocol_version: Option<u32>,
    #[serde(default)]
    node_id: Option<NodeId>,
    #[serde(default)]
    zstd: bool,
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
            accepts_zstd: self.zstd,
        })
    }
}

#[derive(Debug)]
enum HelloFraming {
    Frames(LengthDelimitedCodec),
    Lines(LinesCodec),
}

/// Decodes the peer's hello (the first frame of a connection).
#[derive(Debug)]
pub struct HelloCodec {
    framing: HelloFraming,
}

impl HelloCodec {
    /// A hello decoder for `format`.
    pub fn new(format: WireFormat) -> Self {
        let framing = match format {
            WireFormat::Cbor => HelloFraming::Frames(hello_frames()),
            WireFormat::JsonLines | WireFormat::SeedJson => {
                HelloFraming::Lines(LinesCodec::new_with_max_length(MAX_HELLO_SIZE))
            }
        };
        HelloCodec { framing }
    }

    fn parse_frame(frame: &[u8]) -> Result<Hello, ConnectionError> {
        let mut reader = frame;
        let raw: RawHello = ciborium::from_reader(&mut reader)
            .map_err(|e| ConnectionError::Handshake(format!("malformed hello: {e}")))?;
        if !reader.is_empty() {
            return Err(ConnectionError::Handshake(
                "trailing bytes after the hello".into(),
            ));
        }
        raw.check()
    }

    fn parse_line(line: &str) -> Result<Hello, ConnectionError> {
        let raw: RawHello = serde_json::from_str(line)
            .map_err(|e| ConnectionError::Handshake(format!("malformed hello: {e}")))?;
        raw.check()
    }

    fn decode_with(
        &mut self,
        buf: &mut BytesMut,
        eof: bool,
    ) -> Result<Option<Hello>, ConnectionError> {
        match &mut self.framing {
            HelloFraming::Frames(frames) => {
                let frame = if eof {
                    frames.decode_eof(buf)
                } else {
                    frames.decode(buf)
                };
                let frame = frame.map_err(|e| {
                    ConnectionError::Handshake(format!(
                        "bad hello frame: {e} (is the peer using the CBOR wire format?)"
                    ))
                })?;
                frame.map(|f| Self::parse_frame(&f)).transpose()
            }
            HelloFraming::Lines(lines) => loop {
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
                let line = if eof {
                    lines.decode_eof(buf)
                } else {
                    lines.decode(buf)
                };
                let line =
                    line.map_err(|e| ConnectionError::Handshake(format!("bad hello line: {e}")))?;
                match line {
                    None => return Ok(None),
                    Some(line) if line.trim().is_empty() => continue,
                    Some(line) => return Self::parse_line(line.trim()).map(Some),
                }
            },
        }
    }
}

impl Decoder for HelloCodec {
    type Item = Hello;
    type Error = ConnectionError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Hello>, ConnectionError> {
        self.decode_with(buf, false)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Hello>, ConnectionError> {
        self.decode_with(buf, true)
    }
}

/// The core's codecs as a `tokio_util` [`Decoder`] and [`Encoder`] of whole [`Message`]s, in
/// either [`WireFormat`].
///
/// Limits come from the node's core [`Config`]: CBOR frames up to
/// [`max_message_bytes`](Config::max_message_bytes) (the core never builds a larger message),
/// JSON lines up to [`JSON_LINE_FACTOR`] times that, digests up to
/// [`max_digest_sources`](Config::max_digest_sources) entries.
///
/// ```
/// use bytes::BytesMut;
/// use scuttle_core::{Config, Gossip};
/// use scuttle_tokio::{codec::WireCodec, WireFormat};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let node: Gossip<String, String> = Gossip::with_defaults("a");
/// let mut codec: WireCodec<String, String> = WireCodec::new(WireFormat::JsonLines, node.config());
/// let mut buf = BytesMut::new();
/// codec.encode(node.start_exchange(), &mut buf).unwrap();
/// assert_eq!(&buf[..], b"{\"digest\":true,\"done\":true}\n");
/// assert_eq!(codec.decode(&mut buf).unwrap(), Some(node.start_exchange()));
/// ```
pub struct WireCodec<K, V> {
    format: WireFormat,
    frames: FrameCodec,
    lines: JsonLinesCodec<K, V>,
    scratch: Vec<u8>,
    bytes_encoded: u64,
    /// Lines skipped on a [`WireFormat::SeedJson`] connection, not yet reported.
    skipped: Vec<DecodeError>,
}

impl<K, V> WireCodec<K, V> {
    /// A codec for `format` with the limits of the node's core `config`.
    pub fn new(format: WireFormat, config: &Config) -> Self {
        let dialect = match format {
            WireFormat::SeedJson => Dialect::Seed,
            _ => Dialect::Scuttle,
        };
        WireCodec {
            format,
            frames: FrameCodec::new(config.max_message_bytes),
            lines: JsonLinesCodec::new(
                config.max_message_bytes.saturating_mul(JSON_LINE_FACTOR),
                config.max_digest_sources,
            )
            .with_dialect(dialect),
            scratch: Vec::new(),
            bytes_encoded: 0,
            skipped: Vec::new(),
        }
    }

    /// The lines skipped since the last call ([`WireFormat::SeedJson`] only: there a line that
    /// does not parse is skipped, elsewhere it is an error).
    pub fn take_skipped(&mut self) -> Vec<DecodeError> {
        std::mem::take(&mut self.skipped)
    }

    /// Whether a JSON-lines digest has begun and not ended.
    pub fn has_partial_digest(&self) -> bool {
        self.lines.has_partial_digest()
    }

    /// Ends a half-received JSON-lines digest as if its `done` had come, and returns the next
    /// whole message (see [`JsonLinesCodec::finish_digest`]).
    pub fn finish_digest(&mut self) -> Option<Message<K, V>> {
        self.lines.finish_digest()
    }

    /// Compresses CBOR frames with bodies longer than `above` bytes (zstd, when that makes
    /// them smaller). Only for a peer whose hello said it accepts them; JSON lines are never
    /// compressed. Decoding always reads both kinds of frame.
    pub fn with_compression(mut self, above: usize) -> Self {
        self.frames = self.frames.with_compression(above);
        self
    }

    /// Bytes written by [`encode`](Encoder::encode) since the last call (or since the start).
    pub fn take_bytes_encoded(&mut self) -> u64 {
        std::mem::take(&mut self.bytes_encoded)
    }
}

impl<K, V> std::fmt::Debug for WireCodec<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireCodec")
            .field("format", &self.format)
            .field("max_frame_size", &self.frames.max_frame_size())
            .finish_non_exhaustive()
    }
}

impl<K, V> Decoder for WireCodec<K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    type Item = Message<K, V>;
    type Error = ConnectionError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message<K, V>>, ConnectionError> {
        let msg = match self.format {
            WireFormat::Cbor => self.frames.decode(buf)?,
            WireFormat::JsonLines => self.lines.decode(buf)?,
            // The bad line is consumed: note it and read on.
            WireFormat::SeedJson => loop {
                match self.lines.decode(buf) {
                    Err(e @ DecodeError::Malformed(_)) => self.skipped.push(e),
                    other => break other?,
                }
            },
        };
        Ok(msg)
    }
}

impl<K, V> Encoder<Message<K, V>> for WireCodec<K, V>
where
    K: Serialize + DeserializeOwned + Clone,
    V: Serialize + DeserializeOwned + Clone,
{
    type Error = ConnectionError;

    fn encode(&mut self, msg: Message<K, V>, dst: &mut BytesMut) -> Result<(), ConnectionError> {
        self.scratch.clear();
        match self.format {
            WireFormat::Cbor => self.frames.encode(&msg, &mut self.scratch)?,
            WireFormat::JsonLines => self.lines.encode(&msg, &mut self.scratch)?,
            WireFormat::SeedJson => match msg {
                // A seed answers every digest entry it reads with news, broadcast on all its
                // pipes, and counts every copy its neighbours hear against their
                // `max_history`: a seed peer gets this node's digest only when this node
                // starts an exchange, not again with each answer.
                Message::SynAck { news, .. } => self
                    .lines
                    .encode(&Message::Ack { news }, &mut self.scratch)?,
                msg => self.lines.encode(&msg, &mut self.scratch)?,
            },
        }
        dst.extend_from_slice(&self.scratch);
        self.bytes_encoded += self.scratch.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use scuttle_core::{Digest, Gossip};

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
    fn cbor_hello_has_the_core_length_prefix() {
        let bytes = Hello::new(NodeId::from("a"))
            .to_bytes(WireFormat::Cbor)
            .unwrap();
        let len = u32::from_be_bytes(bytes[..LENGTH_PREFIX].try_into().unwrap());
        assert_eq!(len as usize, bytes.len() - LENGTH_PREFIX);
    }

    #[test]
    fn json_hello_is_the_documented_line() {
        let bytes = Hello::new(NodeId::from("a"))
            .to_bytes(WireFormat::JsonLines)
            .unwrap();
        assert_eq!(bytes, b"{\"protocol_version\":2,\"node_id\":\"a\"}\n");
    }

    #[test]
    fn a_hello_without_the_zstd_field_means_no() {
        // CBOR {"protocol_version": 2, "node_id": "a"}, as written before compression existed.
        let mut body = Vec::new();
        ciborium::into_writer(
            &ciborium::Value::Map(vec![
                ("protocol_version".into(), 2.into()),
                ("node_id".into(), "a".into()),
            ]),
            &mut body,
        )
        .unwrap();
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        let hello = decode_hello(WireFormat::Cbor, &frame).unwrap().unwrap();
        assert!(!hello.accepts_zstd);
        let line = b"{\"protocol_version\":2,\"node_id\":\"a\"}\n";
        let hello = decode_hello(WireFormat::JsonLines, line).unwrap().unwrap();
        assert!(!hello.accepts_zstd);
        // A hello offering compression says so, and only then carries the field.
        let offer = Hello::new(NodeId::from("a")).with_zstd(true);
        assert!(offer.accepts_zstd);
        for format in [WireFormat::Cbor, WireFormat::JsonLines] {
            let bytes = offer.to_bytes(format).unwrap();
            assert_eq!(decode_hello(format, &bytes).unwrap(), Some(offer.clone()));
        }
        assert_eq!(
            offer.to_bytes(WireFormat::JsonLines).unwrap(),
            b"{\"protocol_version\":2,\"node_id\":\"a\",\"zstd\":true}\n"
        );
    }

    #[test]
    fn wire_codec_compresses_only_when_asked_and_reads_both() {
        let config = Config::default();
        let mut node: Gossip<String, String> = Gossip::with_defaults("a");
        for i in 0..20 {
            node.set(0, format!("k{i}"), "compressible ".repeat(20))
                .unwrap();
        }
        let syn_ack = Gossip::<String, String>::with_defaults("b")
            .handle_message(0, node.start_exchange())
            .unwrap()
            .unwrap();
        let msg = node.handle_message(0, syn_ack).unwrap().unwrap();
        let mut plain: WireCodec<String, String> = WireCodec::new(WireFormat::Cbor, &config);
        let mut packed = WireCodec::<String, String>::new(WireFormat::Cbor, &config)
            .with_compression(COMPRESS_ABOVE);
        let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
        plain.encode(msg.clone(), &mut a).unwrap();
        packed.encode(msg.clone(), &mut b).unwrap();
        assert!(b.len() < a.len(), "{} >= {}", b.len(), a.len());
        assert_eq!(packed.take_bytes_encoded(), b.len() as u64);
        assert_eq!(packed.take_bytes_encoded(), 0);
        // Either codec reads either frame.
        assert_eq!(packed.decode(&mut a).unwrap(), Some(msg.clone()));
        assert_eq!(plain.decode(&mut b).unwrap(), Some(msg));
    }

    #[test]
    fn wrong_version_is_named_before_missing_fields() {
        let err = decode_hello(WireFormat::JsonLines, b"{\"protocol_version\":7}\n").unwrap_err();
        assert!(matches!(
            err,
            ConnectionError::VersionMismatch {
                ours: PROTOCOL_VERSION,
                theirs: 7
            }
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
        let err = decode_hello(WireFormat::Cbor, b"{\"protocol_version\":2}\n").unwrap_err();
        assert!(err.to_string().contains("CBOR"), "{err}");
        let mut long = vec![b'{'];
        long.resize(MAX_HELLO_SIZE + 1, b' ');
        let err = decode_hello(WireFormat::JsonLines, &long).unwrap_err();
        assert!(matches!(err, ConnectionError::Handshake(_)), "{err}");
    }

    #[test]
    fn a_line_without_newline_is_read_at_the_end_of_the_stream() {
        let mut codec = HelloCodec::new(WireFormat::JsonLines);
        let mut buf = BytesMut::from(&b"{\"protocol_version\":2,\"node_id\":\"x\"}"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        let hello = codec.decode_eof(&mut buf).unwrap().unwrap();
        assert_eq!(hello.node_id.as_str(), "x");
    }

    #[test]
    fn wire_codec_round_trips_and_takes_its_limit_from_the_core_config() {
        let config = Config::default().with_max_message_bytes(64);
        let node: Gossip<String, String> = Gossip::new(
            "a",
            config.clone(),
            scuttle_core::LastWriterWins,
            scuttle_core::ScuttleBreadth,
        )
        .unwrap();
        let mut codec: WireCodec<String, String> = WireCodec::new(WireFormat::Cbor, &config);
        let mut buf = BytesMut::new();
        let msg = node.start_exchange();
        codec.encode(msg.clone(), &mut buf).unwrap();
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(msg));
        // A frame announcing 65 bytes is refused as soon as its length is read.
        let mut big = BytesMut::from(&[0u8, 0, 0, 65][..]);
        assert!(matches!(
            codec.decode(&mut big),
            Err(ConnectionError::Decode(
                scuttle_core::DecodeError::FrameTooLarge { len: 65, max: 64 }
            ))
        ));
    }

    #[test]
    fn json_lines_join_a_whole_digest_into_one_message() {
        let config = Config::default();
        let mut codec: WireCodec<String, String> = WireCodec::new(WireFormat::JsonLines, &config);
        let mut buf = BytesMut::from(
            &b"{\"digest\":true,\"source_id\":\"a\",\"version\":3}\n{\"digest\":true,\"done\":true}\n"[..],
        );
        let msg = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(
            msg,
            Message::Syn {
                digest: Digest::Full(vec![(NodeId::from("a"), 3)])
            }
        );
    }
}
