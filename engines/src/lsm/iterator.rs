//! Iterators compose: a merging iterator over memtable, table and level iterators yields
//! each key once, in order, at its newest version (highest sequence number).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::block::EntryRef;
use super::memtable::Memtable;
use super::sstable::{Table, TableIter};
use crate::Result;

/// One version of one key. `value: None` is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub seq: u64,
    pub value: Option<Vec<u8>>,
}

impl Entry {
    pub fn from_ref(e: EntryRef<'_>) -> Self {
        Entry {
            key: e.key.to_vec(),
            seq: e.seq,
            value: e.value.map(<[u8]>::to_vec),
        }
    }
}

/// A sorted stream of entries, one per key, ascending.
pub trait Source: Send {
    fn next_entry(&mut self) -> Result<Option<Entry>>;
}

/// Walks a memtable in chunks, taking its lock once per chunk, so a long scan never holds
/// the lock and never copies the whole memtable. Chunks start small and double: a short
/// scan over a memtable that holds few of its keys copies a few entries, not a full chunk
/// (copying unused 1 KB values was the largest cost of `range-scan`), while a long scan
/// still takes the lock only about once per `MAX_CHUNK` entries.
pub struct MemIter {
    mem: Arc<Memtable>,
    end: Option<Vec<u8>>,
    buf: Vec<Entry>,
    pos: usize,
    from: Vec<u8>,
    inclusive: bool,
    chunk: usize,
    done: bool,
}

const FIRST_CHUNK: usize = 4;
const MAX_CHUNK: usize = 64;

impl MemIter {
    pub fn new(mem: Arc<Memtable>, start: &[u8], end: Option<&[u8]>) -> Self {
        MemIter {
            mem,
            end: end.map(<[u8]>::to_vec),
            buf: Vec::new(),
            pos: 0,
            from: start.to_vec(),
            inclusive: true,
            chunk: FIRST_CHUNK,
            done: false,
        }
    }
}

impl Source for MemIter {
    fn next_entry(&mut self) -> Result<Option<Entry>> {
        if self.pos == self.buf.len() {
            if self.done {
                return Ok(None);
            }
            self.buf.clear();
            self.pos = 0;
            self.mem.range_chunk(
                &self.from,
                self.inclusive,
                self.end.as_deref(),
                self.chunk,
                &mut self.buf,
            );
            match self.buf.last() {
                Some(last) if self.buf.len() == self.chunk => {
                    self.from.clone_from(&last.key);
                    self.inclusive = false;
                    self.chunk = (self.chunk * 2).min(MAX_CHUNK);
                }
                _ => self.done = true,
            }
            if self.buf.is_empty() {
                return Ok(None);
            }
        }
        self.pos += 1;
        Ok(Some(std::mem::replace(
            &mut self.buf[self.pos - 1],
            Entry {
                key: Vec::new(),
                seq: 0,
                value: None,
            },
        )))
    }
}

/// The tables of one sorted level (non-overlapping, ascending), opened one after another.
pub struct LevelIter {
    tables: Vec<Arc<Table>>,
    next: usize,
    cur: Option<TableIter>,
    start: Vec<u8>,
    use_cache: bool,
}

impl LevelIter {
    pub fn new(tables: Vec<Arc<Table>>, start: &[u8], use_cache: bool) -> Self {
        LevelIter {
            tables,
            next: 0,
            cur: None,
            start: start.to_vec(),
            use_cache,
        }
    }
}

impl Source for LevelIter {
    fn next_entry(&mut self) -> Result<Option<Entry>> {
        loop {
            if let Some(it) = &mut self.cur {
                if let Some(e) = it.next_entry()? {
                    return Ok(Some(e));
                }
                self.cur = None;
            }
            let Some(t) = self.tables.get(self.next) else {
                return Ok(None);
            };
            self.cur = Some(TableIter::new(t.clone(), &self.start, self.use_cache));
            self.next += 1;
        }
    }
}

struct Head {
    entry: Entry,
    src: usize,
}

impl Ord for Head {
    /// Max-heap order reversed: the smallest key first, and for one key the highest seq.
    fn cmp(&self, o: &Self) -> Ordering {
        o.entry
            .key
            .cmp(&self.entry.key)
            .then(self.entry.seq.cmp(&o.entry.seq))
    }
}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Head {}

/// K-way merge: each key once, at its highest sequence number (tombstones included; the
/// caller decides whether to show or drop them).
pub struct MergeIter {
    sources: Vec<Box<dyn Source>>,
    heap: BinaryHeap<Head>,
    started: bool,
}

impl MergeIter {
    pub fn new(sources: Vec<Box<dyn Source>>) -> Self {
        MergeIter {
            heap: BinaryHeap::with_capacity(sources.len()),
            sources,
            started: false,
        }
    }

    fn pull(&mut self, src: usize) -> Result<()> {
        if let Some(entry) = self.sources[src].next_entry()? {
            self.heap.push(Head { entry, src });
        }
        Ok(())
    }
}

impl Source for MergeIter {
    fn next_entry(&mut self) -> Result<Option<Entry>> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                self.pull(i)?;
            }
        }
        let Some(top) = self.heap.pop() else {
            return Ok(None);
        };
        while self
            .heap
            .peek()
            .is_some_and(|h| h.entry.key == top.entry.key)
        {
            let older = self.heap.pop().unwrap();
            self.pull(older.src)?;
        }
        self.pull(top.src)?;
        Ok(Some(top.entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct VecSource(std::vec::IntoIter<Entry>);
    impl Source for VecSource {
        fn next_entry(&mut self) -> Result<Option<Entry>> {
            Ok(self.0.next())
        }
    }

    fn src(items: &[(&str, u64, Option<&str>)]) -> Box<dyn Source> {
        let v: Vec<Entry> = items
            .iter()
            .map(|(k, s, v)| Entry {
                key: k.as_bytes().to_vec(),
                seq: *s,
                value: v.map(|v| v.as_bytes().to_vec()),
            })
            .collect();
        Box::new(VecSource(v.into_iter()))
    }

    #[test]
    fn merge_keeps_newest_version_of_each_key() {
        let mut m = MergeIter::new(vec![
            src(&[("a", 1, Some("a1")), ("c", 9, None)]),
            src(&[
                ("a", 5, Some("a5")),
                ("b", 2, Some("b2")),
                ("c", 3, Some("c3")),
            ]),
            src(&[]),
        ]);
        let mut got = Vec::new();
        while let Some(e) = m.next_entry().unwrap() {
            got.push((String::from_utf8(e.key).unwrap(), e.seq, e.value.is_some()));
        }
        assert_eq!(
            got,
            vec![
                ("a".into(), 5, true),
                ("b".into(), 2, true),
                ("c".into(), 9, false)
            ]
        );
    }

    #[test]
    fn memtable_iterator_crosses_chunks() {
        let mem = Arc::new(Memtable::new(1));
        for i in 0..200u32 {
            mem.insert(format!("k{i:03}").as_bytes(), i as u64 + 1, Some(b"v"));
        }
        let mut it = MemIter::new(mem, b"k010", Some(b"k150"));
        let mut n = 0;
        while let Some(e) = it.next_entry().unwrap() {
            assert_eq!(e.key, format!("k{:03}", 10 + n).into_bytes());
            n += 1;
        }
        assert_eq!(n, 140);
    }

    #[test]
    fn memtable_iterator_is_exact_at_every_chunk_boundary() {
        let mem = Arc::new(Memtable::new(1));
        for i in 0..200u32 {
            mem.insert(format!("k{i:03}").as_bytes(), i as u64 + 1, Some(b"v"));
        }
        // Growing chunks end after 4, 12, 28, 60, 124, 188 entries: every count around
        // them, bounded by `end` and by the memtable's own end.
        for n in 0..=200u32 {
            let end = format!("k{n:03}");
            let mut it = MemIter::new(mem.clone(), b"k000", (n < 200).then_some(end.as_bytes()));
            let mut got = 0;
            while let Some(e) = it.next_entry().unwrap() {
                assert_eq!(e.key, format!("k{got:03}").into_bytes());
                got += 1;
            }
            assert_eq!(got, n);
        }
    }
}
