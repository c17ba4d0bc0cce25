//! The buffer pool: a fixed number of page frames with CLOCK eviction.
//!
//! A frame holds an `Arc<Page>`; a caller that holds a clone has the page *pinned*, and the
//! clock hand passes over pinned frames (their strong count is above one). Frames hold only
//! committed page images (the latest in the WAL or the data file), so eviction never writes:
//! the write-back of dirty pages happens at commit, when the pager writes them to the WAL
//! (see `pager.rs`). When every frame is pinned a page is served without being cached,
//! so readers never wait for a frame.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use super::page::{IdMap, Page, PageId};

struct Frame {
    id: PageId,
    page: Arc<Page>,
    referenced: bool,
}

struct Frames {
    frames: Vec<Frame>,
    map: IdMap<usize>,
    hand: usize,
}

pub struct BufferPool {
    capacity: usize,
    inner: Mutex<Frames>,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub evictions: AtomicU64,
}

impl BufferPool {
    /// A pool of `capacity` frames (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        BufferPool {
            capacity,
            inner: Mutex::new(Frames {
                frames: Vec::with_capacity(capacity),
                map: IdMap::with_capacity_and_hasher(capacity, Default::default()),
                hand: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Frames> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Frames in use.
    pub fn len(&self) -> usize {
        self.lock().frames.len()
    }

    /// The cached page `id`, pinned (counts a hit or a miss).
    pub fn get(&self, id: PageId) -> Option<Arc<Page>> {
        let mut f = self.lock();
        match f.map.get(&id).copied() {
            Some(i) => {
                f.frames[i].referenced = true;
                self.hits.fetch_add(1, Relaxed);
                Some(Arc::clone(&f.frames[i].page))
            }
            None => {
                self.misses.fetch_add(1, Relaxed);
                None
            }
        }
    }

    /// Caches `page` as the current image of `id`, evicting an unpinned frame if the pool is
    /// full. Returns false when every frame is pinned (the page is then not cached).
    pub fn insert(&self, id: PageId, page: Arc<Page>) -> bool {
        let mut f = self.lock();
        if let Some(&i) = f.map.get(&id) {
            f.frames[i].page = page;
            f.frames[i].referenced = true;
            return true;
        }
        if f.frames.len() < self.capacity {
            let i = f.frames.len();
            f.frames.push(Frame {
                id,
                page,
                referenced: true,
            });
            f.map.insert(id, i);
            return true;
        }
        // CLOCK: clear reference bits until an unreferenced, unpinned frame comes by.
        let n = f.frames.len();
        for _ in 0..2 * n + 1 {
            let i = f.hand;
            f.hand = (f.hand + 1) % n;
            let frame = &mut f.frames[i];
            if Arc::strong_count(&frame.page) > 1 {
                continue;
            }
            if frame.referenced {
                frame.referenced = false;
                continue;
            }
            let old = frame.id;
            *frame = Frame {
                id,
                page,
                referenced: true,
            };
            f.map.remove(&old);
            f.map.insert(id, i);
            self.evictions.fetch_add(1, Relaxed);
            return true;
        }
        false
    }

    /// The cached page `id` without counting a hit or a miss (for checkpoints).
    pub fn peek(&self, id: PageId) -> Option<Arc<Page>> {
        let f = self.lock();
        f.map.get(&id).map(|&i| Arc::clone(&f.frames[i].page))
    }

    /// Drops `id` from the pool (its cached image is stale or the page was freed).
    pub fn remove(&self, id: PageId) {
        let mut f = self.lock();
        if let Some(i) = f.map.remove(&id) {
            let last = f.frames.len() - 1;
            f.frames.swap_remove(i);
            if i != last {
                let moved = f.frames[i].id;
                f.map.insert(moved, i);
            }
            if f.hand >= f.frames.len() {
                f.hand = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::page::LEAF;

    fn page(id: PageId) -> Arc<Page> {
        Arc::new(Page::new(LEAF, id))
    }

    #[test]
    fn clock_evicts_unpinned_and_counts() {
        let pool = BufferPool::new(3);
        for id in 1..=3 {
            assert!(pool.insert(id, page(id)));
        }
        let pinned = pool.get(1).unwrap();
        assert!(pool.insert(4, page(4)));
        assert_eq!(pool.len(), 3);
        assert!(pool.get(1).is_some(), "a pinned page is never evicted");
        assert_eq!(pool.evictions.load(Relaxed), 1);
        // Pin everything: a new page is served uncached.
        let all: Vec<_> = [1, 2, 3, 4].iter().filter_map(|&i| pool.get(i)).collect();
        assert_eq!(all.len(), 3);
        assert!(!pool.insert(9, page(9)));
        drop((all, pinned));
        assert!(pool.insert(9, page(9)));
        pool.remove(9);
        assert!(pool.get(9).is_none());
        assert!(pool.hits.load(Relaxed) >= 4 && pool.misses.load(Relaxed) >= 2);
    }
}
