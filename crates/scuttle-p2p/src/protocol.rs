//! The wire protocol: the protocol id and the request-response codec.
//!
//! An exchange between an initiator A and a responder B on `/scuttle/2.0.0` ([`PROTOCOL_NAME`])
//! is the core's three messages on at most two requests, **one whole message per request or
//! response, each one frame** of the core's [`FrameCodec`] (a 4-byte big-endian length, then
//! the compact CBOR body):
//!
//! | request (A → B) | response (B → A) |
//! |---|---|
//! | `Syn` (A's digest, or only its hash when the cluster looked idle) | `SynAck` (B's news for A and B's digest) |
//! | `Ack` (A's news for B), sent only when A's core returned one | nothing: zero bytes |
//!
//! The empty response to an `Ack` is not a protocol message: it is request-response's own
//! completion of the request (every request has a response), and it costs no byte on the
//! wire. An idle exchange is one request and one response of a few bytes each.
//!
//! The codec reads one frame up to the core's `max_message_bytes` (the only size knob): the
//! core never builds a larger message, so the codec never truncates or re-checks news. It does
//! not decode the body either: it hands the raw [`Frame`] to the behaviour, which decodes it and
//! can then report the peer that sent garbage (request-response drops inbound read errors
//! without telling the behaviour who sent them).
//!
//! What the codec treats as a stream that ended early (an I/O error, never the peer's fault):
//! a request stream closed before its first byte (the peer cancelled the request or its
//! connection closed), or any stream closed inside a frame. What it hands on as the peer's
//! fault: a length prefix above the limit ([`Frame::Oversize`]) and bytes after the frame
//! (decoding reports them as trailing bytes).
//!
//! **Compression** ([`Config::compression`](crate::Config::compression)): such a node offers
//! `/scuttle/2.0.0+zstd` first and `/scuttle/2.0.0` second. On a stream that negotiated the
//! `+zstd` id, both the request and its response carry frames longer than [`COMPRESS_ABOVE`]
//! bytes zstd-compressed (the core's `FrameCodec::with_compression`: the top bit of the length
//! prefix marks them); on `/scuttle/2.0.0` frames are always plain. A node without compression
//! speaks only `/scuttle/2.0.0`, so negotiation alone keeps compressed frames from it. Reading
//! accepts both kinds on either id.

use std::io;

use futures::prelude::*;
use libp2p::request_response;
use libp2p::StreamProtocol;
use scuttle_core::codec::LENGTH_PREFIX;
#[cfg(doc)]
use scuttle_core::FrameCodec;

/// The protocol id scuttle negotiates by default. Its major version is the core's
/// [`PROTOCOL_VERSION`](scuttle_core::PROTOCOL_VERSION).
pub const PROTOCOL_NAME: StreamProtocol = StreamProtocol::new("/scuttle/2.0.0");

/// Frames with longer bodies are compressed on `+zstd` streams.
pub const COMPRESS_ABOVE: usize = 256;

/// The bit of the length prefix marking a compressed body (see [`FrameCodec`]).
const COMPRESSED: u32 = 1 << 31;

/// What one request or response carries on the wire, undecoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// No byte at all: the response to an `Ack` (request-response's completion, not a protocol
    /// message), or a request the responder refused (it closed the stream without answering).
    Empty,
    /// One frame, length prefix included, as read or to be written. Not validated: the
    /// behaviour decodes it (tests use it to send garbage).
    Bytes(Vec<u8>),
    /// One message as two frames, to be written as `compressed` on a `+zstd` stream and as
    /// `plain` on any other. Only written, never read.
    Compressible {
        /// The plain frame.
        plain: Vec<u8>,
        /// The same message, compressed.
        compressed: Vec<u8>,
    },
    /// A frame whose length prefix announced `len` bytes, more than the codec accepts. Its body
    /// was not read.
    Oversize {
        /// The announced body length.
        len: usize,
    },
}

/// The request-response codec of `/scuttle/2.0.0`: moves one [`Frame`] per request or
/// response (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct Codec {
    max_message_bytes: usize,
    compressed: Option<StreamProtocol>,
}

impl Codec {
    /// A codec for frames whose body holds at most `max_message_bytes` bytes: give it the
    /// core's [`Config::max_message_bytes`](scuttle_core::Config::max_message_bytes).
    pub fn new(max_message_bytes: usize) -> Self {
        Codec {
            max_message_bytes,
            compressed: None,
        }
    }

    /// Writes [`Frame::Compressible`] frames compressed on streams that negotiated `protocol`
    /// (the `+zstd` id), plain on any other. `None`: always plain.
    pub fn with_compressed_protocol(mut self, protocol: Option<StreamProtocol>) -> Self {
        self.compressed = protocol;
        self
    }

    /// The largest body accepted, in bytes.
    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// Reads one frame, to the end of the stream.
    async fn read<T>(&self, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut prefix = [0u8; LENGTH_PREFIX];
        let mut got = 0;
        while got < LENGTH_PREFIX {
            let n = io.read(&mut prefix[got..]).await?;
            if n == 0 {
                break;
            }
            got += n;
        }
        if got == 0 {
            return Ok(Frame::Empty);
        }
        if got < LENGTH_PREFIX {
            return Err(ended_early("the stream ended inside a length prefix"));
        }
        // The body length, without the bit marking a compressed body.
        let len = (u32::from_be_bytes(prefix) & !COMPRESSED) as usize;
        if len > self.max_message_bytes {
            return Ok(Frame::Oversize { len });
        }
        let mut bytes = Vec::with_capacity(LENGTH_PREFIX + len.min(1 << 16));
        bytes.extend_from_slice(&prefix);
        // One byte more than announced, so bytes after the frame are seen (and reported when
        // the frame is decoded) without reading an unbounded tail.
        io.take(len as u64 + 1).read_to_end(&mut bytes).await?;
        if bytes.len() < LENGTH_PREFIX + len {
            return Err(ended_early("the stream ended inside a frame"));
        }
        Ok(Frame::Bytes(bytes))
    }

    async fn write<T>(&self, protocol: &StreamProtocol, io: &mut T, frame: Frame) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let frame = match frame {
            Frame::Compressible { plain, compressed } => {
                if self.compressed.as_ref() == Some(protocol) {
                    Frame::Bytes(compressed)
                } else {
                    Frame::Bytes(plain)
                }
            }
            frame => frame,
        };
        match frame {
            // The request-response handler closes the stream after the frame.
            Frame::Empty => Ok(()),
            Frame::Bytes(bytes) if bytes.len() <= LENGTH_PREFIX + self.max_message_bytes => {
                io.write_all(&bytes).await
            }
            Frame::Bytes(_) | Frame::Compressible { .. } | Frame::Oversize { .. } => {
                Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "frame exceeds max_message_bytes",
                ))
            }
        }
    }
}

fn ended_early(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, what)
}

impl request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Frame;
    type Response = Frame;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        match self.read(io).await? {
            // A cancelled request (or a closing connection), not a message: request-response
            // drops the stream.
            Frame::Empty => Err(ended_early("the stream closed before a request")),
            frame => Ok(frame),
        }
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.read(io).await
    }

    async fn write_request<T>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
        frame: Frame,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write(protocol, io, frame).await
    }

    async fn write_response<T>(
        &mut self,
        protocol: &StreamProtocol,
        io: &mut T,
        frame: Frame,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write(protocol, io, frame).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use request_response::Codec as _;
    use scuttle_core::{FrameCodec, Gossip, Message, PROTOCOL_VERSION};

    fn read_request(codec: &mut Codec, mut bytes: &[u8]) -> io::Result<Frame> {
        futures::executor::block_on(codec.read_request(&PROTOCOL_NAME, &mut bytes))
    }

    fn read_response(codec: &mut Codec, mut bytes: &[u8]) -> io::Result<Frame> {
        futures::executor::block_on(codec.read_response(&PROTOCOL_NAME, &mut bytes))
    }

    fn syn() -> Vec<u8> {
        let a: Gossip<String, String> = Gossip::with_defaults("a");
        let mut out = Vec::new();
        FrameCodec::new(1024)
            .encode(&a.start_exchange(), &mut out)
            .unwrap();
        out
    }

    #[test]
    fn protocol_name_carries_the_core_version() {
        assert!(PROTOCOL_NAME
            .as_ref()
            .starts_with(&format!("/scuttle/{PROTOCOL_VERSION}.")));
    }

    #[test]
    fn one_frame_round_trips() {
        let mut codec = Codec::new(1024);
        let frame = syn();
        let mut wire = Vec::new();
        futures::executor::block_on(codec.write_request(
            &PROTOCOL_NAME,
            &mut wire,
            Frame::Bytes(frame.clone()),
        ))
        .unwrap();
        assert_eq!(wire, frame);
        let read = read_request(&mut codec, &wire).unwrap();
        assert_eq!(read, Frame::Bytes(frame.clone()));
        let Frame::Bytes(bytes) = read else {
            unreachable!()
        };
        let msg: Message<String, String> = FrameCodec::new(1024).decode_frame(&bytes).unwrap();
        assert!(matches!(msg, Message::Syn { .. }));
    }

    #[test]
    fn an_empty_response_is_a_completion_and_costs_nothing() {
        let mut codec = Codec::new(1024);
        let mut wire = Vec::new();
        futures::executor::block_on(codec.write_response(&PROTOCOL_NAME, &mut wire, Frame::Empty))
            .unwrap();
        assert!(wire.is_empty());
        assert_eq!(read_response(&mut codec, &wire).unwrap(), Frame::Empty);
    }

    #[test]
    fn streams_that_end_early_are_io_errors_not_frames() {
        let mut codec = Codec::new(1024);
        // A request stream closed before its first byte: a cancelled request.
        let err = read_request(&mut codec, &[]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let frame = syn();
        for cut in [2, LENGTH_PREFIX, frame.len() - 1] {
            let err = read_request(&mut codec, &frame[..cut]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
            let err = read_response(&mut codec, &frame[..cut]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
    }

    #[test]
    fn compressed_frames_go_only_on_the_zstd_protocol_and_are_read_on_both() {
        let zstd = StreamProtocol::new("/scuttle/2.0.0+zstd");
        let mut a: Gossip<String, String> = Gossip::with_defaults("a");
        for i in 0..20 {
            a.set(0, format!("k{i}"), "compressible ".repeat(20))
                .unwrap();
        }
        let syn_ack = Gossip::<String, String>::with_defaults("b")
            .handle_message(0, a.start_exchange())
            .unwrap()
            .unwrap();
        let ack = a.handle_message(0, syn_ack).unwrap().unwrap();
        let (mut plain, mut compressed) = (Vec::new(), Vec::new());
        FrameCodec::new(1 << 20).encode(&ack, &mut plain).unwrap();
        FrameCodec::new(1 << 20)
            .with_compression(COMPRESS_ABOVE)
            .encode(&ack, &mut compressed)
            .unwrap();
        assert!(compressed.len() < plain.len());
        let frame = Frame::Compressible {
            plain: plain.clone(),
            compressed: compressed.clone(),
        };
        let mut codec = Codec::new(1 << 20).with_compressed_protocol(Some(zstd.clone()));
        for (protocol, expected) in [(&zstd, &compressed), (&PROTOCOL_NAME, &plain)] {
            let mut wire = Vec::new();
            futures::executor::block_on(codec.write_request(protocol, &mut wire, frame.clone()))
                .unwrap();
            assert_eq!(&wire, expected, "on {protocol}");
            // Read back (the compressed prefix is not mistaken for an oversize length).
            let Frame::Bytes(read) = read_request(&mut codec, &wire).unwrap() else {
                panic!("not a frame")
            };
            let msg: Message<String, String> =
                FrameCodec::new(1 << 20).decode_frame(&read).unwrap();
            assert_eq!(msg, ack);
        }
        // A codec without compression writes plain frames, whatever the protocol.
        let mut wire = Vec::new();
        futures::executor::block_on(Codec::new(1 << 20).write_request(&zstd, &mut wire, frame))
            .unwrap();
        assert_eq!(wire, plain);
    }

    #[test]
    fn oversize_and_trailing_bytes_are_handed_on() {
        let mut codec = Codec::new(8);
        assert_eq!(
            read_request(&mut codec, &[0, 0, 0, 9, 1, 2, 3]).unwrap(),
            Frame::Oversize { len: 9 }
        );
        let exact = [0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(
            read_request(&mut codec, &exact).unwrap(),
            Frame::Bytes(exact.to_vec())
        );
        // Only one byte past the frame is read, whatever follows.
        let mut long = exact.to_vec();
        long.extend_from_slice(&[0; 100]);
        assert_eq!(
            read_request(&mut codec, &long).unwrap(),
            Frame::Bytes(long[..exact.len() + 1].to_vec())
        );
        // Nothing oversize is ever written.
        let mut sink = Vec::new();
        assert!(futures::executor::block_on(codec.write_request(
            &PROTOCOL_NAME,
            &mut sink,
            Frame::Bytes(vec![0; LENGTH_PREFIX + 9])
        ))
        .is_err());
        assert!(sink.is_empty());
    }
}
