//! The btree engine: an on-disk B+ tree of 4 KiB pages with a buffer pool, linked leaves, a
//! write-ahead log of logical records, background checkpoints and a double-write buffer
//! (the way InnoDB keeps pages whole, in our own words).
//!
//! # Files
//!
//! ```text
//!  btree.db       the data file: page id at offset id * 4096; the tree as of the last checkpoint
//!  btree.wal.<g>  log files, generation g = 1, 2, ...: the writes since that checkpoint
//!  btree.dwb      the double-write buffer: the snapshot of the checkpoint being written
//! ```
//!
//! # Pages
//!
//! Every page starts with the same 20-byte header (integers little-endian):
//!
//! ```text
//!  0       4    5     6       8         12        16      18      20
//!  +-------+----+-----+-------+---------+---------+-------+-------+----------------------+
//!  | crc   |type|  0  | count | page id | next    | aux   |   0   | body (4076 bytes)    |
//!  +-------+----+-----+-------+---------+---------+-------+-------+----------------------+
//!  crc  = crc32c(bytes 4..4096); a page whose crc or id does not match is never used
//!  type = 1 meta | 2 internal | 3 leaf | 4 overflow | 5 free-list trunk
//!  next = leaf: right sibling (0 = last leaf); internal: leftmost child;
//!         overflow: next page of the chain; trunk: next trunk     (0 = none)
//!  aux  = overflow: bytes of value in this page
//! ```
//!
//! Leaves and internal nodes are *slotted pages*: `count` u16 cell offsets follow the header
//! in key order, and the cells fill the page from its end towards the slots. Lookups binary
//! search the slots on the page bytes.
//!
//! ```text
//!  | header | slot 0 | slot 1 | ... | free space ... | cell 1 | cell 0 |   (cells from the end)
//!
//!  leaf cell:      | klen u16 | flags u8 | vlen u32 | key | value (inline)              |
//!                  | klen u16 | flags=1  | vlen u32 | key | first overflow page u32    |
//!  internal cell:  | klen u16 | child u32 | key |     child i+1 holds keys >= key i;
//!                                                     header.next is child 0
//!  overflow page:  | header (next, aux = bytes used) | up to 4076 bytes of the value |
//!  trunk page:     | header (count, next trunk)      | count free page ids, u32 each |
//! ```
//!
//! A value goes to an overflow chain when its cell would exceed 1300 bytes (a third of a
//! page), so a page always holds three cells and any split leaves two halves that fit.
//! The separator a leaf split pushes up is the shortest prefix of the right half's first
//! key that is above the left half's last key (suffix truncation), so internal nodes fan
//! out wide. Deletes that leave a non-root node under a quarter full merge it with a
//! sibling, or share the two siblings' entries evenly when they do not fit in one page.
//! Page 0 is the meta page: magic `KVBTREE\0`, version, root, page count, free-list head,
//! free pages, height, page counts by type, live keys, leaf bytes used, and for the
//! checkpoint that wrote it: its number, its LSN, and the first log file to replay
//! (`meta.rs`). Pages in memory are sealed (their crc written) only when written out.
//!
//! # Log
//!
//! A log file is an `engines::log` file: the synced-length watermark header (two 512-byte
//! slots up to `LOG_START` = 1024), then one record per write in `engines::log` framing
//! (`| hcrc | len | pcrc | payload |`):
//!
//! ```text
//!  put:     | 1 u8 | lsn u64 | key len u16 | key | value |
//!  delete:  | 2 u8 | lsn u64 | key |
//! ```
//!
//! LSNs count the writes, one apart. A record costs the user bytes plus 23 (21 for a
//! delete): splits, merges and free-list changes are not logged, because recovery replays
//! the writes themselves on a tree that is whole (below). After each fsync of a log file its
//! header records the length the fsync covered; `close()` fsyncs once more so that the
//! recorded length is itself durable.
//!
//! # Buffer pool, writes, commits
//!
//! A write changes pages in the buffer pool (`buffer_pool.rs`: one frame per page id; a
//! changed page is *dirty*) and gathers its record in memory. In `none` and `group` modes the
//! records go to the log file in one write when `commit_bytes` have gathered (and at every
//! `sync()`, group-mode flush and `close()`); in `sync` mode the Committer's leader writes
//! and fsyncs them for every writer waiting. Dirty pages are never written between
//! checkpoints and never evicted (no steal): the data file only ever holds whole
//! checkpoints. Clean pages are evicted (CLOCK) beyond `buffer_pool_bytes`.
//!
//! # Checkpoints
//!
//! A thread of their own (`checkpoint.rs`) writes a snapshot when `max_dirty_pages` are
//! dirty or `checkpoint_wal_bytes` have been logged since the last one (or on `compact()`
//! and `settle()`). Under the writer lock, for a moment and without I/O but one write of the
//! last gathered records, it *switches* the log to a file it created beforehand and
//! *freezes* the dirty pages (a flip of their state in the buffer pool): the snapshot is the
//! tree exactly as of LSN `X`, the last write in the old file. Then, with no lock held but
//! the read lock for a batch of pages at a time: it takes the snapshot's images (a writer
//! that changes a frozen page first moves its image aside, so nothing is copied up front);
//! fsyncs the old log file (no page of the snapshot is written before the log up to `X` is
//! durable, the write-ahead rule: `X` is the largest page LSN in the snapshot); writes the
//! pages beyond the last checkpoint's page count in place (no tree on disk uses them) and
//! fsyncs; writes the other pages with the meta page (LSN `X`, log file `g + 1`) to the
//! double-write buffer and fsyncs it; writes them in place and fsyncs the data file; empties
//! the buffer; removes log files older than `g + 1`. A writer waits only when
//! `2 * max_dirty_pages` are dirty while a checkpoint runs (`writes_waiting_for_checkpoint`
//! in the stats; `checkpoint_freeze_max_us` is the longest freeze).
//!
//! Torn pages: a double-write buffer rather than full-page images in the log. The log is
//! logical, so recovery needs the data file to hold a whole tree as of one LSN, not merely
//! pages that each read right: a checkpoint cut short leaves some pages new and some old,
//! and full-page images, which repair pages one by one, cannot make that tree whole again
//! without logging every page change (splits and merges included) physically. The buffer
//! makes a checkpoint all or nothing at the cost of writing its pages twice, sequentially
//! and in the background, and only the pages an older tree on disk still uses (a growing
//! tree's new pages go in place once). Full-page images would cost as many bytes for random
//! writes (each page's first change after a checkpoint logs 4 KiB, and the page is written
//! at the checkpoint all the same) and would put them in the writers' path.
//!
//! # Recovery rule
//!
//! ```text
//!  1. btree.dwb holds a complete snapshot (head, then exactly its pages, all of one LSN,
//!     each whole)?  -> copy its pages in place, fsync btree.db, empty btree.dwb.
//!     An incomplete one was cut short before any page went in place: ignore it.
//!  2. meta = page 0 of btree.db (damaged: Corruption). The tree is whole as of meta.lsn.
//!  3. remove log files older than meta.log_gen; the rest must run meta.log_gen, +1, ...
//!     without a gap (else Corruption; none at all only for a store that never wrote).
//!  4. replay every record, file by file, in LSN order from meta.lsn + 1 (a gap: Corruption),
//!     applying the put or delete to the tree. In each file, damage at or past the synced
//!     length is a torn tail: cut it off, and drop the later files (which must hold nothing
//!     synced, else Corruption); damage before it is Corruption.
//!  5. fsync what was replayed past a synced length, then append to the last file.
//! ```
//!
//! A data page that fails its checksum is `Error::Corruption`, never read as data.
//!
//! # Failures
//!
//! A change to the tree is undone alone when it fails half-way (a page that cannot be read):
//! it does no I/O but reads, and `pager.rs` puts back the pages and the meta page it replaced.
//! A failed write to a file (the log, a checkpoint, an fsync) poisons the instance: writes are
//! refused until reopen, checked under the writer lock, while reads go on seeing every change
//! they could see before (nothing is rolled back). Gathered records are written out before
//! the write that finds them due changes anything, so a failure there fails that write
//! unapplied. A write whose own fsync fails (`sync` mode, group mode's byte limit) is applied
//! and may or may not be on disk: after that the instance refuses reads too.
//!
//! # Concurrency
//!
//! Readers share a read lock on the pager; a page lookup is an index and an atomic load,
//! with no lock or reference count per page. Writers are serialised by a writer lock, find
//! the place of their change under the read lock, and take the write lock only to apply it,
//! so a reader sees the tree between two writes. Every call but reads passes a gate
//! (`gate.rs`); `close()` shuts it, waits for the calls inside, takes the write lock once (so
//! readers inside are done and later ones see the gate shut), stops the checkpoint and
//! group-commit threads (a running checkpoint finishes), writes out and fsyncs the log, and
//! releases the directory lock last.

mod buffer_pool;
mod checkpoint;
mod dwb;
mod engine;
mod freelist;
mod meta;
mod node;
mod options;
mod overflow;
mod page;
mod pager;
mod recovery;
mod tree;
#[cfg(any(test, debug_assertions))]
mod verify;
mod wal;

use std::path::Path;

pub use options::BtreeOptions;

use crate::{Engine, Options, Result};

/// Name of the data file.
pub const DATA_FILE: &str = "btree.db";
/// Name of the log files, before their generation (`btree.wal.1`, `btree.wal.2`, ...).
pub const WAL_FILE: &str = "btree.wal";
/// Name of the double-write buffer.
pub const DWB_FILE: &str = "btree.dwb";
/// Format version written to the store marker.
pub const FORMAT_VERSION: u32 = 3;

/// Opens (creating if needed) a btree store in `dir`.
pub fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    Ok(Box::new(engine::BtreeEngine::open(dir, options)?))
}
