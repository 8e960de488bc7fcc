//! `ScuttleNode`: a networked node (the node `scuttle node` runs) with its own runtime
//! ([`scuttle_node::EmbeddedNode`]), and every call on it.

use std::time::Duration;

use scuttle_node::{EmbeddedNode, EntryView, NodeError, NodeHandle};

use crate::error::{ffi_call, ffi_void, Failure, FfiResult, ScuttleStatus};
use crate::gossip::bytes_arg;
use crate::node_config::{node_options, ScuttleNodeConfig};
use crate::node_types::{ScuttleMembers, ScuttleNodeEvent, ScuttleStrings};
use crate::types::{ScuttleBytes, ScuttleEntry};

/// A running networked node: an opaque handle made by `scuttle_node_start()` and released by
/// `scuttle_node_stop()`.
///
/// The node runs on two threads of its own (a tokio runtime inside the library): it listens,
/// dials, gossips and answers peers whether or not the application calls into it.
///
/// Thread safety: every call except `scuttle_node_stop()` may come from any thread, and
/// several threads may use one node at once (each call waits for the node's answer; two
/// threads polling events each get different events). `scuttle_node_stop()` must be the last
/// call: no other call on the node may be running or start after it. The node level has no
/// callbacks: no application code ever runs on the node's threads.
pub struct ScuttleNode {
    node: EmbeddedNode,
}

/// The status and message for an error of the node.
pub(crate) fn node_failure(error: NodeError) -> Failure {
    let status = match &error {
        NodeError::Options(_) | NodeError::Config(_) | NodeError::P2pConfig(_) => {
            ScuttleStatus::InvalidConfig
        }
        NodeError::Io(_) | NodeError::Libp2p(_) => ScuttleStatus::Network,
        NodeError::Identity { .. } | NodeError::Store(_) => ScuttleStatus::StoreError,
        NodeError::Stopped => ScuttleStatus::Stopped,
        NodeError::Refused(_) => ScuttleStatus::Rejected,
        NodeError::CatchingUp => ScuttleStatus::CatchingUp,
        _ => ScuttleStatus::Network,
    };
    Failure::new(status, error.to_string())
}

/// The node behind a handle, refusing NULL.
///
/// # Safety
/// `node` must be NULL or a live handle.
unsafe fn node_ref<'a>(node: *const ScuttleNode) -> Result<&'a EmbeddedNode, Failure> {
    // SAFETY: the caller guarantees NULL or a live handle.
    unsafe { node.as_ref() }
        .map(|n| &n.node)
        .ok_or_else(|| Failure::invalid("node is NULL"))
}

/// A key or value argument: a byte string that must be UTF-8 (the node's map holds text).
///
/// # Safety
/// As [`bytes_arg`].
unsafe fn text_arg(ptr: *const u8, len: usize, name: &str) -> Result<String, Failure> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { bytes_arg(ptr, len, name) }?;
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|e| Failure::invalid(format!("{name} is not UTF-8 (a node holds text): {e}")))
}

/// Runs one request on the node's runtime and waits for the answer.
fn ask<T, F>(node: &EmbeddedNode, request: impl FnOnce(NodeHandle) -> F) -> Result<T, Failure>
where
    F: std::future::Future<Output = Result<T, NodeError>>,
{
    node.block_on(request(node.handle()))
        .and_then(|r| r)
        .map_err(node_failure)
}

/// Checks an out-pointer and writes `value` through it.
///
/// # Safety
/// `out` must be NULL or writable.
unsafe fn write_out<T>(out: *mut T, value: T) -> FfiResult {
    if out.is_null() {
        return Err(Failure::invalid("out is NULL"));
    }
    // SAFETY: checked non-NULL; the caller guarantees it is writable.
    unsafe { out.write(value) };
    Ok(())
}

/// Starts a networked node as `config` says, and returns once it listens.
///
/// \param config The configuration (fill it with `scuttle_node_config_default()`), or NULL
/// for the defaults (libp2p on `127.0.0.1:7400`). Borrowed for the call only.
/// \param out Where to write the new node (NULL is written on failure). Release it with
/// `scuttle_node_stop()`.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_INVALID_CONFIG` for a bad configuration;
/// `SCUTTLE_STATUS_NETWORK` when it cannot listen (an address in use, ...);
/// `SCUTTLE_STATUS_STORE_ERROR` when the data dir, its identity key or its data cannot be
/// read or written; `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL `out` or a NULL string in a
/// list.
///
/// The library installs no log subscriber, so `log_level` has no effect.
///
/// # Safety
/// `config` must be NULL or point to a readable `ScuttleNodeConfig` whose pointers follow its
/// field docs; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_start(
    config: *const ScuttleNodeConfig,
    out: *mut *mut ScuttleNode,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        unsafe { write_out(out, std::ptr::null_mut()) }?;
        // SAFETY: forwarded from the caller.
        let options = unsafe { node_options(config) }?;
        let node = EmbeddedNode::start(options).map_err(node_failure)?;
        let handle = Box::into_raw(Box::new(ScuttleNode { node }));
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(handle) };
        Ok(())
    })
}

/// Stops a node and releases it: a libp2p node tells the cluster it leaves, connections
/// close, the node's threads end. Blocks until then (a few seconds at most). NULL is accepted
/// and does nothing.
///
/// Events, entries and lists obtained from the node stay valid: they belong to the caller.
///
/// \param node The node; it must not be used afterwards, and no other call on it may be
/// running.
///
/// # Safety
/// `node` must be NULL or a node not yet stopped, with no call on it running.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_stop(node: *mut ScuttleNode) {
    ffi_void(|| {
        if !node.is_null() {
            // SAFETY: made by `Box::into_raw` in `scuttle_node_start`, not stopped before
            // (caller's promise).
            let node = unsafe { Box::from_raw(node) };
            node.node.stop();
        }
    })
}

/// Writes `key = value`; the node gossips it to its peers.
///
/// \param node The node.
/// \param key The key, `key_len` bytes of UTF-8, copied.
/// \param key_len Length of `key`.
/// \param value The value, `value_len` bytes of UTF-8, copied.
/// \param value_len Length of `value`.
/// \param version_out Where to write the write's version; may be NULL.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_REJECTED` if the resolver refused or the
/// write could never fit one message; `SCUTTLE_STATUS_CATCHING_UP` while a node that started
/// empty catches up; `SCUTTLE_STATUS_STORE_ERROR`; `SCUTTLE_STATUS_STOPPED`;
/// `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL node, a NULL pointer with a non-zero length
/// or a key or value that is not UTF-8.
///
/// # Safety
/// `node` must be NULL or a live node; `key` and `value` must be NULL or point to their
/// lengths in readable bytes; `version_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_set(
    node: *const ScuttleNode,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    version_out: *mut u64,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY (the three): forwarded from the caller.
        let node = unsafe { node_ref(node) }?;
        let key = unsafe { text_arg(key, key_len, "key") }?;
        let value = unsafe { text_arg(value, value_len, "value") }?;
        let version = ask(node, |h| async move { h.set(key, value).await })?;
        if !version_out.is_null() {
            // SAFETY: non-NULL; the caller guarantees it is writable.
            unsafe { version_out.write(version) };
        }
        Ok(())
    })
}

/// Deletes `key` (a tombstone, gossiped like a write).
///
/// \param node The node.
/// \param key The key, `key_len` bytes of UTF-8.
/// \param key_len Length of `key`.
/// \param version_out Where to write the delete's version; may be NULL.
/// \return As `scuttle_node_set`.
///
/// # Safety
/// `node` must be NULL or a live node; `key` must be NULL or point to `key_len` readable
/// bytes; `version_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_delete(
    node: *const ScuttleNode,
    key: *const u8,
    key_len: usize,
    version_out: *mut u64,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY (both): forwarded from the caller.
        let node = unsafe { node_ref(node) }?;
        let key = unsafe { text_arg(key, key_len, "key") }?;
        let version = ask(node, |h| async move { h.delete(key).await })?;
        if !version_out.is_null() {
            // SAFETY: non-NULL; the caller guarantees it is writable.
            unsafe { version_out.write(version) };
        }
        Ok(())
    })
}

fn entry_of(view: &EntryView) -> ScuttleEntry {
    ScuttleEntry {
        value: view
            .value
            .as_deref()
            .map_or_else(ScuttleBytes::empty, |v| ScuttleBytes::copy(v.as_bytes())),
        deleted: view.value.is_none(),
        version: view.version,
        source_id: ScuttleBytes::copy(view.source_id.as_bytes()),
        timestamp_ms: view.timestamp,
    }
}

/// Copies the entry of `key`, as `scuttle_gossip_get()` does.
///
/// \param node The node.
/// \param key The key, `key_len` bytes of UTF-8.
/// \param key_len Length of `key`.
/// \param out Where to write the entry (zeroed on failure); release it with
/// `scuttle_entry_free()`.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_NOT_FOUND` if the key is unknown (`*out` zeroed);
/// `SCUTTLE_STATUS_DELETED` if it was deleted (`*out` holds the tombstone's version and source:
/// free it too); `SCUTTLE_STATUS_STOPPED`; `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer
/// or a key that is not UTF-8.
///
/// # Safety
/// `node` must be NULL or a live node; `key` must be NULL or point to `key_len` readable
/// bytes; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_get(
    node: *const ScuttleNode,
    key: *const u8,
    key_len: usize,
    out: *mut ScuttleEntry,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY (the three): forwarded from the caller.
        unsafe { write_out(out, ScuttleEntry::empty()) }?;
        let node = unsafe { node_ref(node) }?;
        let key = unsafe { text_arg(key, key_len, "key") }?;
        let view = ask(node, |h| async move { h.get(key).await })?
            .ok_or_else(|| Failure::new(ScuttleStatus::NotFound, "no such key"))?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(entry_of(&view)) };
        if view.value.is_none() {
            return Err(Failure::new(ScuttleStatus::Deleted, "the key was deleted"));
        }
        Ok(())
    })
}

/// Takes the node's next event, waiting up to `timeout_ms` for one. Events queue from the
/// start of the node; the node keeps the last 1024 unread (then `SCUTTLE_NODE_EVENT_LAGGED`).
///
/// \param node The node.
/// \param timeout_ms How long to wait, in milliseconds; 0 returns at once.
/// \param out Where to write the event (zeroed when there is none); release it with
/// `scuttle_node_event_free()`.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_EMPTY` when no event came in time;
/// `SCUTTLE_STATUS_STOPPED`; `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer.
///
/// Several threads may poll one node: each event goes to one of them.
///
/// # Safety
/// `node` must be NULL or a live node; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_poll_event(
    node: *const ScuttleNode,
    timeout_ms: u64,
    out: *mut ScuttleNodeEvent,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY (both): forwarded from the caller.
        unsafe { write_out(out, ScuttleNodeEvent::empty()) }?;
        let node = unsafe { node_ref(node) }?;
        let notice = if timeout_ms == 0 {
            node.try_notice()
        } else {
            node.next_notice(Duration::from_millis(timeout_ms))
        }
        .map_err(node_failure)?
        .ok_or_else(|| Failure::new(ScuttleStatus::Empty, "no event"))?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(ScuttleNodeEvent::copy(&notice)) };
        Ok(())
    })
}

/// Copies the members this node knows of (not itself), sorted by id. libp2p: the cluster's
/// members as SWIM sees them; TCP: the connected peers.
///
/// \param node The node.
/// \param out Where to write the list (`{NULL, 0}` on failure); release it with
/// `scuttle_members_free()`.
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_STOPPED`, `SCUTTLE_STATUS_INVALID_ARGUMENT` for
/// a NULL pointer.
///
/// # Safety
/// `node` must be NULL or a live node; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_members(
    node: *const ScuttleNode,
    out: *mut ScuttleMembers,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY (both): forwarded from the caller.
        unsafe { write_out(out, ScuttleMembers::empty()) }?;
        let node = unsafe { node_ref(node) }?;
        let members = ask(node, |h| async move { h.members().await })?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(ScuttleMembers::copy(&members)) };
        Ok(())
    })
}

/// Copies the ids of the peers connected now, sorted.
///
/// \param node The node.
/// \param out Where to write the list (`{NULL, 0}` on failure); release it with
/// `scuttle_strings_free()`.
/// \return As `scuttle_node_members`.
///
/// # Safety
/// `node` must be NULL or a live node; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_peers(
    node: *const ScuttleNode,
    out: *mut ScuttleStrings,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY (both): forwarded from the caller.
        unsafe { write_out(out, ScuttleStrings::empty()) }?;
        let node = unsafe { node_ref(node) }?;
        let peers = ask(node, |h| async move { h.peers().await })?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(ScuttleStrings::copy(&peers)) };
        Ok(())
    })
}

/// Copies the node's id (libp2p: its peer id; TCP: `ScuttleNodeConfig.id`).
///
/// \param node The node.
/// \param out Where to write the id (UTF-8); release it with `scuttle_bytes_free()`.
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer.
///
/// # Safety
/// `node` must be NULL or a live node; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_id(
    node: *const ScuttleNode,
    out: *mut ScuttleBytes,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY (both): forwarded from the caller.
        unsafe { write_out(out, ScuttleBytes::empty()) }?;
        let node = unsafe { node_ref(node) }?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(ScuttleBytes::copy(node.id().as_bytes())) };
        Ok(())
    })
}

/// Copies the addresses the node listens on, with the ports it bound (libp2p: multiaddrs such
/// as `/ip4/127.0.0.1/tcp/40123`; TCP: `HOST:PORT`). Give them to another node as its
/// `bootstrap` (libp2p) or `peers` (TCP).
///
/// \param node The node.
/// \param out Where to write the list; release it with `scuttle_strings_free()`.
/// \return `SCUTTLE_STATUS_OK`, `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer.
///
/// # Safety
/// `node` must be NULL or a live node; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_listen_addrs(
    node: *const ScuttleNode,
    out: *mut ScuttleStrings,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY (both): forwarded from the caller.
        unsafe { write_out(out, ScuttleStrings::empty()) }?;
        let node = unsafe { node_ref(node) }?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(ScuttleStrings::copy(node.listen_addrs())) };
        Ok(())
    })
}

/// Copies the address the HTTP/JSON API is bound to (`HOST:PORT`, with the port it bound
/// when `ScuttleNodeConfig.api` asked for port 0).
///
/// \param node The node.
/// \param out Where to write the address; release it with `scuttle_bytes_free()`.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_NOT_FOUND` when the node serves no API (`*out`
/// is `{NULL, 0}`); `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer.
///
/// # Safety
/// `node` must be NULL or a live node; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_api_addr(
    node: *const ScuttleNode,
    out: *mut ScuttleBytes,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY (both): forwarded from the caller.
        unsafe { write_out(out, ScuttleBytes::empty()) }?;
        let node = unsafe { node_ref(node) }?;
        let addr = node
            .api_addr()
            .ok_or_else(|| Failure::new(ScuttleStatus::NotFound, "the node serves no API"))?;
        // SAFETY: checked non-NULL by the first write.
        unsafe { out.write(ScuttleBytes::copy(addr.to_string().as_bytes())) };
        Ok(())
    })
}
