//! Durable nodes: `scuttle_gossip_open` keeps a node in one redb file (`scuttle-store`'s
//! `RedbStore`), `scuttle_gossip_flush`, and the statuses of store failures.

use std::path::{Path, PathBuf};

use scuttle_core::{NodeId, OpenError as CoreOpenError, StoreError};
use scuttle_store::{OpenError, RedbStore, StoreFailure};

use crate::error::{ffi_call, Failure, ScuttleStatus};
use std::ffi::c_void;

use crate::gossip::{bytes_arg, new_handle, with_node, ByteGossip, ScuttleGossip};
use crate::resolver::{CResolver, ScuttleResolveFn};
use crate::types::ScuttleConfig;

/// The status and message of a file `RedbStore::open` refused.
fn open_failure(e: OpenError) -> Failure {
    let status = match &e {
        OpenError::Corrupt { .. } | OpenError::Foreign { .. } => ScuttleStatus::StoreCorrupt,
        OpenError::Version { .. } => ScuttleStatus::StoreVersion,
        OpenError::WrongNode { .. } => ScuttleStatus::WrongNode,
        OpenError::Locked { .. } => ScuttleStatus::StoreLocked,
        _ => ScuttleStatus::StoreError,
    };
    Failure::new(status, format!("cannot open the store: {e}"))
}

/// The failure of a call whose change the store refused: `SCUTTLE_STATUS_STORE_ERROR`, or
/// `SCUTTLE_STATUS_STORE_CORRUPT` when what the file holds does not decode.
pub(crate) fn store_failure(e: &StoreError, outcome: &str) -> Failure {
    let status = match e.inner().downcast_ref::<StoreFailure>() {
        Some(StoreFailure::Decode(_)) => ScuttleStatus::StoreCorrupt,
        _ => ScuttleStatus::StoreError,
    };
    Failure::new(status, format!("{e}; {outcome}"))
}

/// Opens (or creates) the store of node `id` at `path` and loads it into the fresh `gossip`.
pub(crate) fn open_store(
    gossip: ByteGossip,
    path: &Path,
    id: &NodeId,
) -> Result<ByteGossip, Failure> {
    let store = RedbStore::open(path, id.as_str()).map_err(open_failure)?;
    gossip.with_store(store).map_err(|e| match e {
        CoreOpenError::Store(e) => store_failure(&e, "the store could not be loaded"),
        other => Failure::new(ScuttleStatus::StoreError, other.to_string()),
    })
}

/// A path argument: any bytes on Unix, UTF-8 elsewhere; not empty.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes.
unsafe fn path_arg(ptr: *const u8, len: usize) -> Result<PathBuf, Failure> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { bytes_arg(ptr, len, "path") }?;
    if bytes.is_empty() {
        return Err(Failure::invalid("path is empty"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(PathBuf::from)
            .map_err(|e| Failure::invalid(format!("path is not UTF-8: {e}")))
    }
}

/// Opens a durable node: the node `id` kept in the file at `path` (created when missing or
/// empty), with a built-in resolver.
///
/// Everything the node holds is in the file: entries, tombstones, watermarks and its version
/// (clock). Each `scuttle_gossip_set`/`scuttle_gossip_delete` that returns OK, and each
/// UPDATE event, is durable (fsynced) before the call returns, so it survives `kill -9` and
/// power loss; a change the file refused (`SCUTTLE_STATUS_STORE_ERROR`) was not made in memory
/// either. `scuttle_gossip_free()` closes the file; opening it again gives the node back with
/// its data and version. Superseded updates kept for replay are not kept: a restart compacts
/// them.
///
/// \param path The file, `path_len` bytes (not NUL-terminated; any bytes on Unix), copied.
/// \param path_len Length of `path`.
/// \param id The node's id: non-empty UTF-8, `id_len` bytes, copied. It must be the id the
/// file was created with.
/// \param id_len Length of `id`.
/// \param config The configuration, copied; NULL for the defaults. It is not stored: give the
/// same one every time (`SCUTTLE_VERSIONS_HYBRID` recommended).
/// \param out Where to write the new handle (NULL is written on failure).
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_STORE_CORRUPT` for a file that is truncated,
/// corrupt, of another kind, or another redb database; `SCUTTLE_STATUS_STORE_VERSION` for a
/// scuttle store of another format version; `SCUTTLE_STATUS_WRONG_NODE` for the store of
/// another node id; `SCUTTLE_STATUS_STORE_LOCKED` when another process or handle has the file
/// open; `SCUTTLE_STATUS_STORE_ERROR` when it cannot be created or read (permissions, a
/// missing directory); the file is left as it was in all these cases.
/// `SCUTTLE_STATUS_INVALID_ARGUMENT` as `scuttle_gossip_new`, or for an empty path.
///
/// The caller owns the handle and releases it (closing the file) with `scuttle_gossip_free()`.
///
/// # Safety
/// `path` must point to `path_len` readable bytes; `id` to `id_len` readable bytes; `config`
/// must be NULL or point to a readable `ScuttleConfig`; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_open(
    path: *const u8,
    path_len: usize,
    id: *const u8,
    id_len: usize,
    config: *const ScuttleConfig,
    out: *mut *mut ScuttleGossip,
) -> ScuttleStatus {
    ffi_call(|| {
        if !out.is_null() {
            // SAFETY: non-NULL; the caller guarantees it is writable.
            unsafe { out.write(std::ptr::null_mut()) };
        }
        // SAFETY: forwarded from the caller.
        let path = unsafe { path_arg(path, path_len) }?;
        // SAFETY: forwarded from the caller.
        unsafe { new_handle(id, id_len, config, None, Some(&path), out) }
    })
}

/// Opens a durable node whose resolver is a C callback: `scuttle_gossip_open` with the
/// resolver of `scuttle_gossip_new_with_resolver`.
///
/// \param path The file, `path_len` bytes, copied.
/// \param path_len Length of `path`.
/// \param id The node's id: non-empty UTF-8, `id_len` bytes, copied.
/// \param id_len Length of `id`.
/// \param config The configuration, copied (its `resolver` field is ignored); NULL for the
/// defaults.
/// \param resolve The callback (see `ScuttleResolveFn`); must not be NULL. It is not asked
/// about the entries loaded from the file.
/// \param user_data Passed to every call of `resolve`; may be NULL. Never freed.
/// \param out Where to write the new handle (NULL is written on failure).
/// \return As `scuttle_gossip_open`, and `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL
/// `resolve`.
///
/// # Safety
/// As `scuttle_gossip_open` and `scuttle_gossip_new_with_resolver`.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_open_with_resolver(
    path: *const u8,
    path_len: usize,
    id: *const u8,
    id_len: usize,
    config: *const ScuttleConfig,
    resolve: ScuttleResolveFn,
    user_data: *mut c_void,
    out: *mut *mut ScuttleGossip,
) -> ScuttleStatus {
    ffi_call(|| {
        if !out.is_null() {
            // SAFETY: non-NULL; the caller guarantees it is writable.
            unsafe { out.write(std::ptr::null_mut()) };
        }
        let Some(resolve) = resolve else {
            return Err(Failure::invalid("resolve is NULL"));
        };
        // SAFETY: forwarded from the caller.
        let path = unsafe { path_arg(path, path_len) }?;
        let custom = CResolver::new(resolve, user_data);
        // SAFETY: forwarded from the caller.
        unsafe { new_handle(id, id_len, config, Some(custom), Some(&path), out) }
    })
}

/// Makes every change so far durable. Every commit of `scuttle_gossip_open`'s store is
/// already durable when its call returns, so this is only a barrier; a node without a store
/// has nothing to do.
///
/// \param gossip The node.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_STORE_ERROR` if the store failed;
/// `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL handle; `SCUTTLE_STATUS_BUSY`.
///
/// # Safety
/// `gossip` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn scuttle_gossip_flush(gossip: *mut ScuttleGossip) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: forwarded from the caller.
        unsafe {
            with_node(gossip, |n| {
                n.gossip
                    .flush()
                    .map_err(|e| store_failure(&e, "not flushed"))
            })
        }
    })
}
