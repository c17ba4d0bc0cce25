//! An LRU cache of decoded data blocks, keyed by (table id, block offset), bounded in bytes.
//! Table ids are never reused, so a removed table's blocks simply age out. A large cache is
//! split into shards (one lock each, up to 16, at least 1 MiB each) so that concurrent
//! readers do not queue on one lock; each shard is an exact LRU over its share.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::block::Block;
use super::stats::Counter;

type Key = (u64, u64);

#[derive(Default)]
struct Lru {
    map: HashMap<Key, (Arc<Block>, u64)>,
    /// Recency order: tick -> key; the smallest tick is the least recently used.
    order: BTreeMap<u64, Key>,
    tick: u64,
    bytes: u64,
}

pub struct BlockCache {
    /// Capacity of each shard.
    capacity: u64,
    shards: Vec<Mutex<Lru>>,
    pub hits: Counter,
    pub misses: Counter,
}

impl BlockCache {
    pub fn new(capacity: u64) -> Self {
        let n = (capacity >> 20).clamp(1, 16);
        BlockCache {
            capacity: capacity / n,
            shards: (0..n).map(|_| Mutex::new(Lru::default())).collect(),
            hits: Counter::default(),
            misses: Counter::default(),
        }
    }

    fn lock(&self, table: u64, offset: u64) -> std::sync::MutexGuard<'_, Lru> {
        let h = (table ^ offset.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        self.shards[h as usize % self.shards.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, table: u64, offset: u64) -> Option<Arc<Block>> {
        if self.capacity == 0 {
            self.misses.inc();
            return None;
        }
        let mut lru = self.lock(table, offset);
        let lru = &mut *lru;
        lru.tick += 1;
        let tick = lru.tick;
        let Some((block, t)) = lru.map.get_mut(&(table, offset)) else {
            self.misses.inc();
            return None;
        };
        self.hits.inc();
        lru.order.remove(t);
        *t = tick;
        lru.order.insert(tick, (table, offset));
        Some(block.clone())
    }

    pub fn insert(&self, table: u64, offset: u64, block: Arc<Block>) {
        let size = block.size() as u64;
        if size > self.capacity {
            return;
        }
        let mut lru = self.lock(table, offset);
        lru.tick += 1;
        let tick = lru.tick;
        if let Some((old, t)) = lru.map.insert((table, offset), (block, tick)) {
            lru.bytes -= old.size() as u64;
            lru.order.remove(&t);
        }
        lru.order.insert(tick, (table, offset));
        lru.bytes += size;
        while lru.bytes > self.capacity {
            let Some((_, key)) = lru.order.pop_first() else {
                break;
            };
            if let Some((b, _)) = lru.map.remove(&key) {
                lru.bytes -= b.size() as u64;
            }
        }
    }

    /// Bytes of blocks held.
    pub fn bytes(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).bytes)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::super::block::BlockBuilder;
    use super::*;

    fn block(n: usize) -> Arc<Block> {
        let mut b = BlockBuilder::default();
        b.add(b"k", 1, Some(&vec![0; n]));
        let mut out = Vec::new();
        b.finish_into(&mut out);
        Arc::new(Block::decode(out).unwrap())
    }

    #[test]
    fn evicts_least_recently_used() {
        let one = block(1000).size() as u64;
        let c = BlockCache::new(one * 2);
        c.insert(1, 0, block(1000));
        c.insert(1, 1, block(1000));
        assert!(c.get(1, 0).is_some(), "touch 0 so that 1 is the oldest");
        c.insert(1, 2, block(1000));
        assert!(c.get(1, 1).is_none());
        assert!(c.get(1, 0).is_some() && c.get(1, 2).is_some());
        assert!(c.bytes() <= one * 2);
        c.insert(2, 0, block(10_000));
        assert!(
            c.get(2, 0).is_none(),
            "a block larger than the cache is not kept"
        );
    }

    #[test]
    fn a_sharded_cache_stays_within_its_capacity() {
        let c = BlockCache::new(32 << 20);
        assert_eq!(c.shards.len(), 16);
        let b = block(60_000);
        for i in 0..2000 {
            c.insert(i, 0, b.clone());
        }
        assert!(
            c.bytes() <= 32 << 20 && c.bytes() > 24 << 20,
            "{}",
            c.bytes()
        );
        assert!(c.get(1999, 0).is_some());
        assert_eq!(c.hits.get(), 1);
    }
}
