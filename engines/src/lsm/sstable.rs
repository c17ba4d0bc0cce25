//! SSTables: immutable sorted files of checksummed data blocks, an index block, a bloom
//! filter and a footer (format drawn in `mod.rs`). `TableBuilder` (in `table_builder.rs`)
//! writes, `Table` reads, `TableIter` walks one table in key order.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::block::{Block, EntryRef};
use super::block_cache::BlockCache;
use super::bloom::Bloom;
use super::coding::Cursor;
use super::iterator::{Entry, Source};
use super::stats::Stats;
pub use super::table_builder::TableBuilder;
use crate::io::{File, Io};
use crate::{Error, Result};

pub const MAGIC: u64 = 0x6b76_6c73_6d54_424c; // "kvlsmTBL"
pub const TABLE_VERSION: u32 = 1;
pub const FOOTER_LEN: usize = 64;

pub fn table_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:06}.sst"))
}

/// What the manifest records about a table (and the footer adds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableMeta {
    pub id: u64,
    pub size: u64,
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
    pub max_seq: u64,
    pub entries: u64,
    pub tombstones: u64,
}

impl TableMeta {
    pub fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        self.smallest.as_slice() <= hi && self.largest.as_slice() >= lo
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.smallest.as_slice() <= key && key <= self.largest.as_slice()
    }
}

struct IndexEntry {
    last_key: Vec<u8>,
    offset: u64,
    len: u32,
}

/// An open table: index and filter in memory, data blocks read on demand through the cache.
pub struct Table {
    pub meta: TableMeta,
    file: File,
    index: Vec<IndexEntry>,
    bloom: Bloom,
    cache: Arc<BlockCache>,
}

impl Table {
    /// Opens table `meta.id` (with `size`, `smallest` and `largest` from the manifest) and
    /// checks its footer, index and filter.
    pub fn open(io: &Io, dir: &Path, mut meta: TableMeta, cache: Arc<BlockCache>) -> Result<Table> {
        let path = table_path(dir, meta.id);
        let file = match io.open_read(&path) {
            Ok(f) => f,
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::corruption(
                    &path,
                    0,
                    "table listed in the manifest is missing",
                ))
            }
            Err(e) => return Err(e),
        };
        let bad = |offset: u64, detail: &str| Error::corruption(&path, offset, detail);
        let len = file.len()?;
        if len != meta.size || len < FOOTER_LEN as u64 {
            return Err(bad(len, "table size differs from the manifest"));
        }
        let foot_at = len - FOOTER_LEN as u64;
        let mut foot = [0u8; FOOTER_LEN];
        file.read_exact_at(&mut foot, foot_at)?;
        let mut c = Cursor::new(&foot);
        let (index_offset, index_len) = (c.u64().unwrap(), c.u32().unwrap());
        let (bloom_offset, bloom_len) = (c.u64().unwrap(), c.u32().unwrap());
        let (entries, tombstones, max_seq) = (c.u64().unwrap(), c.u64().unwrap(), c.u64().unwrap());
        let version = c.u32().unwrap();
        let crc = c.u32().unwrap();
        if c.u64() != Some(MAGIC) {
            return Err(bad(foot_at, "bad table magic number"));
        }
        if crc32c::crc32c(&foot[..FOOTER_LEN - 12]) != crc {
            return Err(bad(foot_at, "table footer checksum mismatch"));
        }
        if version != TABLE_VERSION {
            return Err(bad(foot_at, "unknown table format version"));
        }
        let in_file = |off: u64, n: u32, min: u32| {
            n >= min && off.checked_add(n as u64).is_some_and(|e| e <= foot_at)
        };
        if !in_file(index_offset, index_len, 8) || !in_file(bloom_offset, bloom_len, 4) {
            return Err(bad(foot_at, "table footer points outside the file"));
        }
        let index_bytes = read_checked(&file, index_offset, index_len)?;
        let index =
            parse_index(&index_bytes).ok_or_else(|| bad(index_offset, "malformed index block"))?;
        if index.last().map(|e| e.last_key.as_slice()) != Some(meta.largest.as_slice())
            || index
                .iter()
                .any(|e| e.offset.saturating_add(e.len as u64) > index_offset)
        {
            return Err(bad(index_offset, "index block disagrees with the table"));
        }
        let bloom_bytes = read_checked(&file, bloom_offset, bloom_len)?;
        let bloom = Bloom::decode(bloom_bytes)
            .ok_or_else(|| bad(bloom_offset, "malformed bloom filter"))?;
        (meta.entries, meta.tombstones, meta.max_seq) = (entries, tombstones, max_seq);
        Ok(Table {
            meta,
            file,
            index,
            bloom,
            cache,
        })
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Bytes of index and filter held in memory.
    pub fn memory(&self) -> usize {
        self.bloom.size()
            + self
                .index
                .iter()
                .map(|e| e.last_key.len() + 32)
                .sum::<usize>()
    }

    pub fn may_contain(&self, hash: u64) -> bool {
        self.bloom.may_contain(hash)
    }

    /// Data block `i`. Reads for a compaction (`use_cache` false) neither look in the cache
    /// nor fill it, so the cache's hit and miss counts describe the reads users make.
    fn block(&self, i: usize, use_cache: bool) -> Result<Arc<Block>> {
        let e = &self.index[i];
        if use_cache {
            if let Some(b) = self.cache.get(self.meta.id, e.offset) {
                return Ok(b);
            }
        }
        let mut raw = vec![0; e.len as usize];
        self.file.read_exact_at(&mut raw, e.offset)?;
        let b =
            Arc::new(Block::decode(raw).map_err(|d| Error::corruption(self.path(), e.offset, d))?);
        if use_cache {
            self.cache.insert(self.meta.id, e.offset, b.clone());
        }
        Ok(b)
    }

    /// The newest version of `key` in this table as `(seq, value or tombstone)`. The caller
    /// has checked the key range; `hash` is `bloom::key_hash(key)`.
    pub fn get(
        &self,
        key: &[u8],
        hash: u64,
        stats: &Stats,
    ) -> Result<Option<(u64, Option<Vec<u8>>)>> {
        let filtered = !self.bloom.is_empty();
        if filtered {
            stats.bloom_checks.inc();
            if !self.bloom.may_contain(hash) {
                stats.bloom_negatives.inc();
                return Ok(None);
            }
        }
        let i = self.index.partition_point(|e| e.last_key.as_slice() < key);
        let found = if i < self.index.len() {
            let b = self.block(i, true)?;
            match b.entry(b.seek(key)) {
                Some(EntryRef { key: k, seq, value }) if k == key => {
                    Some((seq, value.map(<[u8]>::to_vec)))
                }
                _ => None,
            }
        } else {
            None
        };
        if found.is_none() && filtered {
            stats.bloom_false_positives.inc();
        }
        Ok(found)
    }
}

fn read_checked(file: &File, offset: u64, len: u32) -> Result<Vec<u8>> {
    let mut buf = vec![0; len as usize];
    file.read_exact_at(&mut buf, offset)?;
    let body = buf.len() - 4;
    if crc32c::crc32c(&buf[..body]) != u32::from_le_bytes(buf[body..].try_into().unwrap()) {
        return Err(Error::corruption(file.path(), offset, "checksum mismatch"));
    }
    buf.truncate(body);
    Ok(buf)
}

fn parse_index(bytes: &[u8]) -> Option<Vec<IndexEntry>> {
    let count_at = bytes.len().checked_sub(4)?;
    let count = u32::from_le_bytes(bytes[count_at..].try_into().ok()?) as usize;
    let mut c = Cursor::new(&bytes[..count_at]);
    let mut out = Vec::with_capacity(count.min(count_at / 14 + 1));
    for _ in 0..count {
        let last_key = c.short_bytes()?.to_vec();
        let (offset, len) = (c.u64()?, c.u32()?);
        if out
            .last()
            .is_some_and(|p: &IndexEntry| p.last_key >= last_key)
        {
            return None;
        }
        out.push(IndexEntry {
            last_key,
            offset,
            len,
        });
    }
    (c.remaining() == 0 && !out.is_empty()).then_some(out)
}

/// Walks a table in key order from the first key `>= start`, one block at a time.
pub struct TableIter {
    table: Arc<Table>,
    block: Option<Arc<Block>>,
    block_idx: usize,
    entry_idx: usize,
    seek: Option<Vec<u8>>,
    use_cache: bool,
}

impl TableIter {
    pub fn new(table: Arc<Table>, start: &[u8], use_cache: bool) -> Self {
        let block_idx = table
            .index
            .partition_point(|e| e.last_key.as_slice() < start);
        TableIter {
            table,
            block: None,
            block_idx,
            entry_idx: 0,
            seek: (!start.is_empty()).then(|| start.to_vec()),
            use_cache,
        }
    }
}

impl Source for TableIter {
    fn next_entry(&mut self) -> Result<Option<Entry>> {
        loop {
            if self.block.is_none() {
                if self.block_idx >= self.table.index.len() {
                    return Ok(None);
                }
                let b = self.table.block(self.block_idx, self.use_cache)?;
                self.entry_idx = self.seek.take().map_or(0, |k| b.seek(&k));
                self.block = Some(b);
            }
            let b = self.block.as_ref().unwrap();
            if let Some(e) = b.entry(self.entry_idx) {
                self.entry_idx += 1;
                return Ok(Some(Entry::from_ref(e)));
            }
            self.block = None;
            self.block_idx += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::bloom;

    fn key(i: u32) -> Vec<u8> {
        format!("key{i:06}").into_bytes()
    }

    fn value(i: u32) -> Option<Vec<u8>> {
        match i % 7 {
            0 => None,
            1 if i == 701 => Some(vec![0xAB; 100_000]),
            _ => Some(vec![i as u8; (i % 90) as usize]),
        }
    }

    fn build(dir: &Path, io: &Io, n: u32) -> TableMeta {
        let mut b = TableBuilder::create(io, dir, 42, 1024, 10).unwrap();
        for i in 0..n {
            b.add(&key(i * 2), u64::from(i) + 1, value(i).as_deref())
                .unwrap();
        }
        b.finish().unwrap()
    }

    fn open(dir: &Path, io: &Io, meta: &TableMeta) -> Result<Arc<Table>> {
        let cache = Arc::new(BlockCache::new(1 << 20));
        Table::open(io, dir, meta.clone(), cache).map(Arc::new)
    }

    #[test]
    fn round_trip_point_reads_and_iteration() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let meta = build(dir.path(), &io, 2000);
        assert_eq!((meta.entries, meta.max_seq), (2000, 2000));
        assert_eq!(
            meta.tombstones,
            (0..2000).filter(|i| i % 7 == 0).count() as u64
        );
        assert_eq!(
            (meta.smallest.clone(), meta.largest.clone()),
            (key(0), key(3998))
        );
        let t = open(dir.path(), &io, &meta).unwrap();
        assert_eq!(t.meta, meta, "the footer agrees with the builder");
        let stats = Stats::default();
        for i in 0..2000 {
            let k = key(i * 2);
            let got = t.get(&k, bloom::key_hash(&k), &stats).unwrap();
            assert_eq!(got, Some((u64::from(i) + 1, value(i))), "key {i}");
            let miss = key(i * 2 + 1);
            assert_eq!(t.get(&miss, bloom::key_hash(&miss), &stats).unwrap(), None);
        }
        let negatives = stats.bloom_negatives.get();
        assert!(
            negatives > 1900,
            "the filter ruled out most misses: {negatives}"
        );
        let mut it = TableIter::new(t.clone(), &key(1001), true);
        for i in 501..2000 {
            let e = it.next_entry().unwrap().unwrap();
            assert_eq!(
                (e.key, e.seq, e.value),
                (key(i * 2), u64::from(i) + 1, value(i))
            );
        }
        assert_eq!(it.next_entry().unwrap(), None);
    }

    #[test]
    fn a_table_without_a_filter_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let mut b = TableBuilder::create(&io, dir.path(), 5, 512, 0).unwrap();
        for i in 0..500 {
            b.add(&key(i), u64::from(i) + 1, Some(b"v")).unwrap();
        }
        let t = open(dir.path(), &io, &b.finish().unwrap()).unwrap();
        let stats = Stats::default();
        for i in 0..500 {
            let (k, miss) = (key(i), format!("{i}").into_bytes());
            assert!(t.get(&k, bloom::key_hash(&k), &stats).unwrap().is_some());
            assert!(t
                .get(&miss, bloom::key_hash(&miss), &stats)
                .unwrap()
                .is_none());
        }
        assert_eq!(stats.bloom_checks.get(), 0, "no filter, no filter checks");
    }

    #[test]
    fn damage_is_corruption_never_a_wrong_answer() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let meta = build(dir.path(), &io, 300);
        let path = table_path(dir.path(), 42);
        let good = std::fs::read(&path).unwrap();
        let stats = Stats::default();
        let step = (good.len() / 150).max(1);
        for at in (0..good.len())
            .step_by(step)
            .chain(good.len() - FOOTER_LEN..good.len())
        {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            std::fs::write(&path, &bad).unwrap();
            let t = match open(dir.path(), &io, &meta) {
                Ok(t) => t,
                Err(Error::Corruption { .. }) => continue,
                Err(e) => panic!("flip at {at}: {e}"),
            };
            for i in 0..300 {
                let k = key(i * 2);
                match t.get(&k, bloom::key_hash(&k), &stats) {
                    Ok(got) => assert_eq!(got, Some((u64::from(i) + 1, value(i))), "flip at {at}"),
                    Err(Error::Corruption { offset, .. }) => assert!(offset < good.len() as u64),
                    Err(e) => panic!("flip at {at}: {e}"),
                }
            }
        }
        std::fs::write(&path, &good[..good.len() - 1]).unwrap();
        assert!(matches!(
            open(dir.path(), &io, &meta),
            Err(Error::Corruption { .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 48, failure_persistence: None, ..Default::default() })]

        #[test]
        fn any_sorted_contents_round_trip(
            rows in proptest::collection::btree_map(
                proptest::collection::vec(proptest::num::u8::ANY, 1..40),
                proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..300)),
                1..300,
            ),
            block in 256usize..2048,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let io = Io::new();
            let mut b = TableBuilder::create(&io, dir.path(), 7, block, 10).unwrap();
            for (i, (k, v)) in rows.iter().enumerate() {
                b.add(k, i as u64 + 1, v.as_deref()).unwrap();
            }
            let meta = b.finish().unwrap();
            let t = open(dir.path(), &io, &meta).unwrap();
            let stats = Stats::default();
            let mut it = TableIter::new(t.clone(), &[], true);
            for (i, (k, v)) in rows.iter().enumerate() {
                let e = it.next_entry().unwrap().unwrap();
                proptest::prop_assert_eq!((&e.key, e.seq, &e.value), (k, i as u64 + 1, v));
                let got = t.get(k, bloom::key_hash(k), &stats).unwrap();
                proptest::prop_assert_eq!(got, Some((i as u64 + 1, v.clone())));
            }
            proptest::prop_assert!(it.next_entry().unwrap().is_none());
        }

        #[test]
        fn garbage_files_are_errors_not_panics(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
            magic in proptest::bool::ANY,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let io = Io::new();
            let mut bytes = bytes;
            if magic && bytes.len() >= FOOTER_LEN {
                let n = bytes.len();
                bytes[n - 8..].copy_from_slice(&MAGIC.to_le_bytes());
            }
            std::fs::write(table_path(dir.path(), 3), &bytes).unwrap();
            let meta = TableMeta { id: 3, size: bytes.len() as u64, ..TableMeta::default() };
            proptest::prop_assert!(open(dir.path(), &io, &meta).is_err());
            // The WAL and the manifest as raw garbage, then as garbage behind a valid header.
            let wal = dir.path().join("000009.wal");
            let manifest = dir.path().join("MANIFEST");
            for headed in [false, true] {
                for path in [&wal, &manifest] {
                    let _ = std::fs::remove_file(path);
                    let f = io.create(path).unwrap();
                    if headed {
                        crate::log::create_log(&f).unwrap();
                    }
                    let at = f.len().unwrap();
                    f.write_all_at(&bytes, at).unwrap();
                }
                let _ = crate::lsm::wal::replay(&io, &wal, |_, _, _| {});
                let _ = crate::lsm::manifest::read(&io, dir.path(), 20);
            }
        }
    }
}
