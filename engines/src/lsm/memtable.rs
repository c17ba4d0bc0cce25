//! The memtable: the newest version of each recently written key, sorted, in memory. A
//! B-tree map under a read-write lock (writers are already serialised by the WAL append).
//! It keeps one version per key: without snapshots no reader needs an older one, and the
//! sequence number of the kept version is what a flush writes to the table.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{RwLock, RwLockReadGuard};

use super::iterator::Entry;
use crate::gate::Gate;

/// Bytes charged per entry beyond key and value (map node, two `Vec` headers, seq).
const ENTRY_OVERHEAD: u64 = 48;

struct Slot {
    seq: u64,
    value: Option<Vec<u8>>,
}

pub struct Memtable {
    map: RwLock<BTreeMap<Vec<u8>, Slot>>,
    /// Bytes written into it (every write counts, like LevelDB's arena), the flush trigger.
    bytes: AtomicU64,
    /// Number of the WAL file that holds its last writes; every WAL up to it is covered by
    /// this memtable or older ones.
    pub wal: u64,
    /// Writes appended to its WAL and not yet inserted (each enters under the write lock and
    /// leaves once it is inserted or has failed); shut when the memtable becomes immutable,
    /// so a flush waits until the last of them is in.
    pub writers: Gate,
}

impl Memtable {
    pub fn new(wal: u64) -> Self {
        Memtable {
            map: RwLock::new(BTreeMap::new()),
            bytes: AtomicU64::new(0),
            wal,
            writers: Gate::default(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<Vec<u8>, Slot>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Records version `seq` of `key`; an older `seq` than the one held is ignored (replay).
    pub fn insert(&self, key: &[u8], seq: u64, value: Option<&[u8]>) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        self.bytes.fetch_add(
            key.len() as u64 + value.map_or(0, |v| v.len() as u64) + ENTRY_OVERHEAD,
            Relaxed,
        );
        match map.get_mut(key) {
            Some(slot) if slot.seq > seq => {}
            Some(slot) => {
                slot.seq = seq;
                match (&mut slot.value, value) {
                    (Some(old), Some(new)) => {
                        old.clear();
                        old.extend_from_slice(new);
                    }
                    (v, new) => *v = new.map(<[u8]>::to_vec),
                }
            }
            None => {
                map.insert(
                    key.to_vec(),
                    Slot {
                        seq,
                        value: value.map(<[u8]>::to_vec),
                    },
                );
            }
        }
    }

    /// `(seq, value or tombstone)` of `key`, if the memtable holds it.
    pub fn get(&self, key: &[u8]) -> Option<(u64, Option<Vec<u8>>)> {
        self.read().get(key).map(|s| (s.seq, s.value.clone()))
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Appends up to `max` entries with `from < key` (or `<=` when `inclusive`) and
    /// `key < end` to `out`, in order.
    pub fn range_chunk(
        &self,
        from: &[u8],
        inclusive: bool,
        end: Option<&[u8]>,
        max: usize,
        out: &mut Vec<Entry>,
    ) {
        let lo = if inclusive {
            Bound::Included(from)
        } else {
            Bound::Excluded(from)
        };
        let hi = end.map_or(Bound::Unbounded, Bound::Excluded);
        if matches!((lo, hi), (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b)) if a >= b)
        {
            return;
        }
        let map = self.read();
        for (k, s) in map.range::<[u8], _>((lo, hi)).take(max) {
            out.push(Entry {
                key: k.clone(),
                seq: s.seq,
                value: s.value.clone(),
            });
        }
    }

    /// Calls `f` on every entry in key order (for a flush; the memtable is immutable by then).
    pub fn for_each(
        &self,
        mut f: impl FnMut(&[u8], u64, Option<&[u8]>) -> crate::Result<()>,
    ) -> crate::Result<()> {
        for (k, s) in self.read().iter() {
            f(k, s.seq, s.value.as_deref())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_sequence_wins_and_ranges() {
        let m = Memtable::new(1);
        m.insert(b"b", 5, Some(b"five"));
        m.insert(b"b", 3, Some(b"three"));
        assert_eq!(m.get(b"b"), Some((5, Some(b"five".to_vec()))));
        m.insert(b"b", 6, None);
        assert_eq!(m.get(b"b"), Some((6, None)));
        m.insert(b"a", 7, Some(b""));
        m.insert(b"c", 8, Some(b"c"));
        let mut out = Vec::new();
        m.range_chunk(b"a", false, Some(b"c"), 10, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key, b"b");
        out.clear();
        m.range_chunk(b"c", true, Some(b"a"), 10, &mut out);
        assert!(out.is_empty(), "an empty range is not a panic");
        assert!(m.bytes() > 0);
    }
}
