//! The `Engine` implementation: opening and recovery, the write path with batched commits,
//! durability through the shared `Committer`, checkpoints, close and stats.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

use super::buffer_pool::BufferPool;
use super::meta::Meta;
use super::page::{Page, BODY, PAGE_SIZE};
use super::pager::Pager;
use super::{checkpoint, tree, wal, BtreeOptions, DATA_FILE, FORMAT_VERSION, WAL_FILE};
use crate::durability::Committer;
use crate::io::{File, Io};
use crate::limits::{check_key, check_put};
use crate::store_dir::{self, StoreDir};
use crate::{Durability, Engine, EngineStats, Error, Options, Result};

struct Inner {
    io: Io,
    dir: Mutex<Option<StoreDir>>,
    path: std::path::PathBuf,
    options: BtreeOptions,
    mode: Durability,
    /// Serialises writers and checkpoints.
    writer: Mutex<()>,
    pager: RwLock<Pager>,
    wal: Arc<File>,
    committer: Arc<Committer>,
    closed: AtomicBool,
    /// WAL length after the last commit, read without a lock to decide on checkpoints.
    wal_len: AtomicU64,
}

pub struct BtreeEngine {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The data file of a new store: the meta page and an empty root leaf.
fn initial_data_file() -> Vec<u8> {
    let mut bytes = Meta::empty().encode().bytes().to_vec();
    let mut leaf = Page::new(super::page::LEAF, 1);
    leaf.seal();
    bytes.extend_from_slice(leaf.bytes());
    bytes
}

/// Reads and checks the meta page of the data file.
fn data_meta(p: &Pager) -> Result<Meta> {
    let mut buf = [0u8; PAGE_SIZE];
    let n = p.data.read_at(&mut buf, 0)?;
    let corrupt = |d: &str| Error::corruption(p.data.path(), 0, format!("meta page: {d}"));
    if n != PAGE_SIZE {
        return Err(corrupt("data file shorter than one page"));
    }
    let page = Page::from_bytes(&buf).map_err(corrupt)?;
    page.verify(0).map_err(corrupt)?;
    Meta::decode(&page).map_err(corrupt)
}

impl BtreeEngine {
    pub fn open(path: &Path, options: &Options) -> Result<BtreeEngine> {
        options.validate()?;
        let bo = options.btree.clone();
        bo.validate()?;
        let io = Io::new();
        let dir = store_dir::claim(&io, path, "btree", FORMAT_VERSION)?;
        let (data_path, wal_path) = (dir.join(DATA_FILE), dir.join(WAL_FILE));
        if !data_path.exists() {
            if wal_path.exists() {
                return Err(Error::corruption(
                    &data_path,
                    0,
                    "the data file is missing but its WAL is there",
                ));
            }
            io.write_file_atomic(dir.path(), DATA_FILE, &initial_data_file())?;
        }
        if !wal_path.exists() {
            drop(io.create(&wal_path)?);
            io.sync_dir(dir.path())?;
        }
        let data = io.open(&data_path)?;
        let wal = Arc::new(io.open(&wal_path)?);
        let rec = wal::recover(&wal)?;
        let pool = BufferPool::new(bo.pool_pages());
        let mut pager = Pager::new(
            Meta::empty(),
            data,
            Arc::clone(&wal),
            pool,
            bo.max_dirty_pages as usize,
        );
        let on_disk = data_meta(&pager);
        let use_wal = rec.commits > 0
            && match &on_disk {
                Ok(m) => rec.last_txn >= m.txn,
                Err(_) => true,
            };
        let meta = if use_wal {
            if let (Ok(m), Some(first)) = (&on_disk, rec.first_txn) {
                if first > m.txn + 1 {
                    return Err(Error::corruption(
                        wal.path(),
                        0,
                        "the WAL starts after a gap in the transactions",
                    ));
                }
            }
            let off = *rec.index.get(&0).ok_or_else(|| {
                Error::corruption(wal.path(), 0, "committed transactions without a meta page")
            })?;
            let page = wal::read_page(&wal, off, 0)?;
            Meta::decode(&page).map_err(|d| Error::corruption(wal.path(), off, d))?
        } else {
            let m = on_disk?;
            if rec.commits > 0 {
                // Left over from a checkpoint that finished writing the data file.
                wal.set_len(0)?;
                wal.sync()?;
            }
            m
        };
        pager.meta = meta.clone();
        pager.committed_meta = meta.clone();
        pager.seq = meta.lsn;
        if use_wal {
            pager.wal_index = rec.index;
            pager.wal_end = rec.end;
            pager.committed_end = rec.end;
        }
        #[cfg(debug_assertions)]
        super::verify::verify(&pager)?;
        let committer = Committer::new(options.durability, options.group_commit, meta.lsn);
        let inner = Arc::new(Inner {
            io,
            path: dir.path().to_path_buf(),
            dir: Mutex::new(Some(dir)),
            options: bo,
            mode: options.durability,
            writer: Mutex::new(()),
            wal_len: AtomicU64::new(pager.wal_end),
            pager: RwLock::new(pager),
            wal,
            committer: Arc::clone(&committer),
            closed: AtomicBool::new(false),
        });
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        committer.start_flusher(move || weak.upgrade().map(|i| i.flush()));
        Ok(BtreeEngine { inner })
    }
}

impl Inner {
    fn read(&self) -> RwLockReadGuard<'_, Pager> {
        self.pager.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Pager> {
        self.pager.write().unwrap_or_else(|p| p.into_inner())
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// After a failure in the middle of a change: forget what is uncommitted and refuse
    /// writes until reopen (the WAL or data file may hold a partial write).
    fn fail(&self, p: &mut Pager, e: Error) -> Error {
        p.rollback();
        self.committer.poison(format!("btree write failed: {e}"));
        e
    }

    /// Applies one write.
    fn write_op(
        &self,
        key: &[u8],
        bytes: u64,
        op: impl FnOnce(&mut Pager) -> Result<()>,
    ) -> Result<()> {
        self.check_open()?;
        self.committer.check()?;
        let lsn = {
            let _w = lock(&self.writer);
            self.check_open()?;
            self.committer.check()?;
            // Read the path under the shared lock (no writer can change it: we hold the
            // writer lock), so readers are not kept waiting while it comes from disk.
            let _pins = tree::pin_path(&self.read(), key);
            let mut p = self.write();
            // A delete of an absent key is a write too: it commits (the meta page) and is as
            // durable as the mode promises, like a tombstone in a log-structured engine.
            if let Err(e) = op(&mut p) {
                return Err(self.fail(&mut p, e));
            }
            p.seq += 1;
            p.pending_writes += 1;
            let lsn = p.seq;
            self.committer.appended(lsn, bytes);
            if self.mode != Durability::Sync && p.pending_writes >= self.options.commit_every_writes
            {
                drop(p);
                self.commit()?;
            }
            lsn
        };
        self.committer.commit(lsn, &|| self.flush())?;
        if self.wal_len.load(Ordering::Relaxed) >= self.options.checkpoint_wal_bytes {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Commits whatever has gathered, then fsyncs the WAL: the Committer's fsync step.
    fn flush(&self) -> Result<()> {
        {
            let _w = lock(&self.writer);
            if self.read().has_pending() {
                self.committer.check()?;
                self.commit()?;
            }
        }
        self.wal.sync()
    }

    /// Commits what has gathered and checkpoints. Readers wait only for the commit and the
    /// final reset of the WAL, not while pages are copied.
    fn checkpoint(&self) -> Result<()> {
        let _w = lock(&self.writer);
        self.committer.check()?;
        self.commit()?;
        let copied = checkpoint::copy(&self.read(), &self.committer);
        let mut p = self.write();
        if let Err(e) = copied.and_then(|pages| checkpoint::reset(&mut p, pages)) {
            return Err(self.fail(&mut p, e));
        }
        self.wal_len.store(p.wal_end, Ordering::Relaxed);
        Ok(())
    }

    /// Commits what has gathered; the caller holds the writer lock. Readers wait only while
    /// the commit is encoded and while it is made visible, not during the WAL write.
    fn commit(&self) -> Result<()> {
        let prepared = {
            let mut p = self.write();
            if !p.has_pending() {
                return Ok(());
            }
            p.prepare_commit()
        };
        let written = self.read().write_commit(&prepared);
        let mut p = self.write();
        if let Err(e) = written {
            return Err(self.fail(&mut p, e));
        }
        p.finish_commit(prepared);
        self.wal_len.store(p.wal_end, Ordering::Relaxed);
        Ok(())
    }

    fn release(&self) {
        self.committer.shutdown();
        lock(&self.dir).take();
    }
}

impl Engine for BtreeEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_put(key, value)?;
        let bytes = (key.len() + value.len()) as u64;
        self.inner
            .write_op(key, bytes, |p| tree::insert(p, key, value).map(drop))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        self.inner.check_open()?;
        tree::get(&self.inner.read(), key)
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.inner
            .write_op(key, key.len() as u64, |p| tree::delete(p, key).map(drop))
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.check_open()?;
        if limit == 0 || end.is_some_and(|e| e <= start) {
            return Ok(Vec::new());
        }
        tree::scan(&self.inner.read(), start, end, limit)
    }

    fn sync(&self) -> Result<()> {
        self.inner.check_open()?;
        let inner = &self.inner;
        inner.committer.sync_all(&|| inner.flush())
    }

    fn close(&self) -> Result<()> {
        let inner = &self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut r = inner.committer.sync_all(&|| inner.flush());
        if r.is_ok() {
            let _w = lock(&inner.writer);
            let mut p = inner.write();
            r = p.write_close_marker().and_then(|()| inner.wal.sync());
        }
        inner.release();
        r
    }

    fn compact(&self) -> Result<()> {
        self.inner.check_open()?;
        self.inner.checkpoint()
    }

    fn stats(&self) -> EngineStats {
        let inner = &self.inner;
        let p = inner.read();
        let m = &p.meta;
        let s = &p.stats;
        let pool = &p.pool;
        let fill = if m.leaf_pages == 0 {
            0.0
        } else {
            m.leaf_bytes as f64 / (m.leaf_pages as f64 * BODY as f64)
        };
        let ps = pool.stats();
        let extra = [
            ("tree_height", m.height as f64),
            ("page_count", m.page_count as f64),
            ("leaf_pages", m.leaf_pages as f64),
            ("internal_pages", m.internal_pages as f64),
            ("overflow_pages", m.overflow_pages as f64),
            ("free_pages", m.free_pages as f64),
            ("leaf_fill_factor", fill),
            ("dirty_pages", p.dirty_pages() as f64),
            ("wal_pages_written", s.wal_pages_written as f64),
            ("wal_bytes_written", s.wal_bytes_written as f64),
            ("wal_commits", s.commits as f64),
            ("wal_spills", s.spills as f64),
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
            ("buffer_pool_pages", pool.capacity() as f64),
            ("buffer_pool_used_pages", ps.used as f64),
            ("buffer_pool_hits", ps.hits as f64),
            ("buffer_pool_misses", ps.misses as f64),
            ("buffer_pool_evictions", ps.evictions as f64),
            ("buffer_pool_pages_written", s.wal_pages_written as f64),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        EngineStats {
            io: inner.io.snapshot(),
            live_keys: Some(m.live_keys),
            disk_bytes: store_dir::dir_size(&inner.path),
            memory_bytes: ((ps.used + p.dirty_pages()) * PAGE_SIZE) as u64,
            compactions: s.checkpoints,
            compaction_bytes_written: s.checkpoint_bytes_written,
            extra,
            ..EngineStats::default()
        }
    }
}

impl Drop for BtreeEngine {
    fn drop(&mut self) {
        let inner = &self.inner;
        if !inner.closed.swap(true, Ordering::AcqRel) {
            // Best effort, no fsync: like a process exit, unsynced writes may be lost.
            if inner.committer.check().is_ok() {
                let _w = lock(&inner.writer);
                let mut p = inner.write();
                if p.commit().is_err() {
                    p.rollback();
                }
            }
            inner.release();
        }
    }
}
