//! Peers that break the protocol are disconnected and reported.
#![allow(clippy::unwrap_used)]

mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use common::{drive_until, listen, node, swarm_with};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{PeerId, Swarm};
use scuttle_p2p::core::{FrameCodec, Message, NodeId, Update};
use scuttle_p2p::{Codec, Event, ExchangeError, Frame, Violation, PROTOCOL_NAME};

/// A peer that speaks raw bytes on `/scuttle/1.0.0`.
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

/// A batch of `n` well-formed updates from one source.
fn updates(n: u64) -> Vec<u8> {
    let mut out = Frame::empty_batch().as_bytes().to_vec();
    for version in 1..=n {
        let msg: Message<String, String> = Message::Update {
            update: Update {
                key: format!("k{version}"),
                value: Some("v".into()),
                source_id: NodeId::from("forger"),
                version,
                timestamp: 0,
            },
            prev: Some(version - 1),
        };
        FrameCodec::default().encode(&msg, &mut out).unwrap();
    }
    out
}

/// A response that opens a new exchange instead of answering one.
fn opening_digest() -> Vec<u8> {
    let mut out = Frame::empty_batch().as_bytes().to_vec();
    let msg: Message<String, String> = Message::DigestDone { reply: false };
    FrameCodec::default().encode(&msg, &mut out).unwrap();
    out
}

/// One good node; four bad peers each send one kind of bad batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_peers_are_disconnected() {
    let mut good = node(Keypair::generate_ed25519());
    let addr = listen(&mut good).await;
    let mtu = good.behaviour().config().core.mtu as u64;
    let max = good.behaviour().config().max_frame_bytes;

    // (sent as the answer to the good node's digest instead of as a request, bytes)
    let payloads = [
        (
            false,
            b"\x01\x00\x00\x00\x05garbage on the scuttle protocol".to_vec(),
        ),
        (false, vec![0u8; max + 1]),
        (false, updates(mtu + 1)),
        (true, opening_digest()),
    ];
    let mut bad: Vec<Swarm<Raw>> = Vec::new();
    let mut payload_of: HashMap<PeerId, (bool, Vec<u8>)> = HashMap::new();
    for payload in payloads {
        let mut swarm = raw_peer();
        swarm.dial(addr.clone()).unwrap();
        payload_of.insert(*swarm.local_peer_id(), payload);
        bad.push(swarm);
    }
    let bad_ids: Vec<PeerId> = bad.iter().map(|s| *s.local_peer_id()).collect();

    // Drive the bad peers in the background: send the payload on connect (or as the answer to
    // the first request), report closures.
    let (closed_tx, mut closed_rx) = futures::channel::mpsc::unbounded();
    for mut swarm in bad {
        let payload = payload_of.remove(swarm.local_peer_id()).unwrap();
        let closed_tx = closed_tx.clone();
        tokio::spawn(async move {
            let (as_response, payload) = payload;
            let mut payload = Some(payload);
            loop {
                use futures::StreamExt;
                match swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } if !as_response => {
                        if let Some(p) = payload.take() {
                            swarm
                                .behaviour_mut()
                                .send_request(&peer_id, Frame::from_bytes(p));
                        }
                    }
                    SwarmEvent::Behaviour(request_response::Event::Message {
                        message: request_response::Message::Request { channel, .. },
                        ..
                    }) if as_response => {
                        if let Some(p) = payload.take() {
                            let _ = swarm
                                .behaviour_mut()
                                .send_response(channel, Frame::from_bytes(p));
                        }
                    }
                    SwarmEvent::ConnectionClosed {
                        num_established: 0, ..
                    } => {
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
                violations.borrow_mut().insert(peer, error);
            }
        },
        |_| violations.borrow().len() == 4,
    )
    .await;
    let violations = violations.into_inner();
    assert!(matches!(violations[&bad_ids[0]], Violation::Decode(_)));
    assert!(matches!(
        violations[&bad_ids[1]],
        Violation::FrameTooLarge { .. }
    ));
    assert!(matches!(
        violations[&bad_ids[2]],
        Violation::TooManyUpdates { count, max } if count == mtu as usize + 1 && max == mtu as usize
    ));
    assert!(matches!(
        violations[&bad_ids[3]],
        Violation::DigestInResponse
    ));

    // Every bad peer sees its connection closed by the good node.
    let mut closed = Vec::new();
    let mut done = false;
    drive_until(
        &mut swarms,
        |_, _| {},
        |_| {
            while let Ok(peer) = closed_rx.try_recv() {
                closed.push(peer);
            }
            done = closed.len() == 4;
            done
        },
    )
    .await;
    assert!(done);
    closed.sort();
    let mut expected = bad_ids.clone();
    expected.sort();
    assert_eq!(closed, expected);

    // Nothing the forger sent was applied, and the good node dropped them all.
    let good = swarms[0].as_ref().unwrap();
    assert_eq!(good.behaviour().core().len(), 0);
    assert_eq!(good.behaviour().peers().count(), 0);
}

/// Requests over the per-peer budget are refused and reported, without a disconnection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_rate_limit_are_refused() {
    let config = common::config().with_rate_limit(2, std::time::Duration::from_secs(3600));
    let mut good = swarm_with(Keypair::generate_ed25519(), |peer| {
        common::Node::new(peer, config).unwrap()
    });
    let addr = listen(&mut good).await;
    let mut chatty = raw_peer();
    chatty.dial(addr).unwrap();
    let chatty_id = *chatty.local_peer_id();

    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    tokio::spawn(async move {
        use futures::StreamExt;
        let (mut ok, mut failed) = (0, 0);
        loop {
            match chatty.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    for _ in 0..5 {
                        chatty
                            .behaviour_mut()
                            .send_request(&peer_id, Frame::empty_batch());
                    }
                }
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { .. },
                    ..
                }) => ok += 1,
                // Only its own requests: the good node's digests to it are simply dropped.
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure { .. }) => {
                    failed += 1
                }
                SwarmEvent::ConnectionClosed { .. } => {
                    let _ = tx.unbounded_send(None);
                    return;
                }
                _ => {}
            }
            if ok + failed == 5 {
                let _ = tx.unbounded_send(Some((ok, failed)));
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
            SwarmEvent::Behaviour(Event::Misbehaved { .. }) => panic!("not a violation"),
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
    assert_eq!(swarms[0].as_ref().unwrap().behaviour().peers().count(), 1);
}

/// A disconnected peer that dials again within the ban is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banned_peer_cannot_reconnect() {
    let mut good = node(Keypair::generate_ed25519());
    let addr = listen(&mut good).await;
    let mut bad = raw_peer();
    let bad_id = *bad.local_peer_id();
    bad.dial(addr.clone()).unwrap();
    tokio::spawn(async move {
        use futures::StreamExt;
        let mut sent = false;
        let mut redialed = false;
        loop {
            match bad.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if !sent => {
                    sent = true;
                    bad.behaviour_mut()
                        .send_request(&peer_id, Frame::from_bytes(b"\x01junk".to_vec()));
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
