//! The keydir: an in-memory hash map from every live key to where its newest record sits.
//!
//! An entry points at the whole frame of the record (file id, frame offset, frame length) and
//! carries the record's sequence number, so a get is one hash lookup and one `pread` of the
//! frame, whose checksum is verified before the value is sliced out. The keydir also keeps
//! the live bytes of every data file, from which the dead bytes a merge can reclaim follow.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::size_of;

/// Where the newest record of a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    /// Offset of the record's frame in its data file.
    pub offset: u64,
    pub file: u32,
    /// Length of the whole frame; 0 marks a tombstone while the keydir is rebuilt at start-up.
    pub len: u32,
}

impl Entry {
    pub fn is_tombstone(&self) -> bool {
        self.len == 0
    }
}

/// FxHash (from rustc): one multiply per 8 bytes. Keys come from the store's own user, so
/// the hash-flooding resistance of SipHash buys nothing here and costs a lot per lookup.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub type FxBuild = BuildHasherDefault<FxHasher>;

/// The map and its byte accounting.
#[derive(Default)]
pub struct Keydir {
    map: HashMap<Box<[u8]>, Entry, FxBuild>,
    key_bytes: u64,
    /// Live frame bytes per data file.
    live: HashMap<u32, u64, FxBuild>,
}

impl Keydir {
    pub fn get(&self, key: &[u8]) -> Option<Entry> {
        self.map.get(key).copied()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    fn add_live(&mut self, e: &Entry) {
        if !e.is_tombstone() {
            *self.live.entry(e.file).or_insert(0) += e.len as u64;
        }
    }

    fn sub_live(&mut self, e: &Entry) {
        if !e.is_tombstone() {
            if let Some(n) = self.live.get_mut(&e.file) {
                *n = n.saturating_sub(e.len as u64);
            }
        }
    }

    /// Points `key` at `e`, returning the entry it replaces.
    pub fn insert(&mut self, key: &[u8], e: Entry) -> Option<Entry> {
        self.add_live(&e);
        let old = match self.map.get_mut(key) {
            Some(slot) => Some(std::mem::replace(slot, e)),
            None => {
                self.key_bytes += key.len() as u64;
                self.map.insert(key.into(), e);
                None
            }
        };
        if let Some(o) = &old {
            self.sub_live(o);
        }
        old
    }

    /// Start-up rule: `e` replaces the current entry only when its sequence number is higher.
    pub fn insert_if_newer(&mut self, key: &[u8], e: Entry) {
        match self.map.get(key) {
            Some(cur) if cur.seq >= e.seq => {}
            _ => {
                self.insert(key, e);
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (k, old) = self.map.remove_entry(key)?;
        self.key_bytes -= k.len() as u64;
        self.sub_live(&old);
        Some(old)
    }

    /// Drops the tombstones kept while the keydir was rebuilt.
    pub fn drop_tombstones(&mut self) {
        let mut freed = 0u64;
        self.map.retain(|k, e| {
            if e.is_tombstone() {
                freed += k.len() as u64;
            }
            !e.is_tombstone()
        });
        self.key_bytes -= freed;
        self.map.shrink_to_fit();
    }

    /// Merge rule: points `key` at `to` only if it still points at `from` (a write that
    /// landed during the merge keeps its newer location).
    pub fn repoint(&mut self, key: &[u8], from: Entry, to: Entry) -> bool {
        match self.map.get_mut(key) {
            Some(slot) if *slot == from => {
                *slot = to;
                self.sub_live(&from);
                self.add_live(&to);
                true
            }
            _ => false,
        }
    }

    /// Live frame bytes held in data file `file`.
    pub fn live_bytes_in(&self, file: u32) -> u64 {
        self.live.get(&file).copied().unwrap_or(0)
    }

    pub fn forget_file(&mut self, file: u32) {
        self.live.remove(&file);
    }

    pub fn live_bytes(&self) -> u64 {
        self.live.values().sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.map.iter().map(|(k, e)| (&**k, e))
    }

    /// Heap bytes held: the table (buckets of boxed key + entry, one control byte each, at
    /// the map's capacity) plus the key bytes themselves.
    pub fn memory_bytes(&self) -> u64 {
        let bucket = size_of::<(Box<[u8]>, Entry)>() + 1;
        // hashbrown keeps capacity at 7/8 of a power-of-two bucket count.
        let buckets = if self.map.capacity() == 0 {
            0
        } else {
            (self.map.capacity() * 8 / 7).next_power_of_two()
        };
        (buckets * bucket) as u64 + self.key_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(seq: u64, file: u32, len: u32) -> Entry {
        Entry {
            seq,
            offset: seq * 100,
            file,
            len,
        }
    }

    #[test]
    fn insert_remove_and_live_bytes() {
        let mut k = Keydir::default();
        assert_eq!(k.insert(b"a", e(1, 1, 50)), None);
        assert_eq!(k.insert(b"b", e(2, 1, 30)), None);
        assert_eq!(k.live_bytes_in(1), 80);
        assert_eq!(k.insert(b"a", e(3, 2, 40)), Some(e(1, 1, 50)));
        assert_eq!((k.live_bytes_in(1), k.live_bytes_in(2)), (30, 40));
        assert_eq!(k.remove(b"b"), Some(e(2, 1, 30)));
        assert_eq!(k.live_bytes_in(1), 0);
        assert_eq!(k.len(), 1);
        assert!(k.memory_bytes() > size_of::<Entry>() as u64);
    }

    #[test]
    fn newest_sequence_wins_whatever_the_order() {
        let mut k = Keydir::default();
        k.insert_if_newer(b"a", e(5, 2, 10));
        k.insert_if_newer(b"a", e(3, 1, 10));
        assert_eq!(k.get(b"a"), Some(e(5, 2, 10)));
        k.insert_if_newer(b"a", e(7, 1, 0));
        k.insert_if_newer(b"a", e(6, 3, 10));
        k.insert_if_newer(b"b", e(1, 1, 10));
        k.drop_tombstones();
        assert_eq!(k.get(b"a"), None, "the tombstone with seq 7 wins");
        assert_eq!(k.get(b"b"), Some(e(1, 1, 10)));
        assert_eq!(k.live_bytes(), 10);
    }

    #[test]
    fn repoint_only_from_the_expected_location() {
        let mut k = Keydir::default();
        k.insert(b"a", e(1, 1, 10));
        assert!(k.repoint(b"a", e(1, 1, 10), e(1, 9, 10)));
        assert_eq!((k.live_bytes_in(1), k.live_bytes_in(9)), (0, 10));
        k.insert(b"a", e(2, 3, 10));
        assert!(
            !k.repoint(b"a", e(1, 9, 10), e(1, 10, 10)),
            "a newer write wins"
        );
        assert_eq!(k.get(b"a"), Some(e(2, 3, 10)));
    }
}
