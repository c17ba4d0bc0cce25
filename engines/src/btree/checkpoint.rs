//! Checkpoints: a background thread writes a snapshot of the tree into the data file while
//! writers and readers go on. Each step has a crash point (`btree.checkpoint.<step>`) so
//! that tests can kill the process there; the recovery rule in `mod.rs` makes each safe.
//!
//! 1. `start`, `log_created`: create the next log file whole (header fsynced, directory
//!    fsynced), before taking any lock;
//! 2. `frozen`: under the writer lock, for a moment: hand the last gathered log records to
//!    the old file, make the new one active, and freeze the dirty pages (a flip of their
//!    state: the buffer pool keeps their images until written) with a meta page naming the
//!    snapshot's LSN and the new log file. No I/O but that one write, no fsync, nothing
//!    created or cut. The snapshot's images are then taken a batch at a time under the read
//!    lock (a frozen page a writer changes meanwhile has its image moved aside first);
//! 3. `log_synced`: fsync the old log file: every record up to the snapshot is durable before
//!    any page of it is written (the write-ahead rule: the snapshot's LSN, the largest page
//!    LSN in it, is at most the durable log position);
//! 4. `fresh_written`, `dwb_synced`: write the pages beyond the last checkpoint's page count
//!    (no tree on disk uses them) in place and fsync; write the other pages and the meta page
//!    to the double-write buffer and fsync it;
//! 5. `half_written`, `pages_written`, `data_synced`: write the pages in place, in page order
//!    (a run of consecutive pages in one write), and fsync the data file;
//! 6. `dwb_cleared`, `done`: empty the double-write buffer, let the frozen pages be evicted,
//!    and remove the log files older than the new one.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::engine::{lock, Inner};
use super::page::{seal, Page, PageId, PAGE_SIZE};
use super::{dwb, wal};
use crate::io::{crash_point, File};
use crate::{Error, Result};

/// Frozen pages whose images are taken per hold of the read lock.
const TAKE_BATCH: usize = 1024;

/// Runs one checkpoint; `Ok(false)` when there was nothing to write.
pub(super) fn run(e: &Inner) -> Result<bool> {
    {
        let p = e.read();
        if p.dirty_pages() == 0 && p.seq == p.checkpoint_lsn {
            return Ok(false);
        }
    }
    crash_point("btree.checkpoint.start");
    let generation = lock(&e.log).active.generation + 1;
    let next = wal::create(&e.io, &e.path, generation)?;
    crash_point("btree.checkpoint.log_created");
    // Most gathered records go out before the writers are stopped; the freeze writes the rest.
    lock(&e.log).write_out().map_err(|err| e.poison(err))?;
    let (mut ids, meta, data, durable_pages, (old, old_len)) = {
        let _w = lock(&e.writer);
        let held = std::time::Instant::now();
        e.committer.check()?;
        let switched = lock(&e.log).switch(next).map_err(|err| e.poison(err))?;
        let mut p = e.write();
        p.meta.checkpoint += 1;
        p.meta.log_gen = generation;
        p.checkpoint_lsn = p.seq;
        let ids = p.pool.freeze();
        let held = held.elapsed().as_micros() as u64;
        p.stats.freeze_max_us = p.stats.freeze_max_us.max(held);
        let durable_pages = p.durable_page_count;
        (
            ids,
            p.meta.clone(),
            Arc::clone(&p.data),
            durable_pages,
            switched,
        )
    };
    e.note_checkpoint_started();
    crash_point("btree.checkpoint.frozen");
    let snapshot = take_snapshot(e, &mut ids);
    old.seal(old_len)?;
    {
        let mut log = lock(&e.log);
        if log
            .retired
            .as_ref()
            .is_some_and(|(f, _)| Arc::ptr_eq(f, &old))
        {
            log.retired = None;
        }
    }
    e.committer.mark_synced(meta.lsn);
    crash_point("btree.checkpoint.log_synced");
    // Pages beyond the last checkpoint's page count belong to no tree on disk yet: they go in
    // place directly (and are durable before the buffer is), only the others need the
    // double-write buffer.
    let meta_page = meta.encode();
    let split = snapshot.partition_point(|(id, _)| *id < durable_pages);
    let fresh: Vec<(PageId, &Page)> = snapshot[split..]
        .iter()
        .map(|(id, p)| (*id, &**p))
        .collect();
    if !fresh.is_empty() {
        write_in_place(&data, &fresh)?;
        data.sync()?;
    }
    crash_point("btree.checkpoint.fresh_written");
    let mut pages: Vec<(PageId, &Page)> = Vec::with_capacity(split + 1);
    pages.push((0, &meta_page));
    pages.extend(snapshot[..split].iter().map(|(id, p)| (*id, &**p)));
    let dwb_bytes = dwb::write(&e.dwb, meta.lsn, &pages)?;
    crash_point("btree.checkpoint.dwb_synced");
    let (first, second) = pages.split_at(pages.len() / 2);
    write_in_place(&data, first)?;
    crash_point("btree.checkpoint.half_written");
    write_in_place(&data, second)?;
    crash_point("btree.checkpoint.pages_written");
    data.sync()?;
    crash_point("btree.checkpoint.data_synced");
    dwb::clear(&e.dwb)?;
    crash_point("btree.checkpoint.dwb_cleared");
    let written = (pages.len() + fresh.len()) as u64;
    drop((pages, fresh));
    {
        let mut p = e.write();
        p.pool.thaw();
        p.durable_page_count = meta.page_count;
        p.stats.checkpoints += 1;
        p.stats.checkpoint_pages_written += written;
        p.stats.checkpoint_bytes_written += written * PAGE_SIZE as u64;
        p.stats.dwb_bytes_written += dwb_bytes;
    }
    drop(snapshot);
    for g in wal::generations(&e.path)? {
        if g < generation {
            e.io.remove(&e.path.join(wal::file_name(g)))?;
        }
    }
    crash_point("btree.checkpoint.done");
    Ok(true)
}

/// The images of the frozen pages `ids`, in page order: taken from their frames a batch at a
/// time under the read lock (writers wait for one batch at most), then from the images
/// writers moved aside meanwhile. Pages freed before the freeze have none and are left out.
fn take_snapshot(e: &Inner, ids: &mut [PageId]) -> Vec<(PageId, Arc<Page>)> {
    ids.sort_unstable();
    let mut images: Vec<(PageId, Option<Arc<Page>>)> = Vec::with_capacity(ids.len());
    for batch in ids.chunks(TAKE_BATCH) {
        let p = e.read();
        images.extend(batch.iter().map(|&id| (id, p.pool.frozen_image(id))));
    }
    let mut moved = e.write().pool.take_moved();
    moved.sort_unstable_by_key(|&(id, _)| id);
    images
        .into_iter()
        .filter_map(|(id, image)| {
            let image = image.or_else(|| {
                let at = moved.binary_search_by_key(&id, |&(m, _)| m).ok()?;
                Some(Arc::clone(&moved[at].1))
            })?;
            Some((id, image))
        })
        .collect()
}

/// Writes the pages (in page-id order) in place, sealed, a run of consecutive ones per call.
pub(super) fn write_in_place(data: &File, pages: &[(PageId, &Page)]) -> Result<()> {
    let mut run = Run::default();
    for &(id, page) in pages {
        if !run.continues_with(id) {
            run.flush(data)?;
        }
        run.push(id, page.bytes());
    }
    run.flush(data)
}

/// Most pages one write in place carries (256 KiB).
const RUN_PAGES: usize = 64;

/// Images of consecutive pages waiting to be written in place with one call.
#[derive(Default)]
struct Run {
    first: PageId,
    pages: usize,
    bytes: Vec<u8>,
}

impl Run {
    fn continues_with(&self, id: PageId) -> bool {
        self.pages == 0
            || (self.pages < RUN_PAGES && id as usize == self.first as usize + self.pages)
    }

    fn push(&mut self, id: PageId, image: &[u8]) {
        if self.pages == 0 {
            self.first = id;
        }
        let start = self.bytes.len();
        self.bytes.extend_from_slice(image);
        seal(&mut self.bytes[start..]);
        self.pages += 1;
    }

    fn flush(&mut self, data: &File) -> Result<()> {
        if self.pages > 0 {
            data.write_all_at(&self.bytes, self.first as u64 * PAGE_SIZE as u64)?;
            self.bytes.clear();
            self.pages = 0;
        }
        Ok(())
    }
}

/// Lowers the calling thread's scheduling priority (nice 10), so that on a busy machine a
/// checkpoint's copying and checksumming yield the processor to writers and readers instead
/// of preempting them. Best effort: the priority is left as it is where it cannot be set.
fn background_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on this thread's own id; no memory is passed.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

/// When checkpoints run: the background thread and the requests it serves. A request made
/// while one runs is served by the next one, so that it covers every write before it.
pub(super) struct Checkpointer {
    state: Mutex<Schedule>,
    cv: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Schedule {
    requested: u64,
    started: u64,
    finished: u64,
    failure: Option<String>,
    shutdown: bool,
}

impl Checkpointer {
    pub fn new() -> Checkpointer {
        Checkpointer {
            state: Mutex::new(Schedule::default()),
            cv: Condvar::new(),
            thread: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Schedule> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the thread. `work` runs one checkpoint; it returns `None` once the engine is
    /// gone, and on an error the engine is poisoned and no checkpoint runs again.
    pub fn start(self: &Arc<Self>, work: impl Fn() -> Option<Result<bool>> + Send + 'static) {
        let me = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("btree-checkpoint".into())
            .spawn(move || {
                background_priority();
                loop {
                    let ticket = {
                        let mut s = me.lock();
                        while !s.shutdown && (s.requested == s.started || s.failure.is_some()) {
                            s = me.cv.wait(s).unwrap_or_else(|p| p.into_inner());
                        }
                        if s.shutdown {
                            return;
                        }
                        s.started = s.requested;
                        s.started
                    };
                    let result = work();
                    let mut s = me.lock();
                    s.finished = ticket;
                    match result {
                        None => s.shutdown = true,
                        Some(Err(e)) => s.failure = Some(format!("checkpoint failed: {e}")),
                        Some(Ok(_)) => {}
                    }
                    me.cv.notify_all();
                }
            })
            .expect("spawning the checkpoint thread");
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    }

    fn check(s: &Schedule) -> Result<()> {
        match &s.failure {
            Some(f) => Err(Error::Poisoned(f.clone())),
            None if s.shutdown => Err(Error::Closed),
            None => Ok(()),
        }
    }

    /// Asks for a checkpoint that starts after this call; returns the ticket to wait for.
    pub fn request(&self) -> Result<u64> {
        let mut s = self.lock();
        Self::check(&s)?;
        if s.requested == s.started {
            s.requested += 1;
            self.cv.notify_all();
        }
        Ok(s.requested)
    }

    /// Asks for a checkpoint unless one is running or asked for (the write path's nudge).
    pub fn nudge(&self) {
        let mut s = self.lock();
        if s.requested == s.finished && s.failure.is_none() && !s.shutdown {
            s.requested += 1;
            self.cv.notify_all();
        }
    }

    /// Waits until the checkpoint of `ticket` has finished.
    pub fn wait(&self, ticket: u64) -> Result<()> {
        let mut s = self.lock();
        while s.finished < ticket {
            Self::check(&s)?;
            s = self.cv.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        Self::check(&s)
    }

    /// Waits for the checkpoint running now, if any (back-pressure on writers).
    pub fn wait_running(&self) -> Result<()> {
        let ticket = self.lock().started;
        self.wait(ticket)
    }

    pub fn running(&self) -> bool {
        let s = self.lock();
        s.started > s.finished
    }

    /// Stops the thread; a checkpoint running finishes first.
    pub fn shutdown(&self) {
        self.lock().shutdown = true;
        self.cv.notify_all();
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}
