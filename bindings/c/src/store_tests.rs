//! Unit tests of durable nodes through the FFI: `scuttle_gossip_open`, reopening, the typed
//! statuses of files that are not this node's store, catch-up, and the `now_ms` of frames.

use std::fs;
use std::path::{Path, PathBuf};
use std::ptr;

use crate::tests::*;
use crate::*;

fn open_with(
    path: &Path,
    id: &str,
    c: &ScuttleConfig,
) -> Result<*mut ScuttleGossip, ScuttleStatus> {
    let p = path.as_os_str().as_encoded_bytes();
    let mut g: *mut ScuttleGossip = ptr::dangling_mut();
    // SAFETY: valid path and id bytes, config and out-pointer.
    let s = unsafe { scuttle_gossip_open(p.as_ptr(), p.len(), id.as_ptr(), id.len(), c, &mut g) };
    if s == ScuttleStatus::Ok {
        assert!(!g.is_null());
        Ok(g)
    } else {
        assert!(g.is_null(), "a failed open writes NULL");
        Err(s)
    }
}

fn open(path: &Path, id: &str) -> *mut ScuttleGossip {
    let g = open_with(path, id, &hybrid());
    g.unwrap_or_else(|s| panic!("{s:?}: {}", last_error()))
}

fn hybrid() -> ScuttleConfig {
    ScuttleConfig {
        versions: SCUTTLE_VERSIONS_HYBRID,
        ..config()
    }
}

/// A store of node "a" holding a few writes, closed.
fn filled(dir: &Path) -> PathBuf {
    let path = dir.join("a.redb");
    let g = open(&path, "a");
    for i in 0..200 {
        set(g, &format!("key-{i}"), &"x".repeat(50)).unwrap();
    }
    free(g);
    path
}

#[test]
fn a_reopened_node_keeps_its_data_tombstones_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.redb");
    let g = open(&path, "a");
    let v1 = set(g, "k", "v").unwrap();
    let v2 = set(g, "gone", "x").unwrap();
    let v3 = delete_at(g, NOW, "gone").unwrap();
    assert!(v1 < v2 && v2 < v3);
    // SAFETY: live handle.
    assert_eq!(unsafe { scuttle_gossip_flush(g) }, ScuttleStatus::Ok);
    free(g);

    let g = open(&path, "a");
    assert_eq!(version(g), v3);
    assert_eq!(
        get(g, "k"),
        (ScuttleStatus::Ok, b"v".to_vec(), v1, "a".into())
    );
    assert_eq!(get(g, "gone").0, ScuttleStatus::Deleted);
    assert_eq!(get(g, "gone").2, v3);
    assert_eq!(len(g), 1);
    assert!(events(g).is_empty(), "loading queues no event");
    // A write after the restart gets a version above every earlier one.
    assert!(set(g, "k", "w").unwrap() > v3);
    free(g);
}

#[test]
fn updates_from_a_frame_are_durable_when_the_call_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.redb");
    let a = node_with("a", &hybrid());
    let b = open(&path, "b");
    let v = set(a, "k", "from a").unwrap();
    exchange(a, b);
    let updates = events(b);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].4, v);
    free(b); // no flush: the event promised durability already
    let b = open(&path, "b");
    assert_eq!(
        get(b, "k"),
        (ScuttleStatus::Ok, b"from a".to_vec(), v, "a".into())
    );
    assert_eq!(
        exchange(a, b).len(),
        2,
        "b already holds a's news: nothing to send"
    );
    free(a);
    free(b);
}

#[test]
fn truncated_corrupt_and_other_files_are_store_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    let bytes = fs::read(&path).unwrap();
    let cut = dir.path().join("cut.redb");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(
        open_with(&cut, "a", &hybrid()),
        Err(ScuttleStatus::StoreCorrupt)
    );
    assert!(last_error().contains("corrupt"), "{}", last_error());

    let mut flipped = bytes.clone();
    for b in &mut flipped[..64] {
        *b ^= 0xA5;
    }
    let bad = dir.path().join("flipped.redb");
    fs::write(&bad, &flipped).unwrap();
    assert_eq!(
        open_with(&bad, "a", &hybrid()),
        Err(ScuttleStatus::StoreCorrupt)
    );

    let text = dir.path().join("notes.txt");
    fs::write(&text, "not a database\n".repeat(100)).unwrap();
    assert_eq!(
        open_with(&text, "a", &hybrid()),
        Err(ScuttleStatus::StoreCorrupt)
    );
    assert_eq!(
        fs::read_to_string(&text).unwrap(),
        "not a database\n".repeat(100)
    );

    // A redb database of someone else's.
    let other = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&other).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let t: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("theirs");
            txn.open_table(t).unwrap().insert("x", 1).unwrap();
        }
        txn.commit().unwrap();
    }
    assert_eq!(
        open_with(&other, "a", &hybrid()),
        Err(ScuttleStatus::StoreCorrupt)
    );
    assert!(
        last_error().contains("not a scuttle store"),
        "{}",
        last_error()
    );

    // The original is untouched by all this.
    let g = open(&path, "a");
    assert_eq!(len(g), 200);
    free(g);
}

#[test]
fn another_format_version_is_store_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let meta: redb::TableDefinition<&str, &[u8]> =
                redb::TableDefinition::new("scuttle_meta");
            let mut two = Vec::new();
            ciborium::into_writer(&2u32, &mut two).unwrap();
            txn.open_table(meta)
                .unwrap()
                .insert("format", two.as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    assert_eq!(
        open_with(&path, "a", &hybrid()),
        Err(ScuttleStatus::StoreVersion)
    );
    assert!(last_error().contains("format 2"), "{}", last_error());
}

#[test]
fn another_nodes_store_is_wrong_node_and_an_open_one_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    assert_eq!(
        open_with(&path, "b", &hybrid()),
        Err(ScuttleStatus::WrongNode)
    );
    assert!(last_error().contains("\"a\""), "{}", last_error());

    let g = open(&path, "a");
    assert_eq!(
        open_with(&path, "a", &hybrid()),
        Err(ScuttleStatus::StoreLocked)
    );
    free(g); // closing releases the file
    let g = open(&path, "a");
    assert_eq!(len(g), 200);
    free(g);
}

#[test]
fn open_refuses_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = dir.path().join("no/such/dir/a.redb");
    assert_eq!(
        open_with(&missing_dir, "a", &hybrid()),
        Err(ScuttleStatus::StoreError)
    );
    assert_eq!(
        open_with(Path::new(""), "a", &hybrid()),
        Err(ScuttleStatus::InvalidArgument)
    );
    let path = dir.path().join("a.redb");
    assert_eq!(
        open_with(&path, "", &hybrid()),
        Err(ScuttleStatus::InvalidArgument)
    );
    let bad = ScuttleConfig {
        versions: 7,
        ..hybrid()
    };
    assert_eq!(
        open_with(&path, "a", &bad),
        Err(ScuttleStatus::InvalidArgument)
    );
    assert!(last_error().contains("versions"), "{}", last_error());
    let p = path.as_os_str().as_encoded_bytes();
    // SAFETY: NULL out is the error under test.
    let s = unsafe {
        scuttle_gossip_open(
            p.as_ptr(),
            p.len(),
            b"a".as_ptr(),
            1,
            ptr::null(),
            ptr::null_mut(),
        )
    };
    assert_eq!(s, ScuttleStatus::InvalidArgument);
    // SAFETY: NULL handle is the error under test.
    assert_eq!(
        unsafe { scuttle_gossip_flush(ptr::null_mut()) },
        ScuttleStatus::InvalidArgument
    );
    // A node in memory flushes nothing, successfully.
    let g = node_with("m", &config());
    // SAFETY: live handle.
    assert_eq!(unsafe { scuttle_gossip_flush(g) }, ScuttleStatus::Ok);
    free(g);
}

#[test]
fn an_empty_node_with_catch_up_refuses_writes_until_it_heard_a_peer() {
    let dir = tempfile::tempdir().unwrap();
    let c = ScuttleConfig {
        catch_up_ms: 60_000,
        ..hybrid()
    };
    let path = dir.path().join("b.redb");
    let b = open_with(&path, "b", &c).unwrap();
    assert_eq!(set(b, "k", "v"), Err(ScuttleStatus::CatchingUp));
    assert!(last_error().contains("caught up"), "{}", last_error());
    assert_eq!(version(b), 0, "nothing changed");
    let a = node_with("a", &hybrid());
    exchange(b, a);
    assert!(set(b, "k", "v").is_ok(), "{}", last_error());
    free(b);
    // A store that holds data opens writes at once.
    let b = open_with(&path, "b", &c).unwrap();
    assert!(set(b, "k", "w").is_ok(), "{}", last_error());
    free(b);
    // Without a peer, the period ends the wait (counted from the first `now_ms`).
    let lonely = node_with("c", &c);
    assert_eq!(
        set_at(lonely, NOW, b"k", b"v"),
        Err(ScuttleStatus::CatchingUp)
    );
    assert!(set_at(lonely, NOW + 60_000, b"k", b"v").is_ok());
    free(lonely);
    free(a);
}

#[test]
fn handle_frame_uses_the_now_it_is_given() {
    // With hybrid versions, news from a clock far ahead of `now_ms` waits until `now_ms`
    // comes within max_clock_skew_ms of it.
    let c = ScuttleConfig {
        max_clock_skew_ms: 1_000,
        ..hybrid()
    };
    let b = node_with("b", &c);
    let ahead = scuttle_core::hlc(NOW + 10_000);
    let frame = frame_of(&ack("x", b"k", ahead));
    let mut reply = ScuttleBytes::empty();
    // SAFETY: live handle, valid frame and out-pointer.
    let s = unsafe { scuttle_gossip_handle_frame(b, NOW, frame.as_ptr(), frame.len(), &mut reply) };
    assert_eq!(s, ScuttleStatus::Ok);
    assert_eq!(len(b), 0, "too far ahead of now: it waits");
    // SAFETY: as above, later.
    let s = unsafe {
        scuttle_gossip_handle_frame(b, NOW + 9_500, frame.as_ptr(), frame.len(), &mut reply)
    };
    assert_eq!(s, ScuttleStatus::Ok);
    assert_eq!(get(b, "k").2, ahead);
    // SAFETY: library-made buffer.
    unsafe { scuttle_bytes_free(&mut reply) };
    free(b);
}

#[test]
fn a_layout_2_config_still_works_with_the_defaults_for_newer_fields() {
    /// The struct a program built against the layout-2 header passes.
    #[repr(C)]
    struct V2 {
        version: u32,
        resolver: u32,
        sorter: u32,
        mtu: usize,
        max_message_bytes: usize,
        max_history: usize,
        tombstone_grace_ms: u64,
    }
    let old = V2 {
        version: 2,
        resolver: SCUTTLE_RESOLVER_STRICT,
        sorter: SCUTTLE_SORTER_BREADTH,
        mtu: 10,
        max_message_bytes: 1 << 20,
        max_history: 10,
        tombstone_grace_ms: 0,
    };
    let mut g = ptr::null_mut();
    // SAFETY: a layout-2 struct whose version says so; the library reads only its bytes.
    let s = unsafe { scuttle_gossip_new(b"a".as_ptr(), 1, ptr::from_ref(&old).cast(), &mut g) };
    assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
    assert_eq!(set(g, "k", "b"), Ok(1), "counter versions, the default");
    assert_eq!(
        set(g, "k", "a"),
        Err(ScuttleStatus::Rejected),
        "the strict resolver was read"
    );
    free(g);
}

/// First writer wins: accepts an update only for an unknown key.
unsafe extern "C-unwind" fn first_writer_wins(
    _: *mut std::ffi::c_void,
    current: *const ScuttleEntryView,
    _: *const ScuttleEntryView,
) -> ScuttleDecision {
    if current.is_null() {
        SCUTTLE_DECISION_ACCEPT
    } else {
        SCUTTLE_DECISION_REFUSE
    }
}

fn open_custom(path: &Path, f: ScuttleResolveFn) -> (ScuttleStatus, *mut ScuttleGossip) {
    let p = path.as_os_str().as_encoded_bytes();
    let mut g: *mut ScuttleGossip = ptr::dangling_mut();
    // SAFETY: valid path, id, config and out-pointer; no user data.
    let s = unsafe {
        scuttle_gossip_open_with_resolver(
            p.as_ptr(),
            p.len(),
            b"a".as_ptr(),
            1,
            &hybrid(),
            f,
            ptr::null_mut(),
            &mut g,
        )
    };
    (s, g)
}

#[test]
fn a_durable_node_with_a_c_resolver_judges_against_the_loaded_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.redb");
    let (s, g) = open_custom(&path, Some(first_writer_wins));
    assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
    let v = set(g, "k", "first").unwrap();
    assert_eq!(set(g, "k", "second"), Err(ScuttleStatus::Rejected));
    free(g);
    let (s, g) = open_custom(&path, Some(first_writer_wins));
    assert_eq!(s, ScuttleStatus::Ok, "{}", last_error());
    assert_eq!(
        get(g, "k"),
        (ScuttleStatus::Ok, b"first".to_vec(), v, "a".into())
    );
    assert_eq!(set(g, "k", "third"), Err(ScuttleStatus::Rejected));
    assert!(set(g, "other", "x").is_ok());
    free(g);
    let (s, g) = open_custom(&path, None);
    assert_eq!((s, g), (ScuttleStatus::InvalidArgument, ptr::null_mut()));
    assert!(last_error().contains("resolve"));
}
