//! The opaque node handle and every call on it.

use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::panic::catch_unwind;
use std::path::Path;
use std::slice;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scuttle_core::{
    Config, DynResolver, DynSorter, FrameCodec, Gossip, Message, NodeId, ReceiveError, SetError,
};

use crate::error::{ffi_call, ffi_void, set_last_error, Failure, FfiResult, ScuttleStatus};
use crate::resolver::{CResolver, CallbackError, ScuttleResolveFn};
use crate::store::{open_store, store_failure};
use crate::types::{
    read_config, resolver_kind, sorter_kind, versions_kind, ScuttleBytes, ScuttleConfig,
    ScuttleEntry, ScuttleEvent, ScuttleKeys,
};

/// The core node the handle wraps: byte-string keys and values, resolver and sorter chosen at
/// run time. A C resolver fails with [`CallbackError`]; the built-ins never fail.
///
/// cbindgen:ignore
pub(crate) type ByteGossip = Gossip<
    Vec<u8>,
    Vec<u8>,
    DynResolver<Vec<u8>, Vec<u8>, CallbackError>,
    DynSorter<Vec<u8>, Vec<u8>>,
>;

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

pub(crate) struct Node {
    pub(crate) gossip: ByteGossip,
    /// Frames of at most `max_message_bytes` body bytes, both ways.
    codec: FrameCodec,
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

/// Runs `f` on the node behind `handle`, refusing NULL, busy and poisoned handles.
///
/// # Safety
/// `handle` must be NULL or a live handle.
pub(crate) unsafe fn with_node<T>(
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
    f(node)
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
pub(crate) unsafe fn bytes_arg<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
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

/// A period in milliseconds where 0 means "off".
fn optional_ms(ms: u64) -> Option<Duration> {
    (ms != 0).then(|| Duration::from_millis(ms))
}

fn core_config(c: &ScuttleConfig) -> Result<Config, Failure> {
    let versions = versions_kind(c.versions).ok_or_else(|| {
        Failure::invalid(format!(
            "invalid config: unknown versions {} (expected SCUTTLE_VERSIONS_COUNTER or \
             SCUTTLE_VERSIONS_HYBRID)",
            c.versions
        ))
    })?;
    let config = Config::default()
        .with_mtu(c.mtu)
        .with_max_message_bytes(c.max_message_bytes)
        .with_max_history(c.max_history)
        .with_tombstone_grace(optional_ms(c.tombstone_grace_ms))
        .with_versions(versions)
        .with_max_clock_skew(Duration::from_millis(c.max_clock_skew_ms))
        .with_catch_up(optional_ms(c.catch_up_ms));
    config
        .validate()
        .map_err(|e| Failure::invalid(format!("invalid config: {e}")))?;
    Ok(config)
}

/// The shared body of the constructors: a node in memory, or (with `path`) kept in the
/// store at `path`.
///
/// # Safety
/// As `scuttle_gossip_new`.
pub(crate) unsafe fn new_handle(
    id: *const u8,
    id_len: usize,
    config: *const ScuttleConfig,
    custom: Option<CResolver>,
    path: Option<&Path>,
    out: *mut *mut ScuttleGossip,
) -> FfiResult {
    if out.is_null() {
        return Err(Failure::invalid("out is NULL"));
    }
    // SAFETY: checked non-NULL; the caller guarantees it is writable.
    unsafe { out.write(std::ptr::null_mut()) };
    // SAFETY: forwarded from the caller.
    let id = unsafe { node_id_arg(id, id_len, "id") }?;
    // SAFETY: the caller guarantees `config` is NULL or readable in the layout it names.
    let c = unsafe { read_config(config) }?;
    let core = core_config(&c)?;
    let sorter = sorter_kind(c.sorter)
        .ok_or_else(|| {
            Failure::invalid(format!(
                "invalid config: unknown sorter {} (expected SCUTTLE_SORTER_BREADTH or \
                 SCUTTLE_SORTER_DEPTH)",
                c.sorter
            ))
        })?
        .boxed();
    let resolver: DynResolver<Vec<u8>, Vec<u8>, CallbackError> = match custom {
        Some(r) => Box::new(r),
        None => resolver_kind(c.resolver)
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "invalid config: unknown resolver {} (expected SCUTTLE_RESOLVER_LWW, \
                     SCUTTLE_RESOLVER_STRICT or SCUTTLE_RESOLVER_LWW_CLOCK)",
                    c.resolver
                ))
            })?
            .boxed(),
    };
    let codec = FrameCodec::new(core.max_message_bytes);
    let gossip = Gossip::new(id.clone(), core, resolver, sorter)
        .map_err(|e| Failure::invalid(format!("invalid config: {e}")))?;
    let gossip = match path {
        Some(path) => open_store(gossip, path, &id)?,
        None => gossip,
    };
    let handle = Box::new(ScuttleGossip {
        busy: AtomicBool::new(false),
        poisoned: AtomicBool::new(false),
        node: UnsafeCell::new(Node { gossip, codec }),
    });
    // SAFETY: checked non-NULL above.
    unsafe { out.write(Box::into_raw(handle)) };
    Ok(())
}

/// The failure of a refused call whose resolver callback failed.
fn callback_failure(e: CallbackError) -> Failure {
    let status = match e {
        CallbackError::Failed(_) => ScuttleStatus::CallbackError,
        CallbackError::Panicked(_) => ScuttleStatus::Panic,
    };
    Failure::new(status, format!("{e}; nothing changed"))
}

fn set_failure(e: SetError<CallbackError>) -> Failure {
    match e {
        SetError::Rejected => Failure::new(
            ScuttleStatus::Rejected,
            "the resolver rejected the write; nothing changed",
        ),
        SetError::VersionOverflow => Failure::new(
            ScuttleStatus::VersionOverflow,
            "version counter overflow; nothing changed",
        ),
        SetError::TooLarge { len, max } => Failure::new(
            ScuttleStatus::TooLarge,
            format!(
                "the write is too large: it needs a message of {len} bytes, above \
                 max_message_bytes = {max}; nothing changed"
            ),
        ),
        SetError::Policy(e) => callback_failure(e),
        SetError::CatchingUp => Failure::new(
            ScuttleStatus::CatchingUp,
            "the node started empty and has not caught up with a peer yet (catch_up_ms); \
             retry after an exchange; nothing changed",
        ),
        SetError::Store(e) => store_failure(&e, "the write was not made"),
        other => Failure::new(ScuttleStatus::Rejected, format!("{other}; nothing changed")),
    }
}

fn receive_failure(e: ReceiveError<CallbackError>) -> Failure {
    match e {
        ReceiveError::Protocol(p) => Failure::new(
            ScuttleStatus::ProtocolError,
            format!("invalid message: {p}; nothing changed"),
        ),
        ReceiveError::Policy(e) => callback_failure(e),
        ReceiveError::Sort(e) => Failure::new(
            ScuttleStatus::CallbackError,
            format!("{e}; nothing changed"),
        ),
        ReceiveError::Store(e) => store_failure(&e, "the message was not applied"),
        other => Failure::new(
            ScuttleStatus::ProtocolError,
            format!("message refused: {other}; nothing changed"),
        ),
    }
}

/// Encodes a message into one frame handed to the caller.
fn frame_of(node: &Node, msg: &Message<Vec<u8>, Vec<u8>>) -> Result<ScuttleBytes, Failure> {
    let mut frame = Vec::new();
    node.codec
        .encode(msg, &mut frame)
        .map_err(|e| Failure::new(ScuttleStatus::EncodeError, e.to_string()))?;
    Ok(ScuttleBytes::from_vec(frame))
}

/// The system clock: milliseconds since the Unix epoch.
///
/// scuttle itself never reads a clock; pass this (or any clock of your own) as `now_ms` to
/// `scuttle_gossip_set()`, `scuttle_gossip_delete()`, `scuttle_gossip_handle_frame()` and
/// `scuttle_gossip_handle_timeout()`.
///
/// \return Milliseconds since 1970-01-01T00:00:00Z, or 0 if the system clock reads earlier.
#[no_mangle]
pub extern "C" fn scuttle_now_ms() -> u64 {
    catch_unwind(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    })
    .unwrap_or(0)
}

/// Creates a node with a built-in resolver.
///
/// \param id The node's id (its source id): non-empty UTF-8, `id_len` bytes, copied.
/// \param id_len Length of `id` in bytes.
/// \param config The configuration, copied; NULL for the defaults (`scuttle_config_default()`).
/// \param out Where to write the new handle (NULL is written on failure).
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL `out`, an empty or
/// non-UTF-8 id, or a configuration that breaks a constraint (a `version` other than
/// `SCUTTLE_CONFIG_VERSION` or 2, mtu 0, max_message_bytes below `SCUTTLE_MIN_MESSAGE_BYTES`, an
/// unknown resolver or sorter).
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
    ffi_call(|| unsafe { new_handle(id, id_len, config, None, None, out) })
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
/// When the callback returns an error (`SCUTTLE_DECISION_ERROR`), the call that ran it
/// (`scuttle_gossip_set`, `scuttle_gossip_delete`, `scuttle_gossip_handle_frame`) returns
/// `SCUTTLE_STATUS_CALLBACK_ERROR` and changes nothing. If a panic unwinds out of the callback
/// (one written in Rust), it is caught in the same way and the call returns
/// `SCUTTLE_STATUS_PANIC`; the handle stays usable.
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
        unsafe { new_handle(id, id_len, config, Some(custom), None, out) }
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

/// Writes `key = value` on this node.
///
/// \param gossip The node.
/// \param now_ms The time of the write, in milliseconds since the Unix epoch on your clock
/// (`scuttle_now_ms()` reads the system clock). It stamps the write (`timestamp_ms`, which
/// `SCUTTLE_RESOLVER_LWW_CLOCK` compares) and starts a delete's tombstone grace period.
/// \param key The key, `key_len` bytes, copied (may be empty).
/// \param key_len Length of `key`.
/// \param value The value, `value_len` bytes, copied (may be empty).
/// \param value_len Length of `value`.
/// \param version_out Where to write the write's version; may be NULL.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_REJECTED` if the resolver refused;
/// `SCUTTLE_STATUS_TOO_LARGE` if the key and value could never fit one message of
/// `max_message_bytes`; `SCUTTLE_STATUS_CALLBACK_ERROR` or `SCUTTLE_STATUS_PANIC` if a resolver
/// callback failed or panicked; `SCUTTLE_STATUS_VERSION_OVERFLOW`; `SCUTTLE_STATUS_CATCHING_UP`
/// if the node started empty and has not caught up with a peer yet (`catch_up_ms`);
/// `SCUTTLE_STATUS_STORE_ERROR` if the node's store failed; in all these cases nothing
/// changed, not even the version. `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer with a
/// non-zero length; `SCUTTLE_STATUS_BUSY`.
///
/// Queues an UPDATE event. With a store, the write is durable when the call returns OK (see
/// `scuttle_gossip_open`).
///
/// # Safety
/// `gossip` must be NULL or a live handle; `key` and `value` must be NULL or point to their
/// lengths in readable bytes; `version_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_set(
    gossip: *mut ScuttleGossip,
    now_ms: u64,
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
                n.gossip
                    .set(now_ms, key.to_vec(), value.to_vec())
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
/// \param now_ms The time of the delete, in milliseconds since the Unix epoch on your clock;
/// the tombstone is collected `tombstone_grace_ms` after it.
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
    now_ms: u64,
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
                n.gossip.delete(now_ms, key.to_vec()).map_err(set_failure)
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

/// Starts an exchange: gives the frame to send to one peer (a Syn carrying this node's digest,
/// or only its hash when the last exchange found both sides equal).
///
/// Send the frame to the peer of your choice, e.g. on a timer. The peer answers it with
/// `scuttle_gossip_handle_frame()`, whose reply frame comes back here through
/// `scuttle_gossip_handle_frame()` too, and so on until a call gives no reply. The node keeps
/// no state per peer and per exchange: an exchange that is never finished costs nothing.
///
/// \param gossip The node.
/// \param frame_out Where to write the frame (zeroed first; release it with
/// `scuttle_bytes_free()`): a 4-byte big-endian length, then that many bytes of CBOR.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer;
/// `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `frame_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_start_exchange(
    gossip: *mut ScuttleGossip,
    frame_out: *mut ScuttleBytes,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { write_out(frame_out, ScuttleBytes::empty(), "frame_out") }?;
        // SAFETY: forwarded from the caller.
        let frame = unsafe { with_node(gossip, |n| frame_of(n, &n.gossip.start_exchange())) }?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { frame_out.write(frame) };
        Ok(())
    })
}

/// Hands in one whole message received from a peer (one frame, length prefix included) and
/// gives the reply to send back to that same peer.
///
/// \param gossip The node.
/// \param now_ms The time, in milliseconds since the Unix epoch on your clock
/// (`scuttle_now_ms()`). With `SCUTTLE_VERSIONS_HYBRID` it bounds how far ahead a peer's
/// versions may be (`max_clock_skew_ms`); it also counts down `catch_up_ms`.
/// \param frame The frame, `frame_len` bytes, read during the call only.
/// \param frame_len Length of `frame`.
/// \param reply_out Where to write the reply frame, zeroed first: a frame to send back to the
/// peer that sent `frame` (an answer to a Syn, or to a SynAck when this node has news for the
/// peer), or `{NULL, 0}` when there is nothing to send (the exchange is over). Release it with
/// `scuttle_bytes_free()` in both cases (harmless on `{NULL, 0}`).
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_DECODE_ERROR` for a malformed, truncated or
/// oversize frame (above `max_message_bytes`) or one with trailing bytes;
/// `SCUTTLE_STATUS_PROTOCOL_ERROR` for a well-formed message that breaks the protocol;
/// `SCUTTLE_STATUS_CALLBACK_ERROR` or `SCUTTLE_STATUS_PANIC` when a resolver callback failed or
/// panicked; `SCUTTLE_STATUS_STORE_ERROR` when the node's store refused to persist what the
/// message changes. In all these cases the whole message was refused and nothing changed.
/// `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer; `SCUTTLE_STATUS_BUSY`.
///
/// Then drain `scuttle_gossip_poll_event()`: its UPDATE events with `local` false came in this
/// frame. With a store, each UPDATE event is already durable (see `scuttle_gossip_open`).
///
/// # Safety
/// `gossip` must be NULL or a live handle; `frame` must be NULL or point to `frame_len`
/// readable bytes; `reply_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_handle_frame(
    gossip: *mut ScuttleGossip,
    now_ms: u64,
    frame: *const u8,
    frame_len: usize,
    reply_out: *mut ScuttleBytes,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { write_out(reply_out, ScuttleBytes::empty(), "reply_out") }?;
        // SAFETY: forwarded from the caller.
        let frame = unsafe { bytes_arg(frame, frame_len, "frame") }?;
        // SAFETY: forwarded from the caller.
        let reply = unsafe {
            with_node(gossip, |n| {
                let msg = n
                    .codec
                    .decode_frame::<Vec<u8>, Vec<u8>>(frame)
                    .map_err(|e| {
                        Failure::new(
                            ScuttleStatus::DecodeError,
                            format!("bad frame: {e}; nothing changed"),
                        )
                    })?;
                match n
                    .gossip
                    .handle_message(now_ms, msg)
                    .map_err(receive_failure)?
                {
                    Some(reply) => frame_of(n, &reply),
                    None => Ok(ScuttleBytes::empty()),
                }
            })
        }?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { reply_out.write(reply) };
        Ok(())
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

/// Collects the tombstones whose grace period (`tombstone_grace_ms`) has passed at `now_ms`,
/// and the superseded updates of their keys. Call it when `scuttle_gossip_poll_timeout()`'s
/// time has come (calling it earlier, or more often, is harmless).
///
/// \param gossip The node.
/// \param now_ms The time, in milliseconds since the Unix epoch on your clock
/// (`scuttle_now_ms()`).
/// \param count_out Where to write how many tombstones were collected; may be NULL.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_STORE_ERROR` when the node's store failed
/// (nothing collected; a later call tries again); `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL
/// handle; `SCUTTLE_STATUS_BUSY`.
///
/// Queues a TOMBSTONES_COLLECTED event when it collected any.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `count_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_handle_timeout(
    gossip: *mut ScuttleGossip,
    now_ms: u64,
    count_out: *mut usize,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        let count = unsafe {
            with_node(gossip, |n| {
                n.gossip
                    .handle_timeout(now_ms)
                    .map_err(|e| store_failure(&e, "nothing collected"))
            })
        }?;
        // SAFETY: forwarded from the caller.
        unsafe { write_optional(count_out, count) };
        Ok(())
    })
}

/// When `scuttle_gossip_handle_timeout()` has work next: the time the oldest tombstone's grace
/// period ends.
///
/// \param gossip The node.
/// \param when_out Where to write the time, in milliseconds since the Unix epoch (the clock of
/// the `now_ms` given to `scuttle_gossip_delete()`); `UINT64_MAX` when nothing is scheduled.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_EMPTY` when nothing is scheduled (no
/// tombstone, or tombstones kept forever); `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL
/// pointer; `SCUTTLE_STATUS_BUSY`.
///
/// Ask again after every `scuttle_gossip_delete()` and `scuttle_gossip_handle_frame()`: both can
/// add tombstones.
///
/// # Safety
/// `gossip` must be NULL or a live handle; `when_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_poll_timeout(
    gossip: *const ScuttleGossip,
    when_out: *mut u64,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { write_out(when_out, u64::MAX, "when_out") }?;
        // SAFETY: forwarded from the caller.
        let when = unsafe { with_node(gossip, |n| Ok(n.gossip.poll_timeout())) }?;
        let when =
            when.ok_or_else(|| Failure::new(ScuttleStatus::Empty, "no timeout scheduled"))?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { when_out.write(when) };
        Ok(())
    })
}
