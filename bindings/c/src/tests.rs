//! Unit tests of the FFI layer: every entry point called as C would, through raw pointers.

use std::ffi::{c_void, CStr};
use std::ptr;

use scuttle_core::{Digest, FrameCodec, Message, News, NodeId, Run, Update};

use crate::*;

/// A fixed clock value for writes, so tests never read the system clock.
pub(crate) const NOW: u64 = 1_700_000_000_000;

pub(crate) fn last_error() -> String {
    // SAFETY: `scuttle_last_error` never returns NULL and the string is valid until the next call.
    unsafe { CStr::from_ptr(scuttle_last_error()) }
        .to_string_lossy()
        .into_owned()
}

pub(crate) fn config() -> ScuttleConfig {
    let mut c = ScuttleConfig::default();
    // SAFETY: `c` is a valid out-pointer.
    assert_eq!(unsafe { scuttle_config_default(&mut c) }, ScuttleStatus::Ok);
    c
}

pub(crate) fn node_with(id: &str, c: &ScuttleConfig) -> *mut ScuttleGossip {
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

pub(crate) fn set_at(
    g: *mut ScuttleGossip,
    now: u64,
    key: &[u8],
    value: &[u8],
) -> Result<u64, ScuttleStatus> {
    let mut version = 0;
    // SAFETY: live handle, valid slices and out-pointer.
    let s = unsafe {
        scuttle_gossip_set(
            g,
            now,
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

pub(crate) fn set(g: *mut ScuttleGossip, key: &str, value: &str) -> Result<u64, ScuttleStatus> {
    set_at(g, NOW, key.as_bytes(), value.as_bytes())
}

pub(crate) fn delete_at(g: *mut ScuttleGossip, now: u64, key: &str) -> Result<u64, ScuttleStatus> {
    let mut version = 0;
    // SAFETY: live handle, valid key and out-pointer.
    let s = unsafe { scuttle_gossip_delete(g, now, key.as_ptr(), key.len(), &mut version) };
    if s == ScuttleStatus::Ok {
        Ok(version)
    } else {
        Err(s)
    }
}

pub(crate) fn bytes(b: &ScuttleBytes) -> Vec<u8> {
    if b.ptr.is_null() {
        assert_eq!(b.len, 0);
        return Vec::new();
    }
    // SAFETY: a library-made buffer of `len` bytes plus a NUL.
    let all = unsafe { std::slice::from_raw_parts(b.ptr, b.len + 1) };
    assert_eq!(all[b.len], 0, "buffers end with a NUL byte");
    all[..b.len].to_vec()
}

/// (status, value, version, source) of a get.
pub(crate) fn get(g: *mut ScuttleGossip, key: &str) -> (ScuttleStatus, Vec<u8>, u64, String) {
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

pub(crate) fn len(g: *mut ScuttleGossip) -> usize {
    let mut n = usize::MAX;
    // SAFETY: live handle and out-pointer.
    assert_eq!(unsafe { scuttle_gossip_len(g, &mut n) }, ScuttleStatus::Ok);
    n
}

pub(crate) fn version(g: *mut ScuttleGossip) -> u64 {
    let mut v = u64::MAX;
    // SAFETY: live handle and out-pointer.
    assert_eq!(
        unsafe { scuttle_gossip_version(g, &mut v) },
        ScuttleStatus::Ok
    );
    v
}

pub(crate) fn keys(g: *mut ScuttleGossip) -> Vec<Vec<u8>> {
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

/// The frame that opens an exchange.
pub(crate) fn start(g: *mut ScuttleGossip) -> Vec<u8> {
    let mut frame = ScuttleBytes::empty();
    // SAFETY: live handle, valid out-pointer.
    let s = unsafe { scuttle_gossip_start_exchange(g, &mut frame) };
    assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
    let out = bytes(&frame);
    // SAFETY: library-made buffer.
    unsafe { scuttle_bytes_free(&mut frame) };
    out
}

/// Hands `frame` to `to`: (status, reply frame if any).
pub(crate) fn handle(to: *mut ScuttleGossip, frame: &[u8]) -> (ScuttleStatus, Option<Vec<u8>>) {
    let mut reply = ScuttleBytes {
        ptr: ptr::dangling_mut(),
        len: 99,
    };
    // SAFETY: live handle, valid slice and out-pointer.
    let s =
        unsafe { scuttle_gossip_handle_frame(to, NOW, frame.as_ptr(), frame.len(), &mut reply) };
    let out = (!reply.ptr.is_null()).then(|| bytes(&reply));
    if s != ScuttleStatus::Ok {
        assert!(out.is_none(), "a failed call gives no reply");
    }
    // SAFETY: library-made buffer, or `{NULL, 0}`.
    unsafe { scuttle_bytes_free(&mut reply) };
    (s, out)
}

/// Hands `frame` to `to`, which must accept it; returns its reply.
pub(crate) fn deliver(to: *mut ScuttleGossip, frame: &[u8]) -> Option<Vec<u8>> {
    let (s, reply) = handle(to, frame);
    assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
    reply
}

/// One whole exchange started by `a` with `b`; returns the frames it took.
pub(crate) fn exchange(a: *mut ScuttleGossip, b: *mut ScuttleGossip) -> Vec<Vec<u8>> {
    let mut frames = vec![start(a)];
    let to = [b, a];
    while let Some(reply) = deliver(to[(frames.len() + 1) % 2], frames.last().expect("a frame")) {
        frames.push(reply);
        assert!(frames.len() <= 3, "an exchange is at most three frames");
    }
    frames
}

/// (kind, key, value, deleted, version, source, local) of an event.
pub(crate) type Ev = (u32, Vec<u8>, Vec<u8>, bool, u64, String, bool);

pub(crate) fn events(g: *mut ScuttleGossip) -> Vec<Ev> {
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
            ev.local,
        ));
        // SAFETY: library-made event.
        unsafe { scuttle_event_free(&mut ev) };
    }
}

pub(crate) fn free(g: *mut ScuttleGossip) {
    // SAFETY: live handle, freed once.
    unsafe { scuttle_gossip_free(g) };
}

/// One frame holding `msg`, as a peer would send it.
pub(crate) fn frame_of(msg: &Message<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    let mut frame = Vec::new();
    FrameCodec::default().encode(msg, &mut frame).unwrap();
    frame
}

/// An Ack carrying one update of `key` from `source` at `version` (without `prev`).
pub(crate) fn ack(source: &str, key: &[u8], version: u64) -> Message<Vec<u8>, Vec<u8>> {
    Message::Ack {
        news: News::Updates(vec![Run {
            source: NodeId::from(source),
            prev: None,
            updates: vec![Update {
                key: key.to_vec(),
                value: Some(Vec::new()),
                source_id: NodeId::from(source),
                version,
                timestamp: 0,
                signature: None,
            }],
            through: None,
        }]),
    }
}

#[test]
fn protocol_constants_match_the_core() {
    assert_eq!(SCUTTLE_PROTOCOL_VERSION, scuttle_core::PROTOCOL_VERSION);
    assert_eq!(SCUTTLE_PROTOCOL_VERSION, 2);
    assert_eq!(SCUTTLE_FRAME_PREFIX_LEN, scuttle_core::codec::LENGTH_PREFIX);
    assert_eq!(SCUTTLE_MIN_MESSAGE_BYTES, scuttle_core::MIN_MESSAGE_BYTES);
    assert_eq!(ScuttleStatus::Ok as i32, 0);
    assert_eq!(ScuttleStatus::TooLarge as i32, 12);
    assert_eq!(ScuttleStatus::CallbackError as i32, 13);
    assert_eq!(ScuttleStatus::CatchingUp as i32, 14);
    assert_eq!(ScuttleStatus::StoreLocked as i32, 19);
}

#[test]
fn now_ms_reads_the_system_clock() {
    // 2020-09-13 in milliseconds: any working clock reads later.
    assert!(scuttle_now_ms() > 1_600_000_000_000);
}

#[test]
fn config_default_matches_the_core() {
    let c = config();
    let core = scuttle_core::Config::default();
    assert_eq!(c.version, SCUTTLE_CONFIG_VERSION);
    assert_eq!(c.mtu, core.mtu);
    assert_eq!(c.max_history, core.max_history);
    assert_eq!(c.max_message_bytes, core.max_message_bytes);
    assert_eq!(c.max_message_bytes, 1 << 20);
    assert_eq!(c.tombstone_grace_ms, 3_600_000);
    assert_eq!(c.resolver, SCUTTLE_RESOLVER_LWW);
    assert_eq!(c.sorter, SCUTTLE_SORTER_BREADTH);
    assert_eq!(c.versions, SCUTTLE_VERSIONS_COUNTER);
    assert_eq!(c.max_clock_skew_ms, 60_000);
    assert_eq!(c.catch_up_ms, 0);
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
        (b"a", ScuttleConfig { version: 1, ..c }, "version 1"),
        (b"a", ScuttleConfig { mtu: 0, ..c }, "mtu"),
        (
            b"a",
            ScuttleConfig {
                max_message_bytes: 63,
                ..c
            },
            "max_message_bytes",
        ),
        (b"a", ScuttleConfig { resolver: 99, ..c }, "resolver 99"),
        (b"a", ScuttleConfig { sorter: 7, ..c }, "sorter 7"),
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
        // The smallest message size is accepted; a NULL config means the defaults.
        let small = ScuttleConfig {
            max_message_bytes: SCUTTLE_MIN_MESSAGE_BYTES,
            ..c
        };
        assert_eq!(
            scuttle_gossip_new(b"a".as_ptr(), 1, &small, &mut g),
            ScuttleStatus::Ok
        );
        scuttle_gossip_free(g);
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

    assert_eq!(delete_at(g, NOW + 1, "k1"), Ok(4));
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
        unsafe { scuttle_gossip_delete(g, NOW, b"zz".as_ptr(), 2, ptr::null_mut()) },
        ScuttleStatus::Ok
    );
    assert_eq!(version(g), 5);

    // The write's time is the `now_ms` given.
    let mut e = ScuttleEntry::empty();
    // SAFETY: live handle, valid key and out-pointer.
    unsafe {
        assert_eq!(
            scuttle_gossip_get(g, b"k1".as_ptr(), 2, &mut e),
            ScuttleStatus::Deleted
        );
        assert_eq!(e.timestamp_ms, NOW + 1);
        scuttle_entry_free(&mut e);
    }

    let evs = events(g);
    assert_eq!(evs.len(), 5);
    assert!(evs
        .iter()
        .all(|e| e.0 == SCUTTLE_EVENT_UPDATE && e.5 == "a" && e.6));
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
            scuttle_gossip_set(null, NOW, k.as_ptr(), 1, k.as_ptr(), 1, &mut v),
            scuttle_gossip_set(g, NOW, ptr::null(), 1, k.as_ptr(), 1, &mut v),
            scuttle_gossip_set(g, NOW, k.as_ptr(), 1, ptr::null(), 1, &mut v),
            scuttle_gossip_delete(null, NOW, k.as_ptr(), 1, &mut v),
            scuttle_gossip_delete(g, NOW, ptr::null(), 5, &mut v),
            scuttle_gossip_get(null, k.as_ptr(), 1, &mut e),
            scuttle_gossip_get(g, k.as_ptr(), 1, ptr::null_mut()),
            scuttle_gossip_get(g, ptr::null(), 1, &mut e),
            scuttle_gossip_len(null, &mut n),
            scuttle_gossip_len(g, ptr::null_mut()),
            scuttle_gossip_version(null, &mut v),
            scuttle_gossip_version(g, ptr::null_mut()),
            scuttle_gossip_keys(null, &mut list),
            scuttle_gossip_keys(g, ptr::null_mut()),
            scuttle_gossip_start_exchange(null, &mut b),
            scuttle_gossip_start_exchange(g, ptr::null_mut()),
            scuttle_gossip_handle_frame(null, NOW, k.as_ptr(), 1, &mut b),
            scuttle_gossip_handle_frame(g, NOW, ptr::null(), 1, &mut b),
            scuttle_gossip_handle_frame(g, NOW, k.as_ptr(), 1, ptr::null_mut()),
            scuttle_gossip_poll_event(null, &mut ev),
            scuttle_gossip_poll_event(g, ptr::null_mut()),
            scuttle_gossip_handle_timeout(null, NOW, &mut n),
            scuttle_gossip_poll_timeout(null, &mut v),
            scuttle_gossip_poll_timeout(g, ptr::null_mut()),
            scuttle_gossip_id(null, &mut b),
            scuttle_keys_len(ptr::null(), &mut n),
            scuttle_keys_get(ptr::null(), 0, &mut ptr::null(), &mut n),
        ]
    };
    for (i, s) in statuses.iter().enumerate() {
        assert_eq!(*s, ScuttleStatus::InvalidArgument, "call #{i}");
    }
    assert!(list.is_null());
    assert!(b.ptr.is_null());
    // Nothing changed.
    assert_eq!(version(g), 0);
    assert!(events(g).is_empty());
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
fn two_nodes_converge_in_one_exchange_with_events() {
    let a = node("a");
    let b = node("b");
    set(a, "ka", "from a").unwrap();
    set(a, "gone", "soon").unwrap();
    delete_at(a, NOW, "gone").unwrap();
    set(b, "kb", "from b").unwrap();
    events(a);
    events(b);

    let frames = exchange(a, b);
    assert_eq!(frames.len(), 3, "Syn, SynAck, Ack");
    for f in &frames {
        let body = u32::from_be_bytes(f[..4].try_into().unwrap()) as usize;
        assert_eq!(body + SCUTTLE_FRAME_PREFIX_LEN, f.len(), "one whole frame");
    }
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
            ka[0].6
        ),
        (SCUTTLE_EVENT_UPDATE, &b"from a"[..], 1, "a", false)
    );
    let gone: Vec<_> = evs.iter().filter(|e| e.1 == b"gone").collect();
    let last = gone.last().unwrap();
    assert!(last.3 && last.4 == 3 && last.2.is_empty());
    let evs = events(a);
    assert_eq!(evs.len(), 1);
    assert_eq!((evs[0].1.as_slice(), evs[0].6), (&b"kb"[..], false));

    // Nothing new: an exchange ends after the SynAck, and soon opens with a digest hash only.
    assert_eq!(exchange(a, b).len(), 2);
    let idle = exchange(a, b);
    assert_eq!(idle.len(), 2);
    let syn: Message<Vec<u8>, Vec<u8>> = FrameCodec::default().decode_frame(&idle[0]).unwrap();
    assert!(
        matches!(
            syn,
            Message::Syn {
                digest: Digest::Hash(_)
            }
        ),
        "{syn:?}"
    );
    assert!(events(a).is_empty() && events(b).is_empty());
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
        node_with("n1", &c),
        node_with("n2", &c),
        node_with("n3", &c),
    ];
    for (i, g) in nodes.iter().enumerate() {
        for j in 0..3 {
            set(*g, &format!("k{i}{j}"), &format!("v{i}{j}")).unwrap();
        }
    }
    for round in 0..30 {
        exchange(nodes[round % 3], nodes[(round + 1) % 3]);
    }
    for g in nodes {
        assert_eq!(len(g), 9);
        assert_eq!(get(g, "k21").1, b"v21");
        free(g);
    }
}

#[test]
fn malformed_frames_are_decode_errors_and_change_nothing() {
    let g = node("a");
    let b = node("b");
    let good = start(b);
    free(b);
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
            handle(g, frame),
            (ScuttleStatus::DecodeError, None),
            "{needle}"
        );
        assert!(last_error().contains(needle), "{needle}: {}", last_error());
    }
    // A NULL frame of length 0 is an empty frame.
    let mut reply = ScuttleBytes::empty();
    // SAFETY: live handle, NULL with length 0, valid out-pointer.
    assert_eq!(
        unsafe { scuttle_gossip_handle_frame(g, NOW, ptr::null(), 0, &mut reply) },
        ScuttleStatus::DecodeError
    );
    assert_eq!(handle(g, &good).0, ScuttleStatus::Ok);
    assert!(events(g).is_empty());
    assert_eq!(version(g), 0);
    free(g);
}

#[test]
fn frames_above_max_message_bytes_are_refused() {
    let c = ScuttleConfig {
        max_message_bytes: 64,
        ..config()
    };
    let g = node_with("a", &c);
    // 70 bytes of key: a well-formed message over the 64-byte limit.
    let frame = frame_of(&ack("x", &[1; 70], 1));
    assert_eq!(handle(g, &frame).0, ScuttleStatus::DecodeError);
    assert!(last_error().contains("exceeds"), "{}", last_error());
    let fits = frame_of(&ack("x", &[1; 4], 1));
    assert_eq!(handle(g, &fits), (ScuttleStatus::Ok, None));
    assert_eq!(len(g), 1);
    free(g);
}

#[test]
fn version_zero_is_a_protocol_error() {
    let g = node("a");
    let (s, reply) = handle(g, &frame_of(&ack("x", b"", 0)));
    assert_eq!((s, reply), (ScuttleStatus::ProtocolError, None));
    assert!(last_error().contains("version"), "{}", last_error());
    assert_eq!(version(g), 0);
    // The same update at version 1 is accepted; an Ack has no reply.
    assert_eq!(
        handle(g, &frame_of(&ack("x", b"", 1))),
        (ScuttleStatus::Ok, None)
    );
    assert_eq!(get(g, "").2, 1);
    assert_eq!(version(g), 1);
    // A peer announcing the last version cannot exhaust the counter: news that far ahead of
    // the clock waits, and moves nothing.
    assert_eq!(
        handle(g, &frame_of(&ack("x", b"k", u64::MAX))),
        (ScuttleStatus::Ok, None)
    );
    assert_eq!(version(g), 1);
    assert_eq!(set(g, "k", "v"), Ok(2));
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
    assert_eq!(delete_at(g, NOW, "n"), Err(ScuttleStatus::Rejected));
    assert_eq!(set(g, "n", "6"), Ok(2));
    free(g);
}

#[test]
fn lww_clock_orders_by_the_now_given() {
    let c = ScuttleConfig {
        resolver: SCUTTLE_RESOLVER_LWW_CLOCK,
        ..config()
    };
    let a = node_with("a", &c);
    let b = node_with("b", &c);
    set_at(a, 2_000, b"k", b"a wrote at 2000").unwrap();
    set_at(b, 1_000, b"k", b"b wrote at 1000").unwrap();
    set_at(b, 1_000, b"k", b"b again at 1000").unwrap(); // version 2 beats a's 1 under plain LWW
    exchange(a, b);
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

fn poll_timeout(g: *mut ScuttleGossip) -> (ScuttleStatus, u64) {
    let mut when = 7;
    // SAFETY: live handle and out-pointer.
    let s = unsafe { scuttle_gossip_poll_timeout(g, &mut when) };
    (s, when)
}

fn handle_timeout(g: *mut ScuttleGossip, now: u64) -> usize {
    let mut n = 99;
    // SAFETY: live handle and out-pointer.
    let s = unsafe { scuttle_gossip_handle_timeout(g, now, &mut n) };
    assert_eq!(s, ScuttleStatus::Ok);
    n
}

#[test]
fn tombstones_are_collected_when_poll_timeout_says() {
    let c = ScuttleConfig {
        tombstone_grace_ms: 100,
        ..config()
    };
    let g = node_with("a", &c);
    assert_eq!(poll_timeout(g), (ScuttleStatus::Empty, u64::MAX));
    set_at(g, 900, b"k", b"v").unwrap();
    assert_eq!(poll_timeout(g), (ScuttleStatus::Empty, u64::MAX));
    delete_at(g, 1_000, "k").unwrap();
    assert_eq!(poll_timeout(g), (ScuttleStatus::Ok, 1_100));
    assert_eq!(handle_timeout(g, 1_099), 0);
    assert_eq!(get(g, "k").0, ScuttleStatus::Deleted);
    assert_eq!(handle_timeout(g, 1_100), 1);
    assert_eq!(poll_timeout(g), (ScuttleStatus::Empty, u64::MAX));
    // SAFETY: live handle; the count is optional.
    assert_eq!(
        unsafe { scuttle_gossip_handle_timeout(g, 5_000, ptr::null_mut()) },
        ScuttleStatus::Ok
    );
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
    delete_at(forever, 1, "k").unwrap();
    assert_eq!(poll_timeout(forever), (ScuttleStatus::Empty, u64::MAX));
    assert_eq!(handle_timeout(forever, u64::MAX), 0);
    assert_eq!(get(forever, "k").0, ScuttleStatus::Deleted);
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
fn an_oversize_write_is_too_large_and_later_writes_still_reach_the_peer() {
    let c = ScuttleConfig {
        max_message_bytes: 200,
        ..config()
    };
    let a = node_with("a", &c);
    let b = node_with("b", &c);
    let big = vec![b'x'; 300];
    assert_eq!(set_at(a, NOW, b"k", &big), Err(ScuttleStatus::TooLarge));
    let message = last_error();
    assert!(
        message.contains("max_message_bytes = 200") && message.contains("nothing changed"),
        "{message}"
    );
    assert_eq!(set_at(a, NOW, &big, b""), Err(ScuttleStatus::TooLarge));
    assert_eq!(
        delete_at(a, NOW, std::str::from_utf8(&big).unwrap()),
        Err(ScuttleStatus::TooLarge)
    );
    assert_eq!(version(a), 0, "a refused write changes nothing");
    assert_eq!(len(a), 0);
    assert!(events(a).is_empty());
    // A write after it still goes through and reaches the peer.
    assert_eq!(set(a, "after", "small"), Ok(1));
    exchange(a, b);
    assert_eq!(get(b, "after").1, b"small");
    assert_eq!(get(b, "k").0, ScuttleStatus::NotFound);
    free(a);
    free(b);
}

#[test]
fn a_c_node_and_a_rust_core_node_exchange_frames() {
    let c_node = node("c");
    set(c_node, "from-c", "1").unwrap();
    let mut rust: scuttle_core::Gossip<Vec<u8>, Vec<u8>> = scuttle_core::Gossip::with_defaults("r");
    rust.set(NOW, b"from-rust".to_vec(), b"2".to_vec()).unwrap();
    let codec = FrameCodec::default();
    // The Rust node starts; the C node answers.
    let syn = frame_of(&rust.start_exchange());
    let syn_ack = deliver(c_node, &syn).expect("a Syn is answered");
    let msg = codec.decode_frame(&syn_ack).unwrap();
    let ack = rust.handle_message(0, msg).unwrap().expect("news for c");
    assert_eq!(deliver(c_node, &frame_of(&ack)), None);
    assert_eq!(get(c_node, "from-rust").1, b"2");
    assert_eq!(
        rust.value(&b"from-c"[..]).map(Vec::as_slice),
        Some(&b"1"[..])
    );
    // The C node starts.
    set(c_node, "again", "3").unwrap();
    let syn = start(c_node);
    let syn_ack = rust
        .handle_message(0, codec.decode_frame(&syn).unwrap())
        .unwrap()
        .expect("a Syn is answered");
    let ack = deliver(c_node, &frame_of(&syn_ack)).expect("c has news");
    assert!(rust
        .handle_message(0, codec.decode_frame(&ack).unwrap())
        .unwrap()
        .is_none());
    assert_eq!(
        rust.value(&b"again"[..]).map(Vec::as_slice),
        Some(&b"3"[..])
    );
    free(c_node);
}

// ------------------------------------------------------------------ custom resolvers

#[derive(Default)]
struct Calls {
    calls: usize,
    locals: usize,
    with_current: usize,
    last_key: Vec<u8>,
    /// A key whose update the callback fails on (returns `fail_code`).
    fail_on: Option<Vec<u8>>,
    fail_code: ScuttleDecision,
    reentrant_status: Option<ScuttleStatus>,
    handle: usize,
}

/// Last writer wins, in "C", counting its calls; fails on `fail_on`.
unsafe extern "C-unwind" fn counting_lww(
    user_data: *mut c_void,
    current: *const ScuttleEntryView,
    incoming: *const ScuttleEntryView,
) -> ScuttleDecision {
    // SAFETY: the test passes a `Calls`; the views are valid during the call.
    let (calls, incoming) = unsafe { (&mut *user_data.cast::<Calls>(), &*incoming) };
    calls.calls += 1;
    if incoming.local {
        calls.locals += 1;
    }
    // SAFETY: the key pointer is valid for key_len bytes.
    calls.last_key = unsafe { std::slice::from_raw_parts(incoming.key, incoming.key_len) }.to_vec();
    if calls.fail_on.as_ref() == Some(&calls.last_key) {
        return calls.fail_code;
    }
    // SAFETY: NULL or a valid view.
    let accept = match unsafe { current.as_ref() } {
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
    };
    ScuttleDecision::from(accept)
}

unsafe extern "C-unwind" fn never(
    _: *mut c_void,
    _: *const ScuttleEntryView,
    _: *const ScuttleEntryView,
) -> ScuttleDecision {
    SCUTTLE_DECISION_REFUSE
}

unsafe extern "C-unwind" fn panicking(
    _: *mut c_void,
    _: *const ScuttleEntryView,
    _: *const ScuttleEntryView,
) -> ScuttleDecision {
    panic!("resolver exploded")
}

/// Calls back into its own handle: must get BUSY.
unsafe extern "C-unwind" fn reentrant(
    user_data: *mut c_void,
    _: *const ScuttleEntryView,
    _: *const ScuttleEntryView,
) -> ScuttleDecision {
    // SAFETY: the test passes a `Calls` holding the handle's address.
    let calls = unsafe { &mut *user_data.cast::<Calls>() };
    let mut n = 0;
    // SAFETY: the handle is live (we are inside one of its calls); BUSY is expected.
    calls.reentrant_status =
        Some(unsafe { scuttle_gossip_len(calls.handle as *const ScuttleGossip, &mut n) });
    // SAFETY: freeing a busy handle must be refused, not done.
    unsafe { scuttle_gossip_free(calls.handle as *mut ScuttleGossip) };
    SCUTTLE_DECISION_ACCEPT
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
    exchange(b, a);
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
fn a_failing_callback_refuses_the_whole_call_and_changes_nothing() {
    let mut calls = Calls {
        fail_on: Some(b"k2".to_vec()),
        fail_code: SCUTTLE_DECISION_ERROR,
        ..Calls::default()
    };
    let (s, a) = custom("a", Some(counting_lww), (&mut calls as *mut Calls).cast());
    assert_eq!(s, ScuttleStatus::Ok);
    // A local write.
    assert_eq!(set(a, "k2", "v"), Err(ScuttleStatus::CallbackError));
    assert!(
        last_error().contains("returned 2") && last_error().contains("nothing changed"),
        "{}",
        last_error()
    );
    assert_eq!((version(a), len(a)), (0, 0));
    assert!(events(a).is_empty());

    // A message whose second update fails: its first update is not applied either.
    let b = node("b");
    for k in ["k1", "k2", "k3"] {
        set(b, k, "from b").unwrap();
    }
    let syn = start(a);
    let syn_ack = deliver(b, &syn).expect("a Syn is answered");
    assert_eq!(handle(a, &syn_ack), (ScuttleStatus::CallbackError, None));
    assert!(calls.calls >= 2, "the callback was asked");
    assert_eq!((version(a), len(a)), (0, 0));
    assert!(events(a).is_empty());
    // Any value other than ACCEPT and REFUSE is an error.
    calls.fail_code = 77;
    assert_eq!(handle(a, &syn_ack), (ScuttleStatus::CallbackError, None));
    assert!(last_error().contains("returned 77"), "{}", last_error());
    // Once the callback decides, the same message goes through.
    calls.fail_on = None;
    assert_eq!(handle(a, &syn_ack).0, ScuttleStatus::Ok);
    assert_eq!((version(a), len(a)), (3, 3));
    assert_eq!(events(a).len(), 3);
    free(a);
    free(b);
}

#[test]
fn a_panic_in_the_resolver_is_contained_and_changes_nothing() {
    let (s, a) = custom("a", Some(panicking), ptr::null_mut());
    assert_eq!(s, ScuttleStatus::Ok);
    assert_eq!(set(a, "k", "v"), Err(ScuttleStatus::Panic));
    assert!(
        last_error().contains("resolver exploded"),
        "{}",
        last_error()
    );
    // The write was refused and the handle still works.
    assert_eq!(len(a), 0);
    assert_eq!(version(a), 0);
    // Remote updates too: the whole message is refused, PANIC reported, nothing changed.
    let b = node("b");
    set(b, "k", "from b").unwrap();
    let syn_ack = deliver(b, &start(a)).expect("a Syn is answered");
    assert_eq!(handle(a, &syn_ack), (ScuttleStatus::Panic, None));
    assert!(last_error().contains("nothing changed"), "{}", last_error());
    assert_eq!(get(a, "k").0, ScuttleStatus::NotFound);
    assert_eq!(version(a), 0, "not even the version moved");
    assert!(events(a).is_empty());
    // Not poisoned: a message without news still works.
    assert!(deliver(a, &start(b)).is_some());
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

// ------------------------------------------------------------------ robustness

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
    // Real frames to mutate: whole exchanges between two nodes, with news both ways.
    let a = node("a");
    let b = node("b");
    for i in 0..5 {
        set(a, &format!("k{i}"), &format!("v{i}")).unwrap();
        set(b, &format!("b{i}"), &format!("w{i}")).unwrap();
    }
    delete_at(a, NOW, "k0").unwrap();
    let mut samples = exchange(b, a);
    samples.extend(exchange(a, b));
    samples.extend(exchange(a, b));
    assert!(samples.len() >= 5);

    let target = node("t");
    let mut rng = Lcg(7);
    let mut accepted = 0;
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
        let (s, _) = handle(target, &frame);
        assert!(
            matches!(
                s,
                ScuttleStatus::Ok | ScuttleStatus::DecodeError | ScuttleStatus::ProtocolError
            ),
            "round {round}: {s:?} {}",
            last_error()
        );
        accepted += usize::from(s == ScuttleStatus::Ok);
    }
    assert!(accepted > 0, "some mutated frames are still valid messages");
    // The target is still a working node (a random update may have announced the last
    // version, which only exhausts the counter).
    let s = set(target, "still", "alive");
    assert!(
        matches!(s, Ok(_) | Err(ScuttleStatus::VersionOverflow)),
        "{s:?}"
    );
    exchange(target, a);
    free(a);
    free(b);
    free(target);
}
