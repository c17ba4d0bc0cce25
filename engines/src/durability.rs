//! Group commit: the one mechanism that turns a durability mode into fsyncs, shared by every
//! engine's log.
//!
//! An engine numbers its log appends with a monotone *log sequence number* (LSN) and follows
//! one protocol:
//! 1. append the record while holding its log lock, then call [`Committer::appended`] with the
//!    record's LSN and size, still under the lock (so LSNs are published in order and every
//!    LSN up to the published one is fully written);
//! 2. release the log lock and call [`Committer::commit`] with a closure that fsyncs the
//!    active log file;
//! 3. when the active file rotates, fsync the old file before switching and report its last
//!    LSN with [`Committer::mark_synced`], so the closure only ever needs the active file.
//!
//! In `sync` mode, `commit` waits until an fsync covers the LSN. One waiting writer (the
//! leader) runs the fsync while the others wait on a condition variable; when it returns,
//! every writer whose record it covered returns too, so N concurrent writers share one
//! fsync instead of queueing for N. In `group` mode, `commit` returns at once unless
//! `max_bytes` are unsynced, and a flusher thread fsyncs every `interval`. In `none` mode
//! only `sync()` and `close()` fsync.
//!
//! A failed fsync poisons the committer: the error is reported to every waiter and every
//! later write fails with `Error::Poisoned` until the engine is reopened (retrying an fsync
//! can report success for data the kernel has already dropped).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::options::{Durability, GroupCommit};
use crate::{Error, Result};

#[derive(Default)]
struct State {
    /// Every LSN up to this one is on stable storage.
    synced: u64,
    /// A leader is running an fsync.
    syncing: bool,
    failure: Option<String>,
    shutdown: bool,
}

/// Turns appends into fsyncs according to the durability mode (see the module comment).
pub struct Committer {
    mode: Durability,
    group: GroupCommit,
    /// Highest LSN whose record is fully written to the log file.
    appended: AtomicU64,
    /// Bytes appended since the last fsync started.
    pending_bytes: AtomicU64,
    fsyncs: AtomicU64,
    state: Mutex<State>,
    cv: Condvar,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    /// A committer whose log already holds every LSN up to `recovered` durably.
    pub fn new(mode: Durability, group: GroupCommit, recovered: u64) -> Arc<Self> {
        Arc::new(Committer {
            mode,
            group,
            appended: AtomicU64::new(recovered),
            pending_bytes: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            state: Mutex::new(State {
                synced: recovered,
                ..State::default()
            }),
            cv: Condvar::new(),
            flusher: Mutex::new(None),
        })
    }

    pub fn mode(&self) -> Durability {
        self.mode
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(Poisoned)` once an fsync has failed. Call before accepting a write.
    pub fn check(&self) -> Result<()> {
        match &self.lock().failure {
            Some(msg) => Err(Error::Poisoned(msg.clone())),
            None => Ok(()),
        }
    }

    /// Poisons the engine after a fatal failure found elsewhere (a background task's fsync).
    pub fn poison(&self, detail: impl Into<String>) {
        let mut st = self.lock();
        st.failure.get_or_insert_with(|| detail.into());
        self.cv.notify_all();
    }

    /// Step 1 of the protocol: the record with `lsn` (of `bytes` bytes) is written.
    pub fn appended(&self, lsn: u64, bytes: u64) {
        self.appended.fetch_max(lsn, Ordering::Release);
        self.pending_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Step 3: every LSN up to `lsn` was made durable by the caller (a rotated-out file).
    pub fn mark_synced(&self, lsn: u64) {
        let mut st = self.lock();
        st.synced = st.synced.max(lsn);
        self.cv.notify_all();
    }

    /// Highest LSN known durable.
    pub fn synced(&self) -> u64 {
        self.lock().synced
    }

    /// fsyncs issued through this committer.
    pub fn fsyncs(&self) -> u64 {
        self.fsyncs.load(Ordering::Relaxed)
    }

    /// Step 2: returns when the record with `lsn` is as durable as the mode promises.
    pub fn commit(&self, lsn: u64, fsync: &dyn Fn() -> Result<()>) -> Result<()> {
        match self.mode {
            Durability::None => Ok(()),
            Durability::Sync => self.sync_to(lsn, fsync),
            Durability::Group => {
                if self.pending_bytes.load(Ordering::Relaxed) >= self.group.max_bytes {
                    self.sync_to(lsn, fsync)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Makes everything appended so far durable (the engine's `sync()`).
    pub fn sync_all(&self, fsync: &dyn Fn() -> Result<()>) -> Result<()> {
        self.sync_to(self.appended.load(Ordering::Acquire), fsync)
    }

    /// Waits until LSN `target` is durable, running the fsync itself when no one else is.
    pub fn sync_to(&self, target: u64, fsync: &dyn Fn() -> Result<()>) -> Result<()> {
        let mut st = self.lock();
        loop {
            if let Some(msg) = &st.failure {
                return Err(Error::Poisoned(msg.clone()));
            }
            if st.synced >= target {
                return Ok(());
            }
            if st.syncing {
                st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.syncing = true;
            drop(st);
            let upto = self.appended.load(Ordering::Acquire);
            let pending = self.pending_bytes.load(Ordering::Relaxed);
            let result = fsync();
            self.fsyncs.fetch_add(1, Ordering::Relaxed);
            st = self.lock();
            st.syncing = false;
            match result {
                Ok(()) => {
                    st.synced = st.synced.max(upto);
                    self.pending_bytes.fetch_sub(pending, Ordering::Relaxed);
                }
                Err(e) => {
                    let msg = format!("fsync failed: {e}");
                    st.failure.get_or_insert(msg);
                    self.cv.notify_all();
                    return Err(e);
                }
            }
            self.cv.notify_all();
        }
    }

    /// In `group` mode, starts the thread that fsyncs every `interval` while anything is
    /// unsynced. `fsync` returns `None` once the engine is gone. Stopped by [`Self::shutdown`].
    pub fn start_flusher(
        self: &Arc<Self>,
        fsync: impl Fn() -> Option<Result<()>> + Send + 'static,
    ) {
        if self.mode != Durability::Group {
            return;
        }
        let me = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("group-commit".into())
            .spawn(move || loop {
                {
                    let st = me.lock();
                    let (st, _) = me
                        .cv
                        .wait_timeout_while(st, me.group.interval, |s| !s.shutdown)
                        .unwrap_or_else(|p| p.into_inner());
                    if st.shutdown || st.failure.is_some() {
                        return;
                    }
                }
                if me.appended.load(Ordering::Acquire) > me.synced() {
                    let run = || match fsync() {
                        Some(r) => r,
                        None => Ok(()),
                    };
                    // A failure poisons the committer; writers see it on their next call.
                    let _ = me.sync_all(&run);
                }
            })
            .expect("spawning the group-commit thread");
        *self.flusher.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    }

    /// Stops the flusher thread (if any) and waits for it.
    pub fn shutdown(&self) {
        self.lock().shutdown = true;
        self.cv.notify_all();
        let handle = self
            .flusher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    #[test]
    fn concurrent_sync_writers_share_fsyncs() {
        let c = Committer::new(Durability::Sync, GroupCommit::default(), 0);
        let next = Arc::new(Mutex::new(0u64));
        let fsyncs = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (c, next, fsyncs) = (c.clone(), next.clone(), fsyncs.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let lsn = {
                            let mut n = next.lock().unwrap();
                            *n += 1;
                            c.appended(*n, 10);
                            *n
                        };
                        let f = || {
                            std::thread::sleep(Duration::from_micros(200));
                            fsyncs.fetch_add(1, Ordering::Relaxed);
                            Ok(())
                        };
                        c.commit(lsn, &f).unwrap();
                        assert!(c.synced() >= lsn);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n = fsyncs.load(Ordering::Relaxed);
        assert!(n < 1600, "{n} fsyncs for 1600 writes: no sharing");
        assert_eq!(c.synced(), 1600);
    }

    #[test]
    fn failed_fsync_poisons() {
        let c = Committer::new(Durability::Sync, GroupCommit::default(), 0);
        c.appended(1, 1);
        let fail = || Err(Error::Io(std::io::Error::other("EIO")));
        assert!(matches!(c.commit(1, &fail), Err(Error::Io(_))));
        assert!(matches!(c.check(), Err(Error::Poisoned(_))));
        c.appended(2, 1);
        assert!(matches!(c.commit(2, &|| Ok(())), Err(Error::Poisoned(_))));
    }

    #[test]
    fn group_mode_flusher_syncs_within_interval() {
        let group = GroupCommit {
            interval: Duration::from_millis(5),
            max_bytes: u64::MAX,
        };
        let c = Committer::new(Durability::Group, group, 0);
        c.start_flusher(|| Some(Ok(())));
        c.appended(7, 100);
        c.commit(7, &|| {
            panic!("group mode must not fsync inline below max_bytes")
        })
        .unwrap();
        let t = std::time::Instant::now();
        while c.synced() < 7 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "flusher never synced"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        c.shutdown();
    }
}
