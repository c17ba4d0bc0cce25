//! The checkpoint: committed page images move from the WAL into the data file, and the WAL
//! starts over. Each step has a crash point (`btree.checkpoint.<step>`) so that tests can
//! kill the process there; the recovery rule in `mod.rs` makes every one of them safe.
//!
//! 1. `start`: fsync the WAL, so every image about to be copied is durable in the log
//!    first (a data page must never be newer than the durable log);
//! 2. `wal_synced` .. `half_written` .. `pages_written`: write the latest committed image
//!    of every page in the WAL index in place, in page order (a run of consecutive pages in
//!    one write). A crash here leaves torn or mixed data pages, all shadowed by their
//!    images in the still intact WAL;
//! 3. `data_synced`: fsync the data file. From here the data file alone holds the tree;
//!    the WAL still holds the same images, and replaying them again is harmless;
//! 4. `wal_reset`: the WAL starts over (`wal::restart`: a fresh watermark header, fsynced,
//!    then the file cut to the header, fsynced). The next commit starts it again with the
//!    next transaction number.

use super::page::{PageId, PAGE_SIZE};
use super::pager::Pager;
use super::wal;
use crate::durability::Committer;
use crate::io::crash_point;
use crate::log::LOG_START;
use crate::Result;

/// Steps 1 to 3. The caller holds the writer lock (no commit can run) and has committed
/// everything pending; readers may go on, since nothing they read changes here. Returns the
/// pages written.
pub fn copy(p: &Pager, committer: &Committer) -> Result<u64> {
    if p.wal_index.is_empty() {
        return Ok(0);
    }
    crash_point("btree.checkpoint.start");
    p.wal.sync()?;
    p.mark.record(&p.wal, p.committed_end)?;
    committer.mark_synced(p.committed_meta.lsn);
    crash_point("btree.checkpoint.wal_synced");
    let mut ids: Vec<(PageId, u64)> = p.wal_index.iter().map(|(&id, &off)| (id, off)).collect();
    ids.sort_unstable();
    let half = ids.len() / 2;
    // Runs of consecutive page ids go out as one write of up to `RUN_PAGES` pages (on
    // write-heavy, half the checkpoint's write calls).
    let mut run = Run::default();
    for (n, &(id, off)) in ids.iter().enumerate() {
        if n == half {
            run.flush(p)?;
            crash_point("btree.checkpoint.half_written");
        }
        if !run.continues_with(id) {
            run.flush(p)?;
        }
        match p.pool.peek(id) {
            Some(page) => run.push(id, page.bytes()),
            None => run.push(id, wal::read_page(&p.wal, off, id)?.bytes()),
        }
    }
    run.flush(p)?;
    crash_point("btree.checkpoint.pages_written");
    p.data.sync()?;
    crash_point("btree.checkpoint.data_synced");
    Ok(ids.len() as u64)
}

/// Most pages one checkpoint write carries (256 KiB).
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
        self.bytes.extend_from_slice(image);
        self.pages += 1;
    }

    fn flush(&mut self, p: &Pager) -> Result<()> {
        if self.pages > 0 {
            p.data
                .write_all_at(&self.bytes, self.first as u64 * PAGE_SIZE as u64)?;
            self.bytes.clear();
            self.pages = 0;
        }
        Ok(())
    }
}

/// Step 4, under the pager's write lock: the WAL starts over.
pub fn reset(p: &mut Pager, pages: u64) -> Result<()> {
    if p.wal_end == LOG_START && p.wal_index.is_empty() {
        return Ok(());
    }
    // Whatever happens from here, the data file holds every page (step 3).
    p.wal_index.clear();
    p.wal_generation += 1;
    p.mark = wal::restart(&p.wal)?;
    p.wal_end = LOG_START;
    p.committed_end = LOG_START;
    crash_point("btree.checkpoint.wal_reset");
    p.stats.checkpoints += 1;
    p.stats.checkpoint_pages_written += pages;
    p.stats.checkpoint_bytes_written += pages * PAGE_SIZE as u64;
    Ok(())
}
