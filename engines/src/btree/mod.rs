//! The btree engine: an on-disk B+ tree of 4 KiB pages with a buffer pool, linked
//! leaves and a write-ahead log of page images (SQLite's WAL mode, in our own words).
//!
//! # Files
//!
//! `btree.db` (the data file: pages `0..page_count` at offset `id * 4096`) and `btree.wal`.
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
//! free pages, height, page counts by type, live keys, leaf bytes used, and the transaction
//! number and LSN of the commit that wrote it (`meta.rs`).
//!
//! # WAL
//!
//! An `engines::log` log file: the synced-length watermark header (two 512-byte slots, from
//! offset 0 to `LOG_START` = 1024), then records in `engines::log` framing
//! (`| hcrc | len | pcrc | payload |`), payloads:
//!
//! ```text
//!  page frame:    | 1 u8 | txn u64 | page id u32 | page image (4096 bytes) |
//!  commit frame:  | 2 u8 | txn u64 | lsn u64 | frames u32 |
//! ```
//!
//! A transaction is the page frames of every page it changed, always including the meta
//! page, then its commit frame; transactions are numbered consecutively. `lsn` is the
//! sequence number of the last write the transaction holds; it doubles as the Committer's
//! LSN. After each fsync of the WAL the engine records in the header the length of the log up
//! to the last commit written before that fsync began (the *synced length*); `close()` fsyncs
//! once more so that the recorded length itself is durable.
//!
//! # Commit and checkpoint
//!
//! Writes change pages in memory (the dirty set of `pager.rs`; spilled to the WAL as frames
//! of the open transaction, between writes, when it outgrows `max_dirty_pages`). A commit
//! appends the dirty pages, the meta page and the commit frame in one write. In `none` and
//! `group` modes the write that finds `commit_every_writes` writes gathered commits them
//! before it changes anything (and every `sync()`, the group-mode flusher and `close()`
//! commit what has gathered), so one page image covers many writes; in `sync` mode the
//! Committer's leader commits everything pending right before its fsync, so concurrent
//! writers share one commit as well as one fsync. When the WAL passes `checkpoint_wal_bytes`
//! (or on `compact()` and `settle()`), a checkpoint copies the latest images into the data
//! file and starts the WAL over; its steps are in `checkpoint.rs`.
//!
//! # Recovery rule
//!
//! Scan the WAL from its header. Damage at or past the synced length is a torn tail, however
//! it looks (after a power cut the unsynced tail may hold zeroed blocks followed by good ones,
//! or a torn sector); damage before it is `Error::Corruption`. Keep the frames of
//! transactions whose commit frame is whole; cut off the rest (the torn tail, an unfinished
//! transaction) before appending. The latest committed image of each page wins over the data
//! file, and the last committed meta image defines the tree. A WAL whose last transaction is
//! older than the data file's meta page is left over from a finished checkpoint and starts
//! over; a WAL that starts after a gap is corruption; a missing WAL is corruption unless the
//! data file never saw a commit. A data page (including the meta page) torn by a crash during
//! a checkpoint is shadowed by its image in the WAL, which that checkpoint had not yet
//! emptied; a data page that fails its checksum with no image in the WAL is reported as
//! `Error::Corruption`, never read as data.
//!
//! # Failures
//!
//! A change to the tree is undone alone when it fails half-way (a page that cannot be read):
//! it does no I/O but reads, and `pager.rs` puts back the pages and the meta page it replaced.
//! A failed write to a file (a spill, a commit, a checkpoint, an fsync) poisons the instance:
//! writes are refused until reopen, checked under the writer lock, while reads go on seeing
//! every change they could see before (nothing is rolled back). Checkpoints, commits and
//! spills run before the write that triggers them changes anything, so their failure fails
//! that write unapplied.
//!
//! # Concurrency
//!
//! Every call passes a gate (`gate.rs`); `close()` shuts it, waits for the calls inside,
//! stops the group-commit flusher, commits and fsyncs, and releases the directory lock last,
//! so nothing of a closed instance touches the files again. Readers share a read lock on the
//! pager and run in parallel (the buffer pool has its own short lock); writers are serialised
//! by a writer lock and take the pager's write lock while they change pages, so a reader sees
//! a tree between two writes, never a torn page. A commit holds the write lock only to encode
//! its frames and to publish them; the WAL write itself runs under a read lock, and no lock is
//! held across the WAL fsync. A checkpoint holds the writer lock throughout (writers wait) but
//! only a read lock while it copies pages and fsyncs the data file (readers go on); it takes
//! the write lock to start the WAL over.

mod buffer_pool;
mod checkpoint;
mod engine;
mod freelist;
mod gate;
mod meta;
mod node;
mod options;
mod overflow;
mod page;
mod pager;
mod tree;
#[cfg(any(test, debug_assertions))]
mod verify;
mod wal;

use std::path::Path;

pub use options::BtreeOptions;

use crate::{Engine, Options, Result};

/// Name of the data file.
pub const DATA_FILE: &str = "btree.db";
/// Name of the write-ahead log.
pub const WAL_FILE: &str = "btree.wal";
/// Format version written to the store marker.
pub const FORMAT_VERSION: u32 = 2;

/// Opens (creating if needed) a btree store in `dir`.
pub fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    Ok(Box::new(engine::BtreeEngine::open(dir, options)?))
}
