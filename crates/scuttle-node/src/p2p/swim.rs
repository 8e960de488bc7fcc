//! SWIM membership on libp2p: [`foca`]'s identities and the request-response protocol that
//! carries its datagrams.
//!
//! foca is a sans-IO SWIM implementation (probes, indirect probes, suspicion with
//! refutation, dissemination piggybacked on probes, rejoin after a false "down"): the node
//! hands it the bytes that arrive and the timers that fire, and sends what it asks. Each foca
//! datagram is one request on `/scuttle/members/1/{cluster}` whose response is empty.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use serde::{Deserialize, Serialize};

/// Largest foca datagram read or written.
pub const MAX_DATAGRAM: usize = 64 * 1024;

/// A member's identity in foca: its peer id, the addresses it listens on, and a number that
/// grows at each (re)join so a restarted or falsely-downed node wins over its old identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberId {
    /// The peer id's bytes.
    pub peer: Vec<u8>,
    /// Listen addresses (multiaddr bytes).
    pub addrs: Vec<Vec<u8>>,
    /// The join number: ms since the epoch at start, +1 at each rejoin.
    pub bump: u64,
}

impl MemberId {
    /// The identity of `peer` at `addrs`.
    pub fn new(peer: PeerId, addrs: &[Multiaddr], bump: u64) -> Self {
        MemberId {
            peer: peer.to_bytes(),
            addrs: addrs.iter().map(|a| a.to_vec()).collect(),
            bump,
        }
    }

    /// The peer id (`None` for bytes that are not one).
    pub fn peer_id(&self) -> Option<PeerId> {
        PeerId::from_bytes(&self.peer).ok()
    }

    /// The addresses that parse.
    pub fn multiaddrs(&self) -> Vec<Multiaddr> {
        self.addrs
            .iter()
            .filter_map(|a| Multiaddr::try_from(a.clone()).ok())
            .collect()
    }
}

impl foca::Identity for MemberId {
    type Addr = Vec<u8>;

    fn renew(&self) -> Option<Self> {
        Some(MemberId {
            bump: self.bump.wrapping_add(1),
            ..self.clone()
        })
    }

    fn addr(&self) -> Vec<u8> {
        self.peer.clone()
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.bump > adversary.bump
    }
}

/// The request-response codec of foca datagrams: a request is the datagram's bytes up to the
/// end of the stream; the response is empty.
#[derive(Clone, Debug, Default)]
pub struct SwimCodec;

impl request_response::Codec for SwimCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = ();

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut buf = Vec::new();
        io.take(MAX_DATAGRAM as u64 + 1)
            .read_to_end(&mut buf)
            .await?;
        if buf.len() > MAX_DATAGRAM {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "membership datagram too large",
            ));
        }
        Ok(buf)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, _: &mut T) -> io::Result<()>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(())
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&req).await?;
        io.close().await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, (): ()) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foca::Identity;

    #[test]
    fn a_renewed_identity_wins_and_keeps_the_address() {
        let peer = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let addr: Multiaddr = "/ip4/10.0.0.1/tcp/7400".parse().unwrap();
        let id = MemberId::new(peer, std::slice::from_ref(&addr), 5);
        let renewed = id.renew().unwrap();
        assert!(renewed.win_addr_conflict(&id));
        assert!(!id.win_addr_conflict(&renewed));
        assert_eq!(renewed.addr(), id.addr());
        assert_eq!(renewed.peer_id(), Some(peer));
        assert_eq!(renewed.multiaddrs(), vec![addr]);
    }
}
