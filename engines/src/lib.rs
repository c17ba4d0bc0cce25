//! Storage engines behind one [`Engine`] trait, the counting I/O layer they all write
//! through, and the conformance kit every engine must pass.
//!
//! ```no_run
//! use engines::{open, EngineKind, Options};
//! let db = open(EngineKind::Memory, std::path::Path::new("/tmp/x"), &Options::default())?;
//! db.put(b"key", b"value")?;
//! assert_eq!(db.get(b"key")?.as_deref(), Some(&b"value"[..]));
//! db.close()?;
//! # Ok::<(), engines::Error>(())
//! ```
//!
//! Shared mechanisms live here once: [`io`] (counted file I/O, fault injection, crash
//! points), [`log`] (checksummed record framing and the torn-tail rule), [`durability`]
//! (group commit), [`store_dir`] (the directory marker and lock), [`gate`] (the barrier that
//! `close()` is) and [`limits`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub mod bitcask;
pub mod btree;
pub mod conformance;
pub mod durability;
mod error;
pub mod gate;
pub mod io;
pub mod limits;
pub mod log;
pub mod lsm;
pub mod memory;
pub mod null;
mod options;
#[cfg(any(
    feature = "redb",
    feature = "fjall",
    feature = "lmdb",
    feature = "rocksdb",
    feature = "sqlite"
))]
pub mod production;
pub mod store_dir;

pub use error::{Error, Result};
pub use io::IoSnapshot;
pub use limits::{MAX_KEY_LEN, MAX_VALUE_LEN, MIN_KEY_LEN};
pub use options::{duration_ms, Durability, GroupCommit, Options, ProductionOptions};

/// A key-value store. Every method may be called from many threads at once.
pub trait Engine: Send + Sync {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()>;
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    fn delete(&self, key: &[u8]) -> Result<()>;
    /// Live pairs with start <= key < end (None: no upper bound), ascending, at most `limit`.
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Every write that returned before this call survives a crash once this returns.
    fn sync(&self) -> Result<()>;
    /// Flush and release files; writes made before it survive the next open.
    fn close(&self) -> Result<()>;
    /// Run the engine's compaction / merge / checkpoint now (a no-op where there is none).
    fn compact(&self) -> Result<()>;
    /// Brings the engine to rest: writes out everything it holds in memory for later
    /// (memtable, dirty pages, uncommitted batches), makes every returned write durable as
    /// [`Engine::sync`] does, and waits until background work that is due (compaction, merge,
    /// checkpoint) has finished. It does not start optional work that is not due (a merge
    /// below its threshold). The runner calls it around a measured phase, so that the bytes an
    /// engine defers are charged to the phase that caused them ("settled amplification").
    fn settle(&self) -> Result<()> {
        self.sync()
    }
    fn stats(&self) -> EngineStats;
}

/// What an engine reports about itself. The I/O counters are common to all engines; the
/// rest is filled where the engine knows it, and `extra` holds engine-specific figures
/// under names from the literature (e.g. `bloom_false_positives`, `tree_height`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Every byte and call through the engine's I/O layer since it was opened.
    pub io: IoSnapshot,
    /// Live keys, where the engine tracks them (exact for memory and bitcask).
    pub live_keys: Option<u64>,
    /// Bytes of the engine's files on disk now.
    pub disk_bytes: u64,
    /// Bytes of memory held by indexes and caches (keydir, memtables, block cache, buffer pool).
    pub memory_bytes: u64,
    /// Bytes of writes the engine may hold in memory before it writes them to its files (its
    /// memtables, the dirty share of its buffer pool, an uncommitted batch): a run that writes
    /// little more than this has not reached a steady state. 0 where the engine holds none.
    #[serde(default)]
    pub write_buffer_bytes: u64,
    /// Compactions, merges or checkpoints completed since open.
    pub compactions: u64,
    /// Bytes written by those compactions (part of `io.bytes_written`).
    pub compaction_bytes_written: u64,
    /// Engine-specific figures.
    pub extra: BTreeMap<String, f64>,
}

/// The engines this build can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Memory,
    Bitcask,
    Lsm,
    Btree,
    /// No data, fixed answers, costs set by its options: the harness floor and the
    /// known-answer engine.
    Null,
    /// redb: copy-on-write B-tree (production, feature `redb`).
    #[cfg(feature = "redb")]
    Redb,
    /// fjall: LSM-tree (production, feature `fjall`).
    #[cfg(feature = "fjall")]
    Fjall,
    /// LMDB through heed: copy-on-write B+ tree over mmap (production, feature `lmdb`).
    #[cfg(feature = "lmdb")]
    Lmdb,
    /// RocksDB: LSM-tree (production, feature `rocksdb`).
    #[cfg(feature = "rocksdb")]
    Rocksdb,
    /// SQLite with WAL: B-tree (production, feature `sqlite`).
    #[cfg(feature = "sqlite")]
    Sqlite,
}

/// The design family an engine belongs to, for grouping in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Family {
    /// In-memory model, no files.
    Reference,
    /// Append-only log with a hash index.
    LogHash,
    /// Log-structured merge tree.
    Lsm,
    /// B-tree / B+ tree.
    BTree,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Reference => "reference",
            Family::LogHash => "log+hash",
            Family::Lsm => "LSM",
            Family::BTree => "B-tree",
        })
    }
}

impl EngineKind {
    /// Every engine this build has, in display order.
    pub const ALL: &'static [EngineKind] = &[
        EngineKind::Memory,
        EngineKind::Bitcask,
        EngineKind::Lsm,
        EngineKind::Btree,
        EngineKind::Null,
        #[cfg(feature = "redb")]
        EngineKind::Redb,
        #[cfg(feature = "fjall")]
        EngineKind::Fjall,
        #[cfg(feature = "lmdb")]
        EngineKind::Lmdb,
        #[cfg(feature = "rocksdb")]
        EngineKind::Rocksdb,
        #[cfg(feature = "sqlite")]
        EngineKind::Sqlite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Memory => "memory",
            EngineKind::Bitcask => "bitcask",
            EngineKind::Lsm => "lsm",
            EngineKind::Btree => "btree",
            EngineKind::Null => "null",
            #[cfg(feature = "redb")]
            EngineKind::Redb => "redb",
            #[cfg(feature = "fjall")]
            EngineKind::Fjall => "fjall",
            #[cfg(feature = "lmdb")]
            EngineKind::Lmdb => "lmdb",
            #[cfg(feature = "rocksdb")]
            EngineKind::Rocksdb => "rocksdb",
            #[cfg(feature = "sqlite")]
            EngineKind::Sqlite => "sqlite",
        }
    }

    pub fn family(self) -> Family {
        match self {
            EngineKind::Memory => Family::Reference,
            EngineKind::Bitcask => Family::LogHash,
            EngineKind::Lsm => Family::Lsm,
            EngineKind::Btree => Family::BTree,
            EngineKind::Null => Family::Reference,
            #[cfg(feature = "redb")]
            EngineKind::Redb => Family::BTree,
            #[cfg(feature = "fjall")]
            EngineKind::Fjall => Family::Lsm,
            #[cfg(feature = "lmdb")]
            EngineKind::Lmdb => Family::BTree,
            #[cfg(feature = "rocksdb")]
            EngineKind::Rocksdb => Family::Lsm,
            #[cfg(feature = "sqlite")]
            EngineKind::Sqlite => Family::BTree,
        }
    }

    /// One line on what the engine is.
    pub fn description(self) -> &'static str {
        match self {
            EngineKind::Memory => "BTreeMap behind a lock, no files: the model in tests and the harness floor",
            EngineKind::Bitcask => "append-only segments, in-memory hash keydir, hint files, merge",
            EngineKind::Lsm => "WAL, memtable, SSTables with block index and bloom filters, leveled or tiered compaction",
            EngineKind::Btree => "B+ tree of 4 KiB pages, buffer pool, linked leaves, logical WAL, background checkpoints",
            EngineKind::Null => "no data, fixed answers, costs set by its options (null.*): the harness floor and the known-answer engine",
            #[cfg(feature = "redb")]
            EngineKind::Redb => "redb (production): copy-on-write B-tree in one file, checksummed pages, one write transaction per write",
            #[cfg(feature = "fjall")]
            EngineKind::Fjall => "fjall (production): LSM-tree with a shared journal, leveled compaction, checksummed blocks",
            #[cfg(feature = "lmdb")]
            EngineKind::Lmdb => "LMDB via heed (production): copy-on-write B+ tree over mmap, single writer, no page checksums",
            #[cfg(feature = "rocksdb")]
            EngineKind::Rocksdb => "RocksDB (production): LSM-tree, WAL, leveled compaction, block checksums, no compression",
            #[cfg(feature = "sqlite")]
            EngineKind::Sqlite => "SQLite (production, bundled): WITHOUT ROWID B-tree table in WAL mode",
        }
    }

    /// True for the production engines (the adapters behind the `production` features).
    pub fn is_production(self) -> bool {
        !matches!(
            self,
            EngineKind::Memory
                | EngineKind::Bitcask
                | EngineKind::Lsm
                | EngineKind::Btree
                | EngineKind::Null
        )
    }

    /// True when the engine's file I/O goes through [`io`], so [`EngineStats::io`] counts it
    /// (false for the production engines, which do their own I/O).
    pub fn counts_io(self) -> bool {
        !self.is_production()
    }

    /// True when the engine keeps its data in files (and so persists across opens).
    pub fn persistent(self) -> bool {
        self != EngineKind::Memory
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        EngineKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let valid: Vec<&str> = EngineKind::ALL.iter().map(|k| k.name()).collect();
                Error::InvalidInput(format!(
                    "unknown engine '{s}': valid engines are {}",
                    valid.join(", ")
                ))
            })
    }
}

/// Opens (creating if needed) a store of `kind` in `dir`.
pub fn open(kind: EngineKind, dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    options.validate()?;
    match kind {
        EngineKind::Memory => Ok(Box::new(memory::MemoryEngine::new())),
        EngineKind::Bitcask => bitcask::open(dir, options),
        EngineKind::Lsm => lsm::open(dir, options),
        EngineKind::Btree => btree::open(dir, options),
        EngineKind::Null => null::open(dir, options),
        #[cfg(feature = "redb")]
        EngineKind::Redb => production::redb::open(dir, options),
        #[cfg(feature = "fjall")]
        EngineKind::Fjall => production::fjall::open(dir, options),
        #[cfg(feature = "lmdb")]
        EngineKind::Lmdb => production::lmdb::open(dir, options),
        #[cfg(feature = "rocksdb")]
        EngineKind::Rocksdb => production::rocksdb::open(dir, options),
        #[cfg(feature = "sqlite")]
        EngineKind::Sqlite => production::sqlite::open(dir, options),
    }
}
