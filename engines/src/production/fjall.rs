//! fjall: an LSM-tree (`<dir>/fjall/`), one keyspace `kv`.
//!
//! ```text
//! fjall/journals/<n>.jnl   the journal (write-ahead log) shared by all keyspaces:
//!                          | batch start | item: tag, keyspace id, seqno, key, value |
//!                          | ... | batch end with the batch's checksum |
//! fjall/keyspaces/<id>/    the keyspace's tree: SST tables (data blocks, index and filter
//!                          blocks, each with a checksum in its header), blob files, manifest
//! ```
//!
//! A write appends to the journal, flushes it to the OS (fjall's default), then inserts into
//! the memtable. Full memtables are flushed to L0 tables; leveled compaction merges them.
//! Recovery: the manifest names the live tables; the journals after the last flush are
//! replayed, and a torn batch at the tail (no valid end marker or checksum) is dropped.
//!
//! Durability: fjall has no per-write fsync and (in 3.x) no background fsync interval of its
//! own, so `persist` is `Database::persist(PersistMode::SyncAll)` (fsync of the journal) and
//! the adapter's committer drives it: after every write in `sync` mode (concurrent writers
//! share one fsync), every `group_commit.interval` in `group` mode, only on `sync()` and
//! `close()` in `none` mode. `compact` rotates the memtable into a table and runs a major
//! compaction. `settle` rotates the memtable and waits for its flush, then waits until no
//! compaction has been running or finished for 50 ms (fjall has no call that waits for its
//! compactions; the ones a flush triggers are queued at once), then persists.
//! The keyspace's memtable is fjall's default 64 MiB, set explicitly; `write_buffer_bytes`
//! sets the total of the five memtables fjall may hold (one active, four sealed: it halts
//! writes at four), so each gets a fifth.
//!
//! `extra`: `fjall_journal_count`, `fjall_journal_bytes` (journal files on disk),
//! `fjall_disk_bytes` (fjall's own sum of its files), `fjall_tables`, `fjall_l0_tables`,
//! `fjall_compactions` (completed since open), `fjall_write_buffer_bytes` (memtables),
//! `fjall_cache_bytes`, `fjall_approximate_keys` (counts overwritten and deleted versions
//! not yet compacted away, so it is an upper bound, not the live key count).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fjall::{KeyspaceCreateOptions, PersistMode};

use super::{engine_corruption, engine_error, extra, open_adapter, Backend};
use crate::{Engine, EngineKind, EngineStats, Error, Options, Result};

const SUBDIR: &str = "fjall";
/// The keyspace's memtable (fjall's default) unless `production.write_buffer_bytes` sets the
/// memtables' total; `production.cache_bytes` sets its block cache.
const MEMTABLE_BYTES: u64 = 64 << 20;
/// Memtables a keyspace holds at most: the active one and four sealed ones waiting for their
/// flush (fjall halts writes while four are sealed).
const MEMTABLES: u64 = 5;
/// Settling waits until this many checks, 10 ms apart, saw no compaction at work.
const QUIET_CHECKS: u32 = 5;
/// Longest wait for background work to finish.
const SETTLE_LIMIT: Duration = Duration::from_secs(600);

pub fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    open_adapter(EngineKind::Fjall, dir, options, |store| {
        let path = store.join(SUBDIR);
        let mut builder = fjall::Database::builder(&path);
        if let Some(cache) = options.production.cache_bytes {
            builder = builder.cache_size(cache);
        }
        let db = builder.open().map_err(|e| map(&path, e))?;
        let memtable = options
            .production
            .write_buffer_bytes
            .map_or(MEMTABLE_BYTES, |b| b / MEMTABLES);
        let kv = db
            .keyspace("kv", || {
                KeyspaceCreateOptions::default().max_memtable_size(memtable)
            })
            .map_err(|e| map(&path, e))?;
        Ok(Fjall {
            db,
            kv,
            memtable,
            path,
        })
    })
}

pub(crate) struct Fjall {
    db: fjall::Database,
    kv: fjall::Keyspace,
    /// The keyspace's memtable size.
    memtable: u64,
    path: PathBuf,
}

fn map(path: &Path, e: fjall::Error) -> Error {
    use fjall::LsmError as L;
    match e {
        fjall::Error::Io(e) => Error::Io(e),
        fjall::Error::Storage(L::Io(e)) => Error::Io(e),
        fjall::Error::Storage(
            e @ (L::ChecksumMismatch { .. }
            | L::InvalidTag(_)
            | L::InvalidTrailer
            | L::InvalidHeader(_)
            | L::Decompress(_)
            | L::Unrecoverable
            | L::Utf8(_)),
        ) => engine_corruption(path, format!("fjall: {e:?}")),
        e @ (fjall::Error::JournalRecovery(_)
        | fjall::Error::InvalidTrailer
        | fjall::Error::InvalidTag(_)
        | fjall::Error::Decompress(_)
        | fjall::Error::Unrecoverable) => engine_corruption(path, format!("fjall: {e:?}")),
        fjall::Error::Poisoned => {
            Error::Poisoned("fjall: an earlier journal write or fsync failed".into())
        }
        fjall::Error::Locked => {
            Error::Incompatible(format!("{}: fjall store is locked", path.display()))
        }
        // A version fjall cannot parse is a damaged file (the kvbench marker already said
        // this is a fjall store); a version it parses but does not support is a newer format.
        e @ fjall::Error::InvalidVersion(None) => engine_corruption(path, format!("fjall: {e:?}")),
        e @ fjall::Error::InvalidVersion(Some(_)) => {
            Error::Incompatible(format!("{}: {e:?}", path.display()))
        }
        e => engine_error("fjall", format!("{e:?}")),
    }
}

impl Backend for Fjall {
    const SYNCS_ITSELF: bool = false;

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.kv.insert(key, value).map_err(|e| map(&self.path, e))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.kv.remove(key).map_err(|e| map(&self.path, e))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .kv
            .get(key)
            .map_err(|e| map(&self.path, e))?
            .map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let iter = match end {
            Some(end) => self.kv.range(start..end),
            None => self.kv.range(start..),
        };
        let mut out = Vec::new();
        for guard in iter.take(limit) {
            let (k, v) = guard.into_inner().map_err(|e| map(&self.path, e))?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn persist(&self) -> Result<()> {
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|e| map(&self.path, e))
    }

    fn compact(&self) -> Result<()> {
        self.kv
            .rotate_memtable_and_wait()
            .map_err(|e| map(&self.path, e))?;
        self.kv.major_compact().map_err(|e| map(&self.path, e))
    }

    fn settle(&self) -> Result<()> {
        self.kv
            .rotate_memtable_and_wait()
            .map_err(|e| map(&self.path, e))?;
        let start = Instant::now();
        let (mut quiet, mut done) = (0, self.db.compactions_completed());
        while quiet < QUIET_CHECKS {
            std::thread::sleep(Duration::from_millis(10));
            let now_done = self.db.compactions_completed();
            let busy = self.db.active_compactions() > 0 || self.db.outstanding_flushes() > 0;
            if busy || now_done != done {
                quiet = 0;
                done = now_done;
            } else {
                quiet += 1;
            }
            if start.elapsed() > SETTLE_LIMIT {
                return Err(engine_error(
                    "fjall",
                    "background compaction did not finish within 10 minutes",
                ));
            }
        }
        self.persist()
    }

    fn write_buffer_bytes(&self) -> u64 {
        self.memtable
    }

    fn stats(&self, stats: &mut EngineStats) {
        extra(stats, "fjall_journal_count", self.db.journal_count() as f64);
        if let Ok(b) = self.db.journal_disk_space() {
            extra(stats, "fjall_journal_bytes", b as f64);
        }
        if let Ok(b) = self.db.disk_space() {
            extra(stats, "fjall_disk_bytes", b as f64);
        }
        extra(stats, "fjall_tables", self.kv.table_count() as f64);
        extra(stats, "fjall_l0_tables", self.kv.l0_table_count() as f64);
        let compactions = self.db.compactions_completed() as u64;
        extra(stats, "fjall_compactions", compactions as f64);
        stats.compactions = compactions;
        let buffer = self.db.write_buffer_size();
        extra(stats, "fjall_write_buffer_bytes", buffer as f64);
        let cache = self.db.cache_size();
        extra(stats, "fjall_cache_bytes", cache as f64);
        stats.memory_bytes = buffer + cache;
        extra(
            stats,
            "fjall_approximate_keys",
            self.kv.approximate_len() as f64,
        );
    }

    fn close(&self) -> Result<()> {
        // fjall closes when the last handle drops (with the adapter); `persist` already ran.
        Ok(())
    }
}
