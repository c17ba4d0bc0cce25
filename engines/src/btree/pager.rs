//! The pager: where the current image of each page is (the buffer pool, else the data file),
//! how a change to the tree replaces images, and how a change that fails half-way is undone.
//!
//! A change to the tree does no I/O but reads: it replaces page images in the buffer pool
//! (dirty until a checkpoint writes them) and fields of the in-memory meta page. Each change
//! is bracketed by `begin_op` and `end_op`; when it fails half-way (a page that cannot be
//! read), `undo_op` puts back every image and the meta page as they were before it, so a
//! failed write changes nothing anyone can see.

use std::sync::Arc;

use super::buffer_pool::{BufferPool, Replaced};
use super::freelist;
use super::meta::Meta;
use super::node::Node;
use super::page::{Page, PageId, PAGE_SIZE};
use crate::io::File;
use crate::{Error, Result};

/// A page a scan reads: the pool's image, or one read past the pool (see
/// [`Pager::page_passing`]).
pub enum Passing<'p> {
    Pooled(&'p Page),
    Read(Box<Page>),
}

impl std::ops::Deref for Passing<'_> {
    type Target = Page;

    fn deref(&self) -> &Page {
        match self {
            Passing::Pooled(p) => p,
            Passing::Read(p) => p,
        }
    }
}

/// Most page images kept for reuse.
const MAX_SPARES: usize = 64;

/// Figures the engine counts for `stats()`.
#[derive(Debug, Default, Clone)]
pub struct PagerStats {
    pub checkpoints: u64,
    pub checkpoint_pages_written: u64,
    /// Page bytes written in place by checkpoints.
    pub checkpoint_bytes_written: u64,
    /// Bytes written to the double-write buffer.
    pub dwb_bytes_written: u64,
    /// Longest time a checkpoint held the writer lock (its freeze), microseconds.
    pub freeze_max_us: u64,
}

pub struct Pager {
    /// The tree as the writes so far left it (its `lsn` is the last write's).
    pub meta: Meta,
    /// The data file (shared with the checkpoint, which writes it without the pager lock).
    pub data: Arc<File>,
    pub pool: BufferPool,
    undo_meta: Meta,
    undo: Vec<Replaced>,
    /// Page images replaced and held by no one, for reuse.
    spares: Vec<Arc<Page>>,
    /// LSN of the last write applied.
    pub seq: u64,
    /// LSN the last checkpoint's snapshot holds.
    pub checkpoint_lsn: u64,
    /// Page count of the tree the data file holds (the last finished checkpoint's).
    pub durable_page_count: u32,
    pub stats: PagerStats,
}

impl Pager {
    pub fn new(meta: Meta, data: Arc<File>, mut pool: BufferPool) -> Pager {
        pool.grow(meta.page_count as usize);
        Pager {
            seq: meta.lsn,
            checkpoint_lsn: meta.lsn,
            durable_page_count: meta.page_count,
            undo_meta: meta.clone(),
            meta,
            data,
            pool,
            undo: Vec::new(),
            spares: Vec::new(),
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

    /// True when `id` names a page of the tree (page 0 is the meta page).
    #[inline]
    fn in_tree(&self, id: PageId) -> bool {
        id != 0 && id < self.meta.page_count && self.pool.has_frame(id)
    }

    /// The frame image of page `id`, loading it from the data file on a miss.
    #[inline]
    fn frame(&self, id: PageId) -> Result<&Arc<Page>> {
        if !self.in_tree(id) {
            return Err(self.corrupt(id, "reference to a page outside the tree"));
        }
        if let Some(p) = self.pool.get(id) {
            return Ok(p);
        }
        let page = self.read_data_page(id)?;
        Ok(self.pool.load(id, page))
    }

    /// The current image of page `id`, borrowed for as long as the pager is (the read path:
    /// no reference count is touched).
    #[inline]
    pub fn page_ref(&self, id: PageId) -> Result<&Page> {
        self.frame(id).map(|p| &**p)
    }

    /// The current image of page `id` for a scan walking the leaf chain. A page read from the
    /// data file while the pool's clean frames are at capacity is not kept: a long scan reads
    /// each leaf once, and caching it would push the pool past its bound until the next
    /// eviction (readers evict only before a call) and push out the pages point reads use.
    pub fn page_passing(&self, id: PageId) -> Result<Passing<'_>> {
        if self.in_tree(id) {
            if let Some(p) = self.pool.get(id) {
                return Ok(Passing::Pooled(p));
            }
            if self.pool.at_capacity() {
                return Ok(Passing::Read(Box::new(self.read_data_page(id)?)));
            }
        }
        self.page_ref(id).map(Passing::Pooled)
    }

    /// The current image of page `id`, as a handle a writer may keep across its changes.
    pub fn page(&self, id: PageId) -> Result<Arc<Page>> {
        self.frame(id).map(Arc::clone)
    }

    /// Page `id` decoded as a tree node.
    pub fn node(&self, id: PageId) -> Result<Node> {
        let p = self.page_ref(id)?;
        Node::decode(p).map_err(|d| self.corrupt(id, d))
    }

    /// Makes a changed page the current image of its page (dirty until a checkpoint).
    pub fn write(&mut self, page: Arc<Page>) -> Result<()> {
        let r = self.pool.put_dirty(page.id(), page);
        self.undo.push(r);
        Ok(())
    }

    /// Writes node `node` as page `id`, keeping the leaf byte count for the fill factor.
    pub fn write_node(&mut self, id: PageId, node: &Node, old_size: usize) -> Result<()> {
        if let Node::Leaf(l) = node {
            self.meta.leaf_bytes =
                (self.meta.leaf_bytes + l.size() as u64).saturating_sub(old_size as u64);
        }
        let mut page = self.blank(node.kind(), id);
        node.fill(Page::unique(&mut page));
        self.write(page)
    }

    /// A blank page of `kind` with id `id` to fill, made from a page image no one holds any
    /// more when there is one (a 4 KiB allocation saved per write).
    pub fn blank(&mut self, kind: u8, id: PageId) -> Arc<Page> {
        match self.spares.pop() {
            Some(mut page) => {
                Page::unique(&mut page).reset(kind, id);
                page
            }
            None => Page::new_shared(kind, id),
        }
    }

    /// Keeps a page image for [`Pager::blank`] if no one else holds it.
    pub fn spare(&mut self, mut page: Arc<Page>) {
        if self.spares.len() < MAX_SPARES && Arc::get_mut(&mut page).is_some() {
            self.spares.push(page);
        }
    }

    /// A page for a new node or overflow page of `kind`.
    pub fn alloc(&mut self, kind: u8) -> Result<PageId> {
        let id = freelist::alloc(self)?;
        self.pool.grow(self.meta.page_count as usize);
        self.count(kind, 1);
        Ok(id)
    }

    /// Returns page `id` (of `kind`, `size` bytes used if a leaf) to the free list.
    pub fn free(&mut self, id: PageId, kind: u8, size: usize) -> Result<()> {
        self.count(kind, -1);
        if kind == super::page::LEAF {
            self.meta.leaf_bytes = self.meta.leaf_bytes.saturating_sub(size as u64);
        }
        let r = self.pool.discard(id);
        self.undo.push(r);
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

    /// Starts a change to the tree (see the module comment).
    pub fn begin_op(&mut self) {
        self.undo_meta.clone_from(&self.meta);
        self.undo.clear();
    }

    /// The change succeeded: it is the write with sequence number `lsn`.
    pub fn end_op(&mut self, lsn: u64) {
        while let Some(r) = self.undo.pop() {
            if let Some(page) = r.into_page() {
                self.spare(page);
            }
        }
        self.seq = lsn;
        self.meta.lsn = lsn;
    }

    /// The change failed half-way: every page image and the meta page as before it.
    pub fn undo_op(&mut self) {
        while let Some(r) = self.undo.pop() {
            self.pool.restore(r);
        }
        self.meta.clone_from(&self.undo_meta);
    }

    pub fn dirty_pages(&self) -> usize {
        self.pool.dirty_pages()
    }
}
