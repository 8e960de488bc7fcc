//! Unit tests of the FFI layer: every entry point called as C would, through raw pointers.

use std::ffi::{c_void, CStr};
use std::ptr;

use scuttle_core::{FrameCodec, Message, NodeId, Update};

use crate::*;

fn last_error() -> String {
    // SAFETY: `scuttle_last_error` never returns NULL and the string is valid until the next call.
    unsafe { CStr::from_ptr(scuttle_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn config() -> ScuttleConfig {
    let mut c = ScuttleConfig::default();
    // SAFETY: `c` is a valid out-pointer.
    assert_eq!(unsafe { scuttle_config_default(&mut c) }, ScuttleStatus::Ok);
    c
}

fn node_with(id: &str, c: &ScuttleConfig) -> *mut ScuttleGossip {
    let mut g = ptr::null_mut();
    // SAFETY: valid id bytes, config and out-pointer.
    let s = unsafe { scuttle_gossip_new(id.as_ptr(), id.len(), c, &mut g) };
    assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
    assert!(!g.is_null());
    g
}

fn node(id: &str) -> *mut ScuttleGossip {
    node_with(id, &config())
}

fn set(g: *mut ScuttleGossip, key: &str, value: &str) -> Result<u64, ScuttleStatus> {
    let mut version = 0;
    // SAFETY: live handle, valid slices and out-pointer.
    let s = unsafe {
        scuttle_gossip_set(
            g,
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
            &mut version,
        )
    };
    if s == ScuttleStatus::Ok {
        Ok(version)
    } else {
        Err(s)
    }
}

fn bytes(b: &ScuttleBytes) -> Vec<u8> {
    if b.ptr.is_null() {
        return Vec::new();
    }
    // SAFETY: a library-made buffer of `len` bytes plus a NUL.
    let all = unsafe { std::slice::from_raw_parts(b.ptr, b.len + 1) };
    assert_eq!(all[b.len], 0, "buffers end with a NUL byte");
    all[..b.len].to_vec()
}

/// (status, value, version, source) of a get.
fn get(g: *mut ScuttleGossip, key: &str) -> (ScuttleStatus, Vec<u8>, u64, String) {
    let mut e = ScuttleEntry::empty();
    // SAFETY: live handle, valid key and out-pointer.
    let s = unsafe { scuttle_gossip_get(g, key.as_ptr(), key.len(), &mut e) };
    let out = (
        s,
        bytes(&e.value),
        e.version,
        String::from_utf8(bytes(&e.source_id)).unwrap(),
    );
    // SAFETY: filled by the library.
    unsafe { scuttle_entry_free(&mut e) };
    assert!(e.value.ptr.is_null() && e.source_id.ptr.is_null());
    out
}

fn len(g: *mut ScuttleGossip) -> usize {
    let mut n = usize::MAX;
    // SAFETY: live handle and out-pointer.
    assert_eq!(unsafe { scuttle_gossip_len(g, &mut n) }, ScuttleStatus::Ok);
    n
}

fn version(g: *mut ScuttleGossip) -> u64 {
    let mut v = u64::MAX;
    // SAFETY: live handle and out-pointer.
    assert_eq!(
        unsafe { scuttle_gossip_version(g, &mut v) },
        ScuttleStatus::Ok
    );
    v
}

fn keys(g: *mut ScuttleGossip) -> Vec<Vec<u8>> {
    let mut list = ptr::null_mut();
    // SAFETY: live handle and out-pointer.
    assert_eq!(
        unsafe { scuttle_gossip_keys(g, &mut list) },
        ScuttleStatus::Ok
    );
    let mut n = 0;
    // SAFETY: live list.
    assert_eq!(unsafe { scuttle_keys_len(list, &mut n) }, ScuttleStatus::Ok);
    let mut out = Vec::new();
    for i in 0..n {
        let mut p = ptr::null();
        let mut l = 0;
        // SAFETY: live list, valid out-pointers.
        assert_eq!(
            unsafe { scuttle_keys_get(list, i, &mut p, &mut l) },
            ScuttleStatus::Ok
        );
        assert!(!p.is_null());
        // SAFETY: the list lends `l` bytes.
        out.push(unsafe { std::slice::from_raw_parts(p, l) }.to_vec());
    }
    // SAFETY: live list, released once.
    unsafe { scuttle_keys_free(list) };
    out
}

/// Collects every frame `from` wants to send: (peer, frame).
fn drain(from: *mut ScuttleGossip) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        let mut peer = ScuttleBytes::empty();
        let mut frame = ScuttleBytes::empty();
        // SAFETY: live handle, valid out-pointers.
        let s = unsafe { scuttle_gossip_poll_transmit(from, &mut peer, &mut frame) };
        if s == ScuttleStatus::Empty {
            assert!(peer.ptr.is_null() && frame.ptr.is_null());
            return out;
        }
        assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
        out.push((String::from_utf8(bytes(&peer)).unwrap(), bytes(&frame)));
        // SAFETY: library-made buffers.
        unsafe {
            scuttle_bytes_free(&mut peer);
            scuttle_bytes_free(&mut frame);
        }
    }
}

fn handle(to: *mut ScuttleGossip, from: &str, frame: &[u8]) -> ScuttleStatus {
    // SAFETY: live handle, valid slices.
    unsafe {
        scuttle_gossip_handle_frame(to, from.as_ptr(), from.len(), frame.as_ptr(), frame.len())
    }
}

/// Runs exchanges between named nodes until nobody has anything to send.
fn run(nodes: &[(&str, *mut ScuttleGossip)]) -> usize {
    let mut delivered = 0;
    loop {
        let mut idle = true;
        for (name, g) in nodes {
            for (peer, frame) in drain(*g) {
                let target = nodes
                    .iter()
                    .find(|(n, _)| *n == peer)
                    .expect("known peer")
                    .1;
                assert_eq!(
                    handle(target, name, &frame),
                    ScuttleStatus::Ok,
                    "{}",
                    last_error()
                );
                delivered += 1;
                idle = false;
            }
        }
        if idle {
            return delivered;
        }
        assert!(delivered < 10_000, "the exchange never settles");
    }
}

fn gossip(g: *mut ScuttleGossip, peer: &str) -> ScuttleStatus {
    // SAFETY: live handle, valid slice.
    unsafe { scuttle_gossip_gossip(g, peer.as_ptr(), peer.len()) }
}

/// (kind, key, value, deleted, version, source, from) of an event.
type Ev = (u32, Vec<u8>, Vec<u8>, bool, u64, String, String);

fn events(g: *mut ScuttleGossip) -> Vec<Ev> {
    let mut out = Vec::new();
    loop {
        let mut ev = ScuttleEvent::empty();
        // SAFETY: live handle, valid out-pointer.
        let s = unsafe { scuttle_gossip_poll_event(g, &mut ev) };
        if s == ScuttleStatus::Empty {
            return out;
        }
        assert_eq!(s, ScuttleStatus::Ok);
        out.push((
            ev.kind,
            bytes(&ev.key),
            bytes(&ev.value),
            ev.deleted,
            ev.version,
            String::from_utf8(bytes(&ev.source_id)).unwrap(),
            String::from_utf8(bytes(&ev.from)).unwrap(),
        ));
        // SAFETY: library-made event.
        unsafe { scuttle_event_free(&mut ev) };
    }
}

fn free(g: *mut ScuttleGossip) {
    // SAFETY: live handle, freed once.
    unsafe { scuttle_gossip_free(g) };
}

#[test]
fn protocol_constants_match_the_core() {
    assert_eq!(SCUTTLE_PROTOCOL_VERSION, scuttle_core::PROTOCOL_VERSION);
    assert_eq!(SCUTTLE_FRAME_PREFIX_LEN, scuttle_core::codec::LENGTH_PREFIX);
    assert_eq!(ScuttleStatus::Ok as i32, 0);
}

#[test]
fn config_default_matches_the_core() {
    let c = config();
    let core = scuttle_core::Config::default();
    assert_eq!(c.mtu, core.mtu);
    assert_eq!(c.max_history, core.max_history);
    assert_eq!(c.max_frame_size, core.max_frame_size);
    assert_eq!(c.tombstone_grace_ms, 3_600_000);
    assert_eq!(c.resolver, SCUTTLE_RESOLVER_LWW);
    assert_eq!(c.sorter, SCUTTLE_SORTER_BREADTH);
    // SAFETY: NULL is the error under test.
    assert_eq!(
        unsafe { scuttle_config_default(ptr::null_mut()) },
        ScuttleStatus::InvalidArgument
    );
    assert!(last_error().contains("NULL"));
}

#[test]
fn new_refuses_bad_arguments_and_writes_null() {
    let c = config();
    let mut g: *mut ScuttleGossip = ptr::dangling_mut();
    let cases: Vec<(&[u8], ScuttleConfig, &str)> = vec![
        (b"", c, "empty"),
        (b"\xff\xfe", c, "UTF-8"),
        (b"a", ScuttleConfig { mtu: 0, ..c }, "mtu"),
        (
            b"a",
            ScuttleConfig {
                max_frame_size: 10,
                ..c
            },
            "max_frame_size",
        ),
        (b"a", ScuttleConfig { resolver: 99, ..c }, "resolver"),
        (b"a", ScuttleConfig { sorter: 7, ..c }, "sorter"),
    ];
    for (id, cfg, needle) in cases {
        // SAFETY: valid pointers; the arguments are wrong on purpose.
        let s = unsafe { scuttle_gossip_new(id.as_ptr(), id.len(), &cfg, &mut g) };
        assert_eq!(s, ScuttleStatus::InvalidArgument, "{needle}");
        assert!(g.is_null(), "out is NULL after a failure");
        assert!(last_error().contains(needle), "{needle}: {}", last_error());
        g = ptr::dangling_mut();
    }
    // SAFETY: NULL id with a length, and NULL out, are the errors under test.
    unsafe {
        assert_eq!(
            scuttle_gossip_new(ptr::null(), 3, &c, &mut g),
            ScuttleStatus::InvalidArgument
        );
        assert_eq!(
            scuttle_gossip_new(b"a".as_ptr(), 1, &c, ptr::null_mut()),
            ScuttleStatus::InvalidArgument
        );
        assert_eq!(
            scuttle_gossip_new(b"a".as_ptr(), usize::MAX, &c, &mut g),
            ScuttleStatus::InvalidArgument
        );
        assert!(last_error().contains("too large"));
        // A NULL config means the defaults.
        assert_eq!(
            scuttle_gossip_new(b"a".as_ptr(), 1, ptr::null(), &mut g),
            ScuttleStatus::Ok
        );
        assert_eq!(last_error(), "", "success clears the last error");
        scuttle_gossip_free(g);
        scuttle_gossip_free(ptr::null_mut());
    }
}

#[test]
fn set_get_delete_len_keys_version() {
    let g = node("a");
    assert_eq!(version(g), 0);
    assert_eq!(len(g), 0);
    assert_eq!(set(g, "k1", "v1"), Ok(1));
    assert_eq!(set(g, "k0", ""), Ok(2));
    assert_eq!(set(g, "", "empty key"), Ok(3));
    assert_eq!(version(g), 3);
    assert_eq!(len(g), 3);
    assert_eq!(
        get(g, "k1"),
        (ScuttleStatus::Ok, b"v1".to_vec(), 1, "a".into())
    );
    assert_eq!(get(g, "k0"), (ScuttleStatus::Ok, Vec::new(), 2, "a".into()));
    assert_eq!(get(g, "nope").0, ScuttleStatus::NotFound);
    assert_eq!(keys(g), vec![b"".to_vec(), b"k0".to_vec(), b"k1".to_vec()]);

    let mut v = 0;
    // SAFETY: live handle, valid key and out-pointer.
    assert_eq!(
        unsafe { scuttle_gossip_delete(g, b"k1".as_ptr(), 2, &mut v) },
        ScuttleStatus::Ok
    );
    assert_eq!(v, 4);
    let (s, value, ver, src) = get(g, "k1");
    assert_eq!(
        (s, value, ver, src.as_str()),
        (ScuttleStatus::Deleted, vec![], 4, "a")
    );
    assert_eq!(len(g), 2);
    assert_eq!(keys(g), vec![b"".to_vec(), b"k0".to_vec()]);
    // Deleting an unknown key writes a tombstone too; version_out may be NULL.
    // SAFETY: live handle, valid key.
    assert_eq!(
        unsafe { scuttle_gossip_delete(g, b"zz".as_ptr(), 2, ptr::null_mut()) },
        ScuttleStatus::Ok
    );
    assert_eq!(version(g), 5);

    let evs = events(g);
    assert_eq!(evs.len(), 5);
    assert!(evs
        .iter()
        .all(|e| e.0 == SCUTTLE_EVENT_UPDATE && e.5 == "a" && e.6.is_empty()));
    assert_eq!(evs[0].1, b"k1");
    assert_eq!(evs[0].2, b"v1");
    assert!(evs[3].3, "the delete is marked deleted");
    free(g);
}

#[test]
fn id_is_copied_out() {
    let g = node("node-é");
    let mut b = ScuttleBytes::empty();
    // SAFETY: live handle, valid out-pointer.
    assert_eq!(unsafe { scuttle_gossip_id(g, &mut b) }, ScuttleStatus::Ok);
    assert_eq!(bytes(&b), "node-é".as_bytes());
    // SAFETY: library-made buffer; a second free is harmless.
    unsafe {
        scuttle_bytes_free(&mut b);
        scuttle_bytes_free(&mut b);
        scuttle_bytes_free(ptr::null_mut());
        assert_eq!(
            scuttle_gossip_id(g, ptr::null_mut()),
            ScuttleStatus::InvalidArgument
        );
    }
    free(g);
}

#[test]
fn null_handles_and_outputs_are_refused() {
    let k = b"k";
    let g = node("a");
    let mut n = 0usize;
    let mut v = 0u64;
    let mut e = ScuttleEntry::empty();
    let mut ev = ScuttleEvent::empty();
    let mut b = ScuttleBytes::empty();
    let mut list = ptr::null_mut();
    let null = ptr::null_mut::<ScuttleGossip>();
    // SAFETY: every call gets a NULL where a pointer is required; that is the error under test.
    let statuses = unsafe {
        [
            scuttle_gossip_set(null, k.as_ptr(), 1, k.as_ptr(), 1, &mut v),
            scuttle_gossip_set(g, ptr::null(), 1, k.as_ptr(), 1, &mut v),
            scuttle_gossip_set(g, k.as_ptr(), 1, ptr::null(), 1, &mut v),
            scuttle_gossip_delete(null, k.as_ptr(), 1, &mut v),
            scuttle_gossip_delete(g, ptr::null(), 5, &mut v),
            scuttle_gossip_get(null, k.as_ptr(), 1, &mut e),
            scuttle_gossip_get(g, k.as_ptr(), 1, ptr::null_mut()),
            scuttle_gossip_get(g, ptr::null(), 1, &mut e),
            scuttle_gossip_len(null, &mut n),
            scuttle_gossip_len(g, ptr::null_mut()),
            scuttle_gossip_version(null, &mut v),
            scuttle_gossip_version(g, ptr::null_mut()),
            scuttle_gossip_keys(null, &mut list),
            scuttle_gossip_keys(g, ptr::null_mut()),
            scuttle_gossip_gossip(null, k.as_ptr(), 1),
            scuttle_gossip_gossip(g, ptr::null(), 1),
            scuttle_gossip_gossip(g, k.as_ptr(), 0),
            scuttle_gossip_gossip(g, b"a".as_ptr(), 1),
            scuttle_gossip_poll_transmit(null, &mut b, &mut b),
            scuttle_gossip_poll_transmit(g, ptr::null_mut(), &mut b),
            scuttle_gossip_poll_transmit(g, &mut b, ptr::null_mut()),
            scuttle_gossip_handle_frame(null, k.as_ptr(), 1, k.as_ptr(), 1),
            scuttle_gossip_handle_frame(g, ptr::null(), 1, k.as_ptr(), 1),
            scuttle_gossip_handle_frame(g, k.as_ptr(), 1, ptr::null(), 1),
            scuttle_gossip_handle_frame(g, b"\xff".as_ptr(), 1, k.as_ptr(), 1),
            scuttle_gossip_poll_event(null, &mut ev),
            scuttle_gossip_poll_event(g, ptr::null_mut()),
            scuttle_gossip_forget_peer(null, k.as_ptr(), 1),
            scuttle_gossip_forget_peer(g, ptr::null(), 1),
            scuttle_gossip_set_time(null, 5),
            scuttle_gossip_collect_tombstones(null, &mut n),
            scuttle_gossip_id(null, &mut b),
            scuttle_keys_len(ptr::null(), &mut n),
            scuttle_keys_get(ptr::null(), 0, &mut ptr::null(), &mut n),
        ]
    };
    for (i, s) in statuses.iter().enumerate() {
        assert_eq!(*s, ScuttleStatus::InvalidArgument, "call #{i}");
    }
    assert!(list.is_null());
    // Nothing changed.
    assert_eq!(version(g), 0);
    // SAFETY: the free functions accept NULL.
    unsafe {
        scuttle_entry_free(ptr::null_mut());
        scuttle_event_free(ptr::null_mut());
        scuttle_keys_free(ptr::null_mut());
    }
    free(g);
}

#[test]
fn keys_get_checks_index_and_outputs() {
    let g = node("a");
    set(g, "x", "1").unwrap();
    let mut list = ptr::null_mut();
    // SAFETY: valid pointers throughout; the index and NULL outputs are the errors under test.
    unsafe {
        assert_eq!(scuttle_gossip_keys(g, &mut list), ScuttleStatus::Ok);
        let mut p = ptr::null();
        let mut l = 0;
        assert_eq!(
            scuttle_keys_get(list, 1, &mut p, &mut l),
            ScuttleStatus::InvalidArgument
        );
        assert!(last_error().contains("out of range"));
        assert_eq!(
            scuttle_keys_get(list, 0, ptr::null_mut(), &mut l),
            ScuttleStatus::InvalidArgument
        );
        assert_eq!(
            scuttle_keys_get(list, 0, &mut p, ptr::null_mut()),
            ScuttleStatus::InvalidArgument
        );
        assert_eq!(
            scuttle_keys_len(list, ptr::null_mut()),
            ScuttleStatus::InvalidArgument
        );
        // The snapshot outlives the node.
        scuttle_gossip_free(g);
        assert_eq!(scuttle_keys_get(list, 0, &mut p, &mut l), ScuttleStatus::Ok);
        assert_eq!(std::slice::from_raw_parts(p, l), b"x");
        scuttle_keys_free(list);
    }
}

#[test]
fn two_nodes_converge_over_frames_with_events() {
    let a = node("a");
    let b = node("b");
    set(a, "ka", "from a").unwrap();
    set(a, "gone", "soon").unwrap();
    // SAFETY: live handle, valid key.
    unsafe { scuttle_gossip_delete(a, b"gone".as_ptr(), 4, ptr::null_mut()) };
    set(b, "kb", "from b").unwrap();
    events(a);
    events(b);

    assert_eq!(gossip(a, "b"), ScuttleStatus::Ok);
    let delivered = run(&[("a", a), ("b", b)]);
    assert!(
        delivered >= 4,
        "digest, done, news and replies: {delivered}"
    );
    for g in [a, b] {
        assert_eq!(keys(g), vec![b"ka".to_vec(), b"kb".to_vec()]);
        assert_eq!(get(g, "ka").1, b"from a");
        assert_eq!(get(g, "kb").1, b"from b");
        assert_eq!(get(g, "gone").0, ScuttleStatus::Deleted);
        assert_eq!(version(g), 3);
    }
    let evs = events(b);
    let ka: Vec<_> = evs.iter().filter(|e| e.1 == b"ka").collect();
    assert_eq!(ka.len(), 1);
    assert_eq!(
        (
            ka[0].0,
            ka[0].2.as_slice(),
            ka[0].4,
            ka[0].5.as_str(),
            ka[0].6.as_str()
        ),
        (SCUTTLE_EVENT_UPDATE, &b"from a"[..], 1, "a", "a")
    );
    // History still holds the superseded set of "gone", so b sees it, then the tombstone.
    let gone: Vec<_> = evs.iter().filter(|e| e.1 == b"gone").collect();
    let last = gone.last().unwrap();
    assert!(last.3 && last.4 == 3 && last.2.is_empty());
    let evs = events(a);
    assert_eq!(evs.len(), 1);
    assert_eq!((evs[0].1.as_slice(), evs[0].6.as_str()), (&b"kb"[..], "b"));
    free(a);
    free(b);
}

#[test]
fn three_nodes_with_depth_sorter_and_small_mtu_converge() {
    let c = ScuttleConfig {
        mtu: 1,
        sorter: SCUTTLE_SORTER_DEPTH,
        ..config()
    };
    let nodes = [
        ("n1", node_with("n1", &c)),
        ("n2", node_with("n2", &c)),
        ("n3", node_with("n3", &c)),
    ];
    for (i, (_, g)) in nodes.iter().enumerate() {
        for j in 0..3 {
            set(*g, &format!("k{i}{j}"), &format!("v{i}{j}")).unwrap();
        }
    }
    for round in 0..30 {
        let (_, from) = nodes[round % 3];
        let (to, _) = nodes[(round + 1) % 3];
        assert_eq!(gossip(from, to), ScuttleStatus::Ok);
        run(&nodes);
    }
    for (_, g) in nodes {
        assert_eq!(len(g), 9);
        assert_eq!(get(g, "k21").1, b"v21");
        free(g);
    }
}

#[test]
fn malformed_frames_are_decode_errors() {
    let g = node("a");
    let codec = FrameCodec::default();
    let mut good = Vec::new();
    codec
        .encode(
            &Message::<Vec<u8>, Vec<u8>>::DigestDone { reply: false },
            &mut good,
        )
        .unwrap();
    let mut trailing = good.clone();
    trailing.push(0);
    let oversize = [0x7f, 0xff, 0xff, 0xff, 0xa0];
    let garbage = [0, 0, 0, 3, 0xff, 0xff, 0xff];
    let cases: [(&[u8], &str); 6] = [
        (&[], "shorter"),
        (&[0, 0], "shorter"),
        (&good[..good.len() - 1], "announces"),
        (&trailing, "trailing"),
        (&oversize, "exceeds"),
        (&garbage, "malformed"),
    ];
    for (frame, needle) in cases {
        assert_eq!(
            handle(g, "b", frame),
            ScuttleStatus::DecodeError,
            "{needle}"
        );
        assert!(last_error().contains(needle), "{needle}: {}", last_error());
    }
    // Nothing was queued: the bad frames changed nothing.
    assert!(drain(g).is_empty());
    assert_eq!(handle(g, "b", &good), ScuttleStatus::Ok);
    assert_eq!(
        drain(g).len(),
        1,
        "an empty digest is answered by a reply DigestDone"
    );
    free(g);
}

#[test]
fn version_zero_is_a_protocol_error() {
    let g = node("a");
    // {"key": [], "value": [], "source_id": "x", "version": 0}, hand-encoded.
    let body: &[u8] = &[
        0xa4, 0x63, b'k', b'e', b'y', 0x80, 0x65, b'v', b'a', b'l', b'u', b'e', 0x80, 0x69, b's',
        b'o', b'u', b'r', b'c', b'e', b'_', b'i', b'd', 0x61, b'x', 0x67, b'v', b'e', b'r', b's',
        b'i', b'o', b'n', 0x00,
    ];
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    assert_eq!(handle(g, "x", &frame), ScuttleStatus::ProtocolError);
    assert!(last_error().contains("version"), "{}", last_error());
    // The same bytes with version 1 are accepted.
    *frame.last_mut().unwrap() = 1;
    assert_eq!(
        handle(g, "x", &frame),
        ScuttleStatus::Ok,
        "{}",
        last_error()
    );
    assert_eq!(get(g, "").1, b"");
    assert_eq!(version(g), 1);
    free(g);
}

#[test]
fn strict_resolver_rejects_and_changes_nothing() {
    let c = ScuttleConfig {
        resolver: SCUTTLE_RESOLVER_STRICT,
        ..config()
    };
    let g = node_with("a", &c);
    assert_eq!(set(g, "n", "5"), Ok(1));
    assert_eq!(set(g, "n", "4"), Err(ScuttleStatus::Rejected));
    assert!(last_error().contains("rejected"));
    assert_eq!(set(g, "n", "5"), Err(ScuttleStatus::Rejected));
    assert_eq!(version(g), 1, "a rejected write does not move the version");
    // SAFETY: live handle, valid key.
    assert_eq!(
        unsafe { scuttle_gossip_delete(g, b"n".as_ptr(), 1, ptr::null_mut()) },
        ScuttleStatus::Rejected
    );
    assert_eq!(set(g, "n", "6"), Ok(2));
    free(g);
}

#[test]
fn lww_clock_uses_the_handle_clock() {
    let c = ScuttleConfig {
        resolver: SCUTTLE_RESOLVER_LWW_CLOCK,
        ..config()
    };
    let a = node_with("a", &c);
    let b = node_with("b", &c);
    // SAFETY: live handles.
    unsafe {
        assert_eq!(scuttle_gossip_set_time(a, 2_000), ScuttleStatus::Ok);
        assert_eq!(scuttle_gossip_set_time(b, 1_000), ScuttleStatus::Ok);
    }
    set(a, "k", "a wrote at 2000").unwrap();
    set(b, "k", "b wrote at 1000").unwrap();
    set(b, "k", "b again at 1000").unwrap(); // version 2 beats a's version 1 under plain LWW
    gossip(a, "b");
    run(&[("a", a), ("b", b)]);
    for g in [a, b] {
        assert_eq!(
            get(g, "k").1,
            b"a wrote at 2000",
            "the later timestamp wins"
        );
    }
    let mut e = ScuttleEntry::empty();
    // SAFETY: live handle, valid key and out-pointer.
    unsafe {
        scuttle_gossip_get(b, b"k".as_ptr(), 1, &mut e);
        assert_eq!(e.timestamp_ms, 2_000);
        scuttle_entry_free(&mut e);
    }
    free(a);
    free(b);
}

#[test]
fn tombstones_are_collected_after_the_grace_period() {
    let c = ScuttleConfig {
        tombstone_grace_ms: 100,
        ..config()
    };
    let g = node_with("a", &c);
    // SAFETY: live handle throughout.
    unsafe {
        scuttle_gossip_set_time(g, 1_000);
        scuttle_gossip_delete(g, b"k".as_ptr(), 1, ptr::null_mut());
        let mut n = 99;
        assert_eq!(
            scuttle_gossip_collect_tombstones(g, &mut n),
            ScuttleStatus::Ok
        );
        assert_eq!(n, 0);
        scuttle_gossip_set_time(g, 1_100);
        assert_eq!(
            scuttle_gossip_collect_tombstones(g, &mut n),
            ScuttleStatus::Ok
        );
        assert_eq!(n, 1);
        assert_eq!(
            scuttle_gossip_collect_tombstones(g, ptr::null_mut()),
            ScuttleStatus::Ok
        );
    }
    assert_eq!(get(g, "k").0, ScuttleStatus::NotFound);
    let evs = events(g);
    assert_eq!(evs.last().unwrap().0, SCUTTLE_EVENT_TOMBSTONES_COLLECTED);
    free(g);

    // 0 keeps tombstones forever.
    let forever = node_with(
        "a",
        &ScuttleConfig {
            tombstone_grace_ms: 0,
            ..config()
        },
    );
    // SAFETY: live handle throughout.
    unsafe {
        scuttle_gossip_set_time(forever, 1);
        scuttle_gossip_delete(forever, b"k".as_ptr(), 1, ptr::null_mut());
        scuttle_gossip_set_time(forever, u64::MAX);
        let mut n = 99;
        scuttle_gossip_collect_tombstones(forever, &mut n);
        assert_eq!(n, 0);
    }
    free(forever);
}

#[test]
fn compaction_events_are_reported() {
    let c = ScuttleConfig {
        max_history: 1,
        ..config()
    };
    let g = node_with("a", &c);
    for i in 0..4 {
        set(g, "k", &i.to_string()).unwrap();
    }
    let mut ev = ScuttleEvent::empty();
    let mut compactions = 0;
    // SAFETY: live handle and valid out-pointer.
    while unsafe { scuttle_gossip_poll_event(g, &mut ev) } == ScuttleStatus::Ok {
        if ev.kind == SCUTTLE_EVENT_COMPACTION {
            compactions += 1;
            assert!(ev.count >= 1);
            assert!(ev.history_len >= 1);
        }
        // SAFETY: library-made event.
        unsafe { scuttle_event_free(&mut ev) };
    }
    assert!(compactions >= 1);
    free(g);
}

#[test]
fn writes_too_large_for_a_frame_are_refused() {
    let c = ScuttleConfig {
        max_frame_size: 200,
        ..config()
    };
    let g = node_with("a", &c);
    let big = "x".repeat(300);
    assert_eq!(set(g, "k", &big), Err(ScuttleStatus::InvalidArgument));
    assert!(last_error().contains("max_frame_size"), "{}", last_error());
    assert_eq!(set(g, &big, ""), Err(ScuttleStatus::InvalidArgument));
    // Past the cheap bound (2 bytes per byte) the exact size decides: 30 bytes fit in 200.
    assert_eq!(set(g, "k", &"x".repeat(30)), Ok(1));
    assert_eq!(version(g), 1);
    free(g);
}

#[test]
fn a_message_that_does_not_fit_is_an_encode_error() {
    // x accepts frames up to 64 bytes. A hand-made update without `prev` fits; when x relays it
    // to z, it adds `prev` and `timestamp` and no longer fits.
    let small = ScuttleConfig {
        max_frame_size: 64,
        ..config()
    };
    let x = node_with("x", &small);
    let z = node("z");
    let codec = FrameCodec::new(64);
    let key_len = (1..64)
        .find(|&l| {
            let relayed: Message<Vec<u8>, Vec<u8>> = Message::Update {
                update: Update {
                    key: vec![1; l],
                    value: Some(vec![]),
                    source_id: NodeId::from("y"),
                    version: 1,
                    timestamp: 0,
                },
                prev: Some(0),
            };
            scuttle_core::codec::to_cbor(&relayed).unwrap().len() > 64
        })
        .unwrap();
    let msg: Message<Vec<u8>, Vec<u8>> = Message::Update {
        update: Update {
            key: vec![1; key_len],
            value: Some(vec![]),
            source_id: NodeId::from("y"),
            version: 1,
            timestamp: 0,
        },
        prev: None,
    };
    let mut frame = Vec::new();
    codec.encode(&msg, &mut frame).unwrap();
    assert_eq!(
        handle(x, "y", &frame),
        ScuttleStatus::Ok,
        "{}",
        last_error()
    );
    gossip(z, "x");
    for (_, f) in drain(z) {
        assert_eq!(handle(x, "z", &f), ScuttleStatus::Ok);
    }
    let mut peer = ScuttleBytes::empty();
    let mut out = ScuttleBytes::empty();
    // SAFETY: live handle and valid out-pointers.
    let s = unsafe { scuttle_gossip_poll_transmit(x, &mut peer, &mut out) };
    assert_eq!(s, ScuttleStatus::EncodeError);
    assert!(last_error().contains("dropped"), "{}", last_error());
    assert!(peer.ptr.is_null() && out.ptr.is_null());
    // The rest of the queue (x's digest) still goes out.
    assert!(!drain(x).is_empty());
    free(x);
    free(z);
}

#[test]
fn forget_peer_drops_queued_frames() {
    let g = node("a");
    gossip(g, "b");
    // SAFETY: live handle, valid peer.
    assert_eq!(
        unsafe { scuttle_gossip_forget_peer(g, b"b".as_ptr(), 1) },
        ScuttleStatus::Ok
    );
    assert!(drain(g).is_empty());
    free(g);
}

// ------------------------------------------------------------------ custom resolvers

#[derive(Default)]
struct Calls {
    calls: usize,
    locals: usize,
    with_current: usize,
    last_key: Vec<u8>,
    reentrant_status: Option<ScuttleStatus>,
    handle: usize,
}

/// Last writer wins, in "C", counting its calls.
unsafe extern "C-unwind" fn counting_lww(
    user_data: *mut c_void,
    current: *const ScuttleEntryView,
    incoming: *const ScuttleEntryView,
) -> bool {
    // SAFETY: the test passes a `Calls`; the views are valid during the call.
    let (calls, incoming) = unsafe { (&mut *user_data.cast::<Calls>(), &*incoming) };
    calls.calls += 1;
    if incoming.local {
        calls.locals += 1;
    }
    // SAFETY: the key pointer is valid for key_len bytes.
    calls.last_key = unsafe { std::slice::from_raw_parts(incoming.key, incoming.key_len) }.to_vec();
    // SAFETY: NULL or a valid view.
    match unsafe { current.as_ref() } {
        None => true,
        Some(c) => {
            calls.with_current += 1;
            // SAFETY: source ids are valid for their lengths.
            let (cs, is) = unsafe {
                (
                    std::slice::from_raw_parts(c.source_id, c.source_id_len),
                    std::slice::from_raw_parts(incoming.source_id, incoming.source_id_len),
                )
            };
            (incoming.version, is) > (c.version, cs)
        }
    }
}

unsafe extern "C-unwind" fn never(
    _: *mut c_void,
    _: *const ScuttleEntryView,
    _: *const ScuttleEntryView,
) -> bool {
    false
}

unsafe extern "C-unwind" fn panicking(
    _: *mut c_void,
    _: *const ScuttleEntryView,
    _: *const ScuttleEntryView,
) -> bool {
    panic!("resolver exploded")
}

/// Calls back into its own handle: must get BUSY.
unsafe extern "C-unwind" fn reentrant(
    user_data: *mut c_void,
    _: *const ScuttleEntryView,
    _: *const ScuttleEntryView,
) -> bool {
    // SAFETY: the test passes a `Calls` holding the handle's address.
    let calls = unsafe { &mut *user_data.cast::<Calls>() };
    let mut n = 0;
    // SAFETY: the handle is live (we are inside one of its calls); BUSY is expected.
    calls.reentrant_status =
        Some(unsafe { scuttle_gossip_len(calls.handle as *const ScuttleGossip, &mut n) });
    // SAFETY: freeing a busy handle must be refused, not done.
    unsafe { scuttle_gossip_free(calls.handle as *mut ScuttleGossip) };
    true
}

fn custom(
    id: &str,
    f: ScuttleResolveFn,
    user_data: *mut c_void,
) -> (ScuttleStatus, *mut ScuttleGossip) {
    let mut g = ptr::null_mut();
    // SAFETY: valid id, config and out-pointer; `user_data` outlives the handle in every test.
    let s = unsafe {
        scuttle_gossip_new_with_resolver(id.as_ptr(), id.len(), &config(), f, user_data, &mut g)
    };
    (s, g)
}

#[test]
fn custom_resolver_sees_current_and_incoming() {
    let mut calls = Calls::default();
    let (s, a) = custom("a", Some(counting_lww), (&mut calls as *mut Calls).cast());
    assert_eq!(s, ScuttleStatus::Ok);
    let b = node("b");
    set(a, "k", "1").unwrap();
    set(a, "k", "2").unwrap();
    assert_eq!((calls.calls, calls.locals, calls.with_current), (2, 2, 1));
    assert_eq!(calls.last_key, b"k");
    set(b, "k", "b").unwrap();
    set(b, "k", "b2").unwrap();
    set(b, "k", "b3").unwrap();
    gossip(b, "a");
    run(&[("a", a), ("b", b)]);
    assert!(calls.calls >= 3);
    assert_eq!(calls.locals, 2, "remote updates are not local");
    assert_eq!(get(a, "k").1, b"b3", "version 3 from b wins on a");
    assert_eq!(get(b, "k").1, b"b3");
    free(a);
    free(b);
}

#[test]
fn custom_resolver_that_refuses_everything() {
    let (s, a) = custom("a", Some(never), ptr::null_mut());
    assert_eq!(s, ScuttleStatus::Ok);
    assert_eq!(set(a, "k", "v"), Err(ScuttleStatus::Rejected));
    assert_eq!(len(a), 0);
    free(a);
}

#[test]
fn custom_resolver_must_not_be_null() {
    let (s, g) = custom("a", None, ptr::null_mut());
    assert_eq!(s, ScuttleStatus::InvalidArgument);
    assert!(g.is_null());
    assert!(last_error().contains("resolve is NULL"));
    let (s, g) = custom("", Some(never), ptr::null_mut());
    assert_eq!(s, ScuttleStatus::InvalidArgument);
    assert!(g.is_null());
}

#[test]
fn a_panic_in_the_resolver_is_contained() {
    let (s, a) = custom("a", Some(panicking), ptr::null_mut());
    assert_eq!(s, ScuttleStatus::Ok);
    assert_eq!(set(a, "k", "v"), Err(ScuttleStatus::Panic));
    assert!(
        last_error().contains("resolver exploded"),
        "{}",
        last_error()
    );
    // The update was refused and the handle still works.
    assert_eq!(len(a), 0);
    assert_eq!(version(a), 0);
    // Remote updates too: the frame is handled, the update refused, PANIC reported.
    let b = node("b");
    set(b, "k", "from b").unwrap();
    gossip(a, "b");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        for (_, f) in drain(a) {
            statuses.push(handle(b, "a", &f));
        }
        for (_, f) in drain(b) {
            statuses.push(handle(a, "b", &f));
        }
    }
    assert!(statuses.contains(&ScuttleStatus::Panic), "{statuses:?}");
    assert_eq!(get(a, "k").0, ScuttleStatus::NotFound);
    assert_eq!(version(a), 1, "the clock still moved past the update");
    free(a);
    free(b);
}

#[test]
fn reentrant_calls_get_busy_and_free_is_refused() {
    let mut calls = Calls::default();
    let (s, a) = custom("a", Some(reentrant), (&mut calls as *mut Calls).cast());
    assert_eq!(s, ScuttleStatus::Ok);
    calls.handle = a as usize;
    assert_eq!(set(a, "k", "v"), Ok(1));
    assert_eq!(calls.reentrant_status, Some(ScuttleStatus::Busy));
    // The handle survived the refused free and still works.
    assert_eq!(len(a), 1);
    free(a);
}

#[test]
fn a_panic_inside_a_call_poisons_the_handle() {
    let g = node("a");
    // Simulate a bug: a panic while the handle is held.
    // SAFETY: live handle.
    let s = crate::error::ffi_call(|| unsafe {
        crate::gossip::with_node_for_tests(g, || panic!("bug"))
    });
    assert_eq!(s, ScuttleStatus::Panic);
    assert!(last_error().contains("bug"));
    let mut n = 0;
    // SAFETY: live (poisoned) handle.
    assert_eq!(
        unsafe { scuttle_gossip_len(g, &mut n) },
        ScuttleStatus::Panic
    );
    assert!(last_error().contains("earlier panic"));
    free(g);
}

#[test]
fn last_error_is_per_thread() {
    // SAFETY: NULL is the error under test.
    unsafe { scuttle_gossip_len(ptr::null(), ptr::null_mut()) };
    let here = last_error();
    assert!(!here.is_empty());
    let there = std::thread::spawn(last_error).join().unwrap();
    assert_eq!(there, "");
    assert_eq!(last_error(), here);
}

#[test]
fn handles_move_between_threads() {
    let g = node("a") as usize;
    let v = std::thread::spawn(move || set(g as *mut ScuttleGossip, "k", "v").unwrap())
        .join()
        .unwrap();
    assert_eq!(v, 1);
    assert_eq!(get(g as *mut ScuttleGossip, "k").1, b"v");
    free(g as *mut ScuttleGossip);
}

// ------------------------------------------------------------------ interop and robustness

#[test]
fn a_c_node_and_a_rust_core_node_exchange_frames() {
    let c_node = node("c");
    set(c_node, "from-c", "1").unwrap();
    let mut rust: scuttle_core::Gossip<Vec<u8>, Vec<u8>> = scuttle_core::Gossip::with_defaults("r");
    rust.set(b"from-rust".to_vec(), b"2".to_vec()).unwrap();
    let codec = FrameCodec::default();
    rust.gossip(&NodeId::from("c"));
    for _ in 0..5 {
        while let Some((to, msg)) = rust.poll_transmit() {
            assert_eq!(to.as_str(), "c");
            let mut frame = Vec::new();
            codec.encode(&msg, &mut frame).unwrap();
            assert_eq!(
                handle(c_node, "r", &frame),
                ScuttleStatus::Ok,
                "{}",
                last_error()
            );
        }
        for (to, frame) in drain(c_node) {
            assert_eq!(to, "r");
            let msg = codec.decode_frame(&frame).unwrap();
            rust.receive(&NodeId::from("c"), msg).unwrap();
        }
    }
    assert_eq!(get(c_node, "from-rust").1, b"2");
    assert_eq!(
        rust.value(&b"from-c"[..]).map(Vec::as_slice),
        Some(&b"1"[..])
    );
    free(c_node);
}

/// A small deterministic generator, so the robustness test needs no extra crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn random_and_mutated_frames_never_panic() {
    // Real frames to mutate: a whole exchange between two nodes.
    let a = node("a");
    let b = node("b");
    for i in 0..5 {
        set(a, &format!("k{i}"), &format!("v{i}")).unwrap();
    }
    // SAFETY: live handle, valid key.
    unsafe { scuttle_gossip_delete(a, b"k0".as_ptr(), 2, ptr::null_mut()) };
    gossip(b, "a");
    let mut samples = Vec::new();
    for _ in 0..4 {
        for (_, f) in drain(b) {
            handle(a, "b", &f);
            samples.push(f);
        }
        for (_, f) in drain(a) {
            handle(b, "a", &f);
            samples.push(f);
        }
    }
    assert!(samples.len() >= 6);

    let target = node("t");
    let mut rng = Lcg(7);
    for round in 0..3_000 {
        let mut frame = if round % 3 == 0 {
            let len = (rng.next() % 40) as usize;
            let mut f: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if f.len() >= 4 && round % 2 == 0 {
                // A plausible prefix, so the CBOR decoder is reached.
                let body = (f.len() - 4) as u32;
                f[..4].copy_from_slice(&body.to_be_bytes());
            }
            f
        } else {
            samples[(rng.next() as usize) % samples.len()].clone()
        };
        if round % 3 != 0 && !frame.is_empty() {
            for _ in 0..=(rng.next() % 3) {
                let i = 4 + (rng.next() as usize) % frame.len().saturating_sub(4).max(1);
                if i < frame.len() {
                    frame[i] = rng.next() as u8;
                }
            }
        }
        let s = handle(target, "a", &frame);
        assert!(
            matches!(
                s,
                ScuttleStatus::Ok | ScuttleStatus::DecodeError | ScuttleStatus::ProtocolError
            ),
            "round {round}: {s:?} {}",
            last_error()
        );
    }
    // The target is still a working node (a random update may have announced the last
    // version, which only exhausts the counter).
    let s = set(target, "still", "alive");
    assert!(
        matches!(s, Ok(_) | Err(ScuttleStatus::VersionOverflow)),
        "{s:?}"
    );
    drain(target);
    free(a);
    free(b);
    free(target);
}
