//! The `Engine` implementation: opening and recovery, the write path with batched commits,
//! durability through the shared `Committer`, checkpoints, close and stats.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

use super::buffer_pool::BufferPool;
use super::gate::Gate;
use super::meta::{self, Meta};
use super::page::{Page, BODY, PAGE_SIZE};
use super::pager::Pager;
use super::{checkpoint, tree, wal, BtreeOptions, DATA_FILE, FORMAT_VERSION, WAL_FILE};
use crate::durability::Committer;
use crate::io::{File, Io};
use crate::limits::{check_key, check_put};
use crate::log::SyncedMark;
use crate::store_dir::{self, StoreDir};
use crate::{Durability, Engine, EngineStats, Error, Options, Result};

struct Inner {
    io: Io,
    dir: Mutex<Option<StoreDir>>,
    path: std::path::PathBuf,
    options: BtreeOptions,
    mode: Durability,
    /// Every call passes it; `close()` shuts it and waits for the calls inside.
    gate: Gate,
    /// Serialises writers and checkpoints.
    writer: Mutex<()>,
    pager: RwLock<Pager>,
    wal: Arc<File>,
    committer: Arc<Committer>,
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

/// Reads and checks the meta page of the data file. `Ok(Err(..))` is a damaged meta page
/// (which the WAL may repair); a store of another format version is refused outright.
fn data_meta(data: &File) -> Result<Result<Meta>> {
    let mut buf = [0u8; PAGE_SIZE];
    let n = data.read_at(&mut buf, 0)?;
    let corrupt = |d: &str| Error::corruption(data.path(), 0, format!("meta page: {d}"));
    if n != PAGE_SIZE {
        return Ok(Err(corrupt("data file shorter than one page")));
    }
    let page = match Page::from_bytes(&buf).and_then(|p| p.verify(0).map(|()| p)) {
        Ok(page) => page,
        Err(d) => return Ok(Err(corrupt(d))),
    };
    if let Some(v) = meta::format_version(&page).filter(|&v| v != meta::VERSION) {
        return Err(Error::Incompatible(format!(
            "{} holds btree format version {v}; this build reads version {}",
            data.path().display(),
            meta::VERSION
        )));
    }
    Ok(Meta::decode(&page).map_err(corrupt))
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
        let data = io.open(&data_path)?;
        let on_disk = data_meta(&data)?;
        if !wal_path.exists() {
            // Only a store that never committed can lack its WAL (a crash between creating
            // the two files); otherwise committed writes would be silently gone.
            match &on_disk {
                Ok(m) if m.txn == 0 => wal::create(&io, dir.path())?,
                _ => return Err(Error::corruption(&wal_path, 0, "the WAL is missing")),
            }
        }
        let wal = Arc::new(io.open(&wal_path)?);
        let rec = wal::recover(&wal)?;
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
            on_disk?
        };
        let mark = if use_wal || rec.commits == 0 {
            SyncedMark::read(&wal)?
        } else {
            // Left over from a checkpoint that finished writing the data file.
            wal::restart(&wal)?
        };
        let pool = BufferPool::new(bo.pool_pages());
        let mut pager = Pager::new(
            meta.clone(),
            data,
            Arc::clone(&wal),
            mark,
            pool,
            bo.max_dirty_pages as usize,
        );
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
            gate: Gate::new(),
            writer: Mutex::new(()),
            wal_len: AtomicU64::new(pager.wal_end),
            pager: RwLock::new(pager),
            wal,
            committer: Arc::clone(&committer),
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

    /// After a failed write to a file (a spill, a commit, a checkpoint): refuse writes until
    /// reopen. Nothing is taken back: readers go on seeing every change they could see.
    fn poison(&self, e: Error) -> Error {
        self.committer.poison(format!("btree write failed: {e}"));
        e
    }

    /// Applies one write. A checkpoint that is due runs, and the batch gathered so far is
    /// committed (or spilled), *before* the change, so that their failure fails this write
    /// before it is applied, never after. (A write whose own fsync fails, in `sync` mode or at
    /// group mode's byte limit, stays applied: it may have reached the disk.)
    fn write_op(
        &self,
        key: &[u8],
        bytes: u64,
        op: impl FnOnce(&mut Pager) -> Result<()>,
    ) -> Result<()> {
        let _pass = self.gate.enter()?;
        if self.wal_len.load(Ordering::Relaxed) >= self.options.checkpoint_wal_bytes {
            self.checkpoint()?;
        }
        let lsn = {
            let _w = lock(&self.writer);
            self.committer.check()?;
            if self.mode != Durability::Sync
                && self.read().pending_writes >= self.options.commit_every_writes
            {
                self.commit()?;
            }
            // Read the path under the shared lock (no writer can change it: we hold the
            // writer lock), so readers are not kept waiting while it comes from disk.
            let _pins = tree::pin_path(&self.read(), key);
            let mut p = self.write();
            if p.needs_spill() {
                p.spill().map_err(|e| self.poison(e))?;
            }
            // A delete of an absent key is a write too: it commits (the meta page) and is as
            // durable as the mode promises, like a tombstone in a log-structured engine.
            p.begin_op();
            if let Err(e) = op(&mut p) {
                p.undo_op();
                return Err(e);
            }
            p.end_op();
            p.seq += 1;
            p.pending_writes += 1;
            let lsn = p.seq;
            self.committer.appended(lsn, bytes);
            lsn
        };
        self.committer.commit(lsn, &|| self.flush())
    }

    /// Commits whatever has gathered, then fsyncs the WAL (unless an earlier fsync covers
    /// every commit) and records in its header how much the fsync covered: the Committer's
    /// fsync step.
    fn flush(&self) -> Result<()> {
        let (generation, len) = {
            let _w = lock(&self.writer);
            if self.read().has_pending() {
                self.committer.check()?;
                self.commit()?;
            }
            let p = self.read();
            if p.mark.synced_len() >= p.committed_end {
                // Every commit is covered by an earlier fsync (or by a checkpoint).
                return Ok(());
            }
            (p.wal_generation, p.committed_end)
        };
        self.wal.sync()?;
        let p = self.read();
        if p.wal_generation == generation {
            p.mark.record(&self.wal, len)?;
        }
        Ok(())
    }

    /// Commits what has gathered and checkpoints. Readers wait only for the commit and the
    /// final reset of the WAL, not while pages are copied.
    fn checkpoint(&self) -> Result<()> {
        let _w = lock(&self.writer);
        self.committer.check()?;
        self.commit()?;
        let copied = checkpoint::copy(&self.read(), &self.committer);
        let mut p = self.write();
        copied
            .and_then(|pages| checkpoint::reset(&mut p, pages))
            .map_err(|e| self.poison(e))?;
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
        self.read()
            .write_commit(&prepared)
            .map_err(|e| self.poison(e))?;
        let mut p = self.write();
        p.finish_commit(prepared);
        self.wal_len.store(p.wal_end, Ordering::Relaxed);
        Ok(())
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
        let _pass = self.inner.gate.enter()?;
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
        let _pass = self.inner.gate.enter()?;
        if limit == 0 || end.is_some_and(|e| e <= start) {
            return Ok(Vec::new());
        }
        tree::scan(&self.inner.read(), start, end, limit)
    }

    fn sync(&self) -> Result<()> {
        let inner = &self.inner;
        let _pass = inner.gate.enter()?;
        inner.committer.sync_all(&|| inner.flush())
    }

    /// A barrier: waits for the calls in flight, stops the group-commit flusher, commits and
    /// fsyncs what has gathered, and releases the directory lock last.
    fn close(&self) -> Result<()> {
        let inner = &self.inner;
        let Some(_closing) = inner.gate.close() else {
            return Ok(());
        };
        inner.committer.shutdown();
        // The second fsync makes the watermark the first one recorded durable, so that after
        // a clean close every commit lies inside the synced length.
        let r = inner
            .committer
            .sync_all(&|| inner.flush())
            .and_then(|()| inner.wal.sync());
        lock(&inner.dir).take();
        r
    }

    fn compact(&self) -> Result<()> {
        let _pass = self.inner.gate.enter()?;
        self.inner.checkpoint()
    }

    /// Commits what has gathered, checkpoints (every dirty page written to the data file, the
    /// WAL started over) and makes everything durable. Nothing runs in the background after.
    fn settle(&self) -> Result<()> {
        let inner = &self.inner;
        let _pass = inner.gate.enter()?;
        inner.checkpoint()?;
        inner.committer.sync_all(&|| inner.flush())
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
            write_buffer_bytes: p.max_dirty as u64 * PAGE_SIZE as u64,
            compactions: s.checkpoints,
            compaction_bytes_written: s.checkpoint_bytes_written,
            extra,
        }
    }
}

impl Drop for BtreeEngine {
    fn drop(&mut self) {
        let inner = &self.inner;
        if let Some(_closing) = inner.gate.close() {
            inner.committer.shutdown();
            // Best effort, no fsync: like a process exit, unsynced writes may be lost.
            if inner.committer.check().is_ok() {
                let _w = lock(&inner.writer);
                let _ = inner.commit();
            }
            lock(&inner.dir).take();
        }
    }
}
