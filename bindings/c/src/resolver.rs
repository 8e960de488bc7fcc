//! A resolver written in C: a function pointer plus a `void *user_data`.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use scuttle_core::{Entry, Resolver, Update};

use crate::error::panic_message;

/// A read-only view of one entry or update, lent to a resolver callback for the duration of
/// the call. Copy what you need: the pointers are invalid once the callback returns.
///
/// Byte pointers are never NULL (an empty byte string points at a NUL byte) except `value`
/// when `deleted` is true.
#[repr(C)]
#[derive(Debug)]
pub struct ScuttleEntryView {
    /// The key.
    pub key: *const u8,
    /// Length of the key in bytes.
    pub key_len: usize,
    /// The value, or NULL when `deleted`.
    pub value: *const u8,
    /// Length of the value in bytes (0 when `deleted`).
    pub value_len: usize,
    /// Whether this is a delete (a tombstone).
    pub deleted: bool,
    /// The version of the write.
    pub version: u64,
    /// The id of the node that made the write.
    pub source_id: *const u8,
    /// Length of `source_id` in bytes.
    pub source_id_len: usize,
    /// Milliseconds since the Unix epoch on the writer's clock (0 when unknown).
    pub timestamp_ms: u64,
    /// For the incoming update: true for a local write (`scuttle_gossip_set` or
    /// `scuttle_gossip_delete` on this handle), false for an update from a peer. Always false
    /// for the current entry.
    pub local: bool,
}

/// What a resolver callback answers (`ScuttleResolveFn`'s return value).
///
/// `SCUTTLE_DECISION_REFUSE` (0) and `SCUTTLE_DECISION_ACCEPT` (1) are decisions; every other
/// value (use `SCUTTLE_DECISION_ERROR`) means the callback could not decide. Because 0 and 1 are
/// `false` and `true`, a callback may also `return incoming->version > current->version;`.
pub type ScuttleDecision = u32;

/// The incoming update loses: the current entry stays.
pub const SCUTTLE_DECISION_REFUSE: ScuttleDecision = 0;
/// The incoming update wins and replaces the current entry.
pub const SCUTTLE_DECISION_ACCEPT: ScuttleDecision = 1;
/// The callback could not decide. The whole call that asked (`scuttle_gossip_set`,
/// `scuttle_gossip_delete` or `scuttle_gossip_handle_frame`) fails with
/// `SCUTTLE_STATUS_CALLBACK_ERROR` and changes nothing. Any value other than 0 and 1 counts as
/// an error; it is quoted in `scuttle_last_error()`.
pub const SCUTTLE_DECISION_ERROR: ScuttleDecision = 2;

/// A resolver callback: decides whether `incoming` replaces `current`.
///
/// `current` is NULL when the key is unknown. The callback runs inside `scuttle_gossip_set`,
/// `scuttle_gossip_delete` and `scuttle_gossip_handle_frame`, on the calling thread, with the
/// handle locked: it must not call any `scuttle_*` function on the same handle (such a call
/// returns `SCUTTLE_STATUS_BUSY`). A message is decided in full before anything changes, so the
/// callback may be asked about several updates of one message and none of them be applied
/// (when a later one fails); keep it free of side effects that assume its answer is applied.
///
/// For replicas to converge, the callback must be a **total order on updates** per key: break
/// ties with (version, source_id), which are unique. "Accept if the value is greater" alone
/// is not enough: two equal values from two sources are then tied for good.
///
/// Return `SCUTTLE_DECISION_ACCEPT`, `SCUTTLE_DECISION_REFUSE`, or `SCUTTLE_DECISION_ERROR`
/// to fail the whole call without changing anything. A callback written in C++ must not let an
/// exception escape: the process would abort.
pub type ScuttleResolveFn = Option<
    unsafe extern "C-unwind" fn(
        user_data: *mut c_void,
        current: *const ScuttleEntryView,
        incoming: *const ScuttleEntryView,
    ) -> ScuttleDecision,
>;

/// What a non-NULL [`ScuttleResolveFn`] points at.
type ResolveFn = unsafe extern "C-unwind" fn(
    *mut c_void,
    *const ScuttleEntryView,
    *const ScuttleEntryView,
) -> ScuttleDecision;

/// A readable, non-NULL pointer for empty byte strings (a promoted, `'static` constant).
///
/// cbindgen:ignore
const NUL: &[u8; 1] = b"\0";

fn bytes_ptr(bytes: &[u8]) -> *const u8 {
    if bytes.is_empty() {
        NUL.as_ptr()
    } else {
        bytes.as_ptr()
    }
}

fn view(key: &[u8], value: Option<&[u8]>, version: u64, source: &str, ts: u64) -> ScuttleEntryView {
    ScuttleEntryView {
        key: bytes_ptr(key),
        key_len: key.len(),
        value: value.map_or(ptr::null(), bytes_ptr),
        value_len: value.map_or(0, <[u8]>::len),
        deleted: value.is_none(),
        version,
        source_id: bytes_ptr(source.as_bytes()),
        source_id_len: source.len(),
        timestamp_ms: ts,
        local: false,
    }
}

/// Why a C resolver could not decide: the core then refuses the whole call and changes
/// nothing.
#[derive(Debug)]
pub(crate) enum CallbackError {
    /// The callback returned this value, neither REFUSE nor ACCEPT.
    Failed(ScuttleDecision),
    /// A panic unwound out of the callback (one written in Rust); its message.
    Panicked(String),
}

impl std::fmt::Display for CallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallbackError::Failed(code) => {
                write!(f, "the resolver callback returned {code} (an error)")
            }
            CallbackError::Panicked(message) => {
                write!(f, "the resolver callback panicked (contained): {message}")
            }
        }
    }
}

impl std::error::Error for CallbackError {}

/// Adapts a C callback to the core's fallible [`Resolver`]. A panic while calling it (in the
/// adapter, or unwinding out of a callback written in Rust) is caught and becomes an error, so
/// the core refuses the call and changes nothing.
pub(crate) struct CResolver {
    func: ResolveFn,
    user_data: *mut c_void,
}

// SAFETY: the resolver only ever runs on the thread that holds the handle's busy flag, one call
// at a time. The documentation of `scuttle_gossip_new_with_resolver` requires `user_data` and
// the callback to be usable from whichever thread uses the handle.
unsafe impl Send for CResolver {}

impl CResolver {
    pub(crate) fn new(func: ResolveFn, user_data: *mut c_void) -> Self {
        CResolver { func, user_data }
    }

    fn call(
        &self,
        current: Option<&Entry<Vec<u8>>>,
        update: &Update<Vec<u8>, Vec<u8>>,
        local: bool,
    ) -> Result<bool, CallbackError> {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let current_view = current.map(|c| {
                view(
                    &update.key,
                    c.value.as_deref(),
                    c.version,
                    c.source_id.as_str(),
                    c.timestamp,
                )
            });
            let mut incoming = view(
                &update.key,
                update.value.as_deref(),
                update.version,
                update.source_id.as_str(),
                update.timestamp,
            );
            incoming.local = local;
            let current_ptr = current_view
                .as_ref()
                .map_or(ptr::null(), |v| v as *const ScuttleEntryView);
            // SAFETY: `func` is the non-NULL callback given at construction; both views live
            // until it returns.
            unsafe { (self.func)(self.user_data, current_ptr, &incoming) }
        }));
        match outcome {
            Ok(SCUTTLE_DECISION_REFUSE) => Ok(false),
            Ok(SCUTTLE_DECISION_ACCEPT) => Ok(true),
            Ok(code) => Err(CallbackError::Failed(code)),
            Err(payload) => Err(CallbackError::Panicked(panic_message(&*payload))),
        }
    }
}

impl Resolver<Vec<u8>, Vec<u8>> for CResolver {
    type Error = CallbackError;

    fn accept(
        &self,
        current: Option<&Entry<Vec<u8>>>,
        update: &Update<Vec<u8>, Vec<u8>>,
    ) -> Result<bool, CallbackError> {
        self.call(current, update, false)
    }

    fn accept_local(
        &self,
        current: Option<&Entry<Vec<u8>>>,
        update: &Update<Vec<u8>, Vec<u8>>,
    ) -> Result<bool, CallbackError> {
        self.call(current, update, true)
    }
}
