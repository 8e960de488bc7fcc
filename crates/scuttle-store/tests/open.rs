//! A file that is not this node's store is refused with a typed error, never opened as an
//! empty node: truncated, corrupted, another kind of file, another redb database, another
//! format version, another node's store, or one in use.
#![allow(clippy::unwrap_used)] // tests may panic

use std::fs;
use std::path::{Path, PathBuf};

use scuttle_core::{Config, Gossip, LastWriterWins, ScuttleBreadth};
use scuttle_store::{OpenError, RedbStore};

fn filled(dir: &Path) -> PathBuf {
    let path = dir.join("node.redb");
    let group = scuttle_store::Durability::Group(std::num::NonZeroUsize::new(1_000).unwrap());
    let store = RedbStore::open(&path, "a").unwrap().with_durability(group);
    let mut g: Gossip<String, String> =
        Gossip::new("a", Config::default(), LastWriterWins, ScuttleBreadth)
            .unwrap()
            .with_store(store)
            .unwrap();
    for i in 0..2_000 {
        g.set(1, format!("key-{i}"), "x".repeat(100)).unwrap();
    }
    g.flush().unwrap();
    path
}

#[test]
fn a_truncated_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    for keep in [len / 2, 4_096, 100, 10] {
        let bytes = fs::read(&path).unwrap();
        let cut = dir.path().join(format!("cut-{keep}.redb"));
        fs::write(&cut, &bytes[..keep as usize]).unwrap();
        let err = RedbStore::open(&cut, "a").unwrap_err();
        assert!(matches!(err, OpenError::Corrupt { .. }), "{keep}: {err}");
    }
}

#[test]
fn a_corrupted_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    for b in &mut bytes[0..64] {
        *b ^= 0xA5;
    }
    fs::write(&path, &bytes).unwrap();
    let err = RedbStore::open(&path, "a").unwrap_err();
    assert!(matches!(err, OpenError::Corrupt { .. }), "{err}");
}

#[test]
fn another_kind_of_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let text = "not a database\n".repeat(1_000);
    fs::write(&path, &text).unwrap();
    let err = RedbStore::open(&path, "a").unwrap_err();
    assert!(matches!(err, OpenError::Corrupt { .. }), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn another_redb_database_is_foreign() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let table: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("theirs");
            txn.open_table(table).unwrap().insert("x", 1).unwrap();
        }
        txn.commit().unwrap();
    }
    let err = RedbStore::open(&path, "a").unwrap_err();
    assert!(matches!(err, OpenError::Foreign { .. }), "{err}");
}

#[test]
fn another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let meta: redb::TableDefinition<&str, &[u8]> =
                redb::TableDefinition::new("scuttle_meta");
            let mut t = txn.open_table(meta).unwrap();
            let mut two = Vec::new();
            ciborium::into_writer(&2u32, &mut two).unwrap();
            t.insert("format", two.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let err = RedbStore::open(&path, "a").unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::Version {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn another_nodes_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    let err = RedbStore::open(&path, "b").unwrap_err();
    assert!(matches!(err, OpenError::WrongNode { .. }), "{err}");
    assert!(err.to_string().contains("\"a\""));
}

#[test]
fn a_store_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let _held = RedbStore::open(&path, "a").unwrap();
    let err = RedbStore::open(&path, "a").unwrap_err();
    assert!(matches!(err, OpenError::Locked { .. }), "{err}");
}

#[test]
fn a_missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = RedbStore::open(dir.path().join("no/such/dir/node.redb"), "a").unwrap_err();
    assert!(matches!(err, OpenError::Io { .. }), "{err}");
}

#[test]
fn an_empty_file_becomes_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.redb");
    fs::write(&path, b"").unwrap();
    RedbStore::open(&path, "a").unwrap();
    // And it is this node's from now on.
    assert!(matches!(
        RedbStore::open(&path, "b").unwrap_err(),
        OpenError::WrongNode { .. }
    ));
}

#[test]
fn a_corrupt_record_is_a_store_error_not_an_empty_node() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let entries: redb::TableDefinition<&[u8], &[u8]> =
                redb::TableDefinition::new("scuttle_entries");
            let mut t = txn.open_table(entries).unwrap();
            t.insert(b"\x65hello".as_slice(), b"\xff\x00garbage".as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let store = RedbStore::open(&path, "a").unwrap();
    let opened = Gossip::<String, String>::with_defaults("a").with_store(store);
    assert!(
        matches!(opened, Err(scuttle_core::OpenError::Store(_))),
        "{opened:?}"
    );
}

#[test]
fn flipped_bytes_anywhere_give_an_error_or_all_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(dir.path());
    let clean = fs::read(&path).unwrap();
    let mut silent_losses = Vec::new();
    for at in (0..clean.len()).step_by(clean.len() / 40) {
        let mut bytes = clean.clone();
        for b in &mut bytes[at..(at + 16).min(clean.len())] {
            *b ^= 0x5A;
        }
        let copy = dir.path().join(format!("flip-{at}.redb"));
        fs::write(&copy, &bytes).unwrap();
        let Ok(store) = RedbStore::open(&copy, "a") else {
            continue;
        };
        let Ok(node) = Gossip::<String, String>::with_defaults("a").with_store(store) else {
            continue;
        };
        let intact = (0..2_000).all(|i| {
            node.value(format!("key-{i}").as_str())
                .is_some_and(|v| v == &"x".repeat(100))
        });
        if !intact {
            silent_losses.push(at);
        }
    }
    assert!(
        silent_losses.is_empty(),
        "silently lost data at offsets {silent_losses:?}"
    );
}
