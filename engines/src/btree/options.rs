//! Settings of the btree engine.

use serde::{Deserialize, Serialize};

use super::page::PAGE_SIZE;
use crate::options::{check_range, GIB, TIB};
use crate::Result;

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
    /// Rejects settings the engine cannot run with: every setting has a range, and one
    /// outside it is a one-line error naming it.
    pub fn validate(&self) -> Result<()> {
        check_range(
            "btree.buffer_pool_bytes",
            self.buffer_pool_bytes,
            MIN_POOL_PAGES * PAGE_SIZE as u64,
            TIB,
            "bytes",
        )?;
        check_range(
            "btree.checkpoint_wal_bytes",
            self.checkpoint_wal_bytes,
            1,
            TIB,
            "bytes",
        )?;
        check_range(
            "btree.max_dirty_pages",
            self.max_dirty_pages,
            8,
            1 << 28,
            "pages",
        )?;
        check_range("btree.commit_bytes", self.commit_bytes, 1, GIB, "bytes")
    }

    pub fn pool_pages(&self) -> usize {
        (self.buffer_pool_bytes / PAGE_SIZE as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_has_a_range() {
        BtreeOptions::default().validate().unwrap();
        let bad = |f: fn(&mut BtreeOptions)| {
            let mut o = BtreeOptions::default();
            f(&mut o);
            o.validate().unwrap_err().to_string()
        };
        assert_eq!(
            bad(|o| o.buffer_pool_bytes = 1 << 50),
            "invalid input: btree.buffer_pool_bytes = 1125899906842624: must be 65536 to 1099511627776 bytes"
        );
        assert!(bad(|o| o.buffer_pool_bytes = 4096).contains("buffer_pool_bytes"));
        assert!(bad(|o| o.commit_bytes = u64::MAX).contains("commit_bytes"));
        assert!(bad(|o| o.max_dirty_pages = 1).contains("max_dirty_pages"));
        assert!(bad(|o| o.checkpoint_wal_bytes = 0).contains("checkpoint_wal_bytes"));
        assert!(bad(|o| o.max_dirty_pages = u64::MAX).contains("max_dirty_pages"));
    }
}
