//! The plain C types: byte buffers, the configuration, entries, events and key lists.

use std::ptr;
use std::time::Duration;

use scuttle_core::{Entry, ResolverKind, SorterKind, Versions};

use crate::error::{ffi_call, ffi_void, Failure, ScuttleStatus};

/// A byte buffer owned by the library, handed to the caller.
///
/// `ptr` points at `len` bytes followed by one NUL byte (not counted in `len`), so a
/// text value can be printed with `printf("%s", (const char *)b.ptr)`. An empty or released
/// buffer is `{NULL, 0}`.
///
/// Ownership: the caller owns the buffer until it passes it to `scuttle_bytes_free()` (or to the
/// free function of the struct that holds it). Do not change `ptr` or `len`, and do not free
/// `ptr` with `free()`.
#[repr(C)]
#[derive(Debug)]
pub struct ScuttleBytes {
    /// The first byte, or NULL when the buffer is empty or released.
    pub ptr: *mut u8,
    /// Number of bytes, not counting the trailing NUL.
    pub len: usize,
}

impl ScuttleBytes {
    /// The empty buffer `{NULL, 0}`.
    pub const fn empty() -> ScuttleBytes {
        ScuttleBytes {
            ptr: ptr::null_mut(),
            len: 0,
        }
    }

    /// Copies `bytes` into a new library-owned buffer (with a trailing NUL).
    pub(crate) fn copy(bytes: &[u8]) -> ScuttleBytes {
        if bytes.is_empty() {
            return ScuttleBytes::empty();
        }
        let mut owned = Vec::with_capacity(bytes.len() + 1);
        owned.extend_from_slice(bytes);
        owned.push(0);
        let len = bytes.len();
        let ptr = Box::into_raw(owned.into_boxed_slice()).cast::<u8>();
        ScuttleBytes { ptr, len }
    }

    /// Hands a vector over as a library-owned buffer (with a trailing NUL), without copying
    /// its bytes when it has room for the NUL.
    pub(crate) fn from_vec(mut bytes: Vec<u8>) -> ScuttleBytes {
        if bytes.is_empty() {
            return ScuttleBytes::empty();
        }
        let len = bytes.len();
        bytes.push(0);
        let ptr = Box::into_raw(bytes.into_boxed_slice()).cast::<u8>();
        ScuttleBytes { ptr, len }
    }

    /// Releases the buffer and leaves `{NULL, 0}`.
    ///
    /// # Safety
    /// `self` must be `{NULL, _}` or come from [`ScuttleBytes::copy`] or
    /// [`ScuttleBytes::from_vec`] unchanged.
    pub(crate) unsafe fn release(&mut self) {
        if !self.ptr.is_null() {
            let slice = ptr::slice_from_raw_parts_mut(self.ptr, self.len + 1);
            // SAFETY: the caller guarantees this is the boxed slice of `len + 1` bytes made by
            // `copy` or `from_vec` and not yet released.
            drop(unsafe { Box::from_raw(slice) });
        }
        *self = ScuttleBytes::empty();
    }
}

/// Which built-in resolver decides between two updates of one key (`ScuttleConfig.resolver`).
pub type ScuttleResolverKind = u32;

/// Last writer wins: the higher (version, source id) wins (`lww`).
pub const SCUTTLE_RESOLVER_LWW: ScuttleResolverKind = 0;
/// Values only grow: the higher (value, version, source id) wins, values compared as bytes
/// (memcmp order, a shorter prefix first); a local write must be strictly greater than the
/// current value, and deleting a key that holds a value is refused (`strict`).
pub const SCUTTLE_RESOLVER_STRICT: ScuttleResolverKind = 1;
/// Last writer wins by wall clock: the higher (timestamp, version, source id) wins
/// (`lww-clock`). The timestamp of a write is the `now_ms` given to `scuttle_gossip_set`.
pub const SCUTTLE_RESOLVER_LWW_CLOCK: ScuttleResolverKind = 2;

/// Which news goes first when `mtu` or `max_message_bytes` cuts an exchange short
/// (`ScuttleConfig.sorter`).
pub type ScuttleSorterKind = u32;

/// scuttle-breadth: ascending version, ties by source id (every source makes progress).
pub const SCUTTLE_SORTER_BREADTH: ScuttleSorterKind = 0;
/// scuttle-depth: sources with the most outstanding news first.
pub const SCUTTLE_SORTER_DEPTH: ScuttleSorterKind = 1;

/// The core's built-in resolver for a `SCUTTLE_RESOLVER_*` constant.
pub(crate) fn resolver_kind(kind: ScuttleResolverKind) -> Option<ResolverKind> {
    match kind {
        SCUTTLE_RESOLVER_LWW => Some(ResolverKind::LastWriterWins),
        SCUTTLE_RESOLVER_STRICT => Some(ResolverKind::StrictlyOrderedValues),
        SCUTTLE_RESOLVER_LWW_CLOCK => Some(ResolverKind::LastWriterWinsClock),
        _ => None,
    }
}

/// The core's built-in sorter for a `SCUTTLE_SORTER_*` constant.
pub(crate) fn sorter_kind(kind: ScuttleSorterKind) -> Option<SorterKind> {
    match kind {
        SCUTTLE_SORTER_BREADTH => Some(SorterKind::Breadth),
        SCUTTLE_SORTER_DEPTH => Some(SorterKind::Depth),
        _ => None,
    }
}

/// How a node numbers its own writes (`ScuttleConfig.versions`).
pub type ScuttleVersionsKind = u32;

/// The seed's Lamport counter: a write gets the node's version + 1. For in-process use and
/// seed peers; a node that restarts without its store can reissue a version its peers hold.
pub const SCUTTLE_VERSIONS_COUNTER: ScuttleVersionsKind = 0;
/// A hybrid logical clock: a write gets `max(version + 1, now_ms << 16)`, so a restarted node
/// starts above every version it issued before. Use it for networked nodes.
pub const SCUTTLE_VERSIONS_HYBRID: ScuttleVersionsKind = 1;

/// The core's numbering for a `SCUTTLE_VERSIONS_*` constant.
pub(crate) fn versions_kind(kind: ScuttleVersionsKind) -> Option<Versions> {
    match kind {
        SCUTTLE_VERSIONS_COUNTER => Some(Versions::Counter),
        SCUTTLE_VERSIONS_HYBRID => Some(Versions::Hybrid),
        _ => None,
    }
}

/// The layout version of `ScuttleConfig` this library writes. `scuttle_config_default()`
/// writes it into `ScuttleConfig.version`. The constructors read the fields of the layout the
/// caller's `version` names: this one, or layout 2 (a program built against the older header
/// keeps working, with the defaults for the fields added since); any other value is refused,
/// so a program built against another layout fails cleanly instead of misreading fields.
pub const SCUTTLE_CONFIG_VERSION: u32 = 3;

/// The oldest `ScuttleConfig` layout the constructors still read.
const OLDEST_CONFIG_VERSION: u32 = 2;

/// The configuration of a node. Fill it with `scuttle_config_default()`, then change fields.
///
/// Layout version 3 (`SCUTTLE_CONFIG_VERSION`): layout 2 (protocol v2: `max_frame_size`
/// became `max_message_bytes`, `version` became the first field) followed by `versions`,
/// `max_clock_skew_ms` and `catch_up_ms`. Fields are only ever added at the end, so each
/// layout starts with the previous one.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScuttleConfig {
    /// `SCUTTLE_CONFIG_VERSION`, written by `scuttle_config_default()`; leave it as it is.
    pub version: u32,
    /// A `SCUTTLE_RESOLVER_*` constant (ignored by `scuttle_gossip_new_with_resolver`).
    /// Default `SCUTTLE_RESOLVER_LWW`.
    pub resolver: ScuttleResolverKind,
    /// A `SCUTTLE_SORTER_*` constant. Default `SCUTTLE_SORTER_BREADTH`.
    pub sorter: ScuttleSorterKind,
    /// Most updates one message carries (flow control); at least 1. Default 10.
    pub mtu: usize,
    /// Most bytes of one message (its CBOR body, without the 4-byte length prefix), news and
    /// digest included; at least `SCUTTLE_MIN_MESSAGE_BYTES`. The node never builds a larger
    /// message, refuses a local write that could never fit one (`SCUTTLE_STATUS_TOO_LARGE`),
    /// and refuses larger incoming frames (`SCUTTLE_STATUS_DECODE_ERROR`): give every node of
    /// a cluster the same value. Default 1048576 (1 MiB).
    pub max_message_bytes: usize,
    /// Superseded updates kept for replay before compaction drops the oldest. Default 10.
    pub max_history: usize,
    /// How long a tombstone is kept before `scuttle_gossip_handle_timeout()` collects it, in
    /// milliseconds after the delete's `now_ms`; 0 keeps tombstones forever. Default 3600000
    /// (one hour).
    pub tombstone_grace_ms: u64,
    /// How local writes are numbered: a `SCUTTLE_VERSIONS_*` constant. Default
    /// `SCUTTLE_VERSIONS_COUNTER`; networked nodes should use `SCUTTLE_VERSIONS_HYBRID`.
    /// (Layout 3.)
    pub versions: ScuttleVersionsKind,
    /// With `SCUTTLE_VERSIONS_HYBRID`, how far (milliseconds) a peer's version clock may run
    /// ahead of `now_ms`: news beyond it waits, unapplied, until the local clock comes close
    /// enough. Default 60000 (one minute). (Layout 3.)
    pub max_clock_skew_ms: u64,
    /// A node that starts empty (no store, or an empty one) refuses local writes with
    /// `SCUTTLE_STATUS_CATCHING_UP` until it has caught up with a peer (one exchange) or this
    /// many milliseconds have passed since the first `now_ms` it was given; 0 (default)
    /// accepts writes at once. (Layout 3.)
    pub catch_up_ms: u64,
}

/// Layout 2 of `ScuttleConfig`: the prefix an older caller's struct holds.
///
/// cbindgen:ignore
#[repr(C)]
#[derive(Clone, Copy)]
struct ScuttleConfigV2 {
    version: u32,
    resolver: ScuttleResolverKind,
    sorter: ScuttleSorterKind,
    mtu: usize,
    max_message_bytes: usize,
    max_history: usize,
    tombstone_grace_ms: u64,
}

/// Reads the caller's configuration in the layout its `version` names (NULL: the defaults).
///
/// # Safety
/// `config` must be NULL or point to a readable `ScuttleConfig` of the layout its first field
/// names (a layout-2 struct is shorter than this one: only its bytes are read).
pub(crate) unsafe fn read_config(config: *const ScuttleConfig) -> Result<ScuttleConfig, Failure> {
    if config.is_null() {
        return Ok(ScuttleConfig::default());
    }
    // SAFETY: every layout starts with the `u32` version; the caller guarantees it is readable.
    let version = unsafe { config.cast::<u32>().read() };
    match version {
        SCUTTLE_CONFIG_VERSION => {
            // SAFETY: the caller's struct is of the current layout.
            Ok(unsafe { config.read() })
        }
        OLDEST_CONFIG_VERSION => {
            // SAFETY: the caller's struct is of layout 2, a prefix of the current one.
            let old = unsafe { config.cast::<ScuttleConfigV2>().read() };
            Ok(ScuttleConfig {
                version,
                resolver: old.resolver,
                sorter: old.sorter,
                mtu: old.mtu,
                max_message_bytes: old.max_message_bytes,
                max_history: old.max_history,
                tombstone_grace_ms: old.tombstone_grace_ms,
                ..ScuttleConfig::default()
            })
        }
        other => Err(Failure::invalid(format!(
            "invalid config: version {other} but this library reads versions \
             {OLDEST_CONFIG_VERSION} to {SCUTTLE_CONFIG_VERSION} (fill the config with \
             scuttle_config_default())"
        ))),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Default for ScuttleConfig {
    fn default() -> Self {
        let core = scuttle_core::Config::default();
        ScuttleConfig {
            version: SCUTTLE_CONFIG_VERSION,
            resolver: SCUTTLE_RESOLVER_LWW,
            sorter: SCUTTLE_SORTER_BREADTH,
            mtu: core.mtu,
            max_message_bytes: core.max_message_bytes,
            max_history: core.max_history,
            tombstone_grace_ms: core.tombstone_grace.map_or(0, millis),
            versions: SCUTTLE_VERSIONS_COUNTER,
            max_clock_skew_ms: millis(core.max_clock_skew),
            catch_up_ms: core.catch_up.map_or(0, millis),
        }
    }
}

/// Fills `*out` with the default configuration.
///
/// \param out Where to write the configuration.
/// \return `SCUTTLE_STATUS_OK`, or `SCUTTLE_STATUS_INVALID_ARGUMENT` if `out` is NULL.
///
/// # Safety
/// `out` must be NULL or point to writable memory for one `ScuttleConfig`.
#[no_mangle]
pub unsafe extern "C" fn scuttle_config_default(out: *mut ScuttleConfig) -> ScuttleStatus {
    ffi_call(|| {
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        // SAFETY: checked non-NULL; the caller guarantees it is writable.
        unsafe { out.write(ScuttleConfig::default()) };
        Ok(())
    })
}

/// A copy of one entry of the map, returned by `scuttle_gossip_get()`.
///
/// Ownership: the caller owns `value` and `source_id` and releases both with
/// `scuttle_entry_free()` (calling it on a zeroed or already released entry is harmless).
#[repr(C)]
#[derive(Debug)]
pub struct ScuttleEntry {
    /// The value (`{NULL, 0}` when deleted or empty).
    pub value: ScuttleBytes,
    /// Whether the key is deleted (a tombstone).
    pub deleted: bool,
    /// The version of the write that produced this entry.
    pub version: u64,
    /// The id of the node that made that write.
    pub source_id: ScuttleBytes,
    /// Milliseconds since the Unix epoch on the writer's clock (0 when unknown).
    pub timestamp_ms: u64,
}

impl ScuttleEntry {
    pub(crate) const fn empty() -> ScuttleEntry {
        ScuttleEntry {
            value: ScuttleBytes::empty(),
            deleted: false,
            version: 0,
            source_id: ScuttleBytes::empty(),
            timestamp_ms: 0,
        }
    }

    pub(crate) fn copy(entry: &Entry<Vec<u8>>) -> ScuttleEntry {
        ScuttleEntry {
            value: entry
                .value
                .as_deref()
                .map_or_else(ScuttleBytes::empty, ScuttleBytes::copy),
            deleted: entry.is_deleted(),
            version: entry.version,
            source_id: ScuttleBytes::copy(entry.source_id.as_str().as_bytes()),
            timestamp_ms: entry.timestamp,
        }
    }
}

/// What kind of event a `ScuttleEvent` is (`ScuttleEvent.kind`).
pub type ScuttleEventKind = u32;

/// A write won and is now the state of `key` (local writes included): `key`, `value` or
/// `deleted`, `version`, `source_id`, `timestamp_ms` and `local` are set.
pub const SCUTTLE_EVENT_UPDATE: ScuttleEventKind = 1;
/// Compaction dropped `count` superseded updates; `history_len` updates remain.
pub const SCUTTLE_EVENT_COMPACTION: ScuttleEventKind = 2;
/// `count` tombstones older than the grace period were forgotten.
pub const SCUTTLE_EVENT_TOMBSTONES_COLLECTED: ScuttleEventKind = 3;
/// A peer showed that `key` was deleted and its tombstone collected, so this node forgot it.
pub const SCUTTLE_EVENT_FORGOTTEN: ScuttleEventKind = 4;
/// An event this version of the bindings does not describe; skip it.
pub const SCUTTLE_EVENT_OTHER: ScuttleEventKind = 0;

/// One event drained by `scuttle_gossip_poll_event()`. Fields that do not apply to `kind` are
/// zero / `{NULL, 0}`.
///
/// Ownership: the caller owns the buffers and releases them with `scuttle_event_free()`.
#[repr(C)]
#[derive(Debug)]
pub struct ScuttleEvent {
    /// A `SCUTTLE_EVENT_*` constant.
    pub kind: ScuttleEventKind,
    /// The key (UPDATE, FORGOTTEN).
    pub key: ScuttleBytes,
    /// The new value (UPDATE, unless `deleted`).
    pub value: ScuttleBytes,
    /// Whether the update is a delete (UPDATE).
    pub deleted: bool,
    /// The version of the update (UPDATE).
    pub version: u64,
    /// The node that made the write (UPDATE).
    pub source_id: ScuttleBytes,
    /// The writer's timestamp in milliseconds since the Unix epoch (UPDATE).
    pub timestamp_ms: u64,
    /// Whether a local `scuttle_gossip_set`/`scuttle_gossip_delete` made the update (UPDATE).
    /// When false, it came in the frame just given to `scuttle_gossip_handle_frame`: the
    /// application knows which peer sent that frame.
    pub local: bool,
    /// Updates dropped (COMPACTION) or tombstones collected (TOMBSTONES_COLLECTED).
    pub count: usize,
    /// Updates left in history (COMPACTION).
    pub history_len: usize,
}

impl ScuttleEvent {
    pub(crate) const fn empty() -> ScuttleEvent {
        ScuttleEvent {
            kind: SCUTTLE_EVENT_OTHER,
            key: ScuttleBytes::empty(),
            value: ScuttleBytes::empty(),
            deleted: false,
            version: 0,
            source_id: ScuttleBytes::empty(),
            timestamp_ms: 0,
            local: false,
            count: 0,
            history_len: 0,
        }
    }

    pub(crate) fn copy(event: &scuttle_core::Event<Vec<u8>, Vec<u8>>) -> ScuttleEvent {
        use scuttle_core::Event;
        match event {
            Event::Update { key, entry, local } => ScuttleEvent {
                kind: SCUTTLE_EVENT_UPDATE,
                key: ScuttleBytes::copy(key),
                value: entry
                    .value
                    .as_deref()
                    .map_or_else(ScuttleBytes::empty, ScuttleBytes::copy),
                deleted: entry.is_deleted(),
                version: entry.version,
                source_id: ScuttleBytes::copy(entry.source_id.as_str().as_bytes()),
                timestamp_ms: entry.timestamp,
                local: *local,
                ..ScuttleEvent::empty()
            },
            Event::Compaction {
                dropped,
                history_len,
            } => ScuttleEvent {
                kind: SCUTTLE_EVENT_COMPACTION,
                count: *dropped,
                history_len: *history_len,
                ..ScuttleEvent::empty()
            },
            Event::TombstonesCollected { count } => ScuttleEvent {
                kind: SCUTTLE_EVENT_TOMBSTONES_COLLECTED,
                count: *count,
                ..ScuttleEvent::empty()
            },
            Event::Forgotten { key } => ScuttleEvent {
                kind: SCUTTLE_EVENT_FORGOTTEN,
                key: ScuttleBytes::copy(key),
                ..ScuttleEvent::empty()
            },
            _ => ScuttleEvent::empty(),
        }
    }
}

/// A snapshot of the live keys of a node, sorted in byte order; made by
/// `scuttle_gossip_keys()`, read with `scuttle_keys_len()` and `scuttle_keys_get()`, released
/// with `scuttle_keys_free()`. It does not change when the node does.
pub struct ScuttleKeys {
    pub(crate) keys: Vec<Vec<u8>>,
}

/// Releases a buffer and sets it to `{NULL, 0}`. NULL, and a buffer already released, are
/// accepted and do nothing.
///
/// \param bytes The buffer to release.
///
/// # Safety
/// `bytes` must be NULL or point to a `ScuttleBytes` that is `{NULL, 0}` or was filled by this
/// library and not changed since.
#[no_mangle]
pub unsafe extern "C" fn scuttle_bytes_free(bytes: *mut ScuttleBytes) {
    ffi_void(|| {
        // SAFETY: the caller guarantees the pointer is NULL or valid and library-made.
        if let Some(bytes) = unsafe { bytes.as_mut() } {
            // SAFETY: as above.
            unsafe { bytes.release() };
        }
    })
}

/// Releases the buffers of an entry and zeroes it. NULL is accepted.
///
/// \param entry The entry filled by `scuttle_gossip_get()`.
///
/// # Safety
/// `entry` must be NULL or point to a `ScuttleEntry` that is zeroed or was filled by this
/// library and not changed since.
#[no_mangle]
pub unsafe extern "C" fn scuttle_entry_free(entry: *mut ScuttleEntry) {
    ffi_void(|| {
        // SAFETY: the caller guarantees the pointer is NULL or valid and library-made.
        if let Some(entry) = unsafe { entry.as_mut() } {
            // SAFETY: as above.
            unsafe {
                entry.value.release();
                entry.source_id.release();
            }
            *entry = ScuttleEntry::empty();
        }
    })
}

/// Releases the buffers of an event and zeroes it. NULL is accepted.
///
/// \param event The event filled by `scuttle_gossip_poll_event()`.
///
/// # Safety
/// `event` must be NULL or point to a `ScuttleEvent` that is zeroed or was filled by this
/// library and not changed since.
#[no_mangle]
pub unsafe extern "C" fn scuttle_event_free(event: *mut ScuttleEvent) {
    ffi_void(|| {
        // SAFETY: the caller guarantees the pointer is NULL or valid and library-made.
        if let Some(event) = unsafe { event.as_mut() } {
            // SAFETY: as above.
            unsafe {
                event.key.release();
                event.value.release();
                event.source_id.release();
            }
            *event = ScuttleEvent::empty();
        }
    })
}

/// The number of keys in a key list.
///
/// \param keys The list.
/// \param out Where to write the count.
/// \return `SCUTTLE_STATUS_OK`, or `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer.
///
/// # Safety
/// `keys` must be NULL or a live list from `scuttle_gossip_keys()`; `out` must be NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_keys_len(
    keys: *const ScuttleKeys,
    out: *mut usize,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: the caller guarantees `keys` is NULL or a live list.
        let keys = unsafe { keys.as_ref() }.ok_or_else(|| Failure::invalid("keys is NULL"))?;
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        // SAFETY: checked non-NULL; the caller guarantees it is writable.
        unsafe { out.write(keys.keys.len()) };
        Ok(())
    })
}

/// Borrows the key at `index` of a key list.
///
/// \param keys The list.
/// \param index From 0 to `scuttle_keys_len() - 1`.
/// \param key_out Where to write a pointer to the key's bytes. The bytes are followed by a NUL
/// byte (not counted), so the pointer is never NULL, even for the empty key.
/// \param len_out Where to write the key's length.
/// \return `SCUTTLE_STATUS_OK`; `SCUTTLE_STATUS_INVALID_ARGUMENT` for a NULL pointer or an index
/// out of range.
///
/// The bytes belong to the list: they stay valid until `scuttle_keys_free(keys)`.
///
/// # Safety
/// `keys` must be NULL or a live list from `scuttle_gossip_keys()`; `key_out` and `len_out` must
/// be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn scuttle_keys_get(
    keys: *const ScuttleKeys,
    index: usize,
    key_out: *mut *const u8,
    len_out: *mut usize,
) -> ScuttleStatus {
    ffi_call(|| {
        // SAFETY: the caller guarantees `keys` is NULL or a live list.
        let keys = unsafe { keys.as_ref() }.ok_or_else(|| Failure::invalid("keys is NULL"))?;
        if key_out.is_null() || len_out.is_null() {
            return Err(Failure::invalid("key_out or len_out is NULL"));
        }
        let key = keys.keys.get(index).ok_or_else(|| {
            Failure::invalid(format!(
                "index {index} out of range (the list holds {} keys)",
                keys.keys.len()
            ))
        })?;
        // Each stored key carries a trailing NUL (see `scuttle_gossip_keys`), not counted.
        let len = key.len().saturating_sub(1);
        // SAFETY: both checked non-NULL; the caller guarantees they are writable.
        unsafe {
            key_out.write(key.as_ptr());
            len_out.write(len);
        }
        Ok(())
    })
}

/// Releases a key list. NULL is accepted.
///
/// \param keys The list made by `scuttle_gossip_keys()`; it must not be used afterwards.
///
/// # Safety
/// `keys` must be NULL or a list from `scuttle_gossip_keys()` not yet released.
#[no_mangle]
pub unsafe extern "C" fn scuttle_keys_free(keys: *mut ScuttleKeys) {
    ffi_void(|| {
        if !keys.is_null() {
            // SAFETY: the caller guarantees it came from `Box::into_raw` in `scuttle_gossip_keys`
            // and was not released before.
            drop(unsafe { Box::from_raw(keys) });
        }
    })
}
