//! Settings of the btree engine.

use serde::{Deserialize, Serialize};

use super::page::PAGE_SIZE;
use crate::{Error, Result};

/// Settings of the btree engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BtreeOptions {
    /// Bytes of page frames in the buffer pool (rounded down to whole 4 KiB pages; at least
    /// 16 pages).
    pub buffer_pool_bytes: u64,
    /// A checkpoint runs when the WAL grows past this many bytes.
    pub checkpoint_wal_bytes: u64,
    /// In `none` and `group` modes, writes gathered before they are committed to the WAL
    /// together (one page image then covers many writes). `sync` mode commits at every fsync.
    pub commit_every_writes: u64,
    /// Changed pages held in memory before they are spilled to the WAL ahead of the commit.
    pub max_dirty_pages: u64,
}

impl Default for BtreeOptions {
    fn default() -> Self {
        BtreeOptions {
            buffer_pool_bytes: 64 << 20,
            checkpoint_wal_bytes: 16 << 20,
            commit_every_writes: 256,
            max_dirty_pages: 2048,
        }
    }
}

/// Fewest frames a pool may have: a root-to-leaf path plus the pages a split touches.
pub const MIN_POOL_PAGES: u64 = 16;

impl BtreeOptions {
    pub fn validate(&self) -> Result<()> {
        if self.pool_pages() < MIN_POOL_PAGES as usize {
            return Err(Error::InvalidInput(format!(
                "btree.buffer_pool_bytes is {}: it must hold at least {MIN_POOL_PAGES} pages of {PAGE_SIZE} bytes",
                self.buffer_pool_bytes
            )));
        }
        if self.commit_every_writes == 0 || self.max_dirty_pages < 8 {
            return Err(Error::InvalidInput(
                "btree.commit_every_writes must be at least 1 and btree.max_dirty_pages at least 8"
                    .into(),
            ));
        }
        Ok(())
    }

    pub fn pool_pages(&self) -> usize {
        (self.buffer_pool_bytes / PAGE_SIZE as u64) as usize
    }
}
