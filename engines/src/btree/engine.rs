//! The `Engine` implementation: the write path (a change to pages in the buffer pool and a
//! record gathered for the log), durability through the shared `Committer`, checkpoints on
//! their own thread, close and stats. Opening and recovery are in `recovery.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

use super::checkpoint::{self, Checkpointer};
use super::page::{BODY, PAGE_SIZE};
use super::pager::Pager;
use super::tree::{self, Located};
use super::wal::{Log, Record};
use super::{recovery, BtreeOptions, FORMAT_VERSION};
use crate::durability::Committer;
use crate::gate::Gate;
use crate::io::{File, Io};
use crate::limits::{check_key, check_put};
use crate::store_dir::{self, StoreDir};
use crate::{Durability, Engine, EngineStats, Error, Options, Result};

pub(super) struct Inner {
    pub(super) io: Io,
    dir: Mutex<Option<StoreDir>>,
    pub(super) path: PathBuf,
    options: BtreeOptions,
    mode: Durability,
    /// Every call but reads passes it; `close()` shuts it and waits for the calls inside.
    gate: Gate,
    /// Serialises writers and a checkpoint's freeze.
    pub(super) writer: Mutex<()>,
    pub(super) pager: RwLock<Pager>,
    pub(super) log: Mutex<Log>,
    pub(super) dwb: File,
    pub(super) committer: Arc<Committer>,
    checkpointer: Arc<Checkpointer>,
    /// Dirty pages and bytes in the active log file as the last write left them, read
    /// without a lock to decide when a checkpoint is due.
    dirty_hint: AtomicUsize,
    log_hint: AtomicU64,
    /// Writes that waited for a checkpoint (back-pressure).
    writer_waits: AtomicU64,
    /// Set when a write whose own fsync failed stays applied (it is in the tree, and may or
    /// may not have reached the disk): from then on reads are refused too, so that no reader
    /// sees a write that failed and may be gone after a reopen.
    reads_refused: AtomicBool,
}

pub struct BtreeEngine {
    inner: Arc<Inner>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BtreeEngine {
    pub fn open(path: &Path, options: &Options) -> Result<BtreeEngine> {
        options.validate()?;
        let bo = options.btree.clone();
        bo.validate()?;
        let io = Io::new();
        let dir = store_dir::claim(&io, path, "btree", FORMAT_VERSION)?;
        let rec = recovery::open(&io, dir.path(), &bo)?;
        let committer = Committer::new(options.durability, options.group_commit, rec.pager.seq);
        let inner = Arc::new(Inner {
            io,
            path: dir.path().to_path_buf(),
            dir: Mutex::new(Some(dir)),
            mode: options.durability,
            gate: Gate::new(),
            writer: Mutex::new(()),
            dirty_hint: AtomicUsize::new(rec.pager.dirty_pages()),
            log_hint: AtomicU64::new(0),
            writer_waits: AtomicU64::new(0),
            reads_refused: AtomicBool::new(false),
            pager: RwLock::new(rec.pager),
            log: Mutex::new(Log::new(rec.log, rec.log_end, bo.commit_bytes)),
            dwb: rec.dwb,
            committer: Arc::clone(&committer),
            checkpointer: Arc::new(Checkpointer::new()),
            options: bo,
        });
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        committer.start_flusher(move || weak.upgrade().map(|i| i.flush()));
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        inner.checkpointer.start(move || {
            let inner = weak.upgrade()?;
            // A panic (a bug) must not leave writers or waiters waiting for ever.
            let r =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| checkpoint::run(&inner)))
                    .unwrap_or_else(|_| Err(Error::Poisoned("the checkpoint panicked".into())));
            if let Err(e) = &r {
                inner.committer.poison(format!("checkpoint failed: {e}"));
            }
            Some(r)
        });
        Ok(BtreeEngine { inner })
    }
}

impl Inner {
    pub(super) fn read(&self) -> RwLockReadGuard<'_, Pager> {
        self.pager.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, Pager> {
        self.pager.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The pager for a read. close() takes the write lock once its gate is shut: a reader
    /// holding the lock is waited for, and one that gets it later sees the gate shut. Clean
    /// pages beyond the pool's capacity are evicted first (readers only ever add pages).
    fn reader(&self) -> Result<RwLockReadGuard<'_, Pager>> {
        let mut p = self.read();
        if p.pool.over_capacity() {
            drop(p);
            self.write().pool.evict();
            p = self.read();
        }
        if self.gate.is_closing() {
            return Err(Error::Closed);
        }
        if self.reads_refused.load(Relaxed) {
            return Err(Error::Poisoned(
                "a write whose fsync failed is applied but may not survive; reopen the store"
                    .into(),
            ));
        }
        Ok(p)
    }

    /// After a failed write to a file: refuse writes until reopen. Nothing is taken back:
    /// readers go on seeing every change they could see.
    pub(super) fn poison(&self, e: Error) -> Error {
        self.committer.poison(format!("btree write failed: {e}"));
        e
    }

    /// A checkpoint has frozen the dirty pages and switched the log.
    pub(super) fn note_checkpoint_started(&self) {
        self.dirty_hint.store(0, Relaxed);
        self.log_hint.store(0, Relaxed);
    }

    /// Starts a checkpoint when one is due, and holds the writer back while the dirty pages
    /// are twice the budget and a checkpoint is running.
    fn admit(&self) -> Result<()> {
        let dirty = self.dirty_hint.load(Relaxed) as u64;
        let max = self.options.max_dirty_pages;
        if dirty >= max || self.log_hint.load(Relaxed) >= self.options.checkpoint_wal_bytes {
            self.checkpointer.nudge();
        }
        if dirty >= 2 * max && self.checkpointer.running() {
            self.writer_waits.fetch_add(1, Relaxed);
            self.checkpointer.wait_running()?;
        }
        Ok(())
    }

    /// Applies one write: the change to the tree, then its log record. Gathered records due
    /// for the log file are written out *before* the change, so that a failing write fails
    /// this write unapplied. A write whose own fsync fails (in `sync` mode, or at group mode's
    /// byte limit) cannot be taken back, since it may have reached the disk: the instance then
    /// refuses reads too.
    fn write_op(
        &self,
        key: &[u8],
        record: Record<'_>,
        op: impl FnOnce(&mut Pager, Located) -> Result<()>,
    ) -> Result<()> {
        let _pass = self.gate.enter()?;
        self.admit()?;
        let bytes = match record {
            Record::Put { key, value } => key.len() + value.len(),
            Record::Delete { key } => key.len(),
        } as u64;
        let lsn = {
            let _w = lock(&self.writer);
            self.committer.check()?;
            {
                let mut log = lock(&self.log);
                if self.mode != Durability::Sync && log.due() {
                    log.write_out().map_err(|e| self.poison(e))?;
                }
            }
            // The place of the change is found under the shared lock, so that readers are
            // not held up while its pages come from disk.
            let loc = tree::locate(&self.read(), key)?;
            let mut p = self.write();
            if p.pool.over_capacity() {
                p.pool.evict();
            }
            p.begin_op();
            if let Err(e) = op(&mut p, loc) {
                p.undo_op();
                return Err(e);
            }
            let lsn = p.seq + 1;
            p.end_op(lsn);
            self.dirty_hint.store(p.dirty_pages(), Relaxed);
            drop(p);
            let mut log = lock(&self.log);
            log.append(lsn, record);
            self.log_hint.store(log.active_bytes(), Relaxed);
            self.committer.appended(lsn, bytes);
            lsn
        };
        self.committer
            .commit(lsn, &|| self.flush())
            .inspect_err(|_| self.reads_refused.store(true, Relaxed))
    }

    /// The Committer's fsync step: hands the gathered records to the log file, fsyncs a file
    /// the last switch retired (older records first), then the active file, unless an
    /// earlier fsync covered it, and records in each header how much the fsync covered.
    pub(super) fn flush(&self) -> Result<()> {
        self.committer.check()?;
        let (retired, active, end) = {
            let mut log = lock(&self.log);
            log.write_out().map_err(|e| self.poison(e))?;
            (log.retired.clone(), Arc::clone(&log.active), log.end)
        };
        if let Some((old, len)) = retired {
            old.seal(len)?;
            let mut log = lock(&self.log);
            if log
                .retired
                .as_ref()
                .is_some_and(|(f, _)| Arc::ptr_eq(f, &old))
            {
                log.retired = None;
            }
        }
        active.sync_to(end)
    }

    /// Shuts the gate, waits for the calls inside and for readers, stops the background
    /// threads. `None` when another close did it first (and has finished).
    fn stop(&self) -> Option<crate::gate::Closing<'_>> {
        let closing = self.gate.close()?;
        drop(self.write());
        self.checkpointer.shutdown();
        self.committer.shutdown();
        Some(closing)
    }
}

impl Engine for BtreeEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_put(key, value)?;
        self.inner
            .write_op(key, Record::Put { key, value }, |p, loc| {
                tree::insert_at(p, loc, key, value).map(drop)
            })
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let p = self.inner.reader()?;
        tree::get(&p, key)
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        // A delete of an absent key is a write too: it is logged and as durable as the mode
        // promises, like a tombstone in a log-structured engine.
        self.inner.write_op(key, Record::Delete { key }, |p, loc| {
            tree::delete_at(p, loc, key).map(drop)
        })
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let p = self.inner.reader()?;
        if limit == 0 || end.is_some_and(|e| e <= start) {
            return Ok(Vec::new());
        }
        tree::scan(&p, start, end, limit)
    }

    fn sync(&self) -> Result<()> {
        let inner = &self.inner;
        let _pass = inner.gate.enter()?;
        inner.committer.sync_all(&|| inner.flush())
    }

    /// A barrier: waits for the calls in flight and a running checkpoint, stops the
    /// background threads, writes out and fsyncs the gathered records, and releases the
    /// directory lock last.
    fn close(&self) -> Result<()> {
        let inner = &self.inner;
        let Some(_closing) = inner.stop() else {
            return Ok(());
        };
        // The second fsync makes durable the watermark the first one recorded, so that after
        // a clean close every record lies inside the synced length.
        let r = inner
            .committer
            .sync_all(&|| inner.flush())
            .and_then(|()| lock(&inner.log).active.file.sync());
        lock(&inner.dir).take();
        r
    }

    /// Runs a checkpoint now (one that starts after this call) and waits for it.
    fn compact(&self) -> Result<()> {
        let inner = &self.inner;
        let _pass = inner.gate.enter()?;
        let ticket = inner.checkpointer.request()?;
        inner.checkpointer.wait(ticket)
    }

    /// Checkpoints (every dirty page written to the data file) and makes every write durable.
    /// Nothing runs in the background afterwards until the next write.
    fn settle(&self) -> Result<()> {
        let inner = &self.inner;
        let _pass = inner.gate.enter()?;
        let ticket = inner.checkpointer.request()?;
        inner.checkpointer.wait(ticket)?;
        inner.committer.sync_all(&|| inner.flush())
    }

    fn stats(&self) -> EngineStats {
        let inner = &self.inner;
        let (log_bytes, records, write_outs, buffered) = {
            let log = lock(&inner.log);
            (
                log.bytes_written,
                log.records,
                log.write_outs,
                log.buffered(),
            )
        };
        let p = inner.read();
        let m = &p.meta;
        let s = &p.stats;
        let fill = if m.leaf_pages == 0 {
            0.0
        } else {
            m.leaf_bytes as f64 / (m.leaf_pages as f64 * BODY as f64)
        };
        let ps = p.pool.stats();
        let extra = [
            ("tree_height", m.height as f64),
            ("page_count", m.page_count as f64),
            ("leaf_pages", m.leaf_pages as f64),
            ("internal_pages", m.internal_pages as f64),
            ("overflow_pages", m.overflow_pages as f64),
            ("free_pages", m.free_pages as f64),
            ("leaf_fill_factor", fill),
            ("dirty_pages", ps.dirty as f64),
            ("frozen_pages", ps.frozen as f64),
            ("wal_bytes_written", log_bytes as f64),
            ("wal_records", records as f64),
            ("wal_writes", write_outs as f64),
            ("wal_fsyncs", inner.committer.fsyncs() as f64),
            ("checkpoints", s.checkpoints as f64),
            (
                "checkpoint_pages_written",
                s.checkpoint_pages_written as f64,
            ),
            (
                "checkpoint_bytes_written",
                s.checkpoint_bytes_written as f64,
            ),
            ("dwb_bytes_written", s.dwb_bytes_written as f64),
            ("checkpoint_freeze_max_us", s.freeze_max_us as f64),
            (
                "writes_waiting_for_checkpoint",
                inner.writer_waits.load(Relaxed) as f64,
            ),
            ("buffer_pool_pages", p.pool.capacity() as f64),
            ("buffer_pool_used_pages", ps.used as f64),
            ("buffer_pool_hits", ps.hits as f64),
            ("buffer_pool_misses", ps.misses as f64),
            ("buffer_pool_evictions", ps.evictions as f64),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        EngineStats {
            io: inner.io.snapshot(),
            live_keys: Some(m.live_keys),
            disk_bytes: store_dir::dir_size(&inner.path),
            memory_bytes: (ps.used * PAGE_SIZE + buffered) as u64,
            write_buffer_bytes: inner.options.max_dirty_pages * PAGE_SIZE as u64
                + inner.options.commit_bytes,
            compactions: s.checkpoints,
            compaction_bytes_written: s.checkpoint_bytes_written + s.dwb_bytes_written,
            extra,
        }
    }
}

impl Drop for BtreeEngine {
    fn drop(&mut self) {
        let inner = &self.inner;
        if let Some(_closing) = inner.stop() {
            // Best effort, no fsync: like a process exit, unsynced writes may be lost.
            if inner.committer.check().is_ok() {
                let _ = lock(&inner.log).write_out();
            }
            lock(&inner.dir).take();
        }
    }
}
