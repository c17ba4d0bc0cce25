//! The `null` engine: it keeps no data and answers every call at once with a fixed answer (a
//! get finds an empty value, a scan finds nothing), so a run on it measures the harness alone.
//! Its options give it costs known by construction, which is how the suite checks its own
//! figures ("known answers", design.md): it can write exactly `write_factor` x the user bytes,
//! hold them in memory until it is told to write out, read one block per get, spin or sleep.
//!
//! ```text
//! <dir>/KVBENCH   store marker (engine=null), <dir>/LOCK: the directory lock
//! <dir>/log       only with write_factor > 0: for every put, write_factor copies of key and
//!                 value appended (of the key for a delete); nothing else, never read back
//! <dir>/blocks    only with read_block_bytes > 0: BLOCKS blocks written at open; a get reads
//!                 the block its key hashes to
//! ```
//!
//! Recovery: there is nothing to recover. A reopen appends to the log after its current end;
//! the data of earlier instances is never read. Every byte goes through [`crate::io`], so the
//! engine's counters (and the kernel's) see exactly what the options say.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::io::{File, Io};
use crate::options::{check_range, TIB};
use crate::store_dir::{self, StoreDir};
use crate::{limits, Durability, Engine, EngineStats, Error, Options, Result};

/// Blocks in the block file.
pub const BLOCKS: u64 = 256;
const FORMAT_VERSION: u32 = 1;

/// Costs of the null engine, all off by default (then it does no work at all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NullOptions {
    /// Bytes written to the log per user byte: every put appends `write_factor` copies of its
    /// key and value, every delete of its key. 0 writes nothing.
    pub write_factor: u32,
    /// Hold what the log would get in memory until `settle`, `sync` or `close`, or until
    /// `write_buffer_bytes` are held (then all of it is written out, as a memtable flush).
    pub defer_writes: bool,
    /// The most a deferring engine holds before it writes out (reported as
    /// `EngineStats::write_buffer_bytes`).
    pub write_buffer_bytes: u64,
    /// Bytes every get reads from the block file (0 = no reads).
    pub read_block_bytes: u32,
    /// Every operation busy-waits at least this many nanoseconds.
    pub spin_ns: u64,
    /// Operations number 0, `stall_every`, 2 x `stall_every`, ... of this instance (every
    /// put, get, delete and scan counts) sleep `stall_ms` first; 0 = never.
    pub stall_every: u64,
    pub stall_ms: u64,
    /// The process aborts (as a crash would end it) at this operation of the instance,
    /// counting from 1; 0 = never. For tests of what a harness does when a run dies.
    pub abort_at: u64,
}

impl Default for NullOptions {
    fn default() -> Self {
        NullOptions {
            write_factor: 0,
            defer_writes: false,
            write_buffer_bytes: 64 << 20,
            read_block_bytes: 0,
            spin_ns: 0,
            stall_every: 0,
            stall_ms: 0,
            abort_at: 0,
        }
    }
}

impl NullOptions {
    /// Rejects settings the engine cannot honour, each with a one-line error.
    pub fn validate(&self) -> Result<()> {
        check_range("null.write_factor", self.write_factor, 0, 1000, "")?;
        check_range(
            "null.write_buffer_bytes",
            self.write_buffer_bytes,
            1,
            TIB,
            "bytes",
        )?;
        check_range(
            "null.read_block_bytes",
            self.read_block_bytes,
            0,
            1 << 20,
            "bytes",
        )?;
        check_range("null.spin_ns", self.spin_ns, 0, 1_000_000_000, "ns")?;
        check_range("null.stall_ms", self.stall_ms, 0, 10_000, "ms")
    }

    /// True when some operation does more than return.
    fn counts_ops(&self) -> bool {
        self.stall_every > 0 || self.abort_at > 0
    }
}

/// The log's end and what is held for it.
struct Log {
    file: File,
    end: u64,
    held: Vec<u8>,
}

pub struct NullEngine {
    opts: NullOptions,
    io: Io,
    log: Option<Mutex<Log>>,
    blocks: Option<File>,
    sync_each: bool,
    ops: AtomicU64,
    closed: AtomicBool,
    dir: std::path::PathBuf,
    /// The claimed directory; released by `close`, last.
    store: Mutex<Option<StoreDir>>,
}

/// Opens (creating if needed) a null store in `dir`.
pub fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    Ok(Box::new(NullEngine::open(dir, options)?))
}

impl NullEngine {
    pub fn open(dir: &Path, options: &Options) -> Result<NullEngine> {
        let opts = options.null.clone();
        opts.validate()?;
        let io = Io::new();
        let store = store_dir::claim(&io, dir, "null", FORMAT_VERSION)?;
        let mut created = false;
        let log = if opts.write_factor > 0 {
            let path = store.join("log");
            let file = if path.exists() {
                io.open(&path)?
            } else {
                created = true;
                io.create(&path)?
            };
            let end = file.len()?;
            Some(Mutex::new(Log {
                file,
                end,
                held: Vec::new(),
            }))
        } else {
            None
        };
        let blocks = if opts.read_block_bytes > 0 {
            let path = store.join("blocks");
            let size = opts.read_block_bytes as u64 * BLOCKS;
            if path.exists() && std::fs::metadata(&path)?.len() == size {
                Some(io.open_read(&path)?)
            } else {
                if path.exists() {
                    io.remove(&path)?;
                }
                let f = io.create(&path)?;
                let block: Vec<u8> = (0..opts.read_block_bytes).map(|i| i as u8).collect();
                for b in 0..BLOCKS {
                    f.write_all_at(&block, b * opts.read_block_bytes as u64)?;
                }
                f.sync()?;
                created = true;
                Some(f)
            }
        } else {
            None
        };
        if created {
            io.sync_dir(store.path())?;
        }
        Ok(NullEngine {
            sync_each: options.durability == Durability::Sync,
            opts,
            io,
            log,
            blocks,
            ops: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            dir: dir.to_path_buf(),
            store: Mutex::new(Some(store)),
        })
    }

    /// The costs every operation pays: the abort, the stall, the spin.
    #[inline]
    fn cost(&self) -> Result<()> {
        if self.closed.load(Relaxed) {
            return Err(Error::Closed);
        }
        if self.opts.counts_ops() {
            let n = self.ops.fetch_add(1, Relaxed);
            if self.opts.abort_at > 0 && n + 1 == self.opts.abort_at {
                eprintln!("null engine: aborting at operation {} as configured", n + 1);
                std::process::abort();
            }
            if self.opts.stall_every > 0 && n % self.opts.stall_every == 0 {
                std::thread::sleep(Duration::from_millis(self.opts.stall_ms));
            }
        }
        if self.opts.spin_ns > 0 {
            let until = Duration::from_nanos(self.opts.spin_ns);
            let t = Instant::now();
            while t.elapsed() < until {
                std::hint::spin_loop();
            }
        }
        Ok(())
    }

    /// Appends `write_factor` copies of `parts` to the log, or holds them.
    fn write(&self, parts: &[&[u8]]) -> Result<()> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        // Checked under the log's lock, which close takes too: nothing is written after it.
        if self.closed.load(Relaxed) {
            return Err(Error::Closed);
        }
        for _ in 0..self.opts.write_factor {
            for p in parts {
                log.held.extend_from_slice(p);
            }
        }
        if !self.opts.defer_writes || log.held.len() as u64 >= self.opts.write_buffer_bytes {
            write_out(&mut log)?;
            if self.sync_each {
                log.file.sync()?;
            }
        }
        Ok(())
    }

    fn flush(&self, sync: bool) -> Result<()> {
        if let Some(log) = &self.log {
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            write_out(&mut log)?;
            if sync {
                log.file.sync()?;
            }
        }
        Ok(())
    }
}

fn write_out(log: &mut Log) -> Result<()> {
    if log.held.is_empty() {
        return Ok(());
    }
    log.file.write_all_at(&log.held, log.end)?;
    log.end += log.held.len() as u64;
    log.held.clear();
    Ok(())
}

impl Engine for NullEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        limits::check_put(key, value)?;
        self.cost()?;
        self.write(&[key, value])
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        limits::check_key(key)?;
        self.cost()?;
        if let Some(blocks) = &self.blocks {
            let size = self.opts.read_block_bytes as u64;
            let block = crc32c::crc32c(key) as u64 % BLOCKS;
            let mut buf = vec![0u8; size as usize];
            blocks.read_exact_at(&mut buf, block * size)?;
        }
        Ok(Some(Vec::new()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        limits::check_key(key)?;
        self.cost()?;
        self.write(&[key])
    }

    fn scan(
        &self,
        _start: &[u8],
        _end: Option<&[u8]>,
        _limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.cost()?;
        Ok(Vec::new())
    }

    fn sync(&self) -> Result<()> {
        if self.closed.load(Relaxed) {
            return Err(Error::Closed);
        }
        self.flush(true)
    }

    fn close(&self) -> Result<()> {
        // A second close waits here for the first, then finds the store released.
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if store.is_none() {
            return Err(Error::Closed);
        }
        let flushed = match &self.log {
            Some(log) => {
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                self.closed.store(true, Relaxed);
                write_out(&mut log).and_then(|_| log.file.sync())
            }
            None => {
                self.closed.store(true, Relaxed);
                Ok(())
            }
        };
        *store = None;
        flushed
    }

    fn compact(&self) -> Result<()> {
        Ok(())
    }

    fn settle(&self) -> Result<()> {
        self.sync()
    }

    fn stats(&self) -> EngineStats {
        EngineStats {
            io: self.io.snapshot(),
            disk_bytes: store_dir::dir_size(&self.dir),
            write_buffer_bytes: if self.opts.defer_writes && self.log.is_some() {
                self.opts.write_buffer_bytes
            } else {
                0
            },
            ..EngineStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_with(dir: &Path, f: impl FnOnce(&mut NullOptions)) -> NullEngine {
        let mut o = Options::default();
        f(&mut o.null);
        NullEngine::open(dir, &o).unwrap()
    }

    #[test]
    fn does_nothing_by_default() {
        let d = tempfile::tempdir().unwrap();
        let db = open_with(d.path(), |_| {});
        let before = db.stats().io;
        db.put(b"k", b"value").unwrap();
        assert_eq!(db.get(b"k").unwrap(), Some(Vec::new()));
        assert!(db.scan(b"", None, 10).unwrap().is_empty());
        db.delete(b"k").unwrap();
        db.settle().unwrap();
        assert_eq!(db.stats().io.since(&before).bytes_written, 0);
        db.close().unwrap();
        assert!(matches!(db.get(b"k"), Err(Error::Closed)));
    }

    #[test]
    fn writes_exactly_the_factor_and_defers_until_told() {
        let d = tempfile::tempdir().unwrap();
        let db = open_with(d.path(), |o| o.write_factor = 3);
        let before = db.stats().io;
        db.put(b"key", b"value").unwrap();
        db.delete(b"key").unwrap();
        assert_eq!(db.stats().io.since(&before).bytes_written, 3 * 8 + 3 * 3);
        db.close().unwrap();

        let d = tempfile::tempdir().unwrap();
        let db = open_with(d.path(), |o| {
            o.write_factor = 1;
            o.defer_writes = true;
            o.write_buffer_bytes = 20;
        });
        assert_eq!(db.stats().write_buffer_bytes, 20);
        let before = db.stats().io;
        db.put(b"key", b"value").unwrap();
        assert_eq!(db.stats().io.since(&before).bytes_written, 0, "held");
        db.settle().unwrap();
        assert_eq!(db.stats().io.since(&before).bytes_written, 8);
        // A full buffer is written out whole.
        db.put(b"0123456789", b"0123456789").unwrap();
        assert_eq!(db.stats().io.since(&before).bytes_written, 28);
        db.close().unwrap();
        assert_eq!(std::fs::metadata(d.path().join("log")).unwrap().len(), 28);
        // A reopen appends after the end.
        let db = open_with(d.path(), |o| o.write_factor = 1);
        db.put(b"k", b"").unwrap();
        db.close().unwrap();
        assert_eq!(std::fs::metadata(d.path().join("log")).unwrap().len(), 29);
    }

    #[test]
    fn reads_one_block_per_get_and_checks_options() {
        let d = tempfile::tempdir().unwrap();
        let db = open_with(d.path(), |o| o.read_block_bytes = 4096);
        let before = db.stats().io;
        for i in 0..10u32 {
            db.get(&i.to_be_bytes()).unwrap();
        }
        let io = db.stats().io.since(&before);
        assert_eq!((io.bytes_read, io.read_calls), (40960, 10));
        db.close().unwrap();

        let mut o = Options::default();
        o.null.write_factor = 1001;
        assert!(matches!(
            NullEngine::open(d.path(), &o),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn spins_and_stalls_at_least_as_long_as_told() {
        let d = tempfile::tempdir().unwrap();
        let db = open_with(d.path(), |o| {
            o.spin_ns = 200_000;
            o.stall_every = 3;
            o.stall_ms = 5;
        });
        let t = Instant::now();
        db.get(b"a").unwrap(); // operation 0: stalls
        assert!(t.elapsed() >= Duration::from_micros(5_200));
        let t = Instant::now();
        db.get(b"a").unwrap();
        db.get(b"a").unwrap();
        assert!(t.elapsed() >= Duration::from_micros(400));
        db.close().unwrap();
    }
}
