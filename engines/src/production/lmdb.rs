//! LMDB through heed: a copy-on-write B+ tree in a memory map (`<dir>/lmdb/`), the unnamed
//! database, one write transaction per put or delete. Built with `longer-keys` so keys up to
//! our 1024-byte limit fit (LMDB's default limit is 511 bytes).
//!
//! ```text
//! lmdb/data.mdb: | meta page 0 | meta page 1 | B+ tree pages (branch, leaf, overflow) ... |
//!                meta page: magic, version, map size, the free-list and main tree roots,
//!                last page number, transaction id
//! lmdb/lock.mdb: the reader table (shared memory), not data
//! ```
//!
//! A commit writes the changed pages to new places (copy-on-write), fsyncs them, then writes
//! and fsyncs the older of the two meta pages with the new roots and a higher transaction
//! id. Recovery: open picks the meta page with the higher transaction id; there is no log
//! to replay. Pages carry no checksums: a flipped byte in a data page is read back as data
//! (or trips an assertion), so the corruption sweep is left out for LMDB.
//!
//! Durability: `sync` = default flags (fsync of data and meta page at every commit);
//! `none` and `group` = `NO_SYNC | NO_META_SYNC` (commits reach the OS page cache, which a
//! process kill does not lose), and `persist` is `mdb_env_sync(force)`, which the adapter's
//! committer calls every `group_commit.interval` in `group` mode. `compact` is a no-op:
//! LMDB reuses freed pages in place and has no online compaction. `settle` is
//! `mdb_env_sync(force)`: every commit has already written its pages to the file (the OS
//! holds them, not LMDB), so LMDB holds no writes of its own (`write_buffer_bytes` 0) and
//! has no background work. It has no cache of its own either: `production.cache_bytes` does
//! not apply, the page cache (under a memory cap, the cap) is its cache.
//! `production.no_read_ahead` opens it with `MDB_NORDAHEAD` (a page fault then reads its own
//! page only), which the I/O-bound regime sets.
//!
//! `extra`: `lmdb_depth`, `lmdb_branch_pages`, `lmdb_leaf_pages`, `lmdb_overflow_pages`
//! (pages of values too big for a leaf), `lmdb_page_size`, `lmdb_last_page` (high-water
//! mark of the file in pages), `lmdb_map_size`; `live_keys` is the tree's entry count.

use std::ops::Bound;
use std::path::{Path, PathBuf};

use heed::types::Bytes;
use heed::{CommitOrAbort, EnvFlags, EnvOpenOptions, MdbError, WithoutTls};

use super::{engine_corruption, engine_error, extra, open_adapter, Backend};
use crate::{Durability, Engine, EngineKind, EngineStats, Error, Options, Result};

const SUBDIR: &str = "lmdb";
/// Address space reserved for the map. The file grows only as pages are used; 1 TiB of
/// address space costs nothing until touched, and keeps `MDB_MAP_FULL` out of any benchmark.
const MAP_SIZE: usize = 1 << 40;

pub fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    open_adapter(EngineKind::Lmdb, dir, options, |store| {
        let path = store.join(SUBDIR);
        std::fs::create_dir_all(&path)?;
        crate::io::Io::new().sync_dir(store.path())?;
        let mut flags = match options.durability {
            Durability::Sync => EnvFlags::empty(),
            Durability::None | Durability::Group => EnvFlags::NO_SYNC | EnvFlags::NO_META_SYNC,
        };
        if options.production.no_read_ahead {
            flags |= EnvFlags::NO_READ_AHEAD;
        }
        let mut opts = EnvOpenOptions::new().read_txn_without_tls();
        opts.map_size(MAP_SIZE).max_dbs(0);
        // SAFETY: NO_SYNC/NO_META_SYNC only weaken durability, which `persist` restores by
        // forcing a sync, and NO_READ_AHEAD changes only how pages are read; the store directory is ours alone (held by the kvbench lock), so no
        // other process maps the file.
        let env = unsafe {
            opts.flags(flags);
            opts.open(&path)
        }
        .map_err(|e| map(&path, e))?;
        let tx = env.write_txn().map_err(|e| map(&path, e))?;
        // Creating a database and committing yields a handle not tied to a borrow of `env`.
        let db = env
            .create_databases_and_commit(tx, |opener, tx| {
                opener
                    .database_options()
                    .types::<Bytes, Bytes>()
                    .create(tx)
                    .map(CommitOrAbort::<_, ()>::Commit)
            })
            .map_err(|e| map(&path, e))?;
        let CommitOrAbort::Commit(db) = db else {
            return Err(engine_error("lmdb", "creating the database was aborted"));
        };
        Ok(Lmdb { env, db, path })
    })
}

pub(crate) struct Lmdb {
    env: heed::Env<WithoutTls>,
    db: heed::Database<'static, Bytes, Bytes>,
    path: PathBuf,
}

fn map(path: &Path, e: heed::Error) -> Error {
    match e {
        heed::Error::Io(e) => Error::Io(e),
        heed::Error::Mdb(
            m @ (MdbError::Corrupted
            | MdbError::PageNotFound
            | MdbError::Panic
            | MdbError::Invalid
            | MdbError::BadTxn),
        ) => engine_corruption(&path.join("data.mdb"), format!("lmdb: {m}")),
        heed::Error::Mdb(m @ (MdbError::VersionMismatch | MdbError::Incompatible)) => {
            Error::Incompatible(format!("{}: lmdb: {m}", path.display()))
        }
        heed::Error::EnvAlreadyOpened => Error::Incompatible(format!(
            "{}: the LMDB environment is already open in this process",
            path.display()
        )),
        e => engine_error("lmdb", e),
    }
}

impl Backend for Lmdb {
    const SYNCS_ITSELF: bool = true;

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut tx = self.env.write_txn().map_err(|e| map(&self.path, e))?;
        self.db
            .put(&mut tx, key, value)
            .map_err(|e| map(&self.path, e))?;
        tx.commit().map_err(|e| map(&self.path, e))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        let mut tx = self.env.write_txn().map_err(|e| map(&self.path, e))?;
        self.db
            .delete(&mut tx, key)
            .map_err(|e| map(&self.path, e))?;
        tx.commit().map_err(|e| map(&self.path, e))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let tx = self.env.read_txn().map_err(|e| map(&self.path, e))?;
        let v = self.db.get(&tx, key).map_err(|e| map(&self.path, e))?;
        Ok(v.map(<[u8]>::to_vec))
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let tx = self.env.read_txn().map_err(|e| map(&self.path, e))?;
        // LMDB refuses an empty key even as a range bound; every key sorts after it anyway.
        let range: (Bound<&[u8]>, Bound<&[u8]>) = (
            if start.is_empty() {
                Bound::Unbounded
            } else {
                Bound::Included(start)
            },
            end.map_or(Bound::Unbounded, Bound::Excluded),
        );
        let iter = self.db.range(&tx, &range).map_err(|e| map(&self.path, e))?;
        let mut out = Vec::new();
        for entry in iter.take(limit) {
            let (k, v) = entry.map_err(|e| map(&self.path, e))?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn persist(&self) -> Result<()> {
        self.env.force_sync().map_err(|e| map(&self.path, e))
    }

    fn compact(&self) -> Result<()> {
        Ok(())
    }

    fn settle(&self) -> Result<()> {
        self.persist()
    }

    fn write_buffer_bytes(&self) -> u64 {
        0
    }

    fn stats(&self, stats: &mut EngineStats) {
        let info = self.env.info();
        extra(stats, "lmdb_last_page", info.last_page_number as f64);
        extra(stats, "lmdb_map_size", info.map_size as f64);
        let Ok(tx) = self.env.read_txn() else {
            return;
        };
        if let Ok(s) = self.db.stat(&tx) {
            stats.live_keys = Some(s.entries as u64);
            extra(stats, "lmdb_depth", s.depth as f64);
            extra(stats, "lmdb_branch_pages", s.branch_pages as f64);
            extra(stats, "lmdb_leaf_pages", s.leaf_pages as f64);
            extra(stats, "lmdb_overflow_pages", s.overflow_pages as f64);
            extra(stats, "lmdb_page_size", s.page_size as f64);
        }
    }

    fn close(&self) -> Result<()> {
        // The environment closes (mdb_env_close) when the adapter drops its last handle.
        Ok(())
    }
}
