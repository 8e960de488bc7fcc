//! The wire protocol: protocol id, the request-response codec and the batch framing.
//!
//! One request or response on `/scuttle/1.0.0` is one **batch**: a version byte
//! ([`BATCH_VERSION`]), then the core's length-prefixed CBOR frames ([`FrameCodec`]) back to
//! back, and nothing else; the writer closes its side of the stream after the batch. A batch
//! with no message is the version byte alone, so a stream closed without a byte is a refusal
//! (a dropped request), never an empty answer. A batch is read up to the configured maximum
//! (`max_frame_bytes`); a longer one is not buffered but marked [`Frame::is_oversize`], so the
//! behaviour can disconnect its sender.
//!
//! The codec never fails on bad *content*: it hands raw bytes to the behaviour, which decodes
//! them and reports the peer. (Request-response drops inbound read errors silently, so a
//! decoding codec could not tell the behaviour who sent garbage.)

use std::io;

use bytes::BytesMut;
use futures::prelude::*;
use libp2p::request_response;
use libp2p::StreamProtocol;
use scuttle_core::{DecodeError, EncodeError, FrameCodec, Message};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The protocol id scuttle negotiates by default.
pub const PROTOCOL_NAME: StreamProtocol = StreamProtocol::new("/scuttle/1.0.0");

/// The first byte of every batch: the version of the batch layout.
pub const BATCH_VERSION: u8 = 1;

/// The raw bytes of one batch, as read from or written to a stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    bytes: Vec<u8>,
    oversize: bool,
}

impl Frame {
    /// A frame holding `bytes` as they are (no validation; tests use it to send garbage).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Frame {
            bytes,
            oversize: false,
        }
    }

    /// A valid batch that carries no message.
    pub fn empty_batch() -> Self {
        Frame::from_bytes(vec![BATCH_VERSION])
    }

    /// The bytes of the batch (empty for an oversize frame, which is not buffered).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the peer sent more than the maximum frame size.
    pub fn is_oversize(&self) -> bool {
        self.oversize
    }
}

/// The request-response codec of `/scuttle/1.0.0`: reads at most `max_frame_bytes` per batch
/// and hands the raw bytes on (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Codec {
    max_frame_bytes: usize,
}

impl Codec {
    /// A codec that accepts batches of at most `max_frame_bytes` bytes.
    pub fn new(max_frame_bytes: usize) -> Self {
        Codec { max_frame_bytes }
    }

    /// The largest batch accepted, in bytes.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    async fn read_response_frame<T>(&self, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        let frame = self.read(io).await?;
        if frame.bytes.is_empty() && !frame.oversize {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed the stream without a response (request refused)",
            ));
        }
        Ok(frame)
    }

    async fn read<T>(&self, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        let limit = self.max_frame_bytes as u64;
        let mut bytes = Vec::new();
        io.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .await?;
        if bytes.len() as u64 > limit {
            return Ok(Frame {
                bytes: Vec::new(),
                oversize: true,
            });
        }
        Ok(Frame {
            bytes,
            oversize: false,
        })
    }

    async fn write<T>(&self, io: &mut T, frame: Frame) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        if frame.oversize || frame.bytes.len() > self.max_frame_bytes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "batch exceeds the maximum frame size",
            ));
        }
        // The request-response handler closes the stream after the batch.
        io.write_all(&frame.bytes).await
    }
}

impl request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Frame;
    type Response = Frame;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.read(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.read_response_frame(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        frame: Frame,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write(io, frame).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        frame: Frame,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write(io, frame).await
    }
}

/// Encodes a batch of messages into one frame of at most `max_frame_bytes`.
///
/// News (updates and resets) that would overflow the frame is left out and counted in the
/// returned `dropped`; the receiver's `prev` check skips what depended on it and the next
/// exchange resends it. Digest messages are never left out: if they do not fit, the batch fails.
pub(crate) fn encode_batch<K, V>(
    messages: &[Message<K, V>],
    max_frame_bytes: usize,
) -> Result<(Frame, usize), EncodeError>
where
    K: Serialize + Clone,
    V: Serialize + Clone,
{
    let codec = FrameCodec::new(max_frame_bytes);
    let mut bytes = vec![BATCH_VERSION];
    let mut one = Vec::new();
    let mut dropped = 0;
    for msg in messages {
        one.clear();
        let news = matches!(msg, Message::Update { .. } | Message::Reset(_));
        match codec.encode(msg, &mut one) {
            Ok(()) if bytes.len() + one.len() <= max_frame_bytes => {
                bytes.extend_from_slice(&one);
            }
            Ok(()) | Err(EncodeError::FrameTooLarge { .. }) if news => dropped += 1,
            Ok(()) => {
                return Err(EncodeError::FrameTooLarge {
                    len: bytes.len() + one.len(),
                    max: max_frame_bytes,
                })
            }
            Err(e) => return Err(e),
        }
    }
    Ok((Frame::from_bytes(bytes), dropped))
}

/// Decodes every message of a batch. The frame must hold whole frames only.
pub(crate) fn decode_batch<K, V>(
    frame: &Frame,
    max_frame_bytes: usize,
) -> Result<Vec<Message<K, V>>, DecodeError>
where
    K: DeserializeOwned,
    V: DeserializeOwned,
{
    let codec = FrameCodec::new(max_frame_bytes);
    let body = match frame.as_bytes().split_first() {
        Some((&BATCH_VERSION, body)) => body,
        Some((version, _)) => {
            return Err(DecodeError::Malformed(format!(
                "unknown batch version {version}"
            )))
        }
        None => return Err(DecodeError::Malformed("empty batch".into())),
    };
    let mut buf = BytesMut::from(body);
    let mut out = Vec::new();
    while !buf.is_empty() {
        match codec.decode(&mut buf)? {
            Some(msg) => out.push(msg),
            None => {
                return Err(DecodeError::Malformed(format!(
                    "batch ends inside a frame ({} bytes left)",
                    buf.len()
                )))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scuttle_core::{NodeId, Update};

    fn update(version: u64, value: &str) -> Message<String, String> {
        Message::Update {
            update: Update {
                key: format!("k{version}"),
                value: Some(value.to_owned()),
                source_id: NodeId::from("a"),
                version,
                timestamp: 0,
            },
            prev: Some(version - 1),
        }
    }

    #[test]
    fn batch_round_trip() {
        let msgs = vec![
            update(1, "x"),
            Message::Digest {
                source_id: NodeId::from("a"),
                version: 1,
                reply: true,
            },
            Message::DigestDone { reply: true },
        ];
        let (frame, dropped) = encode_batch(&msgs, 1024).unwrap();
        assert_eq!(dropped, 0);
        let back: Vec<Message<String, String>> = decode_batch(&frame, 1024).unwrap();
        assert_eq!(back, msgs);
    }

    #[test]
    fn news_that_does_not_fit_is_left_out_but_digest_stays() {
        let big = "v".repeat(200);
        let msgs = vec![
            update(1, &big),
            update(2, &big),
            Message::DigestDone { reply: true },
        ];
        let (frame, dropped) = encode_batch(&msgs, 300).unwrap();
        assert_eq!(dropped, 1);
        let back: Vec<Message<String, String>> = decode_batch(&frame, 300).unwrap();
        assert_eq!(back, vec![msgs[0].clone(), msgs[2].clone()]);
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        let garbage = Frame::from_bytes(vec![BATCH_VERSION, 0, 0, 0, 3, 0xff, 0xff, 0xff]);
        assert!(decode_batch::<String, String>(&garbage, 1024).is_err());
        let (frame, _) = encode_batch(&[update(1, "x")], 1024).unwrap();
        let cut = Frame::from_bytes(frame.as_bytes()[..frame.as_bytes().len() - 1].to_vec());
        assert!(decode_batch::<String, String>(&cut, 1024).is_err());
        assert!(decode_batch::<String, String>(&Frame::default(), 1024).is_err());
        let (ok, _) = encode_batch::<String, String>(&[], 1024).unwrap();
        assert_eq!(ok, Frame::empty_batch());
        assert!(decode_batch::<String, String>(&ok, 1024)
            .unwrap()
            .is_empty());
        let mut other_version = ok.as_bytes().to_vec();
        other_version[0] = 2;
        assert!(decode_batch::<String, String>(&Frame::from_bytes(other_version), 1024).is_err());
        let huge = Frame::from_bytes(vec![BATCH_VERSION, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            decode_batch::<String, String>(&huge, 1024),
            Err(DecodeError::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn codec_marks_oversize_frames() {
        futures::executor::block_on(async {
            let codec = Codec::new(8);
            let mut small: &[u8] = &[1, 2, 3];
            let frame = codec.read(&mut small).await.unwrap();
            assert_eq!(frame.as_bytes(), &[1, 2, 3]);
            assert!(!frame.is_oversize());
            let mut big: &[u8] = &[0; 9];
            assert!(codec.read(&mut big).await.unwrap().is_oversize());
            let mut exact: &[u8] = &[0; 8];
            assert!(!codec.read(&mut exact).await.unwrap().is_oversize());
            let mut nothing: &[u8] = &[];
            assert!(codec.read_response_frame(&mut nothing).await.is_err());
        });
    }
}
