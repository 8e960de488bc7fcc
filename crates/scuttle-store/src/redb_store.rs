//! [`RedbStore`]: the core's [`Store`] on one redb file.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, StorageError, TableDefinition,
    TableHandle,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use scuttle_core::{Batch, NodeId, Snapshot, Store, StoreError, Version};

use crate::codec::{decode, decode_entry, encode, encode_entry};
use crate::error::{OpenError, StoreFailure};

/// The format of the file this build reads and writes. A file of another format is refused
/// with [`OpenError::Version`].
pub const FORMAT_VERSION: u32 = 1;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("scuttle_meta");
const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("scuttle_entries");
/// Watermarks (`w` + source), floors (`f` + source) and the clock (`clock`), in one table so
/// that a commit touches two B-trees, not four (each touched tree is pages to write and sync).
const MARKS: TableDefinition<&str, u64> = TableDefinition::new("scuttle_marks");
const CLOCK_MARK: &str = "clock";

const FORMAT_KEY: &str = "format";
const NODE_KEY: &str = "node_id";

/// When a commit is made durable (fsynced).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Every commit, before it returns: a `set` that returned survives a crash or power loss.
    #[default]
    Every,
    /// Every n-th commit and every [`flush`](scuttle_core::Gossip::flush): a crash loses at
    /// most the n − 1 commits since the last fsync (whole commits, never a part of one).
    Group(NonZeroUsize),
}

/// A node's data in one redb file: current entries, watermarks, floors, clock, and the node id
/// and format version the file belongs to. See the [crate docs](crate).
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    durability: Durability,
    /// Commits since the last durable one.
    pending: usize,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens the store of node `node_id` at `path`, creating it if the file is missing or
    /// empty. Refuses, with a typed error, a file that is corrupt, truncated, another kind of
    /// file, a store of another format, another node's store, or in use.
    pub fn open(path: impl AsRef<Path>, node_id: &str) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        // Verify every page's checksum on open: a file altered outside redb then fails with a
        // typed error, where a plain open trusts it and may panic on a corrupt page later.
        let db = redb::Builder::new()
            .set_check_integrity_on_open(true)
            .create(&path)
            .map_err(|e| open_error(&path, e))?;
        let store = RedbStore {
            db,
            path,
            durability: Durability::Every,
            pending: 0,
        };
        store.check_or_init(node_id)?;
        Ok(store)
    }

    /// Sets when commits are made durable.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the file's format and node id, or writes them into a new file.
    fn check_or_init(&self, node_id: &str) -> Result<(), OpenError> {
        let corrupt = |e: &dyn std::fmt::Display| OpenError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let txn = self.db.begin_write().map_err(|e| corrupt(&e))?;
        let tables: Vec<String> = txn
            .list_tables()
            .map_err(|e| corrupt(&e))?
            .map(|t| t.name().to_string())
            .collect();
        let fresh = tables.is_empty();
        if !fresh && !tables.iter().any(|t| t == META.name()) {
            return Err(OpenError::Foreign {
                path: self.path.clone(),
            });
        }
        {
            let mut meta = txn.open_table(META).map_err(|e| corrupt(&e))?;
            if fresh {
                let format = encode(&FORMAT_VERSION).map_err(|e| corrupt(&e))?;
                meta.insert(FORMAT_KEY, format.as_slice())
                    .map_err(|e| corrupt(&e))?;
                meta.insert(NODE_KEY, node_id.as_bytes())
                    .map_err(|e| corrupt(&e))?;
            } else {
                let found: u32 = match meta.get(FORMAT_KEY).map_err(|e| corrupt(&e))? {
                    Some(v) => decode(v.value()).map_err(|e| corrupt(&e))?,
                    None => {
                        return Err(OpenError::Foreign {
                            path: self.path.clone(),
                        })
                    }
                };
                if found != FORMAT_VERSION {
                    return Err(OpenError::Version {
                        path: self.path.clone(),
                        found,
                        supported: FORMAT_VERSION,
                    });
                }
                let stored = match meta.get(NODE_KEY).map_err(|e| corrupt(&e))? {
                    Some(v) => String::from_utf8_lossy(v.value()).into_owned(),
                    None => return Err(corrupt(&"no node id")),
                };
                if stored != node_id {
                    return Err(OpenError::WrongNode {
                        path: self.path.clone(),
                        stored,
                        given: node_id.to_string(),
                    });
                }
            }
        }
        if fresh {
            // Create the tables now, so that `load` finds them.
            txn.open_table(ENTRIES).map_err(|e| corrupt(&e))?;
            txn.open_table(MARKS).map_err(|e| corrupt(&e))?;
            txn.commit().map_err(|e| corrupt(&e))?;
        } else {
            txn.abort().map_err(|e| corrupt(&e))?;
        }
        Ok(())
    }

    fn read_all<K, V>(&self) -> Result<Snapshot<K, V>, StoreFailure>
    where
        K: DeserializeOwned,
        V: DeserializeOwned,
    {
        let txn = self.db.begin_read()?;
        let mut snapshot = Snapshot::default();
        let entries = txn.open_table(ENTRIES)?;
        for row in entries.iter()? {
            let (k, v) = row?;
            snapshot
                .entries
                .push((decode(k.value())?, decode_entry(v.value())?));
        }
        for row in txn.open_table(MARKS)?.iter()? {
            let (name, v) = row?;
            let (name, v) = (name.value(), v.value());
            if name == CLOCK_MARK {
                snapshot.clock = snapshot.clock.max(v);
            } else if let Some(source) = name.strip_prefix('w') {
                snapshot.watermarks.push((NodeId::from(source), v));
                // The clock is at least every watermark (it is stored only when above them).
                snapshot.clock = snapshot.clock.max(v);
            } else if let Some(source) = name.strip_prefix('f') {
                snapshot.floors.push((NodeId::from(source), v));
            } else {
                return Err(StoreFailure::Decode(format!("unknown mark {name:?}")));
            }
        }
        Ok(snapshot)
    }

    fn write<K: Serialize, V: Serialize>(
        &mut self,
        batch: &Batch<'_, K, V>,
    ) -> Result<(), StoreFailure> {
        let durable = match self.durability {
            Durability::Every => true,
            Durability::Group(n) => self.pending + 1 >= n.get(),
        };
        let mut txn = self.db.begin_write()?;
        txn.set_durability(if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        })?;
        {
            let mut entries = txn.open_table(ENTRIES)?;
            for u in &batch.puts {
                let key = encode(&u.key)?;
                let entry = encode_entry(
                    &u.value,
                    u.version,
                    &u.source_id,
                    u.timestamp,
                    u.signature.as_ref(),
                )?;
                entries.insert(key.as_slice(), entry.as_slice())?;
            }
            for key in &batch.removes {
                entries.remove(encode(key)?.as_slice())?;
            }
            let mut marks = txn.open_table(MARKS)?;
            raise(&mut marks, 'w', &batch.watermarks)?;
            raise(&mut marks, 'f', &batch.floors)?;
            // The clock is usually a watermark this batch raises (a local write's own):
            // stored only when it is above them all.
            let highest = batch.watermarks.iter().map(|(_, v)| *v).max().unwrap_or(0);
            if batch.clock > highest {
                let held = marks.get(CLOCK_MARK)?.map_or(0, |v| v.value());
                if batch.clock > held {
                    marks.insert(CLOCK_MARK, batch.clock)?;
                }
            }
        }
        txn.commit()?;
        self.pending = if durable { 0 } else { self.pending + 1 };
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreFailure> {
        if self.pending == 0 {
            return Ok(());
        }
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate)?;
        txn.commit()?;
        self.pending = 0;
        Ok(())
    }
}

/// Raises each `(source, version)` under `kind` + source in `table` (a watermark or a floor
/// only ever rises).
fn raise(
    table: &mut redb::Table<&str, u64>,
    kind: char,
    raises: &[(&NodeId, Version)],
) -> Result<(), StoreFailure> {
    let mut name = String::new();
    for (source, version) in raises {
        name.clear();
        name.push(kind);
        name.push_str(source.as_str());
        let held = table.get(name.as_str())?.map_or(0, |v| v.value());
        if *version > held {
            table.insert(name.as_str(), *version)?;
        }
    }
    Ok(())
}

fn open_error(path: &Path, e: DatabaseError) -> OpenError {
    let path = path.to_path_buf();
    match e {
        DatabaseError::DatabaseAlreadyOpen => OpenError::Locked { path },
        // Short reads and a wrong magic number are the file's fault, not the OS's.
        DatabaseError::Storage(StorageError::Io(source))
            if !matches!(
                source.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            OpenError::Io { path, source }
        }
        other => OpenError::Corrupt {
            path,
            reason: other.to_string(),
        },
    }
}

impl<K, V> Store<K, V> for RedbStore
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    fn load(&mut self) -> Result<Snapshot<K, V>, StoreError> {
        self.read_all().map_err(StoreError::new)
    }

    fn commit(&mut self, batch: &Batch<'_, K, V>) -> Result<(), StoreError> {
        self.write(batch).map_err(StoreError::new)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.sync().map_err(StoreError::new)
    }
}
