//! Settings of the btree engine.

use serde::{Deserialize, Serialize};

use super::page::PAGE_SIZE;
use crate::{Error, Result};

/// Settings of the btree engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BtreeOptions {
    /// Bytes of clean page frames the buffer pool keeps (rounded down to whole 4 KiB pages; at
    /// least 16 pages). Dirty pages stay in memory beside them until a checkpoint writes them.
    pub buffer_pool_bytes: u64,
    /// A checkpoint starts when the log has grown this many bytes since the last one.
    pub checkpoint_wal_bytes: u64,
    /// A checkpoint starts when this many pages are dirty; at twice as many, writers wait for
    /// the running checkpoint (the only time a write waits on one).
    pub max_dirty_pages: u64,
    /// In `none` and `group` modes, bytes of log records gathered in memory before one write
    /// hands them to the log file (`sync()`, the group-mode flusher and `close()` write them
    /// too). `sync` mode writes them at every fsync.
    pub commit_bytes: u64,
}

impl Default for BtreeOptions {
    fn default() -> Self {
        BtreeOptions {
            buffer_pool_bytes: 256 << 20,
            checkpoint_wal_bytes: 64 << 20,
            max_dirty_pages: 64 << 10,
            commit_bytes: 256 << 10,
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
        if self.max_dirty_pages < 8 || self.commit_bytes == 0 || self.checkpoint_wal_bytes == 0 {
            return Err(Error::InvalidInput(
                "btree.max_dirty_pages must be at least 8, btree.commit_bytes and \
                 btree.checkpoint_wal_bytes at least 1"
                    .into(),
            ));
        }
        Ok(())
    }

    pub fn pool_pages(&self) -> usize {
        (self.buffer_pool_bytes / PAGE_SIZE as u64) as usize
    }
}
