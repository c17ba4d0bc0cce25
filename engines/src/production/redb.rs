//! redb: a copy-on-write B-tree in one file (`<dir>/data.redb`), one table `kv` of
//! `&[u8] -> &[u8]`, one write transaction per put or delete.
//!
//! ```text
//! data.redb: | super-header (2 commit slots, each with the roots and their checksums) |
//!            | regions of pages: branch pages hold a checksum of every child page      |
//! ```
//!
//! A commit writes new pages, then flips the super-header's primary slot. `Immediate`
//! durability fsyncs before the flip is acknowledged; `None` commits live only in memory and
//! the OS page cache until a later `Immediate` commit. Recovery: after an unclean shutdown
//! redb walks the tree from the primary slot, verifying page checksums, and falls back to
//! the secondary slot when they fail (so a torn commit is dropped whole).
//!
//! Durability: `sync` = `Durability::Immediate` on every write transaction; `none` and
//! `group` = `Durability::None`, and `persist` commits an empty `Immediate` transaction,
//! which makes every earlier commit durable. `compact` persists, then runs redb's
//! `Database::compact` (it moves pages to shrink the file). `settle` is `persist`: redb has
//! no background work, and a durable commit writes out every page its non-durable commits
//! left in its write buffer. That buffer is at most half of redb's cache (1 GiB, redb's
//! default, set explicitly), so `write_buffer_bytes` is 512 MiB in `none` and `group`
//! modes and 0 in `sync` mode, where every commit writes its pages.
//!
//! `extra`: `redb_tree_height`, `redb_leaf_pages`, `redb_branch_pages`,
//! `redb_stored_bytes` (user data in the tree), `redb_metadata_bytes`,
//! `redb_fragmented_bytes` (free space inside allocated pages), `redb_cache_evictions`,
//! all from redb's own `DatabaseStats`/`CacheStats` at the time of the call.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

use redb::{
    Durability as RedbDurability, ReadableDatabase, ReadableTableMetadata, TableDefinition,
};

use super::{engine_corruption, engine_error, extra, open_adapter, Backend};
use crate::{Durability, Engine, EngineKind, EngineStats, Error, Options, Result};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");
const FILE: &str = "data.redb";
/// redb's cache (its default) unless `production.cache_bytes` sets it; its write buffer is
/// held at or below half of it.
const CACHE_BYTES: usize = 1 << 30;

pub fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    open_adapter(EngineKind::Redb, dir, options, |store| {
        let file = store.join(FILE);
        let cache = options
            .production
            .cache_bytes
            .map_or(CACHE_BYTES, |b| b as usize);
        let db = redb::Database::builder()
            .set_cache_size(cache)
            .create(&file)
            .map_err(|e| map(&file, e))?;
        let me = Redb {
            db: RwLock::new(Some(db)),
            durability: match options.durability {
                Durability::Sync => RedbDurability::Immediate,
                Durability::None | Durability::Group => RedbDurability::None,
            },
            cache,
            file,
        };
        // The table exists from the first open on, so readers never meet a missing table.
        me.commit(RedbDurability::Immediate, |_| Ok(()))?;
        Ok(me)
    })
}

pub(crate) struct Redb {
    /// `None` after close; the write lock is taken only by compact and close.
    db: RwLock<Option<redb::Database>>,
    durability: RedbDurability,
    /// Bytes of redb's cache.
    cache: usize,
    file: PathBuf,
}

fn map(file: &Path, e: impl Into<redb::Error>) -> Error {
    match e.into() {
        redb::Error::Corrupted(detail) => engine_corruption(file, detail),
        redb::Error::Io(e) => Error::Io(e),
        other => engine_error("redb", other),
    }
}

impl Redb {
    fn with_db<T>(&self, f: impl FnOnce(&redb::Database) -> Result<T>) -> Result<T> {
        let guard = self.db.read().unwrap_or_else(|p| p.into_inner());
        f(guard.as_ref().ok_or(Error::Closed)?)
    }

    fn commit(
        &self,
        durability: RedbDurability,
        f: impl FnOnce(&mut redb::Table<&[u8], &[u8]>) -> Result<()>,
    ) -> Result<()> {
        let file = &self.file;
        self.with_db(|db| {
            let mut tx = db.begin_write().map_err(|e| map(file, e))?;
            tx.set_durability(durability).map_err(|e| map(file, e))?;
            {
                let mut table = tx.open_table(TABLE).map_err(|e| map(file, e))?;
                f(&mut table)?;
            }
            tx.commit().map_err(|e| map(file, e))
        })
    }
}

impl Backend for Redb {
    const SYNCS_ITSELF: bool = true;

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let file = &self.file;
        self.commit(self.durability, |t| {
            t.insert(key, value).map(|_| ()).map_err(|e| map(file, e))
        })
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        let file = &self.file;
        self.commit(self.durability, |t| {
            t.remove(key).map(|_| ()).map_err(|e| map(file, e))
        })
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let file = &self.file;
        self.with_db(|db| {
            let tx = db.begin_read().map_err(|e| map(file, e))?;
            let table = tx.open_table(TABLE).map_err(|e| map(file, e))?;
            let value = table.get(key).map_err(|e| map(file, e))?;
            Ok(value.map(|v| v.value().to_vec()))
        })
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let file = &self.file;
        self.with_db(|db| {
            let tx = db.begin_read().map_err(|e| map(file, e))?;
            let table = tx.open_table(TABLE).map_err(|e| map(file, e))?;
            let range = match end {
                Some(end) => table.range::<&[u8]>(start..end),
                None => table.range::<&[u8]>(start..),
            }
            .map_err(|e| map(file, e))?;
            let mut out = Vec::new();
            for entry in range.take(limit) {
                let (k, v) = entry.map_err(|e| map(file, e))?;
                out.push((k.value().to_vec(), v.value().to_vec()));
            }
            Ok(out)
        })
    }

    fn persist(&self) -> Result<()> {
        self.commit(RedbDurability::Immediate, |_| Ok(()))
    }

    fn settle(&self) -> Result<()> {
        self.persist()
    }

    fn write_buffer_bytes(&self) -> u64 {
        match self.durability {
            RedbDurability::Immediate => 0,
            _ => (self.cache / 2) as u64,
        }
    }

    fn compact(&self) -> Result<()> {
        self.persist()?;
        let mut guard = self.db.write().unwrap_or_else(|p| p.into_inner());
        let db = guard.as_mut().ok_or(Error::Closed)?;
        db.compact().map(|_| ()).map_err(|e| map(&self.file, e))
    }

    fn stats(&self, stats: &mut EngineStats) {
        let _ = self.with_db(|db| {
            let evictions = db.cache_stats().evictions();
            extra(stats, "redb_cache_evictions", evictions as f64);
            let tx = db.begin_read().map_err(|e| map(&self.file, e))?;
            let table = tx.open_table(TABLE).map_err(|e| map(&self.file, e))?;
            stats.live_keys = table.len().ok();
            drop(table);
            drop(tx);
            // DatabaseStats is only offered on a write transaction; abort it afterwards.
            let tx = db.begin_write().map_err(|e| map(&self.file, e))?;
            let s = tx.stats().map_err(|e| map(&self.file, e))?;
            extra(stats, "redb_tree_height", s.tree_height() as f64);
            extra(stats, "redb_leaf_pages", s.leaf_pages() as f64);
            extra(stats, "redb_branch_pages", s.branch_pages() as f64);
            extra(stats, "redb_stored_bytes", s.stored_bytes() as f64);
            extra(stats, "redb_metadata_bytes", s.metadata_bytes() as f64);
            extra(stats, "redb_fragmented_bytes", s.fragmented_bytes() as f64);
            tx.abort().map_err(|e| map(&self.file, e))
        });
    }

    fn close(&self) -> Result<()> {
        let db = self
            .db
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or(Error::Closed)?;
        db.close().map_err(|e| map(&self.file, e))
    }
}
