//! The opaque node handle and every call on it.

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::slice;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scuttle_core::codec::to_cbor;
use scuttle_core::{
    Clock, Config, DecodeError, DynResolver, DynSorter, FrameCodec, Gossip, LastWriterWins,
    LastWriterWinsClock, Message, NodeId, ScuttleBreadth, ScuttleDepth, SetError,
    StrictlyOrderedValues, SystemClock, Update,
};

use crate::error::{ffi_call, ffi_void, set_last_error, Failure, FfiResult, ScuttleStatus};
use crate::resolver::{CResolver, ScuttleResolveFn};
use crate::types::{
    ScuttleBytes, ScuttleConfig, ScuttleEntry, ScuttleEvent, ScuttleKeys, SCUTTLE_RESOLVER_LWW,
    SCUTTLE_RESOLVER_LWW_CLOCK, SCUTTLE_RESOLVER_STRICT, SCUTTLE_SORTER_BREADTH,
    SCUTTLE_SORTER_DEPTH,
};

/// The core node the handle wraps: byte-string keys and values, resolver and sorter chosen at
/// run time.
///
/// cbindgen:ignore
type ByteGossip =
    Gossip<Vec<u8>, Vec<u8>, DynResolver<Vec<u8>, Vec<u8>>, DynSorter<Vec<u8>, Vec<u8>>>;

/// A node of the replicated map: an opaque handle made by `scuttle_gossip_new()` or
/// `scuttle_gossip_new_with_resolver()` and released by `scuttle_gossip_free()`.
///
/// Thread safety: a handle may be moved between threads but must be used by one thread at a
/// time; the library does not lock it for you. A call that finds the handle in use by another
/// call returns `SCUTTLE_STATUS_BUSY` instead of racing. Different handles are independent and
/// may be used from different threads at once.
pub struct ScuttleGossip {
    busy: AtomicBool,
    poisoned: AtomicBool,
    node: UnsafeCell<Node>,
}

struct Node {
    gossip: ByteGossip,
    codec: FrameCodec,
    /// Milliseconds since the epoch set by `scuttle_gossip_set_time`; 0 = the system clock.
    time: Arc<AtomicU64>,
    /// Where a C resolver reports a caught panic.
    resolver_panic: Option<Arc<Mutex<Option<String>>>>,
}

/// The handle's clock: a time set by the application, or the system clock.
struct HandleClock(Arc<AtomicU64>);

impl Clock for HandleClock {
    fn now_millis(&self) -> u64 {
        match self.0.load(Ordering::SeqCst) {
            0 => SystemClock.now_millis(),
            set => set,
        }
    }
}

/// Releases the busy flag when a call ends, and poisons the handle if it ends in a panic.
struct BusyGuard<'a>(&'a ScuttleGossip);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.store(true, Ordering::SeqCst);
        }
        self.0.busy.store(false, Ordering::Release);
    }
}

/// Runs `f` on the node behind `handle`, refusing NULL, busy and poisoned handles, and turning a
/// panic caught inside a C resolver into `SCUTTLE_STATUS_PANIC`.
///
/// # Safety
/// `handle` must be NULL or a live handle.
unsafe fn with_node<T>(
    handle: *const ScuttleGossip,
    f: impl FnOnce(&mut Node) -> Result<T, Failure>,
) -> Result<T, Failure> {
    // SAFETY: the caller guarantees the pointer is NULL or a live handle.
    let handle = unsafe { handle.as_ref() }.ok_or_else(|| Failure::invalid("gossip is NULL"))?;
    if handle
        .busy
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return Err(Failure::new(
            ScuttleStatus::Busy,
            "the handle is in use by another call (a resolver callback calling back into its \
             own handle, or two threads at once)",
        ));
    }
    let _guard = BusyGuard(handle);
    if handle.poisoned.load(Ordering::SeqCst) {
        return Err(Failure::new(
            ScuttleStatus::Panic,
            "the handle is unusable after an earlier panic inside the library; free it",
        ));
    }
    // SAFETY: the busy flag, just taken, gives this call the only access to the node.
    let node = unsafe { &mut *handle.node.get() };
    let out = f(node);
    if let Some(slot) = &node.resolver_panic {
        if let Some(message) = slot.lock().ok().and_then(|mut m| m.take()) {
            return Err(Failure::new(
                ScuttleStatus::Panic,
                format!("panic in the resolver callback (contained, update refused): {message}"),
            ));
        }
    }
    out
}

/// Runs `f` while holding the handle, for tests that simulate a bug inside a call.
///
/// # Safety
/// As [`with_node`].
#[cfg(test)]
pub(crate) unsafe fn with_node_for_tests(
    handle: *const ScuttleGossip,
    f: impl FnOnce(),
) -> FfiResult {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_node(handle, |_| {
            f();
            Ok(())
        })
    }
}

/// Borrows a byte-string argument, refusing NULL with a non-zero length and impossible lengths.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes that outlive the call.
unsafe fn bytes_arg<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], Failure> {
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!("{name}_len {len} is too large")));
    }
    if ptr.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Failure::invalid(format!(
            "{name} is NULL but {name}_len is {len}"
        )));
    }
    // SAFETY: non-NULL, length checked; the caller guarantees `len` readable bytes.
    Ok(unsafe { slice::from_raw_parts(ptr, len) })
}

/// A node id argument: non-empty UTF-8.
///
/// # Safety
/// As [`bytes_arg`].
unsafe fn node_id_arg(ptr: *const u8, len: usize, name: &str) -> Result<NodeId, Failure> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { bytes_arg(ptr, len, name) }?;
    if bytes.is_empty() {
        return Err(Failure::invalid(format!("{name} is empty")));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Failure::invalid(format!("{name} is not UTF-8: {e}")))?;
    Ok(NodeId::from(text))
}

/// Checks an out-pointer and writes `value` through it.
///
/// # Safety
/// `out` must be NULL or writable.
unsafe fn write_out<T>(out: *mut T, value: T, name: &str) -> FfiResult {
    if out.is_null() {
        return Err(Failure::invalid(format!("{name} is NULL")));
    }
    // SAFETY: checked non-NULL; the caller guarantees it is writable.
    unsafe { out.write(value) };
    Ok(())
}

/// Writes through an optional out-pointer (NULL means "not wanted").
///
/// # Safety
/// `out` must be NULL or writable.
unsafe fn write_optional<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL; the caller guarantees it is writable.
        unsafe { out.write(value) };
    }
}

fn core_config(c: &ScuttleConfig) -> Result<Config, Failure> {
    let grace = match c.tombstone_grace_ms {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    };
    let config = Config::default()
        .with_mtu(c.mtu)
        .with_max_history(c.max_history)
        .with_tombstone_grace(grace)
        .with_max_frame_size(c.max_frame_size);
    config
        .validate()
        .map_err(|e| Failure::invalid(format!("invalid config: {e}")))?;
    Ok(config)
}

fn builtin_resolver(kind: u32) -> Result<DynResolver<Vec<u8>, Vec<u8>>, Failure> {
    Ok(match kind {
        SCUTTLE_RESOLVER_LWW => Box::new(LastWriterWins),
        SCUTTLE_RESOLVER_STRICT => Box::new(StrictlyOrderedValues),
        SCUTTLE_RESOLVER_LWW_CLOCK => Box::new(LastWriterWinsClock),
        other => {
            return Err(Failure::invalid(format!(
                "invalid config: unknown resolver {other}"
            )))
        }
    })
}

fn builtin_sorter(kind: u32) -> Result<DynSorter<Vec<u8>, Vec<u8>>, Failure> {
    Ok(match kind {
        SCUTTLE_SORTER_BREADTH => Box::new(ScuttleBreadth),
        SCUTTLE_SORTER_DEPTH => Box::new(ScuttleDepth),
        other => {
            return Err(Failure::invalid(format!(
                "invalid config: unknown sorter {other}"
            )))
        }
    })
}

/// The shared body of both constructors.
///
/// # Safety
/// As `scuttle_gossip_new`.
unsafe fn new_handle(
    id: *const u8,
    id_len: usize,
    config: *const ScuttleConfig,
    custom: Option<CResolver>,
    out: *mut *mut ScuttleGossip,
) -> FfiResult {
    if out.is_null() {
        return Err(Failure::invalid("out is NULL"));
    }
    // SAFETY: checked non-NULL; the caller guarantees it is writable.
    unsafe { out.write(std::ptr::null_mut()) };
    // SAFETY: forwarded from the caller.
    let id = unsafe { node_id_arg(id, id_len, "id") }?;
    // SAFETY: the caller guarantees `config` is NULL or readable.
    let c = unsafe { config.as_ref() }.copied().unwrap_or_default();
    let core = core_config(&c)?;
    let sorter = builtin_sorter(c.sorter)?;
    let (resolver, resolver_panic): (DynResolver<Vec<u8>, Vec<u8>>, _) = match custom {
        Some(r) => {
            let slot = Arc::clone(&r.panicked);
            (Box::new(r), Some(slot))
        }
        None => (builtin_resolver(c.resolver)?, None),
    };
    let time = Arc::new(AtomicU64::new(0));
    let codec = FrameCodec::new(core.max_frame_size);
    let gossip = Gossip::new(id, core, resolver, sorter)
        .map_err(|e| Failure::invalid(format!("invalid config: {e}")))?
        .with_clock(HandleClock(Arc::clone(&time)));
    let handle = Box::new(ScuttleGossip {
        busy: AtomicBool::new(false),
        poisoned: AtomicBool::new(false),
        node: UnsafeCell::new(Node {
            gossip,
            codec,
            time,
            resolver_panic,
        }),
    });
    // SAFETY: checked non-NULL above.
    unsafe { out.write(Box::into_raw(handle)) };
    Ok(())
}

/// Creates a node with a built-in resolver.
///
/// \param id The node's id (its source id): non-empty UTF-8, `id_len` bytes, copied.
/// \param id_len Length of `id` in bytes.
/// \param config The configuration, copied; NULL for the defaults (`scuttle_config_default()`).
/// \param out Where to write the new handle (NULL is written on failure).
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL `out`, an empty or
/// non-UTF-8 id, or a configuration that breaks a constraint (mtu 0, max_frame_size below 64,
/// an unknown resolver or sorter).
///
/// The caller owns the handle and releases it with `scuttle_gossip_free()`.
///
/// # Safety
/// `id` must point to `id_len` readable bytes (or be NULL with `id_len` 0, which is refused);
/// `config` must be NULL or point to a readable `ScuttleConfig`; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_new(
    id: *const u8,
    id_len: usize,
    config: *const ScuttleConfig,
    out: *mut *mut ScuttleGossip,
) -> ScuttleStatus {
    // SAFETY: forwarded from the caller.
    ffi_call(|| unsafe { new_handle(id, id_len, config, None, out) })
}

/// Creates a node whose resolver is a C callback.
///
/// \param id The node's id: non-empty UTF-8, `id_len` bytes, copied.
/// \param id_len Length of `id` in bytes.
/// \param config The configuration, copied (its `resolver` field is ignored); NULL for the
/// defaults.
/// \param resolve The callback deciding whether an incoming update replaces the current entry
/// (see `ScuttleResolveFn`); must not be NULL.
/// \param user_data Passed to every call of `resolve`; may be NULL. The library never frees it.
/// \param out Where to write the new handle (NULL is written on failure).
/// \return `SCUTTLE_STATUS_OK`, or `SCUTTLE_STATUS_INVALID_ARGUMENT` (as `scuttle_gossip_new`,
/// or a NULL `resolve`).
///
/// If a panic unwinds out of the callback (a callback written in Rust), it is caught: the
/// update is refused and the call that ran the resolver returns `SCUTTLE_STATUS_PANIC`.
///
/// # Safety
/// As `scuttle_gossip_new`. `resolve` must be safe to call with `user_data` until the handle is
/// freed, from whichever thread uses the handle; `user_data` must outlive the handle.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_new_with_resolver(
    id: *const u8,
    id_len: usize,
    config: *const ScuttleConfig,
    resolve: ScuttleResolveFn,
    user_data: *mut c_void,
    out: *mut *mut ScuttleGossip,
) -> ScuttleStatus {
    ffi_call(|| {
        let Some(resolve) = resolve else {
            if !out.is_null() {
                // SAFETY: non-NULL; the caller guarantees it is writable.
                unsafe { out.write(std::ptr::null_mut()) };
            }
            return Err(Failure::invalid("resolve is NULL"));
        };
        let custom = CResolver::new(resolve, user_data);
        // SAFETY: forwarded from the caller.
        unsafe { new_handle(id, id_len, config, Some(custom), out) }
    })
}

/// Releases a node and everything it holds. NULL is accepted and does nothing.
///
/// Buffers, entries, events and key lists obtained from the node stay valid: they belong to the
/// caller. A handle in use by another call (for example freed from inside its own resolver
/// callback) is not freed; the failure is recorded in `scuttle_last_error()`.
///
/// \param gossip The node; it must not be used afterwards.
///
/// # Safety
/// `gossip` must be NULL or a handle not yet freed; it must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_free(gossip: *mut ScuttleGossip) {
    ffi_void(|| {
        // SAFETY: the caller guarantees NULL or a live handle.
        let Some(handle) = (unsafe { gossip.as_ref() }) else {
            return;
        };
        if handle.busy.load(Ordering::Acquire) {
            set_last_error("scuttle_gossip_free: the handle is in use by another call; not freed");
            return;
        }
        // SAFETY: made by `Box::into_raw` in `new_handle`, not freed before (caller's promise).
        drop(unsafe { Box::from_raw(gossip) });
    })
}

/// Copies the node's id.
///
/// \param gossip The node.
/// \param out Where to write the id (UTF-8, library-owned: release with `scuttle_bytes_free()`).
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer,
/// `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_id(
    gossip: *const ScuttleGossip,
    out: *mut ScuttleBytes,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { write_out(out, ScuttleBytes::empty(), "out") }?;
        // SAFETY: forwarded from the caller.
        let id = unsafe { with_node(gossip, |n| Ok(n.gossip.id().clone())) }?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(ScuttleBytes::copy(id.as_str().as_bytes())) };
        Ok(())
    })
}

/// Conservatively decides whether a write of `key`/`value` by `source` could exceed the frame
/// size once encoded, and if the cheap bound says maybe, encodes the worst case to be sure.
fn check_fits(node: &Node, key: &[u8], value: Option<&[u8]>) -> FfiResult {
    let max = node.codec.max_frame_size();
    let id = node.gossip.id();
    let raw = key.len() + value.map_or(0, <[u8]>::len);
    // Each byte of a Vec<u8> takes at most 2 CBOR bytes; the fixed fields fit in 160.
    if raw.saturating_mul(2) + id.as_str().len() + 160 <= max {
        return Ok(());
    }
    let worst: Message<Vec<u8>, Vec<u8>> = Message::Update {
        update: Update {
            key: key.to_vec(),
            value: value.map(<[u8]>::to_vec),
            source_id: id.clone(),
            version: u64::MAX,
            timestamp: u64::MAX,
        },
        prev: Some(u64::MAX - 1),
    };
    let len = to_cbor(&worst)
        .map_err(|e| Failure::new(ScuttleStatus::EncodeError, e.to_string()))?
        .len();
    if len > max {
        return Err(Failure::invalid(format!(
            "key and value encode to {len} bytes, more than max_frame_size ({max})"
        )));
    }
    Ok(())
}

fn set_failure(e: SetError) -> Failure {
    match e {
        SetError::Rejected => Failure::new(
            ScuttleStatus::Rejected,
            "the resolver rejected the write; nothing changed",
        ),
        SetError::VersionOverflow => {
            Failure::new(ScuttleStatus::VersionOverflow, "version counter overflow")
        }
        other => Failure::new(ScuttleStatus::Rejected, other.to_string()),
    }
}

/// Writes `key = value` on this node.
///
/// \param gossip The node.
/// \param key The key, `key_len` bytes, copied (may be empty).
/// \param key_len Length of `key`.
/// \param value The value, `value_len` bytes, copied (may be empty).
/// \param value_len Length of `value`.
/// \param version_out Where to write the write's version; may be NULL.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_REJECTED` if the resolver refused (nothing
/// changed, not even the version); `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer with a
/// non-zero length, or a key and value too large for one frame; `SCUTTLE_STATUS_BUSY`;
/// `SCUTTLE_STATUS_PANIC` if a resolver callback panicked; `SCUTTLE_STATUS_VERSION_OVERFLOW`.
///
/// Queues an UPDATE event.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `key` and `value` must be NULL or point to their
/// lengths in readable bytes; `version_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_set(
    gossip: *mut ScuttleGossip,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    version_out: *mut u64,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let key = unsafe { bytes_arg(key, key_len, "key") }?;
        // SAFETY: forwarded from the caller.
        let value = unsafe { bytes_arg(value, value_len, "value") }?;
        // SAFETY: forwarded from the caller.
        let version = unsafe {
            with_node(gossip, |n| {
                check_fits(n, key, Some(value))?;
                n.gossip
                    .set(key.to_vec(), value.to_vec())
                    .map_err(set_failure)
            })
        }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_optional(version_out, version) };
        Ok(())
    })
}

/// Deletes `key` by writing a tombstone (also when the key is unknown here, so the delete wins
/// over older writes still on their way).
///
/// \param gossip The node.
/// \param key The key, `key_len` bytes.
/// \param key_len Length of `key`.
/// \param version_out Where to write the delete's version; may be NULL.
/// \return As `scuttle_gossip_set` (`SCUTTLE_STATUS_REJECTED` when the resolver refuses the
/// delete, as `SCUTTLE_RESOLVER_STRICT` does for a key that holds a value).
///
/// # Safety
/// `gossip` must be NULL or a live handle; `key` must be NULL or point to `key_len` readable
/// bytes; `version_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_delete(
    gossip: *mut ScuttleGossip,
    key: *const u8,
    key_len: usize,
    version_out: *mut u64,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let key = unsafe { bytes_arg(key, key_len, "key") }?;
        // SAFETY: forwarded from the caller.
        let version = unsafe {
            with_node(gossip, |n| {
                check_fits(n, key, None)?;
                n.gossip.delete(key.to_vec()).map_err(set_failure)
            })
        }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_optional(version_out, version) };
        Ok(())
    })
}

/// Copies the entry of `key`.
///
/// \param gossip The node.
/// \param key The key, `key_len` bytes.
/// \param key_len Length of `key`.
/// \param out Where to write the entry; zeroed first. On `SCUTTLE_STATUS_OK` it holds the value,
/// version, source id and timestamp; on `SCUTTLE_STATUS_DELETED` the tombstone's version,
/// source id and timestamp (no value). Release it with `scuttle_entry_free()` in both cases
/// (harmless on a zeroed entry).
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_NOT_FOUND` if the key is unknown;
/// `SCUTTLE_STATUS_DELETED` if it was deleted; `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL
/// pointer; `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `key` must be NULL or point to `key_len` readable
/// bytes; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_get(
    gossip: *const ScuttleGossip,
    key: *const u8,
    key_len: usize,
    out: *mut ScuttleEntry,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { write_out(out, ScuttleEntry::empty(), "out") }?;
        // SAFETY: forwarded from the caller.
        let key = unsafe { bytes_arg(key, key_len, "key") }?;
        // SAFETY: forwarded from the caller.
        let entry =
            unsafe { with_node(gossip, |n| Ok(n.gossip.get(key).map(ScuttleEntry::copy))) }?;
        let Some(entry) = entry else {
            return Err(Failure::new(ScuttleStatus::NotFound, "no such key"));
        };
        let deleted = entry.deleted;
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(entry) };
        if deleted {
            return Err(Failure::new(ScuttleStatus::Deleted, "the key was deleted"));
        }
        Ok(())
    })
}

/// The number of live keys (deleted keys not counted).
///
/// \param gossip The node.
/// \param out Where to write the count.
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer,
/// `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_len(
    gossip: *const ScuttleGossip,
    out: *mut usize,
) -> ScuttleStatus {
    ffi_call(|| {
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        // SAFETY: forwarded from the caller.
        let len = unsafe { with_node(gossip, |n| Ok(n.gossip.len())) }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_out(out, len, "out") }
    })
}

/// Takes a snapshot of the live keys, sorted in byte order.
///
/// \param gossip The node.
/// \param out Where to write the new list (NULL is written on failure). Read it with
/// `scuttle_keys_len()` and `scuttle_keys_get()`; release it with `scuttle_keys_free()`.
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer,
/// `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_keys(
    gossip: *const ScuttleGossip,
    out: *mut *mut ScuttleKeys,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { write_out(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: forwarded from the caller.
        let mut keys = unsafe {
            with_node(gossip, |n| {
                Ok(n.gossip.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>())
            })
        }?;
        keys.sort_unstable();
        for key in &mut keys {
            key.push(0);
        }
        let list = Box::into_raw(Box::new(ScuttleKeys { keys }));
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(list) };
        Ok(())
    })
}

/// The node's version: the highest version it has seen from anyone (0 for a fresh node).
///
/// \param gossip The node.
/// \param out Where to write the version.
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer,
/// `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_version(
    gossip: *const ScuttleGossip,
    out: *mut u64,
) -> ScuttleStatus {
    ffi_call(|| {
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        // SAFETY: forwarded from the caller.
        let version = unsafe { with_node(gossip, |n| Ok(n.gossip.version())) }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_out(out, version, "out") }
    })
}

/// Starts an exchange with a peer: queues this node's digest for it. Then drain
/// `scuttle_gossip_poll_transmit()` and deliver the frames to the peer.
///
/// \param gossip The node.
/// \param peer The peer's id: non-empty UTF-8, not this node's own id.
/// \param peer_len Length of `peer`.
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_INVALID_ARGUMENT`, `SCUTTLE_STATUS_BUSY`.
///
/// Also collects expired tombstones first (which may queue a TOMBSTONES_COLLECTED event).
///
/// # Safety
/// `gossip` must be NULL or a live handle; `peer` must be NULL or point to `peer_len` readable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_gossip(
    gossip: *mut ScuttleGossip,
    peer: *const u8,
    peer_len: usize,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let peer = unsafe { node_id_arg(peer, peer_len, "peer") }?;
        // SAFETY: forwarded from the caller.
        unsafe {
            with_node(gossip, |n| {
                if &peer == n.gossip.id() {
                    return Err(Failure::invalid("a node cannot gossip with itself"));
                }
                n.gossip.gossip(&peer);
                Ok(())
            })
        }
    })
}

/// Takes the next outgoing message, encoded as one frame: a 4-byte big-endian length, then
/// that many bytes of CBOR (`scuttle_core::FrameCodec`).
///
/// \param gossip The node.
/// \param peer_out Where to write the id of the peer to send it to (library-owned).
/// \param frame_out Where to write the frame (library-owned).
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_EMPTY` when nothing waits (both outputs
/// `{NULL, 0}`); `SCUTTLE_STATUS_ENCODE_ERROR` if the message does not fit in
/// `max_frame_size` (it is dropped; the next exchange retries); `SCUTTLE_STATUS_INVALID_ARGUMENT`
/// for a NULL pointer; `SCUTTLE_STATUS_BUSY`.
///
/// Both outputs are zeroed first; release them with `scuttle_bytes_free()`. Drain this after
/// every `scuttle_gossip_gossip()` and `scuttle_gossip_handle_frame()` until it returns
/// `SCUTTLE_STATUS_EMPTY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `peer_out` and `frame_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_poll_transmit(
    gossip: *mut ScuttleGossip,
    peer_out: *mut ScuttleBytes,
    frame_out: *mut ScuttleBytes,
) -> ScuttleStatus {
    ffi_call(|| {
        // Zero both outputs before any check, so the caller can always free them.
        // SAFETY: the caller guarantees each is NULL or writable.
        unsafe {
            write_optional(peer_out, ScuttleBytes::empty());
            write_optional(frame_out, ScuttleBytes::empty());
        }
        if peer_out.is_null() || frame_out.is_null() {
            return Err(Failure::invalid("peer_out or frame_out is NULL"));
        }
        // SAFETY: forwarded from the caller.
        let (peer, frame) = unsafe {
            with_node(gossip, |n| {
                let (peer, msg) = n.gossip.poll_transmit().ok_or_else(|| {
                    Failure::new(ScuttleStatus::Empty, "no message waits to be sent")
                })?;
                let mut frame = Vec::new();
                n.codec.encode(&msg, &mut frame).map_err(|e| {
                    Failure::new(
                        ScuttleStatus::EncodeError,
                        format!("message for {peer} dropped: {e}"),
                    )
                })?;
                Ok((peer, frame))
            })
        }?;
        // SAFETY: both checked non-NULL by the first writes.
        unsafe {
            peer_out.write(ScuttleBytes::copy(peer.as_str().as_bytes()));
            frame_out.write(ScuttleBytes::copy(&frame));
        }
        Ok(())
    })
}

/// Hands in one frame received from a peer (exactly one whole frame, length prefix included).
///
/// \param gossip The node.
/// \param peer The id of the peer that sent it: non-empty UTF-8.
/// \param peer_len Length of `peer`.
/// \param frame The frame, `frame_len` bytes, read during the call only.
/// \param frame_len Length of `frame`.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_DECODE_ERROR` for a malformed, truncated,
/// oversize frame or one with trailing bytes; `SCUTTLE_STATUS_PROTOCOL_ERROR` for a
/// well-formed message that breaks the protocol (in both cases nothing changed);
/// `SCUTTLE_STATUS_INVALID_ARGUMENT`; `SCUTTLE_STATUS_BUSY`; `SCUTTLE_STATUS_PANIC` if a resolver
/// callback panicked.
///
/// Then drain `scuttle_gossip_poll_transmit()` (answers) and `scuttle_gossip_poll_event()`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `peer` and `frame` must be NULL or point to their
/// lengths in readable bytes.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_handle_frame(
    gossip: *mut ScuttleGossip,
    peer: *const u8,
    peer_len: usize,
    frame: *const u8,
    frame_len: usize,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let peer = unsafe { node_id_arg(peer, peer_len, "peer") }?;
        // SAFETY: forwarded from the caller.
        let frame = unsafe { bytes_arg(frame, frame_len, "frame") }?;
        // SAFETY: forwarded from the caller.
        unsafe {
            with_node(gossip, |n| {
                let msg = n
                    .codec
                    .decode_frame::<Vec<u8>, Vec<u8>>(frame)
                    .map_err(|e| match e {
                        DecodeError::Invalid(p) => Failure::new(
                            ScuttleStatus::ProtocolError,
                            format!("invalid message from {peer}: {p}"),
                        ),
                        other => Failure::new(
                            ScuttleStatus::DecodeError,
                            format!("bad frame from {peer}: {other}"),
                        ),
                    })?;
                n.gossip.receive(&peer, msg).map_err(|e| {
                    Failure::new(
                        ScuttleStatus::ProtocolError,
                        format!("invalid message from {peer}: {e}"),
                    )
                })
            })
        }
    })
}

/// Takes the next event, oldest first.
///
/// \param gossip The node.
/// \param out Where to write the event; zeroed first. Release it with `scuttle_event_free()`.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_EMPTY` when no event waits;
/// `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer; `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_poll_event(
    gossip: *mut ScuttleGossip,
    out: *mut ScuttleEvent,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { write_out(out, ScuttleEvent::empty(), "out") }?;
        // SAFETY: forwarded from the caller.
        let event = unsafe {
            with_node(gossip, |n| {
                n.gossip
                    .poll_event()
                    .map(|e| ScuttleEvent::copy(&e))
                    .ok_or_else(|| Failure::new(ScuttleStatus::Empty, "no event waits"))
            })
        }?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(event) };
        Ok(())
    })
}

/// Drops what is pending for a peer (a half-received digest and unsent frames), for example
/// when its connection closes.
///
/// \param gossip The node.
/// \param peer The peer's id: non-empty UTF-8.
/// \param peer_len Length of `peer`.
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_INVALID_ARGUMENT`, `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `peer` must be NULL or point to `peer_len` readable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_forget_peer(
    gossip: *mut ScuttleGossip,
    peer: *const u8,
    peer_len: usize,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let peer = unsafe { node_id_arg(peer, peer_len, "peer") }?;
        // SAFETY: forwarded from the caller.
        unsafe {
            with_node(gossip, |n| {
                n.gossip.forget_peer(&peer);
                Ok(())
            })
        }
    })
}

/// Sets the node's clock, which stamps local writes (for `SCUTTLE_RESOLVER_LWW_CLOCK`) and
/// decides when tombstones expire.
///
/// \param gossip The node.
/// \param now_ms Milliseconds since the Unix epoch; 0 returns to the system clock (the default).
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL handle,
/// `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_set_time(
    gossip: *mut ScuttleGossip,
    now_ms: u64,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        unsafe {
            with_node(gossip, |n| {
                n.time.store(now_ms, Ordering::SeqCst);
                Ok(())
            })
        }
    })
}

/// Forgets tombstones older than the grace period (by the node's clock) now. `scuttle_gossip_gossip()`
/// also does this.
///
/// \param gossip The node.
/// \param count_out Where to write how many were collected; may be NULL.
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL handle,
/// `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `count_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_collect_tombstones(
    gossip: *mut ScuttleGossip,
    count_out: *mut usize,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let count = unsafe { with_node(gossip, |n| Ok(n.gossip.collect_tombstones())) }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_optional(count_out, count) };
        Ok(())
    })
}
