//! The lsm engine: the log-structured merge tree of Bigtable and LevelDB.
//!
//! A write is appended to the write-ahead log under the write lock, committed as the
//! durability mode asks (`engines::durability`), and only then inserted into the memtable
//! (`db.rs`), so a write whose commit fails is never seen. A full memtable becomes
//! immutable and writes switch to a spare WAL prepared ahead (`rotation.rs`); the flush
//! thread writes the immutable memtable to a level-0 SSTable while writes go on, and the
//! compaction thread merges tables by the `leveled` or `tiered` policy (`compaction/`). Too
//! many immutable memtables or level-0 tables (sorted runs, in tiered) first slow writes down
//! by 1 ms each and then stall them until the background catches up. A read looks in the
//! memtable, the immutable memtables, then the tables newest first, skipping tables whose
//! key range or bloom filter rules the key out, and reads one data block per remaining table
//! through the LRU block cache. A scan merges iterators over all of these (`iterator.rs`).
//! Files in the store directory:
//!
//! ```text
//! KVBENCH, LOCK   store marker (format version 2) and lock (engines::store_dir)
//! MANIFEST        log of snapshots of the live tables per level
//! 000007.wal      write-ahead logs (the active one, rotated-out ones not yet flushed,
//!                 one spare), numbered from the same counter as tables
//! 000012.sst      SSTables
//! *.tmp           MANIFEST.tmp, 000013.wal.tmp: files being made; removed at open
//! ```
//!
//! **Logs.** The WAL and the MANIFEST are `engines::log` files: a 1 KiB header of two
//! synced-length slots, then frames (`hcrc u32 | len u32 | pcrc u32 | payload`) from offset
//! 1024. After an fsync of a log returns, the writer records in the header the length
//! written before that fsync began (`SyncedMark`).
//!
//! **WAL** (`wal.rs`): one frame per write, and an END frame when it is rotated out:
//! ```text
//! +------+--------+---------+-----+-------+
//! | kind | seq    | key_len | key | value |   kind: 1 put, 0 delete, 2 END (log sealed)
//! | u8   | u64 LE | u16 LE  |     |       |
//! +------+--------+---------+-----+-------+
//! ```
//!
//! **SSTable** (`sstable.rs`, `block.rs`, `bloom.rs`):
//! ```text
//! +--------------+-----+--------------+-------------+--------------+----------------+
//! | data block 0 | ... | data block n | index block | bloom filter | footer (64 B)  |
//! +--------------+-----+--------------+-------------+--------------+----------------+
//! data block:  entries | entry offsets (u32 each) | count u32 | crc32c u32
//!   entry:     key_len u16 | kind u8 | seq u64 | value_len u32 | key | value
//! index block: per block { last_key (u16 len + bytes) | offset u64 | len u32 }
//!              | count u32 | crc32c u32
//! bloom:       bit array | probes u8 | crc32c u32        (10 bits per key by default)
//! footer:      index_offset u64 | index_len u32 | bloom_offset u64 | bloom_len u32
//!              | entries u64 | tombstones u64 | max_seq u64 | format u32
//!              | crc32c u32 (of the 52 bytes before) | magic u64 "kvlsmTBL"
//! ```
//! Keys within a table are unique and ascending; each entry carries the sequence number of
//! its write, so whichever table holds the newest version of a key, the newest wins. A
//! table is written whole and fsynced, and the directory fsynced, before a manifest names it.
//!
//! **Manifest** (`manifest.rs`): each switch appends one snapshot, a header record
//! `{format, next_file, last_seq, wal_min, table count}` then one record per table
//! `{level, id, size, smallest key, largest key}` (level 0 newest first), and fsyncs; a
//! large file is replaced by a fresh one holding only the current snapshot (MANIFEST.tmp,
//! fsync, rename, directory fsync).
//!
//! **Recovery rule.** Damage inside the synced length of a log is `Corruption`; damage at
//! or beyond it (a torn record, zeroed blocks followed by valid ones, a torn sector) is a
//! torn tail, cut off before anything is appended. So: the manifest's last whole snapshot is
//! the version (a snapshot cut short beyond the synced length is dropped); every table it
//! lists is opened (checksums verified, size must match); the WALs numbered `>= wal_min` are
//! replayed in order into one memtable, keeping per key the version with the highest
//! sequence number. The first WAL without its END record ends the log: it takes the appends
//! after its torn tail is cut. A later WAL holds no synced write (a WAL's synced length is
//! recorded only once every older WAL is durable to its END record, so a later WAL with a
//! recorded synced length behind a cut-short one is corruption): one that never took a
//! record is kept as the spare, any other is dropped unread. The directory is fsynced (the
//! entries this open relies on may date from just before a crash); then files no version
//! refers to (tables not in the manifest, WALs below `wal_min`, dropped WALs, `*.tmp`) are
//! removed and the directory is fsynced again. A flush
//! writes and fsyncs its table and the directory before the manifest switch names it and
//! only then removes the WALs it covers; a compaction removes its inputs only after the
//! switch, so a crash at any step opens to a consistent set of tables (the crash points of
//! each step are listed in `background.rs`).
//!
//! **Rotation** (`rotation.rs`). Under the write lock, a rotation only appends the END
//! record and swaps in the spare WAL; the old WAL is fsynced afterwards, oldest first, by the
//! flush thread or by the next commit's fsync (which covers the rotated-out WALs before the
//! active one), and the next spare is prepared by a free background thread. No file is
//! created and nothing is fsynced while writers wait for the lock.
//!
//! **Close.** `close()` is a barrier: it refuses new calls (`Error::Closed`) and cancels
//! running merges, waits for the calls in flight on other threads (`gate.rs`), joins the
//! background threads (a flush or manifest switch under way finishes), syncs the WALs, and
//! releases the directory lock last. A second `close()` waits for the first. A failed fsync
//! or write poisons the instance: writes are refused (checked under the write lock and the
//! manifest lock) until it is reopened; reads go on and see every acknowledged write.
//!
//! **Stats** (`EngineStats.extra`): `levelN_tables`, `levelN_bytes` (and, under leveled,
//! `levelN_target_bytes`); bytes written by the WAL, flushes, compactions and manifest
//! switches, each apart (`wal_bytes_written`, `flush_bytes_written`,
//! `compaction_bytes_written`, `manifest_bytes_written`), so write amplification can be
//! shown with and without the WAL; `flushes`, `compactions`,
//! `tombstones_dropped`; `bloom_checks`, `bloom_negatives`, `bloom_false_positives`,
//! `tables_probed`, `gets`; `block_cache_hits`/`misses`; `write_slowdowns`, `write_stalls`,
//! `stall_micros`.

mod background;
mod block;
mod block_cache;
mod bloom;
mod coding;
mod compaction;
mod db;
mod iterator;
mod manifest;
mod memtable;
mod options;
mod recovery;
mod rotation;
mod sstable;
mod stats;
mod table_builder;
mod version;
mod wal;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::atomic::Ordering::*;
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;

pub use options::{CompactionPolicy, LsmOptions};

use crate::limits::{check_key, check_put};
use crate::{Engine, EngineStats, Options, Result};
use db::{lock, Inner};

/// Format version written to the store marker (2: WAL and manifest files carry the
/// synced-length header, the manifest is a log of snapshots).
pub const FORMAT_VERSION: u32 = 2;

/// An open lsm store.
pub struct LsmEngine {
    inner: Arc<Inner>,
    background: Mutex<Vec<JoinHandle<()>>>,
    /// Held by `close()` while it runs, so a second `close()` returns only after the first;
    /// true once the instance is closed.
    closed: Mutex<bool>,
}

pub fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    Ok(Box::new(LsmEngine::open(dir, options)?))
}

impl LsmEngine {
    pub fn open(dir: &Path, options: &Options) -> Result<LsmEngine> {
        let inner = Arc::new(recovery::open(dir, options)?);
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        inner
            .committer
            .start_flusher(move || weak.upgrade().map(|i| i.sync_wal()));
        let engine = LsmEngine {
            inner,
            background: Mutex::new(Vec::new()),
            closed: Mutex::new(false),
        };
        for (name, role) in [
            ("lsm-flush", background::Role::Flusher),
            ("lsm-compact", background::Role::Compactor),
        ] {
            let bg = Arc::clone(&engine.inner);
            let handle = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || background::background(bg, role))?;
            lock(&engine.background).push(handle);
        }
        Ok(engine)
    }

    /// `(tables, bytes)` per level.
    pub fn levels(&self) -> Vec<(usize, u64)> {
        let v = self.inner.view();
        (0..v.version.levels.len())
            .map(|l| (v.version.levels[l].len(), v.version.level_bytes(l)))
            .collect()
    }

    /// The close protocol: refuse new calls and cancel running merges; wait for the calls
    /// in flight (a cancelled `compact()` returns `Closed`); stop the background threads
    /// (a flush or manifest switch under way finishes); make every write durable; and only
    /// then release the directory lock, so nothing of this instance touches the directory
    /// once another may own it.
    fn shut_down(&self) -> Result<()> {
        let i = &self.inner;
        i.gate.shut();
        i.shutdown.store(true, Release);
        i.wake_background();
        i.notify_stalled();
        i.gate.wait_empty();
        let handles = std::mem::take(&mut *lock(&self.background));
        for h in handles {
            let _ = h.join();
        }
        let r = i.committer.sync_all(&|| i.sync_wal());
        i.committer.shutdown();
        lock(&i.store).take();
        r
    }
}

impl Drop for LsmEngine {
    fn drop(&mut self) {
        let closed = self.closed.get_mut().unwrap_or_else(|p| p.into_inner());
        if !*closed {
            *closed = true;
            let _ = self.shut_down();
        }
    }
}

impl Engine for LsmEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let _in = self.inner.gate.enter()?;
        check_put(key, value)?;
        self.inner.write(key, Some(value))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let _in = self.inner.gate.enter()?;
        self.inner.get(key)
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        let _in = self.inner.gate.enter()?;
        check_key(key)?;
        self.inner.write(key, None)
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let _in = self.inner.gate.enter()?;
        self.inner.scan(start, end, limit)
    }

    fn sync(&self) -> Result<()> {
        let _in = self.inner.gate.enter()?;
        self.inner.committer.sync_all(&|| self.inner.sync_wal())
    }

    fn close(&self) -> Result<()> {
        let mut closed = lock(&self.closed);
        if *closed {
            return Ok(());
        }
        *closed = true;
        self.shut_down()
    }

    fn compact(&self) -> Result<()> {
        let _in = self.inner.gate.enter()?;
        self.inner.compact_all()
    }

    /// Flushes every memtable to tables and waits until no compaction is due or running.
    fn settle(&self) -> Result<()> {
        let _in = self.inner.gate.enter()?;
        self.inner.settle()
    }

    fn stats(&self) -> EngineStats {
        let i = &self.inner;
        let v = i.view();
        let mut extra = std::collections::BTreeMap::new();
        for (l, ts) in v.version.levels.iter().enumerate() {
            extra.insert(format!("level{l}_tables"), ts.len() as f64);
            extra.insert(format!("level{l}_bytes"), v.version.level_bytes(l) as f64);
            if l > 0 && i.opts.compaction == CompactionPolicy::Leveled {
                let target = i.opts.level_target(l) as f64;
                extra.insert(format!("level{l}_target_bytes"), target);
            }
        }
        for (name, value) in i.stats.named() {
            extra.insert(name.to_string(), value as f64);
        }
        extra.insert("block_cache_hits".into(), i.cache.hits.get() as f64);
        extra.insert("block_cache_misses".into(), i.cache.misses.get() as f64);
        extra.insert("block_cache_bytes".into(), i.cache.bytes() as f64);
        extra.insert("immutable_memtables".into(), v.imms.len() as f64);
        extra.insert("wal_fsyncs".into(), i.committer.fsyncs() as f64);
        extra.insert("last_sequence".into(), i.last_seq.load(Relaxed) as f64);
        let mem: u64 = std::iter::once(&v.mem)
            .chain(&v.imms)
            .map(|m| m.bytes())
            .sum();
        let tables: u64 = v.version.tables().map(|(_, t)| t.memory() as u64).sum();
        EngineStats {
            io: i.io.snapshot(),
            live_keys: None,
            disk_bytes: crate::store_dir::dir_size(&i.dir),
            memory_bytes: mem + tables + i.cache.bytes(),
            write_buffer_bytes: i.opts.write_buffer_bytes(),
            compactions: i.stats.compactions.get(),
            compaction_bytes_written: i.stats.compaction_bytes_written.get(),
            extra,
        }
    }
}
