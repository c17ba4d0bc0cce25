//! The pager: where the current image of each page is, and how changed pages reach the WAL.
//!
//! A page is looked up, newest first, in
//! 1. the *dirty* set: pages changed by writes not yet committed;
//! 2. the *spilled* index: dirty pages already written to the WAL as frames of the open
//!    transaction (a transaction larger than `max_dirty_pages`, e.g. a 16 MiB value, spills
//!    instead of holding every page in memory);
//! 3. the buffer pool (committed images only);
//! 4. the WAL index: the latest committed frame of the page in the WAL;
//! 5. the data file.
//!
//! `commit` appends the dirty pages and a fresh meta page as frames of the next transaction,
//! then the commit frame, in one write; the pages then become committed images (WAL index,
//! buffer pool).
//!
//! A failure never takes back what readers may have seen. A change to the tree does no I/O
//! but reads (spills and commits happen between changes), and each change is bracketed by
//! `begin_op` and `end_op`: when it fails half-way, `undo_op` puts back the dirty pages and
//! the meta page as they were before it. A failed spill or commit leaves the dirty pages in
//! place (readers go on seeing them); the engine then refuses further writes.

use std::sync::Arc;

use super::buffer_pool::BufferPool;
use super::freelist;
use super::meta::Meta;
use super::node::Node;
use super::page::{IdMap, Page, PageId, PAGE_SIZE};
use super::wal;
use crate::io::File;
use crate::log::{SyncedMark, LOG_START};
use crate::{Error, Result};

/// Figures the pager counts for `stats()`.
#[derive(Debug, Default, Clone)]
pub struct PagerStats {
    pub wal_pages_written: u64,
    pub wal_bytes_written: u64,
    pub commits: u64,
    pub spills: u64,
    pub checkpoints: u64,
    pub checkpoint_pages_written: u64,
    pub checkpoint_bytes_written: u64,
}

/// A commit encoded and not yet written (see [`Pager::prepare_commit`]).
pub struct Prepared {
    buf: Vec<u8>,
    /// WAL offset of each page frame.
    at: Vec<(PageId, u64)>,
}

pub struct Pager {
    /// The tree as the pending writes left it.
    pub meta: Meta,
    /// The tree as of the last commit.
    pub committed_meta: Meta,
    pub data: File,
    pub wal: Arc<File>,
    /// The synced-length watermark of the WAL, and how many times the WAL has started over
    /// (a length measured before a restart must not be recorded after it).
    pub mark: SyncedMark,
    pub wal_generation: u64,
    pub pool: BufferPool,
    dirty: IdMap<Arc<Page>>,
    spilled: IdMap<u64>,
    /// Frames the open transaction has spilled to the WAL so far.
    spilled_frames: u64,
    pub wal_index: IdMap<u64>,
    /// End of the WAL's frames (committed and spilled).
    pub wal_end: u64,
    /// End of the last commit frame.
    pub committed_end: u64,
    /// LSN of the last write applied (committed or not).
    pub seq: u64,
    /// Writes applied since the last commit.
    pub pending_writes: u64,
    pub max_dirty: usize,
    frame_buf: Vec<u8>,
    /// The meta page and the dirty-set entries the change in progress replaced, oldest first.
    undo_meta: Meta,
    undo_pages: Vec<(PageId, Option<Arc<Page>>)>,
    pub stats: PagerStats,
}

impl Pager {
    pub fn new(
        meta: Meta,
        data: File,
        wal: Arc<File>,
        mark: SyncedMark,
        pool: BufferPool,
        max_dirty: usize,
    ) -> Pager {
        Pager {
            seq: meta.lsn,
            committed_meta: meta.clone(),
            undo_meta: meta.clone(),
            meta,
            data,
            wal,
            mark,
            wal_generation: 0,
            pool,
            dirty: IdMap::default(),
            spilled: IdMap::default(),
            spilled_frames: 0,
            wal_index: IdMap::default(),
            wal_end: LOG_START,
            committed_end: LOG_START,
            pending_writes: 0,
            max_dirty: max_dirty.max(8),
            frame_buf: Vec::new(),
            undo_pages: Vec::new(),
            stats: PagerStats::default(),
        }
    }

    /// `Error::Corruption` about page `id` of the data file.
    pub fn corrupt(&self, id: PageId, detail: &str) -> Error {
        Error::corruption(
            self.data.path(),
            id as u64 * PAGE_SIZE as u64,
            format!("page {id}: {detail}"),
        )
    }

    /// Reads page `id` from the data file and checks it.
    pub fn read_data_page(&self, id: PageId) -> Result<Page> {
        let mut page = Page::zeroed();
        let n = self
            .data
            .read_at(page.bytes_mut(), id as u64 * PAGE_SIZE as u64)?;
        if n != PAGE_SIZE {
            return Err(self.corrupt(id, "page lies past the end of the data file"));
        }
        page.verify(id).map_err(|d| self.corrupt(id, d))?;
        Ok(page)
    }

    /// The current image of page `id` (pinned while the caller holds it).
    pub fn page(&self, id: PageId) -> Result<Arc<Page>> {
        if id == 0 || id >= self.meta.page_count {
            return Err(self.corrupt(id, "reference to a page outside the tree"));
        }
        if let Some(p) = self.dirty.get(&id) {
            return Ok(Arc::clone(p));
        }
        if let Some(&off) = self.spilled.get(&id) {
            return Ok(Arc::new(wal::read_page(&self.wal, off, id)?));
        }
        if let Some(p) = self.pool.get(id) {
            return Ok(p);
        }
        let page = match self.wal_index.get(&id) {
            Some(&off) => wal::read_page(&self.wal, off, id)?,
            None => self.read_data_page(id)?,
        };
        let page = Arc::new(page);
        self.pool.insert(id, Arc::clone(&page));
        Ok(page)
    }

    /// Page `id` decoded as a tree node.
    pub fn node(&self, id: PageId) -> Result<Node> {
        let p = self.page(id)?;
        Node::decode(&p).map_err(|d| self.corrupt(id, d))
    }

    /// Stores a changed page (sealed here) in the dirty set.
    pub fn write(&mut self, mut page: Page) -> Result<()> {
        page.seal();
        let id = page.id();
        let old = self.dirty.insert(id, Arc::new(page));
        self.undo_pages.push((id, old));
        Ok(())
    }

    /// Starts a change to the tree (see the module comment).
    pub fn begin_op(&mut self) {
        self.undo_meta.clone_from(&self.meta);
        self.undo_pages.clear();
    }

    /// The change succeeded.
    pub fn end_op(&mut self) {
        self.undo_pages.clear();
    }

    /// The change failed half-way: the dirty set and the meta page as they were before it.
    pub fn undo_op(&mut self) {
        while let Some((id, old)) = self.undo_pages.pop() {
            match old {
                Some(page) => self.dirty.insert(id, page),
                None => self.dirty.remove(&id),
            };
        }
        self.meta.clone_from(&self.undo_meta);
    }

    /// Writes node `node` as page `id`, keeping the leaf byte count for the fill factor.
    pub fn write_node(&mut self, id: PageId, node: &Node, old_size: usize) -> Result<()> {
        if let Node::Leaf(l) = node {
            self.meta.leaf_bytes =
                (self.meta.leaf_bytes + l.size() as u64).saturating_sub(old_size as u64);
        }
        self.write(node.encode(id))
    }

    /// A page for a new node or overflow page of `kind`.
    pub fn alloc(&mut self, kind: u8) -> Result<PageId> {
        let id = freelist::alloc(self)?;
        self.count(kind, 1);
        Ok(id)
    }

    /// Returns page `id` (of `kind`, `size` bytes used if a leaf) to the free list.
    pub fn free(&mut self, id: PageId, kind: u8, size: usize) -> Result<()> {
        self.count(kind, -1);
        if kind == super::page::LEAF {
            self.meta.leaf_bytes = self.meta.leaf_bytes.saturating_sub(size as u64);
        }
        let old = self.dirty.remove(&id);
        self.undo_pages.push((id, old));
        self.pool.remove(id);
        freelist::free(self, id)
    }

    fn count(&mut self, kind: u8, d: i32) {
        use super::page::{INTERNAL, LEAF, OVERFLOW};
        let c = match kind {
            LEAF => &mut self.meta.leaf_pages,
            INTERNAL => &mut self.meta.internal_pages,
            OVERFLOW => &mut self.meta.overflow_pages,
            _ => return,
        };
        *c = c.saturating_add_signed(d);
    }

    /// Anything to commit?
    pub fn has_pending(&self) -> bool {
        self.pending_writes > 0 || !self.dirty.is_empty() || !self.spilled.is_empty()
    }

    fn append(&mut self, buf: &[u8]) -> Result<()> {
        self.wal.write_all_at(buf, self.wal_end)?;
        self.wal_end += buf.len() as u64;
        self.stats.wal_bytes_written += buf.len() as u64;
        Ok(())
    }

    /// True when the dirty set has reached its budget and should be spilled before the next
    /// change.
    pub fn needs_spill(&self) -> bool {
        self.dirty.len() >= self.max_dirty
    }

    /// Writes the dirty pages to the WAL as frames of the open transaction.
    pub fn spill(&mut self) -> Result<()> {
        let txn = self.committed_meta.txn + 1;
        let mut buf = std::mem::take(&mut self.frame_buf);
        buf.clear();
        let mut at = Vec::with_capacity(self.dirty.len());
        for (&id, page) in &self.dirty {
            at.push((id, self.wal_end + buf.len() as u64));
            wal::encode_page(&mut buf, txn, page);
        }
        let r = self.append(&buf);
        self.frame_buf = buf;
        r?;
        self.stats.wal_pages_written += at.len() as u64;
        self.stats.spills += 1;
        self.spilled_frames += at.len() as u64;
        self.spilled.extend(at);
        self.dirty.clear();
        Ok(())
    }

    /// Commits every pending change as one transaction (no fsync), in one step (the engine
    /// splits the steps to let readers go on during the write).
    #[cfg(test)]
    pub fn commit(&mut self) -> Result<()> {
        if !self.has_pending() {
            return Ok(());
        }
        let c = self.prepare_commit();
        self.write_commit(&c)?;
        self.finish_commit(c);
        Ok(())
    }

    /// Step 1 of a commit: the frames of the dirty pages, a new meta page and the commit
    /// frame, encoded into one buffer.
    pub fn prepare_commit(&mut self) -> Prepared {
        let txn = self.committed_meta.txn + 1;
        self.meta.txn = txn;
        self.meta.lsn = self.seq;
        let meta_page = Arc::new(self.meta.encode());
        let mut buf = std::mem::take(&mut self.frame_buf);
        buf.clear();
        let mut at = Vec::with_capacity(self.dirty.len() + 1);
        for (&id, page) in self.dirty.iter().chain([(&0, &meta_page)]) {
            at.push((id, self.wal_end + buf.len() as u64));
            wal::encode_page(&mut buf, txn, page);
        }
        let frames = (at.len() as u64 + self.spilled_frames) as u32;
        wal::encode_commit(&mut buf, txn, self.seq, frames);
        Prepared { buf, at }
    }

    /// Step 2: one write to the WAL. Needs only shared access, so readers go on meanwhile
    /// (the caller holds the writer lock, so nothing else changes the pager).
    pub fn write_commit(&self, c: &Prepared) -> Result<()> {
        self.wal.write_all_at(&c.buf, self.wal_end)
    }

    /// Step 3: the pages become committed images.
    pub fn finish_commit(&mut self, c: Prepared) {
        let Prepared { buf, at } = c;
        self.wal_end += buf.len() as u64;
        self.stats.wal_bytes_written += buf.len() as u64;
        if buf.capacity() <= 2 * wal::PAGE_FRAME * (self.max_dirty + 1) {
            self.frame_buf = buf;
        }
        self.stats.wal_pages_written += at.len() as u64;
        self.stats.commits += 1;
        for (id, off) in self.spilled.drain() {
            self.wal_index.insert(id, off);
            self.pool.remove(id);
        }
        for (id, off) in at {
            self.wal_index.insert(id, off);
        }
        for (id, page) in self.dirty.drain() {
            self.pool.insert(id, page);
        }
        self.spilled_frames = 0;
        self.committed_end = self.wal_end;
        self.committed_meta = self.meta.clone();
        self.pending_writes = 0;
    }

    pub fn dirty_pages(&self) -> usize {
        self.dirty.len() + self.spilled.len()
    }
}
