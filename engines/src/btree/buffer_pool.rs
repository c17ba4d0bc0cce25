//! The buffer pool: the image of every page the engine holds in memory, in one frame per page
//! id (page ids are dense, so a lookup is an index, not a hash).
//!
//! A frame is *clean* (its image is the one in the data file), *dirty* (changed since the
//! last checkpoint began) or *frozen* (its image belongs to the snapshot the running
//! checkpoint is writing, which has not reached the data file yet). Only clean frames are
//! evicted: dirty and frozen pages stay in memory until a checkpoint has written them (no
//! steal), so the data file changes only by whole checkpoints. `capacity` bounds the clean
//! frames; how many pages may be dirty is the checkpoint's business (`max_dirty_pages`).
//!
//! Freezing only flips the frames' state (the writers wait that long); the checkpoint then
//! takes the frozen images itself, a few at a time under the read lock. A writer that
//! changes or frees a frozen page before that moves its image aside first (`moved`), so the
//! snapshot stays exactly the tree as of the freeze.
//!
//! Readers share the pager's read lock. A hit is an index and an atomic load (a `OnceLock`);
//! a miss stores the page read from the data file into its empty frame (two readers racing for
//! one page store the same image; the first wins). A borrowed `&Page` stays valid while the
//! read lock is held, because frames are emptied or replaced only with `&mut` access, under
//! the write lock: by a writer that changes a page, and by eviction (CLOCK over the reference
//! bits readers set on hits).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use super::page::{Page, PageId};

const DIRTY: u8 = 1;
const FROZEN: u8 = 2;

#[derive(Default)]
struct Frame {
    page: OnceLock<Arc<Page>>,
    referenced: AtomicBool,
    state: u8,
}

/// Counters of the pool since it was made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// Frames holding a page (clean, dirty or frozen).
    pub used: usize,
    pub dirty: usize,
    pub frozen: usize,
}

/// What a change replaced in a frame, to put back if the change is undone.
pub struct Replaced {
    id: PageId,
    page: Option<Arc<Page>>,
    state: u8,
}

impl Replaced {
    /// The image replaced, if there was one.
    pub fn into_page(self) -> Option<Arc<Page>> {
        self.page
    }
}

pub struct BufferPool {
    capacity: usize,
    frames: Vec<Frame>,
    resident: AtomicUsize,
    /// Pages made dirty since the last freeze (an id may be listed twice, or no longer be
    /// dirty after an undo; `freeze` goes by the frame's state).
    dirty_ids: Vec<PageId>,
    dirty: usize,
    /// Pages of the snapshot a running checkpoint is writing.
    frozen_ids: Vec<PageId>,
    /// Snapshot images of frozen pages changed or freed since the freeze.
    moved: Vec<(PageId, Arc<Page>)>,
    hand: usize,
    hits: Striped,
    misses: AtomicU64,
    evictions: u64,
}

impl BufferPool {
    /// A pool that keeps up to `capacity` clean pages (at least one).
    pub fn new(capacity: usize) -> Self {
        BufferPool {
            capacity: capacity.max(1),
            frames: Vec::new(),
            resident: AtomicUsize::new(0),
            dirty_ids: Vec::new(),
            dirty: 0,
            frozen_ids: Vec::new(),
            moved: Vec::new(),
            hand: 0,
            hits: Striped::default(),
            misses: AtomicU64::new(0),
            evictions: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Makes frames for page ids below `count`.
    pub fn grow(&mut self, count: usize) {
        if self.frames.len() < count {
            self.frames.resize_with(count, Frame::default);
        }
    }

    /// True when `id` has a frame (ids below the page count always do).
    pub fn has_frame(&self, id: PageId) -> bool {
        (id as usize) < self.frames.len()
    }

    /// The image of page `id` when it is in memory (counts a hit).
    #[inline]
    pub fn get(&self, id: PageId) -> Option<&Arc<Page>> {
        let f = self.frames.get(id as usize)?;
        let page = f.page.get()?;
        if !f.referenced.load(Relaxed) {
            f.referenced.store(true, Relaxed);
        }
        self.hits.add();
        Some(page)
    }

    /// Stores `page`, just read from the data file, in the empty frame of `id` (unless another
    /// reader stored it first) and returns the frame's image. The frame must exist.
    pub fn load(&self, id: PageId, page: Page) -> &Arc<Page> {
        self.misses.fetch_add(1, Relaxed);
        let f = &self.frames[id as usize];
        if f.page.set(Arc::new(page)).is_ok() {
            self.resident.fetch_add(1, Relaxed);
        }
        f.page.get().expect("the frame was just filled")
    }

    /// Makes `page` the image of `id`, dirty; returns what it replaced.
    pub fn put_dirty(&mut self, id: PageId, page: Arc<Page>) -> Replaced {
        self.grow(id as usize + 1);
        let f = &mut self.frames[id as usize];
        let old = f.page.take();
        let state = f.state;
        if state & FROZEN != 0 {
            if let Some(image) = &old {
                self.moved.push((id, Arc::clone(image)));
            }
            f.state &= !FROZEN;
        }
        f.page = OnceLock::from(page);
        *f.referenced.get_mut() = true;
        if old.is_none() {
            *self.resident.get_mut() += 1;
        }
        if state & DIRTY == 0 {
            f.state |= DIRTY;
            self.dirty += 1;
            self.dirty_ids.push(id);
        }
        Replaced {
            id,
            page: old,
            state,
        }
    }

    /// Drops the image of a freed page (it is read again only once reused and rewritten);
    /// returns what it replaced.
    pub fn discard(&mut self, id: PageId) -> Replaced {
        let Some(f) = self.frames.get_mut(id as usize) else {
            return Replaced {
                id,
                page: None,
                state: 0,
            };
        };
        let old = f.page.take();
        let state = f.state;
        if let Some(image) = &old {
            *self.resident.get_mut() -= 1;
            if state & FROZEN != 0 {
                self.moved.push((id, Arc::clone(image)));
            }
        }
        f.state &= !FROZEN;
        Replaced {
            id,
            page: old,
            state,
        }
    }

    /// Puts back what a change replaced (undo, newest change first).
    pub fn restore(&mut self, r: Replaced) {
        let f = &mut self.frames[r.id as usize];
        let now = f.page.take();
        let resident = self.resident.get_mut();
        *resident = *resident + usize::from(r.page.is_some()) - usize::from(now.is_some());
        if f.state & DIRTY != 0 && r.state & DIRTY == 0 {
            self.dirty -= 1;
        }
        f.page = r.page.map(OnceLock::from).unwrap_or_default();
        f.state = r.state;
    }

    /// Begins a checkpoint: every dirty page becomes frozen (nothing but their state is
    /// touched). Returns their ids, in no particular order.
    pub fn freeze(&mut self) -> Vec<PageId> {
        let ids = std::mem::take(&mut self.dirty_ids);
        for &id in &ids {
            let f = &mut self.frames[id as usize];
            if f.state & DIRTY != 0 {
                f.state = FROZEN;
                self.frozen_ids.push(id);
            }
        }
        self.dirty = 0;
        self.frozen_ids.clone()
    }

    /// The snapshot image of frozen page `id` while it is still in its frame (`None` once it
    /// was moved aside, or for a page freed before the freeze).
    pub fn frozen_image(&self, id: PageId) -> Option<Arc<Page>> {
        let f = self.frames.get(id as usize)?;
        if f.state & FROZEN == 0 {
            return None;
        }
        f.page.get().map(Arc::clone)
    }

    /// The snapshot images moved aside since the freeze (see the module comment).
    pub fn take_moved(&mut self) -> Vec<(PageId, Arc<Page>)> {
        std::mem::take(&mut self.moved)
    }

    /// Ends a checkpoint: its pages are in the data file, so their frames may be evicted
    /// (unless changed since, and so dirty).
    pub fn thaw(&mut self) {
        for id in std::mem::take(&mut self.frozen_ids) {
            self.frames[id as usize].state &= !FROZEN;
        }
        self.moved.clear();
    }

    pub fn dirty_pages(&self) -> usize {
        self.dirty
    }

    fn clean(&self) -> usize {
        self.resident
            .load(Relaxed)
            .saturating_sub(self.dirty + self.frozen_ids.len())
    }

    /// True when the clean frames fill the capacity (a page read now would exceed it).
    pub fn at_capacity(&self) -> bool {
        self.clean() >= self.capacity
    }

    /// True when the clean frames exceed the capacity.
    pub fn over_capacity(&self) -> bool {
        self.clean() > self.capacity
    }

    /// Evicts clean pages (CLOCK) until a sixteenth of the capacity is free again.
    pub fn evict(&mut self) {
        let target = self.capacity - self.capacity / 16;
        let n = self.frames.len();
        let mut scanned = 0;
        while self.clean() > target && scanned < 2 * n + 1 {
            let i = self.hand;
            self.hand = (self.hand + 1) % n;
            scanned += 1;
            let f = &mut self.frames[i];
            if f.state != 0 || f.page.get().is_none() {
                continue;
            }
            if std::mem::take(f.referenced.get_mut()) {
                continue;
            }
            f.page.take();
            *self.resident.get_mut() -= 1;
            self.evictions += 1;
        }
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            hits: self.hits.sum(),
            misses: self.misses.load(Relaxed),
            evictions: self.evictions,
            used: self.resident.load(Relaxed),
            dirty: self.dirty,
            frozen: self.frozen_ids.len(),
        }
    }
}

/// A counter spread over cache lines, so that reader threads counting hits do not fight over
/// one line.
#[derive(Default)]
struct Striped([Padded; 8]);

#[derive(Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

impl Striped {
    #[inline]
    fn add(&self) {
        use std::cell::Cell;
        thread_local!(static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) });
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let i = STRIPE.with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT.fetch_add(1, Relaxed) % 8);
            }
            s.get()
        });
        self.0[i].0.fetch_add(1, Relaxed);
    }

    fn sum(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::page::LEAF;

    fn page(id: PageId) -> Page {
        Page::new(LEAF, id)
    }

    #[test]
    fn clean_pages_are_evicted_dirty_and_frozen_ones_never() {
        let mut pool = BufferPool::new(16);
        pool.grow(100);
        for id in 1..100 {
            pool.load(id, page(id));
        }
        pool.put_dirty(5, Arc::new(page(5)));
        pool.put_dirty(200, Arc::new(page(200)));
        assert!(pool.over_capacity());
        pool.evict();
        let s = pool.stats();
        assert!(s.used - s.dirty <= 16, "{s:?}");
        assert!(pool.get(5).is_some() && pool.get(200).is_some());
        // Frozen pages stay until thawed; then they are clean and may go.
        let frozen = pool.freeze();
        assert_eq!(frozen, [5, 200]);
        assert_eq!((pool.dirty_pages(), pool.stats().frozen), (0, 2));
        for id in 1..100 {
            if pool.get(id).is_none() {
                pool.load(id, page(id));
            }
        }
        pool.evict();
        assert!(pool.get(5).is_some() && pool.get(200).is_some());
        pool.thaw();
        for _ in 0..3 {
            for id in 300..400 {
                pool.put_dirty(id, Arc::new(page(id)));
            }
            pool.freeze();
            pool.thaw();
            pool.evict();
        }
        assert!(pool.stats().used <= 16, "{:?}", pool.stats());
        assert!(pool.stats().evictions > 100);
    }

    /// A frozen page changed or freed before the checkpoint takes its image keeps the image
    /// of the freeze for the checkpoint; one not changed is taken from its frame.
    #[test]
    fn frozen_images_survive_later_changes() {
        let mut pool = BufferPool::new(16);
        let marked = |id: PageId, mark: u8| {
            let mut p = page(id);
            p.bytes_mut()[100] = mark;
            Arc::new(p)
        };
        for id in 1..=3 {
            pool.put_dirty(id, marked(id, 1));
        }
        let mut ids = pool.freeze();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2, 3]);
        pool.put_dirty(1, marked(1, 2));
        pool.put_dirty(1, marked(1, 3));
        pool.discard(2);
        assert!(pool.frozen_image(1).is_none() && pool.frozen_image(2).is_none());
        assert_eq!(pool.frozen_image(3).unwrap().bytes()[100], 1);
        let moved = pool.take_moved();
        let marks: Vec<(PageId, u8)> = moved.iter().map(|(id, p)| (*id, p.bytes()[100])).collect();
        assert_eq!(marks, [(1, 1), (2, 1)]);
        assert_eq!(pool.get(1).unwrap().bytes()[100], 3);
        assert_eq!(pool.dirty_pages(), 1);
        pool.thaw();
    }

    #[test]
    fn restore_undoes_changes_in_reverse() {
        let mut pool = BufferPool::new(16);
        pool.grow(10);
        pool.load(3, page(3));
        let a = pool.put_dirty(3, Arc::new(page(3)));
        let b = pool.put_dirty(4, Arc::new(page(4)));
        let c = pool.discard(3);
        assert_eq!(pool.dirty_pages(), 2);
        for r in [c, b, a] {
            pool.restore(r);
        }
        assert_eq!((pool.dirty_pages(), pool.stats().used), (0, 1));
        assert!(pool.get(3).is_some() && pool.get(4).is_none());
        assert!(pool.freeze().is_empty());
    }
}
