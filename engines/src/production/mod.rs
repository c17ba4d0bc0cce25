//! Production engines behind the [`Engine`] trait (issue 9): redb, fjall, LMDB (heed),
//! RocksDB and SQLite (rusqlite, bundled), each behind its own cargo feature and all of them
//! behind `production`.
//!
//! Every adapter lives in one directory claimed with [`store_dir::claim`], so a directory
//! holding another engine's store (or anyone's files) is refused, and the engine's own files
//! sit beside the marker:
//!
//! ```text
//! <dir>/KVBENCH        marker: kvbench-store / engine=<kind> / version=1
//! <dir>/LOCK           flock held while the adapter is open
//! <dir>/data.redb      redb: one file (copy-on-write B-tree pages, checksummed)
//! <dir>/fjall/         fjall: journal segments, SST tables, manifest
//! <dir>/lmdb/          LMDB: data.mdb (copy-on-write B+ tree, mmap), lock.mdb
//! <dir>/rocksdb/       RocksDB: *.log (WAL), *.sst, MANIFEST-*, CURRENT, OPTIONS-*, LOG
//! <dir>/data.sqlite    SQLite: the database, with data.sqlite-wal and -shm beside it
//! ```
//!
//! The formats are the engines' own; each adapter's module comment names the parts that
//! matter for durability and for corruption detection.
//!
//! Durability (design.md) maps onto each engine's own settings where it has them; the shared
//! part is here:
//! * `sync`: the engine's per-commit fsync where it has one (redb `Immediate`, LMDB without
//!   `NO_SYNC`, RocksDB `sync=true`, SQLite `synchronous=FULL`); fjall has none per write, so
//!   its writes go through our [`Committer`], which shares one journal fsync between
//!   concurrent writers (group commit).
//! * `group`: writes return at once; our [`Committer`]'s flusher thread calls the engine's
//!   own "make everything durable" call every `group_commit.interval`, and a writer calls it
//!   inline once `group_commit.max_bytes` are unsynced.
//! * `none`: nothing is forced until `sync()` or `close()`.
//!
//! Recovery rule: the engine's own. After a SIGKILL each engine reopens to the state after
//! some prefix of its commits (the conformance kit checks this); a failed fsync or a failed
//! write in `sync` mode poisons the adapter until it is reopened.
//!
//! Settling ([`Engine::settle`]) is the engine's own "write out what you hold and finish
//! what is due": RocksDB flushes its memtables and waits for its compactions, redb commits
//! durably, fjall rotates its memtable, waits for the flush and until no compaction runs,
//! LMDB syncs its environment, SQLite checkpoints its WAL into the database. Each adapter
//! reports what the engine may hold in memory before writing it
//! (`EngineStats::write_buffer_bytes`) from the settings it opened the engine with.
//!
//! The engines do their I/O themselves, not through [`crate::io`], so `EngineStats.io` stays
//! zero; the runner measures them through `/proc/self/io`, and `extra` carries the engine's
//! own figures where it reports any.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use crate::durability::Committer;
use crate::io::Io;
use crate::store_dir::{self, StoreDir};
use crate::{limits, Durability, Engine, EngineKind, EngineStats, Error, Options, Result};

#[cfg(feature = "fjall")]
pub mod fjall;
#[cfg(feature = "lmdb")]
pub mod lmdb;
#[cfg(feature = "redb")]
pub mod redb;
#[cfg(feature = "rocksdb")]
pub mod rocksdb;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// Format version of the kvbench marker for the adapters (the engines version their own files).
pub const FORMAT_VERSION: u32 = 1;

/// One production engine, opened. The adapter validates input, refuses use after close and
/// after poisoning, and drives the durability mode; the backend only talks to the engine.
pub(crate) trait Backend: Send + Sync + 'static {
    /// Writes; in `sync` mode durable on return when [`Backend::SYNCS_ITSELF`].
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()>;
    fn delete(&self, key: &[u8]) -> Result<()>;
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Makes every write that returned before the call durable.
    fn persist(&self) -> Result<()>;
    /// Writes out what the engine holds in memory, waits until its due background work has
    /// finished, and makes everything durable (see [`Engine::settle`]).
    fn settle(&self) -> Result<()>;
    /// Bytes of writes the engine may hold in memory before writing them to its files.
    fn write_buffer_bytes(&self) -> u64;
    fn compact(&self) -> Result<()>;
    /// Engine-specific figures for `EngineStats.extra`, and live keys where cheap.
    fn stats(&self, stats: &mut EngineStats);
    /// Flushes and releases the engine; called once, after `persist`.
    fn close(&self) -> Result<()>;
    /// In `sync` mode the engine fsyncs every write itself; otherwise the adapter's
    /// committer calls `persist` after each write.
    const SYNCS_ITSELF: bool;
}

struct Live<B> {
    backend: Arc<B>,
    _store: StoreDir,
}

/// The [`Engine`] for any backend: limits, `Closed`, poisoning and the durability mode.
pub(crate) struct Adapter<B: Backend> {
    dir: PathBuf,
    live: RwLock<Option<Live<B>>>,
    committer: Arc<Committer>,
    /// Writes that have returned from the engine; the committer's log sequence numbers.
    lsn: AtomicU64,
}

/// Claims `dir` for `kind` and opens the backend `open` makes inside it.
pub(crate) fn open_adapter<B: Backend>(
    kind: EngineKind,
    dir: &Path,
    options: &Options,
    open: impl FnOnce(&StoreDir) -> Result<B>,
) -> Result<Box<dyn Engine>> {
    let store = store_dir::claim(&Io::new(), dir, kind.name(), FORMAT_VERSION)?;
    let backend = Arc::new(open(&store)?);
    let committer = Committer::new(options.durability, options.group_commit, 0);
    let weak = Arc::downgrade(&backend);
    committer.start_flusher(move || weak.upgrade().map(|b| b.persist()));
    Ok(Box::new(Adapter {
        dir: dir.to_path_buf(),
        live: RwLock::new(Some(Live {
            backend,
            _store: store,
        })),
        committer,
        lsn: AtomicU64::new(0),
    }))
}

impl<B: Backend> Adapter<B> {
    fn live(&self) -> Result<RwLockReadGuard<'_, Option<Live<B>>>> {
        let guard = self.live.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            return Err(Error::Closed);
        }
        Ok(guard)
    }

    /// Runs one write and then what the durability mode asks for.
    fn write(&self, bytes: u64, op: impl FnOnce(&B) -> Result<()>) -> Result<()> {
        let guard = self.live()?;
        let backend = &guard.as_ref().ok_or(Error::Closed)?.backend;
        self.committer.check()?;
        let mode = self.committer.mode();
        if let Err(e) = op(backend) {
            if mode == Durability::Sync && B::SYNCS_ITSELF && matches!(e, Error::Io(_)) {
                // The engine's own commit fsync may have failed: never trust this instance again.
                self.committer.poison(e.to_string());
            }
            return Err(e);
        }
        if mode == Durability::None || (mode == Durability::Sync && B::SYNCS_ITSELF) {
            return Ok(());
        }
        // The write has returned, so every lsn handed out is a completed write.
        let lsn = self.lsn.fetch_add(1, Ordering::AcqRel) + 1;
        self.committer.appended(lsn, bytes);
        self.committer.commit(lsn, &|| backend.persist())
    }
}

impl<B: Backend> Engine for Adapter<B> {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        limits::check_put(key, value)?;
        self.write((key.len() + value.len()) as u64, |b| b.put(key, value))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        limits::check_key(key)?;
        let guard = self.live()?;
        guard.as_ref().ok_or(Error::Closed)?.backend.get(key)
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        limits::check_key(key)?;
        self.write(key.len() as u64, |b| b.delete(key))
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let guard = self.live()?;
        let backend = &guard.as_ref().ok_or(Error::Closed)?.backend;
        if limit == 0 || end.is_some_and(|e| e <= start) {
            return Ok(Vec::new());
        }
        backend.scan(start, end, limit)
    }

    fn sync(&self) -> Result<()> {
        let guard = self.live()?;
        let backend = &guard.as_ref().ok_or(Error::Closed)?.backend;
        self.committer.check()?;
        let r = backend.persist();
        if let Err(e) = &r {
            self.committer.poison(format!("sync failed: {e}"));
        }
        r
    }

    fn close(&self) -> Result<()> {
        let mut guard = self.live.write().unwrap_or_else(|p| p.into_inner());
        let Some(live) = guard.take() else {
            return Err(Error::Closed);
        };
        self.committer.shutdown();
        let persisted = match self.committer.check() {
            Ok(()) => live.backend.persist(),
            Err(e) => Err(e),
        };
        let closed = live.backend.close();
        drop(live);
        persisted.and(closed)
    }

    fn compact(&self) -> Result<()> {
        let guard = self.live()?;
        let backend = &guard.as_ref().ok_or(Error::Closed)?.backend;
        self.committer.check()?;
        backend.compact()
    }

    fn settle(&self) -> Result<()> {
        let guard = self.live()?;
        let backend = &guard.as_ref().ok_or(Error::Closed)?.backend;
        self.committer.check()?;
        let r = backend.settle();
        if let Err(e) = &r {
            // Settling ends in the engine's own durable commit or fsync: its failure is a
            // failed sync.
            self.committer.poison(format!("settle failed: {e}"));
        }
        r
    }

    fn stats(&self) -> EngineStats {
        let mut stats = EngineStats {
            disk_bytes: store_dir::dir_size(&self.dir),
            ..EngineStats::default()
        };
        let guard = self.live.read().unwrap_or_else(|p| p.into_inner());
        if let Some(live) = guard.as_ref() {
            live.backend.stats(&mut stats);
            stats.write_buffer_bytes = live.backend.write_buffer_bytes();
        }
        stats
            .extra
            .insert("adapter_fsyncs".into(), self.committer.fsyncs() as f64);
        stats
    }
}

impl<B: Backend> Drop for Adapter<B> {
    fn drop(&mut self) {
        // Stop the flusher; the backend and the store lock drop with the fields.
        self.committer.shutdown();
    }
}

/// An error the engine reported that is neither corruption nor plain I/O, kept as an I/O
/// error with the engine's words (the kit and callers treat both as "the store failed").
pub(crate) fn engine_error(engine: &str, detail: impl std::fmt::Display) -> Error {
    Error::Io(std::io::Error::other(format!("{engine}: {detail}")))
}

/// Corruption the engine found; the engine's message names the place where it knows it.
pub(crate) fn engine_corruption(file: &Path, detail: impl std::fmt::Display) -> Error {
    Error::corruption(file, 0, detail.to_string())
}

/// Adds `name = value` to the stats' extra figures.
pub(crate) fn extra(stats: &mut EngineStats, name: &str, value: f64) {
    stats.extra.insert(name.to_string(), value);
}

#[cfg(test)]
mod tests {
    //! The adapter's own rules, on a backend that records calls and fails on demand.
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicBool;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    #[derive(Default)]
    struct Fake {
        map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
        persists: AtomicU64,
        settles: AtomicU64,
        fail_persist: Arc<AtomicBool>,
    }

    impl Backend for Fake {
        const SYNCS_ITSELF: bool = false;
        fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
            self.map
                .lock()
                .unwrap()
                .insert(key.to_vec(), value.to_vec());
            Ok(())
        }
        fn delete(&self, key: &[u8]) -> Result<()> {
            self.map.lock().unwrap().remove(key);
            Ok(())
        }
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            Ok(self.map.lock().unwrap().get(key).cloned())
        }
        fn scan(
            &self,
            start: &[u8],
            _end: Option<&[u8]>,
            limit: usize,
        ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
            let map = self.map.lock().unwrap();
            Ok(map
                .range(start.to_vec()..)
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        }
        fn persist(&self) -> Result<()> {
            self.persists.fetch_add(1, Ordering::Relaxed);
            if self.fail_persist.load(Ordering::Relaxed) {
                return Err(Error::Io(std::io::Error::other("injected EIO")));
            }
            Ok(())
        }
        fn compact(&self) -> Result<()> {
            Ok(())
        }
        fn settle(&self) -> Result<()> {
            self.settles.fetch_add(1, Ordering::Relaxed);
            self.persist()
        }
        fn write_buffer_bytes(&self) -> u64 {
            4096
        }
        fn stats(&self, stats: &mut EngineStats) {
            stats.live_keys = Some(self.map.lock().unwrap().len() as u64);
            extra(
                stats,
                "fake_settles",
                self.settles.load(Ordering::Relaxed) as f64,
            );
        }
        fn close(&self) -> Result<()> {
            Ok(())
        }
    }

    fn open_fake(
        dir: &Path,
        durability: Durability,
        fail: Arc<AtomicBool>,
    ) -> Result<Box<dyn Engine>> {
        let mut options = Options::with_durability(durability);
        options.group_commit.interval = Duration::from_millis(2);
        #[allow(unreachable_code)]
        let kind = EngineKind::ALL
            .iter()
            .copied()
            .find(|k| k.is_production())
            .expect("a production feature is on");
        open_adapter(kind, dir, &options, |_| {
            Ok(Fake {
                fail_persist: fail,
                ..Fake::default()
            })
        })
    }

    #[test]
    fn sync_mode_persists_every_write_and_none_mode_only_on_sync() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_fake(dir.path(), Durability::Sync, Arc::default()).unwrap();
        for i in 0..10u8 {
            db.put(&[b'k', i], b"v").unwrap();
        }
        let fsyncs = db.stats().extra["adapter_fsyncs"];
        assert_eq!(fsyncs, 10.0, "one persist per write with one writer");
        db.close().unwrap();

        let db = open_fake(dir.path(), Durability::None, Arc::default()).unwrap();
        for i in 0..10u8 {
            db.put(&[b'k', i], b"v").unwrap();
        }
        assert_eq!(db.stats().extra["adapter_fsyncs"], 0.0);
        assert_eq!(db.stats().live_keys, Some(10));
        db.close().unwrap();
    }

    #[test]
    fn settle_reaches_the_backend_and_its_failure_poisons() {
        let dir = tempfile::tempdir().unwrap();
        let fail = Arc::new(AtomicBool::new(false));
        let db = open_fake(dir.path(), Durability::None, fail.clone()).unwrap();
        db.put(b"a", b"1").unwrap();
        db.settle().unwrap();
        let s = db.stats();
        assert_eq!(s.extra["fake_settles"], 1.0);
        assert_eq!(s.write_buffer_bytes, 4096);
        fail.store(true, Ordering::Relaxed);
        assert!(matches!(db.settle(), Err(Error::Io(_))));
        fail.store(false, Ordering::Relaxed);
        assert!(matches!(db.put(b"b", b"2"), Err(Error::Poisoned(_))));
        assert!(matches!(db.settle(), Err(Error::Poisoned(_))));
        drop(db);
        let db = open_fake(dir.path(), Durability::None, fail).unwrap();
        db.close().unwrap();
        assert!(matches!(db.settle(), Err(Error::Closed)));
    }

    #[test]
    fn group_mode_flusher_persists_within_the_interval() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_fake(dir.path(), Durability::Group, Arc::default()).unwrap();
        db.put(b"k", b"v").unwrap();
        let t = Instant::now();
        while db.stats().extra["adapter_fsyncs"] < 1.0 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the flusher never ran"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        db.close().unwrap();
    }

    #[test]
    fn a_failed_persist_poisons_until_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let fail = Arc::new(AtomicBool::new(false));
        let db = open_fake(dir.path(), Durability::None, fail.clone()).unwrap();
        db.put(b"a", b"1").unwrap();
        fail.store(true, Ordering::Relaxed);
        assert!(matches!(db.sync(), Err(Error::Io(_))));
        fail.store(false, Ordering::Relaxed);
        assert!(matches!(db.put(b"b", b"2"), Err(Error::Poisoned(_))));
        assert!(matches!(db.sync(), Err(Error::Poisoned(_))));
        assert_eq!(
            db.get(b"a").unwrap().as_deref(),
            Some(&b"1"[..]),
            "reads go on"
        );
        assert!(db.close().is_err(), "close reports the poisoning");
        let db = open_fake(dir.path(), Durability::None, fail).unwrap();
        db.put(b"b", b"2")
            .expect("a reopened adapter takes writes again");
        db.close().unwrap();
    }

    #[test]
    fn group_flusher_failure_poisons_writers() {
        let dir = tempfile::tempdir().unwrap();
        let fail = Arc::new(AtomicBool::new(true));
        let db = open_fake(dir.path(), Durability::Group, fail).unwrap();
        db.put(b"a", b"1").unwrap();
        let t = Instant::now();
        loop {
            match db.put(b"a", b"1") {
                Err(Error::Poisoned(_)) => break,
                Ok(()) => assert!(t.elapsed() < Duration::from_secs(10), "never poisoned"),
                Err(e) => panic!("unexpected error {e}"),
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(db);
    }

    #[test]
    fn closed_and_dropped_adapters_release_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_fake(dir.path(), Durability::Group, Arc::default()).unwrap();
        assert!(matches!(
            open_fake(dir.path(), Durability::None, Arc::default()),
            Err(Error::Incompatible(_))
        ));
        db.close().unwrap();
        assert!(matches!(db.put(b"a", b"1"), Err(Error::Closed)));
        assert!(matches!(db.scan(b"", None, 1), Err(Error::Closed)));
        let db = open_fake(dir.path(), Durability::Group, Arc::default()).unwrap();
        drop(db);
        open_fake(dir.path(), Durability::None, Arc::default())
            .expect("a dropped adapter released its lock")
            .close()
            .unwrap();
    }

    #[test]
    fn input_is_checked_before_the_backend_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = open_fake(dir.path(), Durability::None, Arc::default()).unwrap();
        assert!(matches!(db.put(b"", b"v"), Err(Error::InvalidInput(_))));
        let long = vec![1u8; crate::MAX_KEY_LEN + 1];
        assert!(matches!(db.get(&long), Err(Error::InvalidInput(_))));
        assert_eq!(db.stats().live_keys, Some(0));
        assert!(db.scan(b"b", Some(b"a"), 10).unwrap().is_empty());
        db.close().unwrap();
    }

    /// Every production engine opens in every mode, reports its own figures, and a dropped
    /// instance lets the store reopen with the data of its synced writes.
    #[test]
    fn every_engine_in_every_mode_reports_its_figures() {
        for &kind in EngineKind::ALL.iter().filter(|k| k.is_production()) {
            for mode in Durability::ALL {
                let dir = tempfile::tempdir().unwrap();
                let options = Options::with_durability(mode);
                let db = crate::open(kind, dir.path(), &options).unwrap();
                for i in 0..200u32 {
                    db.put(&i.to_be_bytes(), &[7u8; 100]).unwrap();
                }
                db.delete(&0u32.to_be_bytes()).unwrap();
                db.sync().unwrap();
                db.settle().unwrap();
                let stats = db.stats();
                let prefix = format!("{}_", kind.name());
                assert!(stats.disk_bytes > 0, "{kind} {mode}: no disk bytes");
                assert!(
                    stats.extra.keys().any(|k| k.starts_with(&prefix)),
                    "{kind} {mode}: no {prefix}* figures in {:?}",
                    stats.extra
                );
                if let Some(n) = stats.live_keys {
                    assert_eq!(n, 199, "{kind} {mode}: live keys");
                }
                drop(db);
                let db = crate::open(kind, dir.path(), &options).unwrap();
                assert_eq!(db.get(&0u32.to_be_bytes()).unwrap(), None, "{kind} {mode}");
                assert_eq!(
                    db.get(&199u32.to_be_bytes()).unwrap().as_deref(),
                    Some(&[7u8; 100][..]),
                    "{kind} {mode}"
                );
                assert_eq!(db.scan(b"", None, usize::MAX).unwrap().len(), 199);
                db.close().unwrap();
            }
        }
    }
}
