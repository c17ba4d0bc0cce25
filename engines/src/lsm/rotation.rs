//! The WAL files of a running engine and memtable rotation.
//!
//! Three kinds of WAL are open at a time: the *active* WAL that writes append to, the
//! *retired* WALs, rotated out but not yet fsynced (oldest first), and one *spare*, the next
//! WAL prepared ahead (created under a temporary name, header fsynced, renamed, directory
//! fsynced) by whichever background thread is free, or by a writer that finds none ready.
//! A rotation under the write lock is then only an END record appended to the active WAL
//! and a few pointer swaps: no file is created and nothing is fsynced while writers wait.
//!
//! The fsync that the durability mode asks for ([`Inner::sync_wal`]) fsyncs the retired WALs
//! in order and then the active one, so a write is acknowledged only once the WAL holding it
//! is fsynced, and a WAL's synced length is recorded only once every older WAL is durable to
//! its END record (the rule recovery relies on; see `mod.rs`). The flush thread fsyncs the
//! retired WALs too, before it flushes their memtables.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use super::db::{lock, Inner, WriteState};
use super::memtable::Memtable;
use super::wal::{WalFile, WalWriter};
use crate::io::crash_point;
use crate::Result;

pub(crate) struct Wals {
    /// The WAL writes append to (its writer lives in `WriteState`); read by fsyncs.
    active: Mutex<Arc<WalFile>>,
    /// Rotated-out WALs not yet fsynced, oldest first, each with the last sequence number
    /// it holds.
    retired: Mutex<VecDeque<(Arc<WalFile>, u64)>>,
    /// Held while retired WALs are fsynced, so that they become durable in order (tests
    /// hold it to keep rotated-out WALs unsynced).
    pub retire_sync: Mutex<()>,
    /// The next WAL, ready to take records.
    spare: Mutex<Option<WalWriter>>,
    /// Held while a spare is prepared.
    spare_prepare: Mutex<()>,
}

impl Wals {
    pub fn new(active: Arc<WalFile>, spare: Option<WalWriter>) -> Self {
        Wals {
            active: Mutex::new(active),
            retired: Mutex::new(VecDeque::new()),
            retire_sync: Mutex::new(()),
            spare: Mutex::new(spare),
            spare_prepare: Mutex::new(()),
        }
    }

    pub fn has_spare(&self) -> bool {
        lock(&self.spare).is_some()
    }
}

impl Inner {
    /// The fsync behind the durability mode: every retired WAL, then the active one.
    pub fn sync_wal(&self) -> Result<()> {
        // Read the active WAL first: if a rotation retires it meanwhile, the retired pass
        // below still covers it.
        let active = lock(&self.wals.active).clone();
        self.sync_retired()?;
        let n = active.sync()?;
        self.stats.wal_bytes_written.add(n);
        Ok(())
    }

    /// Fsyncs the retired WALs, oldest first, and tells the committer what became durable.
    pub fn sync_retired(&self) -> Result<()> {
        let _g = lock(&self.wals.retire_sync);
        loop {
            let Some((wal, last_seq)) = lock(&self.wals.retired).front().cloned() else {
                return Ok(());
            };
            let n = wal.sync()?;
            self.stats.wal_bytes_written.add(n);
            lock(&self.wals.retired).pop_front();
            self.committer.mark_synced(last_seq);
        }
    }

    /// Prepares the spare WAL unless one is ready. Called off the write lock.
    pub fn prepare_spare(&self) -> Result<()> {
        let g = lock(&self.wals.spare_prepare);
        self.prepare_spare_locked(g)
    }

    /// Prepares the spare WAL unless one is ready or another thread is preparing it.
    pub fn prepare_spare_unless_busy(&self) -> Result<()> {
        match self.wals.spare_prepare.try_lock() {
            Ok(g) => self.prepare_spare_locked(g),
            Err(TryLockError::Poisoned(p)) => self.prepare_spare_locked(p.into_inner()),
            Err(TryLockError::WouldBlock) => Ok(()),
        }
    }

    fn prepare_spare_locked(&self, _preparing: MutexGuard<'_, ()>) -> Result<()> {
        if self.wals.has_spare() {
            return Ok(());
        }
        let number = self.next_file.fetch_add(1, SeqCst);
        let (wal, n) = WalWriter::create(&self.io, &self.dir, number)?;
        self.stats.wal_bytes_written.add(n);
        self.io.sync_dir(&self.dir)?;
        crash_point("lsm.wal.created");
        *lock(&self.wals.spare) = Some(wal);
        Ok(())
    }

    /// Rotates the memtable while `due(write state)` holds (another thread may have rotated
    /// it first). A spare WAL is prepared before the write lock is taken.
    pub fn rotate_if(&self, due: impl Fn(&WriteState) -> bool) -> Result<()> {
        loop {
            self.prepare_spare()?;
            let mut w = lock(&self.write);
            if !due(&w) {
                return Ok(());
            }
            self.committer.check()?;
            // Another rotation may have taken the spare since: prepare another.
            if let Some(spare) = lock(&self.wals.spare).take() {
                return self.rotate(&mut w, spare);
            }
        }
    }

    /// A writer that filled memtable `full` rotates it. If another thread is preparing the
    /// spare WAL right now, the writer goes on (a later write rotates) rather than queue
    /// behind file creation and fsyncs, until the memtable reaches twice its size: from there
    /// writers wait for the spare, which bounds the memory a slow disk can make them take.
    pub fn rotate_full(&self, full: &Arc<Memtable>) -> Result<()> {
        if !self.wals.has_spare() {
            if full.bytes() >= self.opts.memtable_bytes.saturating_mul(2) {
                self.prepare_spare()?;
            } else {
                self.prepare_spare_unless_busy()?;
            }
        }
        let mut w = lock(&self.write);
        if !Arc::ptr_eq(&w.mem, full) {
            return Ok(());
        }
        self.committer.check()?;
        match lock(&self.wals.spare).take() {
            Some(spare) => self.rotate(&mut w, spare),
            None => Ok(()),
        }
    }

    /// Makes the memtable immutable and switches writes to `spare`, under the write lock:
    /// the old WAL is sealed with an END record (fsynced later, in order, by `sync_retired`),
    /// and the flush thread is woken.
    fn rotate(&self, w: &mut WriteState, spare: WalWriter) -> Result<()> {
        let n = match w.wal.seal(w.seq) {
            Ok(n) => n,
            Err(e) => {
                *lock(&self.wals.spare) = Some(spare);
                return Err(e);
            }
        };
        self.stats.wal_bytes_written.add(n);
        crash_point("lsm.wal.sealed");
        let active = spare.shared.clone();
        let new_mem = Arc::new(Memtable::new(spare.number()));
        let old = std::mem::replace(&mut w.wal, spare);
        lock(&self.wals.retired).push_back((old.shared, w.seq));
        *lock(&self.wals.active) = active;
        let old_mem = std::mem::replace(&mut w.mem, new_mem.clone());
        old_mem.writers.shut();
        self.update_view(|v| {
            v.imms.insert(0, old_mem);
            v.mem = new_mem;
        });
        Ok(())
    }

    /// Rotates the memtable if its WAL holds any record (for `compact()` and `settle()`).
    pub fn freeze_memtable(&self) -> Result<()> {
        self.rotate_if(|w| w.wal.has_records())
    }
}
