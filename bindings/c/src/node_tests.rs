//! Unit tests of the networked node's FFI: argument errors, configuration errors, the event
//! and list types, and two TCP nodes on loopback driven through the entry points.

use std::ffi::{c_char, CString};
use std::ptr;

use scuttle_node::{Liveness, MemberView, Notice};

use crate::tests::last_error;
use crate::*;

fn bytes_of(b: &ScuttleBytes) -> Vec<u8> {
    if b.ptr.is_null() {
        return Vec::new();
    }
    // SAFETY: a library-made buffer of `len` bytes.
    unsafe { std::slice::from_raw_parts(b.ptr, b.len) }.to_vec()
}

fn strings_of(s: &ScuttleStrings) -> Vec<String> {
    if s.items.is_null() {
        return Vec::new();
    }
    // SAFETY: a library-made list of `len` buffers.
    unsafe { std::slice::from_raw_parts(s.items, s.len) }
        .iter()
        .map(|b| String::from_utf8(bytes_of(b)).expect("UTF-8"))
        .collect()
}

/// Starts a node from `config`; the status, and the node on success.
fn start(config: &ScuttleNodeConfig) -> (ScuttleStatus, *mut ScuttleNode) {
    let mut node = ptr::null_mut();
    // SAFETY: a valid config whose strings outlive the call, and a valid out-pointer.
    let s = unsafe { scuttle_node_start(config, &mut node) };
    (s, node)
}

/// A TCP node on a free loopback port, connecting to `peers`, keeping its data in a new
/// directory (so writes are open at once: no catch-up wait).
fn tcp_node(id: &str, peers: &[String]) -> (*mut ScuttleNode, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dir_text = CString::new(dir.path().to_str().expect("UTF-8 path")).expect("no NUL");
    let id = CString::new(id).expect("no NUL");
    let listen = CString::new("127.0.0.1:0").expect("no NUL");
    let listen_list = [listen.as_ptr()];
    let peers: Vec<CString> = peers
        .iter()
        .map(|p| CString::new(p.as_str()).expect("no NUL"))
        .collect();
    let peer_list: Vec<*const c_char> = peers.iter().map(|p| p.as_ptr()).collect();
    let toml = CString::new("resolver = \"lww\"").expect("no NUL");
    let mut c = ScuttleNodeConfig::default();
    // SAFETY: a valid out-pointer.
    assert_eq!(
        unsafe { scuttle_node_config_default(&mut c) },
        ScuttleStatus::Ok
    );
    c.transport = SCUTTLE_TRANSPORT_TCP;
    c.id = id.as_ptr();
    c.listen = listen_list.as_ptr();
    c.listen_len = 1;
    c.peers = peer_list.as_ptr();
    c.peers_len = peer_list.len();
    c.interval_ms = 50;
    c.data_dir = dir_text.as_ptr();
    c.toml = toml.as_ptr();
    let (s, node) = start(&c);
    assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
    assert!(!node.is_null());
    (node, dir)
}

fn listen_addrs(node: *const ScuttleNode) -> Vec<String> {
    let mut out = ScuttleStrings::empty();
    // SAFETY: a live node and a valid out-pointer.
    assert_eq!(
        unsafe { scuttle_node_listen_addrs(node, &mut out) },
        ScuttleStatus::Ok
    );
    let addrs = strings_of(&out);
    // SAFETY: library-made.
    unsafe { scuttle_strings_free(&mut out) };
    addrs
}

fn get(node: *const ScuttleNode, key: &str) -> (ScuttleStatus, Option<Vec<u8>>) {
    let mut entry = ScuttleEntry::empty();
    // SAFETY: a live node, a valid key and out-pointer.
    let s = unsafe { scuttle_node_get(node, key.as_ptr(), key.len(), &mut entry) };
    let value = (!entry.value.ptr.is_null()).then(|| bytes_of(&entry.value));
    // SAFETY: library-made.
    unsafe { scuttle_entry_free(&mut entry) };
    (s, value)
}

/// Polls `node` until an UPDATE of `key` arrives; its value (`None`: a delete) and peer.
fn wait_for_update(node: *const ScuttleNode, key: &str) -> (Option<Vec<u8>>, Vec<u8>) {
    // Generous: 600 polls of up to 100 ms; the loop ends as soon as the event comes.
    for _ in 0..600 {
        let mut event = ScuttleNodeEvent::empty();
        // SAFETY: a live node and a valid out-pointer.
        let s = unsafe { scuttle_node_poll_event(node, 100, &mut event) };
        let found = (s == ScuttleStatus::Ok
            && event.kind == SCUTTLE_NODE_EVENT_UPDATE
            && bytes_of(&event.key) == key.as_bytes())
        .then(|| {
            let value = (!event.deleted).then(|| bytes_of(&event.value));
            (value, bytes_of(&event.peer))
        });
        // SAFETY: library-made.
        unsafe { scuttle_node_event_free(&mut event) };
        if let Some(found) = found {
            return found;
        }
        assert!(
            matches!(s, ScuttleStatus::Ok | ScuttleStatus::Empty),
            "{s:?}: {}",
            last_error()
        );
    }
    panic!("no update of {key} arrived");
}

#[test]
fn two_tcp_nodes_converge_through_the_ffi() {
    let (a, _a_dir) = tcp_node("a", &[]);
    let (b, _b_dir) = tcp_node("b", &listen_addrs(a));

    let mut id = ScuttleBytes::empty();
    // SAFETY: a live node and a valid out-pointer.
    assert_eq!(unsafe { scuttle_node_id(a, &mut id) }, ScuttleStatus::Ok);
    assert_eq!(bytes_of(&id), b"a");
    // SAFETY: library-made.
    unsafe { scuttle_bytes_free(&mut id) };

    let mut version = 0;
    // SAFETY: a live node, valid key, value and out-pointer.
    let s = unsafe { scuttle_node_set(a, b"k".as_ptr(), 1, b"v".as_ptr(), 1, &mut version) };
    assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
    assert!(version > 0);
    assert_eq!(
        wait_for_update(b, "k"),
        (Some(b"v".to_vec()), b"a".to_vec())
    );
    assert_eq!(get(b, "k"), (ScuttleStatus::Ok, Some(b"v".to_vec())));
    assert_eq!(get(b, "missing"), (ScuttleStatus::NotFound, None));

    let mut members = ScuttleMembers::empty();
    // SAFETY: a live node and a valid out-pointer.
    assert_eq!(
        unsafe { scuttle_node_members(b, &mut members) },
        ScuttleStatus::Ok
    );
    assert_eq!(members.len, 1);
    // SAFETY: one member, library-made.
    let member = unsafe { &*members.items };
    assert_eq!(bytes_of(&member.id), b"a");
    assert!(member.connected);
    // SAFETY: library-made.
    unsafe { scuttle_members_free(&mut members) };
    assert!(members.items.is_null());

    // SAFETY: a live node, a valid key and out-pointer.
    let s = unsafe { scuttle_node_delete(a, b"k".as_ptr(), 1, &mut version) };
    assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
    assert_eq!(wait_for_update(b, "k"), (None, b"a".to_vec()));
    assert_eq!(get(b, "k"), (ScuttleStatus::Deleted, None));

    // SAFETY: live nodes, each stopped once.
    unsafe {
        scuttle_node_stop(b);
        scuttle_node_stop(a);
    }
}

#[test]
fn null_arguments_are_refused_and_stop_accepts_null() {
    let mut node: *mut ScuttleNode = ptr::null_mut();
    // SAFETY (all calls): NULL pointers are what is tested; the rest is valid.
    unsafe {
        assert_eq!(
            scuttle_node_start(ptr::null(), ptr::null_mut()),
            ScuttleStatus::InvalidArgument
        );
        assert_eq!(
            scuttle_node_config_default(ptr::null_mut()),
            ScuttleStatus::InvalidArgument
        );
        let mut entry = ScuttleEntry::empty();
        assert_eq!(
            scuttle_node_get(ptr::null(), b"k".as_ptr(), 1, &mut entry),
            ScuttleStatus::InvalidArgument
        );
        assert_eq!(
            scuttle_node_set(ptr::null(), ptr::null(), 0, ptr::null(), 0, ptr::null_mut()),
            ScuttleStatus::InvalidArgument
        );
        assert_eq!(
            scuttle_node_delete(ptr::null(), ptr::null(), 0, ptr::null_mut()),
            ScuttleStatus::InvalidArgument
        );
        let mut event = ScuttleNodeEvent::empty();
        assert_eq!(
            scuttle_node_poll_event(ptr::null(), 0, &mut event),
            ScuttleStatus::InvalidArgument
        );
        let mut members = ScuttleMembers::empty();
        assert_eq!(
            scuttle_node_members(ptr::null(), &mut members),
            ScuttleStatus::InvalidArgument
        );
        let mut strings = ScuttleStrings::empty();
        assert_eq!(
            scuttle_node_listen_addrs(ptr::null(), &mut strings),
            ScuttleStatus::InvalidArgument
        );
        assert_eq!(
            scuttle_node_peers(ptr::null(), &mut strings),
            ScuttleStatus::InvalidArgument
        );
        let mut bytes = ScuttleBytes::empty();
        assert_eq!(
            scuttle_node_id(ptr::null(), &mut bytes),
            ScuttleStatus::InvalidArgument
        );
        assert_eq!(
            scuttle_node_api_addr(ptr::null(), &mut bytes),
            ScuttleStatus::InvalidArgument
        );
        assert!(last_error().contains("node is NULL"), "{}", last_error());
        scuttle_node_stop(ptr::null_mut());
        scuttle_node_event_free(ptr::null_mut());
        scuttle_members_free(ptr::null_mut());
        scuttle_strings_free(ptr::null_mut());
        // Zeroed structs are accepted by their free functions too.
        scuttle_node_event_free(&mut event);
        scuttle_members_free(&mut members);
        scuttle_strings_free(&mut strings);
        assert!(node.is_null());
        // A NULL string in a list, with a non-zero length.
        let mut c = ScuttleNodeConfig::default();
        let list = [ptr::null::<c_char>()];
        c.listen = list.as_ptr();
        c.listen_len = 1;
        assert_eq!(
            scuttle_node_start(&c, &mut node),
            ScuttleStatus::InvalidArgument
        );
        c.listen = ptr::null();
        assert_eq!(
            scuttle_node_start(&c, &mut node),
            ScuttleStatus::InvalidArgument
        );
        assert!(node.is_null());
    }
}

/// Every configuration mistake is `SCUTTLE_STATUS_INVALID_CONFIG`, with a message naming it,
/// and starts nothing.
#[test]
fn bad_configurations_say_invalid_config() {
    let not_utf8 = [0xffu8, 0xfe, 0];
    let bad_toml = CString::new("fanot = 3").expect("no NUL");
    let bad_resolver = CString::new("resolver = \"nope\"").expect("no NUL");
    let id = CString::new("a").expect("no NUL");
    let bad_addr = CString::new("nowhere").expect("no NUL");
    type Change<'a> = Box<dyn Fn(&mut ScuttleNodeConfig) + 'a>;
    let cases: Vec<(&str, Change)> = vec![
        ("version", Box::new(|c| c.version = 99)),
        ("transport", Box::new(|c| c.transport = 7)),
        ("fanot", Box::new(|c| c.toml = bad_toml.as_ptr())),
        ("nope", Box::new(|c| c.toml = bad_resolver.as_ptr())),
        (
            "cluster is not UTF-8",
            Box::new(|c| c.cluster = not_utf8.as_ptr().cast()),
        ),
        ("libp2p", Box::new(|c| c.id = id.as_ptr())),
        ("api", Box::new(|c| c.api = bad_addr.as_ptr())),
    ];
    for (mentions, change) in cases {
        let mut c = ScuttleNodeConfig {
            transport: SCUTTLE_TRANSPORT_LIBP2P,
            ..ScuttleNodeConfig::default()
        };
        change(&mut c);
        let (s, node) = start(&c);
        assert_eq!(
            s,
            ScuttleStatus::InvalidConfig,
            "{mentions}: {}",
            last_error()
        );
        assert!(
            last_error().contains(mentions),
            "{mentions}: {}",
            last_error()
        );
        assert!(node.is_null());
    }
    // A TCP listen address that is not HOST:PORT.
    let list = [bad_addr.as_ptr()];
    let c = ScuttleNodeConfig {
        transport: SCUTTLE_TRANSPORT_TCP,
        listen: list.as_ptr(),
        listen_len: 1,
        ..ScuttleNodeConfig::default()
    };
    assert_eq!(
        start(&c).0,
        ScuttleStatus::InvalidConfig,
        "{}",
        last_error()
    );
}

#[test]
fn an_address_in_use_is_a_network_error() {
    let (a, _dir) = tcp_node("a", &[]);
    let taken = CString::new(listen_addrs(a).remove(0)).expect("no NUL");
    let list = [taken.as_ptr()];
    let c = ScuttleNodeConfig {
        transport: SCUTTLE_TRANSPORT_TCP,
        listen: list.as_ptr(),
        listen_len: 1,
        ..ScuttleNodeConfig::default()
    };
    let (s, node) = start(&c);
    assert_eq!(s, ScuttleStatus::Network, "{}", last_error());
    assert!(node.is_null());
    // SAFETY: a live node, stopped once.
    unsafe { scuttle_node_stop(a) };
}

#[test]
fn keys_and_values_must_be_utf8_and_no_event_is_empty() {
    let (a, _dir) = tcp_node("a", &[]);
    let bad = [0xffu8, 0xfe];
    // SAFETY (all calls): a live node; the byte strings are valid, just not UTF-8.
    unsafe {
        let s = scuttle_node_set(a, bad.as_ptr(), 2, b"v".as_ptr(), 1, ptr::null_mut());
        assert_eq!(s, ScuttleStatus::InvalidArgument);
        assert!(
            last_error().contains("key is not UTF-8"),
            "{}",
            last_error()
        );
        let s = scuttle_node_set(a, b"k".as_ptr(), 1, bad.as_ptr(), 2, ptr::null_mut());
        assert_eq!(s, ScuttleStatus::InvalidArgument);
        assert!(
            last_error().contains("value is not UTF-8"),
            "{}",
            last_error()
        );
        let s = scuttle_node_delete(a, bad.as_ptr(), 2, ptr::null_mut());
        assert_eq!(s, ScuttleStatus::InvalidArgument);
        let mut entry = ScuttleEntry::empty();
        assert_eq!(
            scuttle_node_get(a, bad.as_ptr(), 2, &mut entry),
            ScuttleStatus::InvalidArgument
        );
        // A NULL key with a length.
        let s = scuttle_node_set(a, ptr::null(), 3, b"v".as_ptr(), 1, ptr::null_mut());
        assert_eq!(s, ScuttleStatus::InvalidArgument);
        // The empty key and value are fine.
        let s = scuttle_node_set(a, ptr::null(), 0, ptr::null(), 0, ptr::null_mut());
        assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
        let mut event = ScuttleNodeEvent::empty();
        assert_eq!(
            scuttle_node_poll_event(a, 0, &mut event),
            ScuttleStatus::Empty
        );
        assert_eq!(event.kind, SCUTTLE_NODE_EVENT_OTHER);
        let mut api = ScuttleBytes::empty();
        assert_eq!(scuttle_node_api_addr(a, &mut api), ScuttleStatus::NotFound);
        assert!(api.ptr.is_null());
        scuttle_node_stop(a);
    }
}

/// Each notice becomes the event its kind documents, and the free function releases it.
#[test]
fn every_notice_has_its_event() {
    let notices = [
        (
            Notice::Update {
                key: "k".into(),
                value: Some("v".into()),
                from: "p".into(),
            },
            SCUTTLE_NODE_EVENT_UPDATE,
        ),
        (
            Notice::Update {
                key: "k".into(),
                value: None,
                from: "p".into(),
            },
            SCUTTLE_NODE_EVENT_UPDATE,
        ),
        (
            Notice::Forgotten {
                key: "k".into(),
                from: "p".into(),
            },
            SCUTTLE_NODE_EVENT_FORGOTTEN,
        ),
        (
            Notice::PeerConnected("p".into()),
            SCUTTLE_NODE_EVENT_PEER_CONNECTED,
        ),
        (
            Notice::PeerDisconnected {
                peer: "p".into(),
                reason: "r".into(),
            },
            SCUTTLE_NODE_EVENT_PEER_DISCONNECTED,
        ),
        (
            Notice::ConnectionFailed("r".into()),
            SCUTTLE_NODE_EVENT_CONNECTION_FAILED,
        ),
        (
            Notice::Refused {
                peer: "p".into(),
                error: "r".into(),
            },
            SCUTTLE_NODE_EVENT_REFUSED,
        ),
        (Notice::Lagged(5), SCUTTLE_NODE_EVENT_LAGGED),
    ];
    for (notice, kind) in notices {
        let mut event = ScuttleNodeEvent::copy(&notice);
        assert_eq!(event.kind, kind, "{notice:?}");
        let peer_expected = !matches!(notice, Notice::ConnectionFailed(_) | Notice::Lagged(_));
        assert_eq!(bytes_of(&event.peer) == b"p", peer_expected, "{notice:?}");
        match &notice {
            Notice::Update { value, .. } => {
                assert_eq!(event.deleted, value.is_none());
                assert_eq!(bytes_of(&event.key), b"k");
            }
            Notice::Lagged(n) => assert_eq!(event.count, *n),
            Notice::PeerDisconnected { .. }
            | Notice::ConnectionFailed(_)
            | Notice::Refused { .. } => {
                assert_eq!(bytes_of(&event.reason), b"r");
            }
            _ => {}
        }
        // SAFETY: library-made.
        unsafe { scuttle_node_event_free(&mut event) };
        assert!(event.key.ptr.is_null() && event.peer.ptr.is_null());
    }
}

#[test]
fn member_lists_copy_addresses_and_liveness() {
    let views = [
        MemberView {
            id: "m1".into(),
            addrs: vec!["/ip4/1.2.3.4/tcp/1".into(), "x".into()],
            state: Liveness::Suspect,
            connected: false,
        },
        MemberView {
            id: "m2".into(),
            addrs: vec![],
            state: Liveness::Down,
            connected: true,
        },
    ];
    let mut members = ScuttleMembers::copy(&views);
    assert_eq!(members.len, 2);
    // SAFETY: two members, library-made.
    let items = unsafe { std::slice::from_raw_parts(members.items, 2) };
    assert_eq!(bytes_of(&items[0].id), b"m1");
    assert_eq!(strings_of(&items[0].addrs), ["/ip4/1.2.3.4/tcp/1", "x"]);
    assert_eq!(items[0].state, SCUTTLE_LIVENESS_SUSPECT);
    assert!(!items[0].connected);
    assert!(items[1].addrs.items.is_null());
    assert_eq!(items[1].state, SCUTTLE_LIVENESS_DOWN);
    // SAFETY: library-made; released twice: the second call sees `{NULL, 0}`.
    unsafe {
        scuttle_members_free(&mut members);
        scuttle_members_free(&mut members);
    }
    assert_eq!(ScuttleMembers::copy(&[]).len, 0);
}
