//! The I/O-bound regime: how an engine's own caches are sized inside a memory cap, and the
//! `compare --io-bound` preset (a store several times the cap, read-heavy, write-heavy and
//! range-scan, each run capped and again in memory).
//!
//! The rule (README, "The I/O-bound regime"): a quarter of the limit goes to the engine's
//! own caches, the same quarter for every engine; the rest is left to the page cache, the
//! harness and the process. Within the quarter, each family splits it one way:
//!
//! * LSM (lsm, fjall, RocksDB): a quarter to memtables (all of them together), three
//!   quarters to the block cache;
//! * B-tree (btree, redb, SQLite, LMDB): all of it to the page cache of the engine: btree's
//!   buffer pool gets three quarters and its dirty pages at most the last quarter; redb's
//!   cache (which holds its uncommitted writes too) and SQLite's page cache (shared by its
//!   writer and reader connection) the whole quarter; LMDB has no cache of its own, so its
//!   quarter stays with the page cache it reads through, and its read-ahead is turned off
//!   (`MDB_NORDAHEAD`, LMDB's advice for data larger than memory);
//! * hash (bitcask): no cache beyond the keydir, which must hold every key whatever the
//!   limit: the quarter stays with the page cache.

use std::collections::BTreeMap;

use engines::{EngineKind, Family, Options};
use workloads::spec::{KeySpec, SizeSpec, WorkloadSpec};

/// The engine's caches get `limit / ENGINE_SHARE`.
pub const ENGINE_SHARE: u64 = 4;
/// Smallest cache any engine is given (an engine may need a few pages whatever the limit).
const MIN_CACHE: u64 = 1 << 20;

/// Sizes `kind`'s caches within `limit` (the rule above) and returns them by option name.
pub fn size_caches(kind: EngineKind, limit: u64, options: &mut Options) -> BTreeMap<String, u64> {
    let share = (limit / ENGINE_SHARE).max(MIN_CACHE);
    let quarter = (share / 4).max(MIN_CACHE);
    let three_quarters = (share - share / 4).max(MIN_CACHE);
    let mut set = BTreeMap::new();
    match (kind.family(), kind.name()) {
        (Family::Lsm, "lsm") => {
            let memtables = 1 + options.lsm.max_immutable_memtables as u64;
            options.lsm.memtable_bytes = (quarter / memtables).max(64 << 10);
            options.lsm.block_cache_bytes = three_quarters;
            set.insert("lsm.memtable_bytes".into(), options.lsm.memtable_bytes);
            set.insert("lsm.block_cache_bytes".into(), three_quarters);
        }
        (Family::BTree, "btree") => {
            options.btree.buffer_pool_bytes = three_quarters;
            // Writers wait for the checkpoint at twice this many dirty pages.
            options.btree.max_dirty_pages = (quarter / 2 / 4096).max(8);
            set.insert("btree.buffer_pool_bytes".into(), three_quarters);
            set.insert(
                "btree.max_dirty_pages".into(),
                options.btree.max_dirty_pages,
            );
        }
        (Family::Lsm, _) => {
            options.production.write_buffer_bytes = Some(quarter);
            options.production.cache_bytes = Some(three_quarters);
            set.insert("production.write_buffer_bytes".into(), quarter);
            set.insert("production.cache_bytes".into(), three_quarters);
        }
        (Family::BTree, "lmdb") => {
            // A fault would read ahead as far as the device's read-ahead reaches (8 MB per
            // get on a disk here), pushing out the pages the next gets need.
            options.production.no_read_ahead = true;
        }
        (Family::BTree, _) => {
            options.production.cache_bytes = Some(share);
            set.insert("production.cache_bytes".into(), share);
        }
        (Family::LogHash | Family::Reference, _) => {}
    }
    set
}

/// The default limit of `compare --io-bound`.
pub const LIMIT: u64 = 96 << 20;

/// The preset's cap on each load: an engine whose load thrashes under the limit (redb's
/// crawled at two inserts a second) ends there with a partial result instead of holding up
/// the rest. The slowest load that does not thrash, SQLite's under the default limit, took
/// 90 s for 250,000 records.
const LOAD_CAP_SECS: f64 = 100.0;
/// The preset's cap on each run phase: the range scans of bitcask, btree, LMDB and SQLite
/// under the limit reach it (they are then partial), the others finish well within it.
const RUN_CAP_SECS: f64 = 20.0;

/// Applies the preset's sizes to a workload: 200,000 records of 16-byte keys and 2000-byte
/// values (about 400 MB of data, four times the default limit), 50,000 operations with a
/// time cap of 20 s per run phase and 100 s per load. The record count is what bitcask's
/// keydir (every key in memory, about 170 bytes a key here) can hold inside the limit with
/// room left for the page cache; the values are large so that the store is still several
/// times the limit.
pub fn apply(spec: &mut WorkloadSpec) {
    spec.record_count = 200_000;
    spec.operation_count = 50_000;
    spec.duration_secs = RUN_CAP_SECS;
    spec.load_duration_secs = LOAD_CAP_SECS;
    spec.key = KeySpec {
        size: Some(SizeSpec::Fixed { bytes: 16 }),
        ..spec.key.clone()
    };
    spec.value_size = SizeSpec::Fixed { bytes: 2000 };
    spec.name = format!("{}-io", spec.name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_of_a_family_gets_the_same_share() {
        let limit = 64 << 20;
        let total = |kind| {
            let mut o = Options::default();
            let set = size_caches(kind, limit, &mut o);
            (o, set)
        };
        let (o, set) = total(EngineKind::Lsm);
        let memtables = o.lsm.memtable_bytes * (1 + o.lsm.max_immutable_memtables as u64);
        assert!(memtables <= 4 << 20 && memtables > 3 << 20, "{memtables}");
        assert_eq!(o.lsm.block_cache_bytes, 12 << 20);
        assert_eq!(set.len(), 2);
        let (o, _) = total(EngineKind::Btree);
        assert_eq!(o.btree.buffer_pool_bytes, 12 << 20);
        assert_eq!(o.btree.max_dirty_pages * 2 * 4096, 4 << 20);
        o.btree.validate().unwrap();
        #[cfg(any(feature = "lmdb", feature = "production"))]
        {
            let (o, set) = total(EngineKind::Lmdb);
            assert!(set.is_empty() && o.production.no_read_ahead);
        }
        let (o, set) = total(EngineKind::Bitcask);
        assert!(set.is_empty());
        assert_eq!(o, Options::default());
    }

    #[test]
    fn production_sizes_are_engine_options_too() {
        let o = crate::cli::engine_options::parse(&[
            "production.cache_bytes=16777216".into(),
            "production.write_buffer_bytes=4194304".into(),
        ])
        .unwrap();
        assert_eq!(o.production.cache_bytes, Some(16 << 20));
        assert_eq!(o.production.write_buffer_bytes, Some(4 << 20));
        let e =
            crate::cli::engine_options::parse(&["production.cache_bytes=10".into()]).unwrap_err();
        assert!(e.contains("production.cache_bytes must be"), "{e}");
    }
}
