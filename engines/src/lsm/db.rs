//! The engine's shared state and its foreground paths: the write path (WAL, commit,
//! memtable, write throttling), point reads and scans. Rotation is in `rotation.rs`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use super::block_cache::BlockCache;
use super::bloom;
use super::compaction::Env;
use super::iterator::{LevelIter, MemIter, MergeIter, Source};
use super::manifest::ManifestLog;
use super::memtable::Memtable;
use super::options::LsmOptions;
use super::rotation::Wals;
use super::sstable::TableIter;
use super::stats::Stats;
use super::version::Version;
use super::wal::WalWriter;
use crate::durability::Committer;
use crate::gate::Gate;
use crate::io::Io;
use crate::limits::check_key;
use crate::store_dir::StoreDir;
use crate::{Error, Result};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a reader needs: the memtables and the table version, swapped as one.
#[derive(Clone)]
pub(crate) struct View {
    pub mem: Arc<Memtable>,
    /// Immutable memtables waiting for flush, newest first.
    pub imms: Vec<Arc<Memtable>>,
    pub version: Arc<Version>,
}

/// Held by the one writer appending at a time.
pub(crate) struct WriteState {
    pub wal: WalWriter,
    pub mem: Arc<Memtable>,
    /// Last sequence number handed out.
    pub seq: u64,
}

/// The manifest log and the WAL floor its current snapshot records.
pub(crate) struct ManifestState {
    pub log: ManifestLog,
    /// WALs below this number are flushed.
    pub wal_min: u64,
}

pub(crate) struct Inner {
    pub dir: PathBuf,
    pub io: Io,
    pub opts: LsmOptions,
    pub committer: Arc<Committer>,
    pub store: Mutex<Option<StoreDir>>,
    /// Every public call passes through it; `close()` shuts it and waits for it to empty.
    pub gate: Gate,
    /// Set by `close()`: background threads stop and running merges are cancelled.
    pub shutdown: AtomicBool,
    pub write: Mutex<WriteState>,
    pub wals: Wals,
    pub view: RwLock<Arc<View>>,
    /// Held while a manifest switch is written and installed.
    pub manifest: Mutex<ManifestState>,
    pub next_file: AtomicU64,
    pub last_seq: AtomicU64,
    pub flush_lock: Mutex<()>,
    pub compaction_lock: Mutex<()>,
    /// Leveled round-robin position per level.
    pub pointers: Mutex<Vec<Vec<u8>>>,
    /// Bumped whenever a flush or compaction may have become due.
    pub work: Mutex<u64>,
    pub work_cv: Condvar,
    pub stall: Mutex<()>,
    pub stall_cv: Condvar,
    pub imm_count: AtomicUsize,
    pub l0_count: AtomicUsize,
    pub cache: Arc<BlockCache>,
    pub stats: Stats,
}

impl Inner {
    /// `Err(Closed)` once `close()` has begun.
    pub fn live(&self) -> Result<()> {
        if self.gate.is_closing() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    pub fn view(&self) -> Arc<View> {
        self.view.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn update_view(&self, f: impl FnOnce(&mut View)) {
        let mut g = self.view.write().unwrap_or_else(|p| p.into_inner());
        let mut v = View::clone(&g);
        f(&mut v);
        self.imm_count.store(v.imms.len(), Relaxed);
        self.l0_count.store(v.version.levels[0].len(), Relaxed);
        *g = Arc::new(v);
        drop(g);
        // A new table or memtable may make a flush or compaction due.
        self.wake_background();
    }

    pub fn env(&self) -> Env<'_> {
        Env {
            io: &self.io,
            dir: &self.dir,
            opts: &self.opts,
            cache: &self.cache,
            stats: &self.stats,
            next_file: &self.next_file,
            cancel: &self.shutdown,
        }
    }

    /// Poisons the engine: a write or flush failed half-way, so no more writes until reopen.
    pub fn fatal(&self, e: Error) -> Error {
        self.committer.poison(format!("{e}"));
        self.notify_stalled();
        e
    }

    pub fn wake_background(&self) {
        *lock(&self.work) += 1;
        self.work_cv.notify_all();
    }

    pub fn notify_stalled(&self) {
        let _g = lock(&self.stall);
        self.stall_cv.notify_all();
    }

    /// A put (`Some`) or delete (`None`): the WAL record under the write lock, then the
    /// commit the durability mode asks for, and only then the memtable, so that a write
    /// whose commit fails is never seen by a reader. A full memtable is rotated after.
    pub fn write(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.throttle()?;
        let (seq, mem) = {
            let mut w = lock(&self.write);
            self.committer.check()?;
            let seq = w.seq + 1;
            let n = w.wal.append(seq, key, value).map_err(|e| self.fatal(e))?;
            w.seq = seq;
            self.last_seq.store(seq, Release);
            self.committer.appended(seq, n);
            self.stats.wal_bytes_written.add(n);
            w.mem.writers.enter_unchecked();
            (seq, w.mem.clone())
        };
        let committed = self.committer.commit(seq, &|| self.sync_wal());
        if committed.is_ok() {
            mem.insert(key, seq, value);
        }
        mem.writers.leave();
        committed?;
        if mem.bytes() >= self.opts.memtable_bytes {
            // The write itself is done (and visible): a failed rotation poisons the engine
            // for the calls after it but does not turn this one into a failure.
            if let Err(e) = self.rotate_full(&mem) {
                self.fatal(e);
            }
        }
        Ok(())
    }

    /// Slows writes down (1 ms each) when level 0 fills up, and stops them while too many
    /// memtables wait for flush or level 0 is at its stop trigger.
    fn throttle(&self) -> Result<()> {
        let o = &self.opts;
        let (slowdown, stop) = o.write_triggers();
        let blocked = || {
            self.imm_count.load(Relaxed) >= o.max_immutable_memtables
                || self.l0_count.load(Relaxed) >= stop
        };
        if !blocked() {
            if self.l0_count.load(Relaxed) >= slowdown {
                self.stats.write_slowdowns.inc();
                let t = Instant::now();
                std::thread::sleep(Duration::from_millis(1));
                self.stats.stall_micros.add(t.elapsed().as_micros() as u64);
            }
            return Ok(());
        }
        self.stats.write_stalls.inc();
        let t = Instant::now();
        let mut g = lock(&self.stall);
        let r = loop {
            if let Err(e) = self.live().and_then(|_| self.committer.check()) {
                break Err(e);
            }
            if !blocked() {
                break Ok(());
            }
            self.wake_background();
            g = self
                .stall_cv
                .wait_timeout(g, Duration::from_millis(10))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        self.stats.stall_micros.add(t.elapsed().as_micros() as u64);
        r
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        self.stats.gets.inc();
        let v = self.view();
        if let Some((_, val)) = v.mem.get(key) {
            return Ok(val);
        }
        for m in &v.imms {
            if let Some((_, val)) = m.get(key) {
                return Ok(val);
            }
        }
        Ok(v.version
            .get(key, bloom::key_hash(key), &self.stats)?
            .and_then(|(_, val)| val))
    }

    pub fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        if limit == 0 || end.is_some_and(|e| e <= start) {
            return Ok(out);
        }
        let v = self.view();
        let meets = |t: &Arc<super::sstable::Table>| {
            t.meta.largest.as_slice() >= start && end.is_none_or(|e| t.meta.smallest.as_slice() < e)
        };
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        for m in std::iter::once(&v.mem).chain(&v.imms) {
            sources.push(Box::new(MemIter::new(m.clone(), start, end)));
        }
        for t in v.version.levels[0].iter().filter(|t| meets(t)) {
            sources.push(Box::new(TableIter::new(t.clone(), start, true)));
        }
        for level in &v.version.levels[1..] {
            let ts: Vec<_> = level.iter().filter(|t| meets(t)).cloned().collect();
            if !ts.is_empty() {
                sources.push(Box::new(LevelIter::new(ts, start, true)));
            }
        }
        let mut merge = MergeIter::new(sources);
        while let Some(e) = merge.next_entry()? {
            if end.is_some_and(|end| e.key.as_slice() >= end) {
                break;
            }
            if let Some(val) = e.value {
                out.push((e.key, val));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}
