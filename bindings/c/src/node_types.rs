//! The plain C types a networked node hands out: events, members and lists of strings.

use std::ptr;

use scuttle_node::{Liveness, MemberView, Notice};

use crate::error::ffi_void;
use crate::types::ScuttleBytes;

/// A list of strings owned by the caller (listen addresses, a member's addresses): `items`
/// points at `len` buffers, each UTF-8 with a trailing NUL. Empty: `{NULL, 0}`.
///
/// Ownership: release it with `scuttle_strings_free()` (or the free function of the struct
/// that holds it).
#[repr(C)]
#[derive(Debug)]
pub struct ScuttleStrings {
    /// The first string, or NULL when the list is empty.
    pub items: *mut ScuttleBytes,
    /// Number of strings.
    pub len: usize,
}

impl ScuttleStrings {
    pub(crate) const fn empty() -> ScuttleStrings {
        ScuttleStrings {
            items: ptr::null_mut(),
            len: 0,
        }
    }

    pub(crate) fn copy<S: AsRef<str>>(texts: &[S]) -> ScuttleStrings {
        let items: Vec<ScuttleBytes> = texts
            .iter()
            .map(|t| ScuttleBytes::copy(t.as_ref().as_bytes()))
            .collect();
        from_boxed(items.into_boxed_slice(), |items, len| ScuttleStrings {
            items,
            len,
        })
    }

    /// # Safety
    /// `self` must be empty or made by [`ScuttleStrings::copy`] and unchanged.
    pub(crate) unsafe fn release(&mut self) {
        // SAFETY: forwarded from the caller.
        for mut item in unsafe { take_boxed(self.items, self.len) }.into_vec() {
            // SAFETY: each item was made by `ScuttleBytes::copy`.
            unsafe { item.release() };
        }
        *self = ScuttleStrings::empty();
    }
}

/// Hands a boxed slice over as (pointer, length); an empty slice is `(NULL, 0)`.
fn from_boxed<T, R>(items: Box<[T]>, make: impl FnOnce(*mut T, usize) -> R) -> R {
    let len = items.len();
    if len == 0 {
        return make(ptr::null_mut(), 0);
    }
    make(Box::into_raw(items).cast::<T>(), len)
}

/// Takes back a slice handed over by [`from_boxed`].
///
/// # Safety
/// `(items, len)` must be `(NULL, _)` or come from [`from_boxed`], not taken back before.
unsafe fn take_boxed<T>(items: *mut T, len: usize) -> Box<[T]> {
    if items.is_null() {
        return Box::new([]);
    }
    // SAFETY: the caller guarantees this is the boxed slice made by `from_boxed`.
    unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(items, len)) }
}

/// What kind of event a `ScuttleNodeEvent` is (`ScuttleNodeEvent.kind`).
pub type ScuttleNodeEventKind = u32;

/// An event this version of the bindings does not describe; skip it.
pub const SCUTTLE_NODE_EVENT_OTHER: ScuttleNodeEventKind = 0;
/// A peer's message changed `key`: `value` (or `deleted`) and `peer`, the peer that
/// delivered it, are set. Local writes make no event.
pub const SCUTTLE_NODE_EVENT_UPDATE: ScuttleNodeEventKind = 1;
/// `key`'s tombstone was collected on `peer`'s word, so this node forgot the key.
pub const SCUTTLE_NODE_EVENT_FORGOTTEN: ScuttleNodeEventKind = 2;
/// `peer` connected.
pub const SCUTTLE_NODE_EVENT_PEER_CONNECTED: ScuttleNodeEventKind = 3;
/// `peer`'s connection ended; `reason` says why.
pub const SCUTTLE_NODE_EVENT_PEER_DISCONNECTED: ScuttleNodeEventKind = 4;
/// A connection failed before its peer was known; `reason` says why.
pub const SCUTTLE_NODE_EVENT_CONNECTION_FAILED: ScuttleNodeEventKind = 5;
/// `peer`'s message was refused by the resolver or sorter; `reason` says why.
pub const SCUTTLE_NODE_EVENT_REFUSED: ScuttleNodeEventKind = 6;
/// The caller polled too slowly and `count` events were dropped (the node keeps the last
/// 1024); the state itself is complete: read it with `scuttle_node_get()`.
pub const SCUTTLE_NODE_EVENT_LAGGED: ScuttleNodeEventKind = 7;

/// One event of a networked node, from `scuttle_node_poll_event()`. Fields that do not apply
/// to `kind` are zero / `{NULL, 0}`; every text is UTF-8 with a trailing NUL.
///
/// Ownership: the caller owns the buffers and releases them with `scuttle_node_event_free()`.
#[repr(C)]
#[derive(Debug)]
pub struct ScuttleNodeEvent {
    /// A `SCUTTLE_NODE_EVENT_*` constant.
    pub kind: ScuttleNodeEventKind,
    /// The key (UPDATE, FORGOTTEN).
    pub key: ScuttleBytes,
    /// The new value (UPDATE, unless `deleted`).
    pub value: ScuttleBytes,
    /// Whether the update is a delete (UPDATE).
    pub deleted: bool,
    /// The peer's id (every kind but CONNECTION_FAILED and LAGGED).
    pub peer: ScuttleBytes,
    /// Why, in words (PEER_DISCONNECTED, CONNECTION_FAILED, REFUSED).
    pub reason: ScuttleBytes,
    /// Events dropped (LAGGED).
    pub count: u64,
}

fn text(s: &str) -> ScuttleBytes {
    ScuttleBytes::copy(s.as_bytes())
}

impl ScuttleNodeEvent {
    pub(crate) const fn empty() -> ScuttleNodeEvent {
        ScuttleNodeEvent {
            kind: SCUTTLE_NODE_EVENT_OTHER,
            key: ScuttleBytes::empty(),
            value: ScuttleBytes::empty(),
            deleted: false,
            peer: ScuttleBytes::empty(),
            reason: ScuttleBytes::empty(),
            count: 0,
        }
    }

    pub(crate) fn copy(notice: &Notice) -> ScuttleNodeEvent {
        let empty = ScuttleNodeEvent::empty();
        match notice {
            Notice::Update { key, value, from } => ScuttleNodeEvent {
                kind: SCUTTLE_NODE_EVENT_UPDATE,
                key: text(key),
                value: value.as_deref().map_or_else(ScuttleBytes::empty, text),
                deleted: value.is_none(),
                peer: text(from),
                ..empty
            },
            Notice::Forgotten { key, from } => ScuttleNodeEvent {
                kind: SCUTTLE_NODE_EVENT_FORGOTTEN,
                key: text(key),
                peer: text(from),
                ..empty
            },
            Notice::PeerConnected(peer) => ScuttleNodeEvent {
                kind: SCUTTLE_NODE_EVENT_PEER_CONNECTED,
                peer: text(peer),
                ..empty
            },
            Notice::PeerDisconnected { peer, reason } => ScuttleNodeEvent {
                kind: SCUTTLE_NODE_EVENT_PEER_DISCONNECTED,
                peer: text(peer),
                reason: text(reason),
                ..empty
            },
            Notice::ConnectionFailed(reason) => ScuttleNodeEvent {
                kind: SCUTTLE_NODE_EVENT_CONNECTION_FAILED,
                reason: text(reason),
                ..empty
            },
            Notice::Refused { peer, error } => ScuttleNodeEvent {
                kind: SCUTTLE_NODE_EVENT_REFUSED,
                peer: text(peer),
                reason: text(error),
                ..empty
            },
            Notice::Lagged(count) => ScuttleNodeEvent {
                kind: SCUTTLE_NODE_EVENT_LAGGED,
                count: *count,
                ..empty
            },
            _ => empty,
        }
    }
}

/// A member's liveness as this node sees it (`ScuttleMember.state`).
pub type ScuttleLiveness = u32;

/// Answers probes (TCP: connected).
pub const SCUTTLE_LIVENESS_ALIVE: ScuttleLiveness = 0;
/// Missed a probe; declared down unless it refutes the suspicion in time (libp2p).
pub const SCUTTLE_LIVENESS_SUSPECT: ScuttleLiveness = 1;
/// Declared down by the cluster; its connections are closed (libp2p).
pub const SCUTTLE_LIVENESS_DOWN: ScuttleLiveness = 2;

/// One member of the cluster, other than this node.
#[repr(C)]
#[derive(Debug)]
pub struct ScuttleMember {
    /// Its node id (libp2p: its peer id; TCP: the id from its hello).
    pub id: ScuttleBytes,
    /// Where it can be reached (libp2p; empty for TCP).
    pub addrs: ScuttleStrings,
    /// A `SCUTTLE_LIVENESS_*` constant.
    pub state: ScuttleLiveness,
    /// Whether this node has a connection to it now.
    pub connected: bool,
}

/// The members a node knows of, sorted by id (`scuttle_node_members()`): `items` points at
/// `len` members. Empty: `{NULL, 0}`.
///
/// Ownership: the caller releases it with `scuttle_members_free()`.
#[repr(C)]
#[derive(Debug)]
pub struct ScuttleMembers {
    /// The first member, or NULL when there is none.
    pub items: *mut ScuttleMember,
    /// Number of members.
    pub len: usize,
}

impl ScuttleMembers {
    pub(crate) const fn empty() -> ScuttleMembers {
        ScuttleMembers {
            items: ptr::null_mut(),
            len: 0,
        }
    }

    pub(crate) fn copy(members: &[MemberView]) -> ScuttleMembers {
        let items: Vec<ScuttleMember> = members
            .iter()
            .map(|m| ScuttleMember {
                id: text(&m.id),
                addrs: ScuttleStrings::copy(&m.addrs),
                state: match m.state {
                    Liveness::Alive => SCUTTLE_LIVENESS_ALIVE,
                    Liveness::Suspect => SCUTTLE_LIVENESS_SUSPECT,
                    Liveness::Down => SCUTTLE_LIVENESS_DOWN,
                },
                connected: m.connected,
            })
            .collect();
        from_boxed(items.into_boxed_slice(), |items, len| ScuttleMembers {
            items,
            len,
        })
    }
}

/// Releases a list of strings and sets it to `{NULL, 0}`. NULL, and a list already released,
/// are accepted and do nothing.
///
/// \param strings The list filled by `scuttle_node_listen_addrs()` or `scuttle_node_peers()`.
///
/// # Safety
/// `strings` must be NULL or point to a `ScuttleStrings` that is `{NULL, 0}` or was filled by
/// this library and not changed since.
#[no_mangle]
pub unsafe extern "C" fn scuttle_strings_free(strings: *mut ScuttleStrings) {
    ffi_void(|| {
        // SAFETY: the caller guarantees NULL or a library-made list.
        if let Some(strings) = unsafe { strings.as_mut() } {
            // SAFETY: as above.
            unsafe { strings.release() };
        }
    })
}

/// Releases a member list and sets it to `{NULL, 0}`. NULL, and a list already released, are
/// accepted and do nothing.
///
/// \param members The list filled by `scuttle_node_members()`.
///
/// # Safety
/// `members` must be NULL or point to a `ScuttleMembers` that is `{NULL, 0}` or was filled by
/// this library and not changed since.
#[no_mangle]
pub unsafe extern "C" fn scuttle_members_free(members: *mut ScuttleMembers) {
    ffi_void(|| {
        // SAFETY: the caller guarantees NULL or a library-made list.
        let Some(members) = (unsafe { members.as_mut() }) else {
            return;
        };
        // SAFETY: as above: made by `from_boxed` in `ScuttleMembers::copy`.
        for mut member in unsafe { take_boxed(members.items, members.len) }.into_vec() {
            // SAFETY: made by `ScuttleMembers::copy`.
            unsafe {
                member.id.release();
                member.addrs.release();
            }
        }
        *members = ScuttleMembers::empty();
    })
}

/// Releases the buffers of a node event and zeroes it. NULL is accepted.
///
/// \param event The event filled by `scuttle_node_poll_event()`.
///
/// # Safety
/// `event` must be NULL or point to a `ScuttleNodeEvent` that is zeroed or was filled by this
/// library and not changed since.
#[no_mangle]
pub unsafe extern "C" fn scuttle_node_event_free(event: *mut ScuttleNodeEvent) {
    ffi_void(|| {
        // SAFETY: the caller guarantees NULL or a library-made event.
        if let Some(event) = unsafe { event.as_mut() } {
            // SAFETY: as above.
            unsafe {
                event.key.release();
                event.value.release();
                event.peer.release();
                event.reason.release();
            }
            *event = ScuttleNodeEvent::empty();
        }
    })
}
