//! Rollover of the active data file and the fsyncs that make the writer's files durable,
//! kept off the writer lock: the next file is prepared ahead of time, a rollover under the
//! lock only appends the seal and switches files, and the sealed file is fsynced after the
//! lock is released (the protocol is in the module comment of `bitcask`).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use super::segment::{self, FileType, BORN_ACTIVE, DATA_START};
use super::store::{lock, read, write, Seg, Store, Writer};
use crate::io::File;
use crate::log::SyncedMark;
use crate::{Error, Result};

/// A data file of the writer: the active one, or the prepared one that is next.
pub(super) struct Active {
    pub id: u32,
    pub file: Arc<File>,
    /// The synced length recorded in the file's watermark header.
    pub mark: SyncedMark,
    /// Every byte below this offset has been written (published after each append), so an
    /// fsync that begins after reading it covers them all.
    pub written: AtomicU64,
}

impl Active {
    pub fn new(id: u32, file: Arc<File>, mark: SyncedMark, written: u64) -> Self {
        Active {
            id,
            file,
            mark,
            written: AtomicU64::new(written),
        }
    }
}

/// A file the writer rolled away from, whose seal is written but not yet fsynced.
pub(super) struct Sealed {
    pub file: Arc<Active>,
    pub len: u64,
    /// Sequence number of its last record.
    pub last_seq: u64,
}

/// `Some(guard)` when `m` is free now, `None` when another thread holds it.
fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl Store {
    /// The Committer's fsync: makes every record appended so far durable. The files rolled
    /// away from go first (in order), then the active file, whose watermark then records the
    /// length written before its fsync began. The active file is read first: a rollover
    /// queues the old file before it publishes the new one, so the old one is in the queue.
    pub fn sync_active(&self) -> Result<()> {
        let act = read(&self.active).clone();
        self.sync_sealed()?;
        let len = act.written.load(Acquire);
        let r = act
            .file
            .sync()
            .and_then(|()| act.mark.record(&act.file, len));
        if let Err(e) = &r {
            self.poison(format!("fsync of the active data file failed: {e}"));
        }
        r
    }

    /// Makes the files rolled away from durable, oldest first: fsync, record the whole length
    /// in the watermark, fsync again (so the mark is durable too: recovery then reads the
    /// file as whole). Only then are its records reported synced, may a merge take it and a
    /// hint file describe it. A failure poisons the instance.
    pub fn sync_sealed(&self) -> Result<()> {
        let _order = lock(&self.sealing_sync);
        loop {
            let Some((file, len, last_seq)) = lock(&self.sealing)
                .front()
                .map(|s| (s.file.clone(), s.len, s.last_seq))
            else {
                return Ok(());
            };
            if let Some(why) = self.poison.get() {
                return Err(Error::Poisoned(why.clone()));
            }
            let r = file
                .file
                .sync()
                .and_then(|()| file.mark.record(&file.file, len))
                .and_then(|()| file.file.sync());
            if let Err(e) = r {
                self.poison(format!("fsync of a sealed data file failed: {e}"));
                return Err(e);
            }
            lock(&self.sealing).pop_front();
            self.committer.mark_synced(last_seq);
            if let Some(seg) = write(&self.segs).get_mut(&file.id) {
                seg.sealed_len = Some(len);
            }
            if self.opts.hint_files {
                lock(&self.need_hints).push(file.id);
                self.wake_worker();
            }
        }
    }

    /// Rolls the active file over to the prepared one. Under the writer lock `w` only the
    /// seal is appended and the files are switched; the lock is then released, the next file
    /// prepared (first, so that writers filling the new file find it ready) and the sealed
    /// file made durable. When no file is prepared yet, this prepares one (off the lock) and
    /// returns without rolling: the caller looks again.
    pub fn roll_over(&self, mut w: MutexGuard<'_, Writer>) -> Result<()> {
        // A preparer holds this lock through its fsyncs: never wait for it here.
        let Some(mut slot) = try_lock(&self.prepared).filter(|p| p.is_some()) else {
            drop(w);
            return self.prepare_next();
        };
        let next = slot.clone().expect("checked above");
        // A failed rollover leaves the prepared file in its slot.
        self.roll(&mut w, next)?;
        slot.take();
        drop(slot);
        drop(w);
        self.prepare_next()?;
        self.sync_sealed()
    }

    fn roll(&self, w: &mut Writer, next: Arc<Active>) -> Result<()> {
        w.buf.clear();
        segment::encode_seal(&mut w.buf, w.records, w.max_seq);
        self.write_tail(w)?;
        w.len += w.buf.len() as u64;
        w.active.written.store(w.len, Release);
        self.data_bytes
            .fetch_add(w.buf.len() as u64 + DATA_START, Relaxed);
        // Queue the old file before publishing the new one (see `sync_active`).
        lock(&self.sealing).push_back(Sealed {
            file: w.active.clone(),
            len: w.len,
            last_seq: w.max_seq,
        });
        write(&self.segs).insert(
            next.id,
            Seg {
                file: next.file.clone(),
                sealed_len: None,
            },
        );
        *write(&self.active) = next.clone();
        w.active = next;
        w.len = DATA_START;
        w.records = 0;
        w.max_seq = 0;
        Ok(())
    }

    /// Creates the next active file ahead of its rollover, if none is waiting: header
    /// written, file and directory fsynced, so it is durable before any record goes in.
    pub fn prepare_next(&self) -> Result<()> {
        let mut slot = lock(&self.prepared);
        if slot.is_some() {
            return Ok(());
        }
        self.check_writable()?;
        let id = self.next_file_id.fetch_add(1, Relaxed);
        let path = self.path(id, FileType::Data);
        let (file, mark) = segment::create(&self.io, &path, BORN_ACTIVE, id)?;
        if let Err(e) = file.sync().and_then(|()| self.io.sync_dir(&self.dir)) {
            self.poison(format!("fsync while creating a data file failed: {e}"));
            return Err(e);
        }
        *slot = Some(Arc::new(Active::new(id, Arc::new(file), mark, DATA_START)));
        Ok(())
    }

    /// Removes the prepared file at close (it holds no record).
    pub fn drop_prepared(&self) -> Result<()> {
        let Some(p) = lock(&self.prepared).take() else {
            return Ok(());
        };
        let path = p.file.path().to_path_buf();
        drop(p);
        self.io.remove(&path)?;
        self.io.sync_dir(&self.dir)
    }
}
