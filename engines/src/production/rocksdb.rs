//! RocksDB: an LSM-tree (`<dir>/rocksdb/`), the default column family, no compression.
//!
//! ```text
//! rocksdb/<n>.log        WAL: 32 KiB blocks of records | crc32c (4) | len (2) | type (1) | data |
//!                        (FULL/FIRST/MIDDLE/LAST fragments); data = write batch with seqno
//! rocksdb/<n>.sst        block-based tables: data blocks, index, filter, properties,
//!                        metaindex, footer; every block has a 5-byte trailer (type + crc32c)
//! rocksdb/MANIFEST-<n>   version edits (files added/removed per level), log-framed like the WAL
//! rocksdb/CURRENT        name of the live MANIFEST
//! rocksdb/OPTIONS-<n>    the options the store was opened with; rocksdb/LOG: the info log
//! ```
//!
//! Recovery: the MANIFEST gives the live tables; WALs newer than the last flush are replayed
//! with `WALRecoveryMode::TolerateCorruptedTailRecords`: a torn record at the tail is dropped,
//! damage anywhere else fails the open with a corruption error (our durability contract).
//! Every block read is checked against its checksum (`verify_checksums` is on by default).
//!
//! Durability: `sync` = `WriteOptions::set_sync(true)` (RocksDB groups concurrent writers
//! behind one WAL fsync itself); `none` and `group` = `set_sync(false)` (each write still
//! reaches the OS with `write()`, so a process kill loses nothing), and `persist` is
//! `flush_wal(true)` (write and fsync the WAL), which the adapter's committer calls every
//! `group_commit.interval` in `group` mode. `compact` is `compact_range` over all keys
//! (flushes the memtable first). `settle` flushes the memtables to L0 tables, waits until
//! RocksDB's background flushes and compactions have finished (`WaitForCompact`), and
//! fsyncs the WAL. Memtables are RocksDB's defaults, set explicitly so the adapter can report
//! them: two of 64 MiB (`write_buffer_bytes` = 128 MiB). The info log is kept at warning level, and its statistics
//! dump turned off, so `LOG` does not dominate the bytes written.
//!
//! `extra` (from RocksDB's statistics and properties; cumulative since open):
//! * `rocksdb_user_bytes_written` (ticker `rocksdb.bytes.written`: key and value bytes
//!   handed to Put/Delete, plus RocksDB's small per-entry overhead),
//!   `rocksdb_keys_written` (`rocksdb.number.keys.written`);
//! * `rocksdb_wal_bytes` (`rocksdb.wal.bytes`), `rocksdb_wal_syncs` (`rocksdb.wal.synced`);
//! * `rocksdb_flush_bytes` (`rocksdb.flush.write.bytes`: SSTs written by memtable flushes);
//! * `rocksdb_compaction_write_bytes`, `rocksdb_compaction_read_bytes`
//!   (`rocksdb.compact.{write,read}.bytes`);
//! * `rocksdb_write_amp` = (WAL + flush + compaction bytes) / `rocksdb_user_bytes_written`:
//!   RocksDB's own count of everything it wrote per user byte, comparable with our
//!   `/proc/self/io` figure;
//! * `rocksdb_compaction_stats_w_amp`: the W-Amp column of the "Sum" row of the
//!   `rocksdb.stats` compaction-stats table, which EXCLUDES the WAL and divides the bytes
//!   written by flushes and compactions by the bytes flushed (not by user bytes), so it
//!   is smaller than `rocksdb_write_amp`;
//! * `rocksdb_bytes_read` (`rocksdb.bytes.read`: value bytes returned by Get);
//! * `rocksdb_memtable_bytes` (`rocksdb.cur-size-all-mem-tables`), `rocksdb_sst_bytes`
//!   (`rocksdb.total-sst-files-size`), `rocksdb_files_l0` .. `rocksdb_files_l6`
//!   (`rocksdb.num-files-at-level<N>`), `rocksdb_estimate_keys`
//!   (`rocksdb.estimate-num-keys`, an estimate that counts overwrites and deletes).

use std::path::{Path, PathBuf};

use rocksdb::statistics::Ticker;
use rocksdb::{
    DBCompressionType, DBRecoveryMode, LogLevel, ReadOptions, WaitForCompactOptions, WriteOptions,
    DB,
};

use super::{engine_corruption, engine_error, extra, open_adapter, Backend};
use crate::{Durability, Engine, EngineKind, EngineStats, Error, Options, Result};

const SUBDIR: &str = "rocksdb";
/// One memtable (RocksDB's default `write_buffer_size`), unless `production.write_buffer_bytes`
/// sets the memtables' total; `production.cache_bytes` sets the block cache.
const MEMTABLE_BYTES: usize = 64 << 20;
/// Memtables held at most, the active one and those waiting for their flush (RocksDB's
/// default `max_write_buffer_number`).
const MEMTABLES: usize = 2;

pub fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    open_adapter(EngineKind::Rocksdb, dir, options, |store| {
        let path = store.join(SUBDIR);
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
        opts.set_compression_type(DBCompressionType::None);
        opts.enable_statistics();
        opts.set_stats_dump_period_sec(0);
        opts.set_log_level(LogLevel::Warn);
        opts.set_keep_log_file_num(2);
        opts.set_max_background_jobs(2);
        let memtable = options
            .production
            .write_buffer_bytes
            .map_or(MEMTABLE_BYTES, |b| b as usize / MEMTABLES);
        opts.set_write_buffer_size(memtable);
        opts.set_max_write_buffer_number(MEMTABLES as i32);
        if let Some(cache) = options.production.cache_bytes {
            let mut table = rocksdb::BlockBasedOptions::default();
            table.set_block_cache(&rocksdb::Cache::new_lru_cache(cache as usize));
            opts.set_block_based_table_factory(&table);
        }
        let db = DB::open(&opts, &path).map_err(|e| map(&path, e))?;
        let mut write = WriteOptions::default();
        write.set_sync(options.durability == Durability::Sync);
        Ok(Rocks {
            db,
            opts,
            write,
            memtable,
            path,
        })
    })
}

pub(crate) struct Rocks {
    db: DB,
    /// Holds the statistics object the open database reports into.
    opts: rocksdb::Options,
    write: WriteOptions,
    /// Bytes of one memtable.
    memtable: usize,
    path: PathBuf,
}

fn map(path: &Path, e: rocksdb::Error) -> Error {
    match e.kind() {
        rocksdb::ErrorKind::Corruption => engine_corruption(path, format!("rocksdb: {e}")),
        rocksdb::ErrorKind::IOError => Error::Io(std::io::Error::other(format!("rocksdb: {e}"))),
        _ => engine_error("rocksdb", e),
    }
}

/// The W-Amp of the "Sum" row of the compaction-stats table in `rocksdb.stats`. The header
/// names the columns; the Size column is printed as two tokens ("1.2 MB") in the rows.
fn compaction_stats_w_amp(stats: &str) -> Option<f64> {
    let mut lines = stats.lines();
    let header = lines.find(|l| l.trim_start().starts_with("Level") && l.contains("W-Amp"))?;
    let cols: Vec<&str> = header.split_whitespace().collect();
    let w_amp = cols.iter().position(|c| *c == "W-Amp")?;
    let size = cols.iter().position(|c| *c == "Size")?;
    let sum = lines.find(|l| l.trim_start().starts_with("Sum"))?;
    let cells: Vec<&str> = sum.split_whitespace().collect();
    let at = if size < w_amp { w_amp + 1 } else { w_amp };
    cells.get(at)?.parse().ok()
}

impl Backend for Rocks {
    const SYNCS_ITSELF: bool = true;

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db
            .put_opt(key, value, &self.write)
            .map_err(|e| map(&self.path, e))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.db
            .delete_opt(key, &self.write)
            .map_err(|e| map(&self.path, e))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .db
            .get_pinned(key)
            .map_err(|e| map(&self.path, e))?
            .map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut ro = ReadOptions::default();
        if let Some(end) = end {
            ro.set_iterate_upper_bound(end);
        }
        let mut it = self.db.raw_iterator_opt(ro);
        it.seek(start);
        let mut out = Vec::new();
        while out.len() < limit && it.valid() {
            if let (Some(k), Some(v)) = (it.key(), it.value()) {
                out.push((k.to_vec(), v.to_vec()));
            }
            it.next();
        }
        it.status().map_err(|e| map(&self.path, e))?;
        Ok(out)
    }

    fn persist(&self) -> Result<()> {
        self.db.flush_wal(true).map_err(|e| map(&self.path, e))
    }

    fn compact(&self) -> Result<()> {
        self.db.compact_range(None::<&[u8]>, None::<&[u8]>);
        // compact_range reports no error; a failed background job leaves RocksDB in an error
        // state that the next write reports, and the property read below surfaces it now.
        match self.db.property_int_value("rocksdb.background-errors") {
            Ok(Some(0)) | Ok(None) => Ok(()),
            Ok(Some(n)) => Err(engine_error(
                "rocksdb",
                format!("{n} background errors after compaction"),
            )),
            Err(e) => Err(map(&self.path, e)),
        }
    }

    fn settle(&self) -> Result<()> {
        self.db.flush().map_err(|e| map(&self.path, e))?;
        let mut wait = WaitForCompactOptions::default();
        wait.set_flush(true);
        self.db
            .wait_for_compact(&wait)
            .map_err(|e| map(&self.path, e))?;
        self.persist()
    }

    fn write_buffer_bytes(&self) -> u64 {
        (self.memtable * MEMTABLES) as u64
    }

    fn stats(&self, stats: &mut EngineStats) {
        let t = |ticker| self.opts.get_ticker_count(ticker) as f64;
        let user = t(Ticker::BytesWritten);
        let wal = t(Ticker::WalFileBytes);
        let flush = t(Ticker::FlushWriteBytes);
        let compaction = t(Ticker::CompactWriteBytes);
        extra(stats, "rocksdb_user_bytes_written", user);
        extra(stats, "rocksdb_keys_written", t(Ticker::NumberKeysWritten));
        extra(stats, "rocksdb_wal_bytes", wal);
        extra(stats, "rocksdb_wal_syncs", t(Ticker::WalFileSynced));
        extra(stats, "rocksdb_flush_bytes", flush);
        extra(stats, "rocksdb_compaction_write_bytes", compaction);
        extra(
            stats,
            "rocksdb_compaction_read_bytes",
            t(Ticker::CompactReadBytes),
        );
        extra(stats, "rocksdb_bytes_read", t(Ticker::BytesRead));
        if user > 0.0 {
            extra(
                stats,
                "rocksdb_write_amp",
                (wal + flush + compaction) / user,
            );
        }
        stats.compaction_bytes_written = compaction as u64;
        if let Ok(Some(text)) = self.db.property_value("rocksdb.stats") {
            if let Some(w) = compaction_stats_w_amp(&text) {
                extra(stats, "rocksdb_compaction_stats_w_amp", w);
            }
        }
        let int = |name: &str| self.db.property_int_value(name).ok().flatten();
        if let Some(n) = int("rocksdb.cur-size-all-mem-tables") {
            extra(stats, "rocksdb_memtable_bytes", n as f64);
            stats.memory_bytes = n;
        }
        if let Some(n) = int("rocksdb.total-sst-files-size") {
            extra(stats, "rocksdb_sst_bytes", n as f64);
        }
        if let Some(n) = int("rocksdb.estimate-num-keys") {
            extra(stats, "rocksdb_estimate_keys", n as f64);
        }
        for level in 0..7 {
            let name = format!("rocksdb.num-files-at-level{level}");
            if let Ok(Some(n)) = self.db.property_value(name.as_str()) {
                if let Ok(n) = n.trim().parse::<f64>() {
                    extra(stats, &format!("rocksdb_files_l{level}"), n);
                }
            }
        }
    }

    fn close(&self) -> Result<()> {
        // The database closes (waiting for background jobs) when the adapter drops it.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w_amp_is_read_from_the_sum_row() {
        let text = "\n** Compaction Stats [default] **\n\
Level    Files   Size     Score Read(GB)  Rn(GB) Rnp1(GB) Write(GB) Wnew(GB) Moved(GB) W-Amp Rd(MB/s)\n\
----------------------------------------------------------------------------------------\n\
  L0      1/0    1.20 KB   0.2      0.0     0.0      0.0       0.0      0.0       0.0   1.0      0.0\n\
 Sum      1/0    1.20 KB   0.0      0.0     0.0      0.0       0.0      0.0       0.0   2.5      0.0\n";
        assert_eq!(compaction_stats_w_amp(text), Some(2.5));
        assert_eq!(compaction_stats_w_amp("no table here"), None);
    }

    #[test]
    fn statistics_and_compaction_stats_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path(), &Options::default()).unwrap();
        let mut user = 0u64;
        for i in 0..3000u32 {
            let key = format!("key{i:08}");
            db.put(key.as_bytes(), &[i as u8; 200]).unwrap();
            user += key.len() as u64 + 200;
        }
        db.sync().unwrap();
        let before = db.stats().extra["rocksdb_flush_bytes"];
        db.settle().unwrap();
        let settled = db.stats();
        assert!(
            settled.extra["rocksdb_flush_bytes"] > before,
            "settle flushed the memtable"
        );
        let memtable = settled.extra["rocksdb_memtable_bytes"];
        assert!(
            memtable < 1e6,
            "an empty memtable after settling: {memtable}"
        );
        assert_eq!(settled.write_buffer_bytes, 128 << 20);
        db.compact().unwrap();
        let s = db.stats();
        let x = |name: &str| {
            *s.extra
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing in {:?}", s.extra))
        };
        assert!(x("rocksdb_user_bytes_written") >= user as f64);
        assert!(
            x("rocksdb_wal_bytes") >= user as f64,
            "the WAL holds every put"
        );
        assert!(
            x("rocksdb_flush_bytes") > 0.0,
            "compact flushed the memtable"
        );
        assert!(x("rocksdb_write_amp") > 1.0);
        let w = x("rocksdb_compaction_stats_w_amp");
        assert!(
            w > 0.0 && w < x("rocksdb_write_amp"),
            "W-Amp {w} excludes the WAL"
        );
        assert_eq!(x("rocksdb_estimate_keys"), 3000.0);
        db.close().unwrap();
    }
}
