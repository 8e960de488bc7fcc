//! Peers that break the protocol are disconnected, banned and reported; peers that only cancel
//! requests or exceed the rate limit are not.
#![allow(clippy::unwrap_used)]

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use common::{drive_until, listen, node_with, swarm_with};
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{PeerId, Swarm};
use scuttle_p2p::core::{DecodeError, Digest, FrameCodec, Gossip, Message, NodeId, ProtocolError};
use scuttle_p2p::{Codec, Event, ExchangeError, Frame, Violation, PROTOCOL_NAME};

/// A peer that speaks raw frames on `/scuttle/2.0.0`.
type Raw = request_response::Behaviour<Codec>;

fn raw_peer() -> Swarm<Raw> {
    swarm_with(Keypair::generate_ed25519(), |_| {
        Raw::with_codec(
            Codec::new(4 << 20),
            [(PROTOCOL_NAME, ProtocolSupport::Full)],
            request_response::Config::default(),
        )
    })
}

fn frame(msg: &Message<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    FrameCodec::default().encode(msg, &mut out).unwrap();
    out
}

/// A valid opening message.
fn syn() -> Vec<u8> {
    let node: Gossip<String, String> = Gossip::with_defaults("raw");
    frame(&node.start_exchange())
}

/// The good nodes of this file accept digests of at most this many sources.
const MAX_DIGEST_SOURCES: usize = 4;

fn good_node() -> Swarm<common::Node> {
    node_with(Keypair::generate_ed25519(), |c| {
        let core = c.core.clone().with_max_digest_sources(MAX_DIGEST_SOURCES);
        c.with_core(core)
    })
}

/// How a bad peer sends its payload.
#[derive(Clone, Copy)]
enum Send {
    /// As a request, once connected.
    Request,
    /// As the response to the good node's first `Syn`.
    Response,
}

/// One good node; each bad peer sends one kind of bad frame and must be banned for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_peers_are_disconnected_and_banned() {
    let mut good = good_node();
    let addr = listen(&mut good).await;

    let mut trailing = syn();
    trailing.push(0);
    let syn_ack: Message<String, String> = Message::SynAck {
        news: Default::default(),
        digest: Digest::Hash(1),
    };
    let too_many_sources: Message<String, String> = Message::Syn {
        digest: Digest::Full(
            (0..=MAX_DIGEST_SOURCES)
                .map(|i| (NodeId::from(format!("s{i}")), 1))
                .collect(),
        ),
    };
    type Check = fn(&Violation) -> bool;
    let cases: Vec<(Send, Vec<u8>, Check)> = vec![
        (Send::Request, b"\x00\x00\x00\x07garbage".to_vec(), |v| {
            matches!(v, Violation::Decode(DecodeError::Malformed(_)))
        }),
        (Send::Request, trailing, |v| {
            matches!(v, Violation::Decode(DecodeError::TrailingBytes(_)))
        }),
        // A SynAck is never a request.
        (Send::Request, frame(&syn_ack), |v| {
            matches!(v, Violation::Decode(DecodeError::Malformed(_)))
        }),
        // A response to a Syn that opens a new exchange instead of answering.
        (Send::Response, syn(), |v| {
            matches!(v, Violation::Decode(DecodeError::Malformed(_)))
        }),
        // Well-formed, but the core refuses it.
        (Send::Request, frame(&too_many_sources), |v| {
            matches!(
                v,
                Violation::Protocol(ProtocolError::DigestTooLarge {
                    max: MAX_DIGEST_SOURCES
                })
            )
        }),
    ];

    // Drive the bad peers in the background: send the payload, report the closure.
    let (closed_tx, mut closed_rx) = futures::channel::mpsc::unbounded();
    let mut checks: HashMap<PeerId, Check> = HashMap::new();
    for (how, payload, check) in cases {
        let mut swarm = raw_peer();
        swarm.dial(addr.clone()).unwrap();
        checks.insert(*swarm.local_peer_id(), check);
        let closed_tx = closed_tx.clone();
        tokio::spawn(async move {
            let mut payload = Some(Frame::Bytes(payload));
            loop {
                match (how, swarm.select_next_some().await) {
                    (Send::Request, SwarmEvent::ConnectionEstablished { peer_id, .. }) => {
                        if let Some(p) = payload.take() {
                            swarm.behaviour_mut().send_request(&peer_id, p);
                        }
                    }
                    (
                        Send::Response,
                        SwarmEvent::Behaviour(request_response::Event::Message {
                            message: request_response::Message::Request { channel, .. },
                            ..
                        }),
                    ) => {
                        if let Some(p) = payload.take() {
                            let _ = swarm.behaviour_mut().send_response(channel, p);
                        }
                    }
                    (
                        _,
                        SwarmEvent::ConnectionClosed {
                            num_established: 0, ..
                        },
                    ) => {
                        let _ = closed_tx.unbounded_send(*swarm.local_peer_id());
                        return;
                    }
                    _ => {}
                }
            }
        });
    }

    let violations: RefCell<HashMap<PeerId, Violation>> = RefCell::default();
    let mut swarms = [Some(good)];
    drive_until(
        &mut swarms,
        |_, event| {
            if let SwarmEvent::Behaviour(Event::Misbehaved { peer, error }) = event {
                assert!(
                    violations.borrow_mut().insert(peer, error).is_none(),
                    "one report per peer"
                );
            }
        },
        |_| violations.borrow().len() == checks.len(),
    )
    .await;
    for (peer, violation) in violations.into_inner() {
        assert!(checks[&peer](&violation), "{peer}: {violation:?}");
    }

    // Every bad peer sees its connection closed by the good node, and is banned.
    let mut closed = Vec::new();
    drive_until(
        &mut swarms,
        |_, _| {},
        |_| {
            while let Ok(peer) = closed_rx.try_recv() {
                closed.push(peer);
            }
            closed.len() == checks.len()
        },
    )
    .await;
    closed.sort();
    let mut expected: Vec<PeerId> = checks.keys().copied().collect();
    expected.sort();
    assert_eq!(closed, expected);

    // Nothing the bad peers sent was applied, and the good node dropped them all.
    let good = swarms[0].as_ref().unwrap().behaviour();
    assert_eq!(good.core().len(), 0);
    assert_eq!(good.peers().count(), 0);
    assert!(expected.iter().all(|p| good.is_banned(p)));
}

/// Requests over the per-peer budget are refused (an empty response) and reported, without a
/// disconnection or a ban.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_rate_limit_are_refused() {
    let mut good = node_with(Keypair::generate_ed25519(), |c| {
        c.with_rate_limit(2, std::time::Duration::from_secs(3600))
    });
    let addr = listen(&mut good).await;
    let mut chatty = raw_peer();
    chatty.dial(addr).unwrap();
    let chatty_id = *chatty.local_peer_id();

    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    tokio::spawn(async move {
        let (mut answered, mut refused) = (0, 0);
        loop {
            match chatty.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    for _ in 0..5 {
                        chatty
                            .behaviour_mut()
                            .send_request(&peer_id, Frame::Bytes(syn()));
                    }
                }
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. },
                    ..
                }) => match response {
                    Frame::Empty => refused += 1,
                    _ => answered += 1,
                },
                SwarmEvent::ConnectionClosed { .. } => {
                    let _ = tx.unbounded_send(None);
                    return;
                }
                // The good node's own Syns to it are dropped unanswered.
                _ => {}
            }
            if answered + refused == 5 {
                let _ = tx.unbounded_send(Some((answered, refused)));
            }
        }
    });

    let limited = Cell::new(0);
    let outcome = Cell::new(None);
    let mut swarms = [Some(good)];
    drive_until(
        &mut swarms,
        |_, event| match event {
            SwarmEvent::Behaviour(Event::ExchangeFailed {
                peer,
                error: ExchangeError::RateLimited,
            }) if peer == chatty_id => limited.set(limited.get() + 1),
            SwarmEvent::Behaviour(Event::Misbehaved { error, .. }) => {
                panic!("not a violation: {error}")
            }
            _ => {}
        },
        |_| {
            match rx.try_recv() {
                Ok(Some(o)) => outcome.set(Some(o)),
                Ok(None) => panic!("a rate-limited peer must not be disconnected"),
                Err(_) => {}
            }
            limited.get() == 3 && outcome.get().is_some()
        },
    )
    .await;
    assert_eq!(outcome.get(), Some((2, 3)));
    let good = swarms[0].as_ref().unwrap().behaviour();
    assert_eq!(good.peers().count(), 1);
    assert!(!good.is_banned(&chatty_id));
}

/// A request stream closed before a byte (a cancelled request, a closing connection) or
/// inside a frame is an I/O event, not a violation: the old behaviour banned such peers with
/// "undecodable batch: empty batch" after every partition. A frame above the node's
/// `max_message_bytes` (what a peer configured with a larger one sends) is refused unread and
/// reported, not banned either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_cut_and_oversize_requests_are_not_violations() {
    let mut good = good_node();
    let max = good.behaviour().config().core.max_message_bytes;
    let mut oversize = u32::try_from(max + 1).unwrap().to_be_bytes().to_vec();
    oversize.extend_from_slice(&[0; 64]);
    let addr = listen(&mut good).await;
    let good_id = *good.local_peer_id();
    let mut peer = raw_peer();
    peer.dial(addr).unwrap();
    let peer_id = *peer.local_peer_id();

    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    tokio::spawn(async move {
        let full = syn();
        let mut cut = HashSet::new();
        let oversize = oversize;
        let mut valid = None;
        loop {
            match peer.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    // Nothing at all, half a length prefix, a frame cut short, a frame too
                    // large for the good node.
                    let frames = [
                        Frame::Empty,
                        Frame::Bytes(full[..2].to_vec()),
                        Frame::Bytes(full[..full.len() - 1].to_vec()),
                        Frame::Bytes(oversize.clone()),
                    ];
                    for frame in frames {
                        cut.insert(peer.behaviour_mut().send_request(&peer_id, frame));
                    }
                }
                // The valid Syn sent after them is answered with a SynAck.
                SwarmEvent::Behaviour(request_response::Event::Message {
                    peer: good,
                    message:
                        request_response::Message::Response {
                            request_id,
                            response,
                        },
                    ..
                }) if valid == Some(request_id) => {
                    assert_eq!(good, good_id);
                    let _ = tx.unbounded_send(matches!(response, Frame::Bytes(_)));
                }
                // The good node drops the cut streams: each ends one way or another. Then a
                // valid Syn goes out.
                SwarmEvent::Behaviour(
                    request_response::Event::Message {
                        peer: good,
                        message: request_response::Message::Response { request_id, .. },
                        ..
                    }
                    | request_response::Event::OutboundFailure {
                        peer: good,
                        request_id,
                        ..
                    },
                ) if cut.remove(&request_id) && cut.is_empty() => {
                    valid = Some(
                        peer.behaviour_mut()
                            .send_request(&good, Frame::Bytes(full.clone())),
                    );
                }
                SwarmEvent::ConnectionClosed { .. } => {
                    let _ = tx.unbounded_send(false);
                    return;
                }
                _ => {}
            }
        }
    });

    let answered = Cell::new(None);
    let too_large = Cell::new(0);
    let mut swarms = [Some(good)];
    drive_until(
        &mut swarms,
        |_, event| match event {
            SwarmEvent::Behaviour(Event::Misbehaved { error, .. }) => {
                panic!("not a violation: {error}")
            }
            SwarmEvent::Behaviour(Event::ExchangeFailed {
                peer,
                error: ExchangeError::FrameTooLarge { len, max: m },
            }) if peer == peer_id && len == max + 1 && m == max => {
                too_large.set(too_large.get() + 1)
            }
            _ => {}
        },
        |_| {
            if let Ok(ok) = rx.try_recv() {
                answered.set(Some(ok));
            }
            answered.get().is_some()
        },
    )
    .await;
    assert_eq!(answered.get(), Some(true), "the peer is still served");
    assert_eq!(too_large.get(), 1);
    let good = swarms[0].as_ref().unwrap().behaviour();
    assert!(!good.is_banned(&peer_id));
    assert_eq!(good.peers().count(), 1);
}

/// A peer disconnected for a violation that dials again within the ban is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banned_peer_cannot_reconnect() {
    let mut good = good_node();
    let addr = listen(&mut good).await;
    let mut bad = raw_peer();
    let bad_id = *bad.local_peer_id();
    bad.dial(addr.clone()).unwrap();
    tokio::spawn(async move {
        let mut sent = false;
        let mut redialed = false;
        loop {
            match bad.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if !sent => {
                    sent = true;
                    bad.behaviour_mut()
                        .send_request(&peer_id, Frame::Bytes(b"\x00\x00\x00\x04junk".to_vec()));
                }
                SwarmEvent::ConnectionClosed { .. } if !redialed => {
                    redialed = true;
                    bad.dial(addr.clone()).unwrap();
                }
                _ => {}
            }
        }
    });

    let misbehaved = Cell::new(false);
    let refused = Cell::new(false);
    let mut swarms = [Some(good)];
    drive_until(
        &mut swarms,
        |_, event| match event {
            SwarmEvent::Behaviour(Event::Misbehaved { peer, .. }) if peer == bad_id => {
                misbehaved.set(true)
            }
            SwarmEvent::IncomingConnectionError {
                peer_id: Some(peer),
                error: libp2p::swarm::ListenError::Denied { cause },
                ..
            } if peer == bad_id => {
                assert!(cause.downcast_ref::<scuttle_p2p::Banned>().is_some());
                refused.set(true);
            }
            _ => {}
        },
        |_| misbehaved.get() && refused.get(),
    )
    .await;
    assert_eq!(swarms[0].as_ref().unwrap().behaviour().peers().count(), 0);
}
