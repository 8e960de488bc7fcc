//! Status codes, the thread-local last-error message and the panic-proof call wrapper.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The outcome of a call. Every `scuttle_*` function that can fail returns one;
/// `SCUTTLE_STATUS_OK` is 0, so `if (status) { ... }` tests for failure.
///
/// After a failure, `scuttle_last_error()` explains it in words.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScuttleStatus {
    /// Success.
    Ok = 0,
    /// The resolver refused a local write; nothing changed, not even the node's version.
    Rejected = 1,
    /// The key is not in the map.
    NotFound = 2,
    /// Nothing to report: no event waits (`scuttle_gossip_poll_event`), or no timeout is
    /// scheduled (`scuttle_gossip_poll_timeout`).
    Empty = 3,
    /// An argument is wrong: a NULL pointer, a length that does not fit, an id that is not
    /// UTF-8, a bad configuration, an index out of range.
    InvalidArgument = 4,
    /// A frame could not be decoded: malformed CBOR, a truncated frame, trailing bytes or a
    /// frame larger than `max_message_bytes`. The peer is at fault; nothing changed.
    DecodeError = 5,
    /// A well-formed message breaks the protocol (for example version 0). The peer is at
    /// fault; nothing changed.
    ProtocolError = 6,
    /// A panic was caught inside the library (a bug, or a panicking resolver callback written
    /// in Rust). It did not cross the boundary. A panic in a resolver callback changes nothing
    /// and leaves the handle usable; any other panic makes the handle refuse further calls
    /// with this status.
    Panic = 7,
    /// `scuttle_gossip_get`: the key was deleted. The entry holds the tombstone's version and
    /// source (no value).
    Deleted = 8,
    /// The handle is in use by another call: a resolver callback called back into its own
    /// handle, or two threads used one handle at the same time.
    Busy = 9,
    /// A message built by the node could not be encoded. The core never builds a message
    /// above `max_message_bytes`, so this means a bug. No frame is handed out; in
    /// `scuttle_gossip_handle_frame` the incoming message was still applied, and a later
    /// exchange sends again what the lost reply carried.
    EncodeError = 10,
    /// The node's version counter is exhausted (a peer announced version 2^64 - 1).
    VersionOverflow = 11,
    /// A local write could never fit one message of `max_message_bytes` bytes (its key and
    /// value are too large). Nothing changed; later writes are not affected.
    TooLarge = 12,
    /// The resolver callback reported an error (it returned neither
    /// `SCUTTLE_DECISION_REFUSE` nor `SCUTTLE_DECISION_ACCEPT`). The whole call was refused and
    /// nothing changed.
    CallbackError = 13,
    /// A local write was refused because the node started empty and has not caught up with a
    /// peer yet (`ScuttleConfig.catch_up_ms`): a write now could reuse a version its peers
    /// hold. Nothing changed; retry after an exchange, or after the catch-up period.
    CatchingUp = 14,
    /// The node's store failed (an I/O error, a full disk, a file that cannot be created or
    /// read). At run time the change it was asked to persist was not made, in memory either.
    StoreError = 15,
    /// `scuttle_gossip_open`: the file is not a readable scuttle store (truncated, corrupt,
    /// another kind of file, or another redb database). The file was not changed.
    StoreCorrupt = 16,
    /// `scuttle_gossip_open`: the file is a scuttle store of another format version than this
    /// library reads. The file was not changed.
    StoreVersion = 17,
    /// `scuttle_gossip_open`: the file is the store of another node id. The file was not
    /// changed.
    WrongNode = 18,
    /// `scuttle_gossip_open`: the file is in use by another process or another handle.
    StoreLocked = 19,
    /// `scuttle_node_*`: the node has stopped (its task ended, for example after a fatal
    /// error); the handle can only be released with `scuttle_node_stop()`.
    Stopped = 20,
    /// `scuttle_node_start`: the node's configuration is wrong: a bad address, an unknown
    /// transport or policy name, an unknown or mistyped key in `ScuttleNodeConfig.toml`, a
    /// string that is not UTF-8, or a `ScuttleNodeConfig.version` this library does not read.
    /// The operator's to fix; nothing was started.
    InvalidConfig = 21,
    /// `scuttle_node_start`: the transport could not be set up: a listen address in use or
    /// not available here, libp2p could not start its listeners, or another socket error.
    /// Nothing was started.
    Network = 22,
}

/// A failed call: the status to return and the message for `scuttle_last_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: ScuttleStatus,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: ScuttleStatus, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Failure::new(ScuttleStatus::InvalidArgument, message)
    }
}

/// What every entry point's body returns.
pub(crate) type FfiResult = Result<(), Failure>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Replaces this thread's last-error message.
pub(crate) fn set_last_error(message: &str) {
    // `try_with` fails only while the thread is being torn down; then there is no reader.
    let _ = LAST_ERROR.try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            if message.is_empty() && slot.is_empty() {
                return; // clearing an empty message: no allocation on the success path
            }
            *slot = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
        }
    });
}

/// The text of a caught panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

/// Runs one entry point's body: clears the last error, catches any panic, and turns the
/// outcome into a status (recording the message of a failure).
pub(crate) fn ffi_call(body: impl FnOnce() -> FfiResult) -> ScuttleStatus {
    set_last_error("");
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        Err(Failure::new(
            ScuttleStatus::Panic,
            format!(
                "panic inside scuttle (contained): {}",
                panic_message(&*payload)
            ),
        ))
    });
    match outcome {
        Ok(()) => ScuttleStatus::Ok,
        Err(failure) => {
            set_last_error(&failure.message);
            failure.status
        }
    }
}

/// Runs a body that returns nothing (the free functions): catches any panic and records it.
pub(crate) fn ffi_void(body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        set_last_error(&format!(
            "panic inside scuttle (contained): {}",
            panic_message(&*payload)
        ));
    }
}

/// The message of the last failed call on this thread, as a NUL-terminated UTF-8 string.
///
/// Every status-returning call clears it first, so after `SCUTTLE_STATUS_OK` it is the empty
/// string. Never NULL.
///
/// \return A string borrowed from the library: do not free it. It stays valid until the next
/// `scuttle_*` call on the same thread.
#[no_mangle]
pub extern "C" fn scuttle_last_error() -> *const c_char {
    static EMPTY: &[u8] = b"\0";
    catch_unwind(|| {
        LAST_ERROR
            .try_with(|cell| cell.try_borrow().map(|s| s.as_ptr()).ok())
            .ok()
            .flatten()
    })
    .ok()
    .flatten()
    .unwrap_or(EMPTY.as_ptr().cast())
}
