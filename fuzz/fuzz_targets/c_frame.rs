//! The C API's frame entry point, `scuttle_gossip_handle_frame`, on arbitrary bytes.
//!
//! The input is cut into frames by their own length prefixes (the last one truncated when the
//! input runs out), so a concatenation of valid frames is a valid input; each goes to one
//! node, as from one peer. Invariants: no panic (libFuzzer's panic hook aborts even on a panic
//! that `catch_unwind` at the boundary would turn into `SCUTTLE_STATUS_PANIC`); every status is
//! OK, a decode error or a protocol error; a reply is a frame the core decodes, within
//! `max_message_bytes`; events drain and free cleanly (the address sanitizer watches).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scuttle_c::{
    scuttle_bytes_free, scuttle_config_default, scuttle_event_free, scuttle_gossip_free,
    scuttle_gossip_handle_frame, scuttle_gossip_new, scuttle_gossip_poll_event, scuttle_gossip_set,
    ScuttleBytes, ScuttleConfig, ScuttleEvent, ScuttleGossip, ScuttleStatus,
};
use scuttle_core::codec::LENGTH_PREFIX;
use scuttle_core::{FrameCodec, Message};

/// The clock the node is given: fixed, so runs repeat.
const NOW_MS: u64 = 1_700_000_000_000;
const MAX_MESSAGE_BYTES: usize = 4096;

/// The one call of the entry point under test, at the fixed time `NOW_MS`.
unsafe fn handle_frame(
    gossip: *mut ScuttleGossip,
    frame: &[u8],
    reply: *mut ScuttleBytes,
) -> ScuttleStatus {
    unsafe { scuttle_gossip_handle_frame(gossip, NOW_MS, frame.as_ptr(), frame.len(), reply) }
}

fuzz_target!(|data: &[u8]| {
    // SAFETY: every pointer passed below is valid for the call; the handle is freed once.
    unsafe { run(data) }
});

unsafe fn run(data: &[u8]) {
    let mut config = std::mem::MaybeUninit::<ScuttleConfig>::uninit();
    assert_eq!(
        unsafe { scuttle_config_default(config.as_mut_ptr()) },
        ScuttleStatus::Ok
    );
    // SAFETY: written by scuttle_config_default.
    let mut config = unsafe { config.assume_init() };
    config.max_message_bytes = MAX_MESSAGE_BYTES;
    config.mtu = 4;
    config.tombstone_grace_ms = 1000;
    let id = b"me";
    let mut gossip: *mut ScuttleGossip = std::ptr::null_mut();
    let status = unsafe { scuttle_gossip_new(id.as_ptr(), id.len(), &config, &mut gossip) };
    assert_eq!(status, ScuttleStatus::Ok);
    // Something to send, so replies carry news.
    for (key, value) in [(&b"k"[..], &b"v"[..]), (b"a", b"")] {
        let status = unsafe {
            scuttle_gossip_set(
                gossip,
                NOW_MS,
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(status, ScuttleStatus::Ok);
    }
    let codec = FrameCodec::new(MAX_MESSAGE_BYTES);
    let mut rest = data;
    while !rest.is_empty() {
        let len = match rest.get(..LENGTH_PREFIX) {
            Some(p) => {
                LENGTH_PREFIX + (u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & !(1 << 31)) as usize
            }
            None => rest.len(),
        };
        let (frame, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        let mut reply = ScuttleBytes::empty();
        let status = unsafe { handle_frame(gossip, frame, &mut reply) };
        assert!(
            matches!(
                status,
                ScuttleStatus::Ok | ScuttleStatus::DecodeError | ScuttleStatus::ProtocolError
            ),
            "status {status:?}"
        );
        if !reply.ptr.is_null() {
            assert_eq!(status, ScuttleStatus::Ok);
            // SAFETY: the library hands over `len` readable bytes.
            let bytes = unsafe { std::slice::from_raw_parts(reply.ptr, reply.len) };
            let msg: Result<Message<Vec<u8>, Vec<u8>>, _> = codec.decode_frame(bytes);
            assert!(msg.is_ok(), "a reply the core cannot decode: {msg:?}");
        }
        unsafe { scuttle_bytes_free(&mut reply) };
        loop {
            let mut event = std::mem::MaybeUninit::<ScuttleEvent>::uninit();
            let status = unsafe { scuttle_gossip_poll_event(gossip, event.as_mut_ptr()) };
            // SAFETY: zeroed or filled by the call in every case.
            let mut event = unsafe { event.assume_init() };
            unsafe { scuttle_event_free(&mut event) };
            if status != ScuttleStatus::Ok {
                assert_eq!(status, ScuttleStatus::Empty);
                break;
            }
        }
    }
    unsafe { scuttle_gossip_free(gossip) };
}
