//! An LRU cache of decoded data blocks, keyed by (table id, block offset), bounded in bytes.
//! Table ids are never reused, so a removed table's blocks simply age out.

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
    capacity: u64,
    lru: Mutex<Lru>,
    pub hits: Counter,
    pub misses: Counter,
}

impl BlockCache {
    pub fn new(capacity: u64) -> Self {
        BlockCache {
            capacity,
            lru: Mutex::new(Lru::default()),
            hits: Counter::default(),
            misses: Counter::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, table: u64, offset: u64) -> Option<Arc<Block>> {
        if self.capacity == 0 {
            self.misses.inc();
            return None;
        }
        let mut lru = self.lock();
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
        let mut lru = self.lock();
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
        self.lock().bytes
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
}
