//! The buffer pool: a fixed number of page frames with CLOCK eviction.
//!
//! A frame holds an `Arc<Page>`; a caller that holds a clone has the page *pinned*, and the
//! clock hand passes over pinned frames (their strong count is above one). Frames hold only
//! committed page images (the latest in the WAL or the data file), so eviction never writes:
//! the write-back of dirty pages happens at commit, when the pager writes them to the WAL
//! (see `pager.rs`). When every frame is pinned a page is served without being cached,
//! so readers never wait for a frame.

use std::sync::{Arc, Mutex, MutexGuard};

use super::page::{IdMap, Page, PageId};

struct Frame {
    id: PageId,
    page: Arc<Page>,
    referenced: bool,
}

struct Frames {
    capacity: usize,
    frames: Vec<Frame>,
    map: IdMap<usize>,
    hand: usize,
    hits: u64,
    misses: u64,
    evictions: u64,
}

/// Counters of the pool since it was made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// Frames holding a page.
    pub used: usize,
}

/// The pool is split into shards by page id, each with its own lock and clock, so that
/// parallel readers rarely meet on one lock (a pool of fewer than 128 frames is one shard).
pub struct BufferPool {
    capacity: usize,
    shards: Box<[Mutex<Frames>]>,
}

impl BufferPool {
    /// A pool of `capacity` frames (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let n = (capacity / 64).clamp(1, 16);
        let shards = (0..n)
            .map(|i| {
                let cap = capacity / n + usize::from(i < capacity % n);
                Mutex::new(Frames {
                    capacity: cap,
                    frames: Vec::with_capacity(cap),
                    map: IdMap::with_capacity_and_hasher(cap, Default::default()),
                    hand: 0,
                    hits: 0,
                    misses: 0,
                    evictions: 0,
                })
            })
            .collect();
        BufferPool { capacity, shards }
    }

    fn lock(&self, id: PageId) -> MutexGuard<'_, Frames> {
        let i = (id.wrapping_mul(0x9E37_79B9) >> 16) as usize % self.shards.len();
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn stats(&self) -> PoolStats {
        let mut s = PoolStats::default();
        for shard in self.shards.iter() {
            let f = shard.lock().unwrap_or_else(|p| p.into_inner());
            s.hits += f.hits;
            s.misses += f.misses;
            s.evictions += f.evictions;
            s.used += f.frames.len();
        }
        s
    }

    /// The cached page `id`, pinned (counts a hit or a miss).
    pub fn get(&self, id: PageId) -> Option<Arc<Page>> {
        let mut f = self.lock(id);
        match f.map.get(&id).copied() {
            Some(i) => {
                f.frames[i].referenced = true;
                f.hits += 1;
                Some(Arc::clone(&f.frames[i].page))
            }
            None => {
                f.misses += 1;
                None
            }
        }
    }

    /// The cached page `id` without counting a hit or a miss (for checkpoints).
    pub fn peek(&self, id: PageId) -> Option<Arc<Page>> {
        let f = self.lock(id);
        f.map.get(&id).map(|&i| Arc::clone(&f.frames[i].page))
    }

    /// Caches `page` as the current image of `id`, evicting an unpinned frame if the shard
    /// is full. Returns false when every frame is pinned (the page is then not cached).
    pub fn insert(&self, id: PageId, page: Arc<Page>) -> bool {
        let mut guard = self.lock(id);
        let f = &mut *guard;
        if let Some(&i) = f.map.get(&id) {
            f.frames[i].page = page;
            f.frames[i].referenced = true;
            return true;
        }
        if f.frames.len() < f.capacity {
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
            f.evictions += 1;
            return true;
        }
        false
    }

    /// Drops `id` from the pool (its cached image is stale or the page was freed).
    pub fn remove(&self, id: PageId) {
        let mut guard = self.lock(id);
        let f = &mut *guard;
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
    fn shards_hold_the_capacity() {
        let pool = BufferPool::new(1000);
        for id in 0..5000 {
            pool.insert(id, page(id));
        }
        assert_eq!(pool.stats().used, 1000);
        assert_eq!(pool.stats().evictions, 4000);
        assert!(pool.get(4999).is_some());
    }

    #[test]
    fn clock_evicts_unpinned_and_counts() {
        let pool = BufferPool::new(3);
        for id in 1..=3 {
            assert!(pool.insert(id, page(id)));
        }
        let pinned = pool.get(1).unwrap();
        assert!(pool.insert(4, page(4)));
        assert_eq!(pool.stats().used, 3);
        assert!(pool.get(1).is_some(), "a pinned page is never evicted");
        assert_eq!(pool.stats().evictions, 1);
        // Pin everything: a new page is served uncached.
        let all: Vec<_> = [1, 2, 3, 4].iter().filter_map(|&i| pool.get(i)).collect();
        assert_eq!(all.len(), 3);
        assert!(!pool.insert(9, page(9)));
        drop((all, pinned));
        assert!(pool.insert(9, page(9)));
        pool.remove(9);
        assert!(pool.get(9).is_none());
        let s = pool.stats();
        assert!(s.hits >= 4 && s.misses >= 2);
    }
}
