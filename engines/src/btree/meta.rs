//! The meta page (page 0): what defines the tree, and which log records a recovery replays
//! on top of it. The engine keeps the current one in memory; every checkpoint writes the
//! image of its snapshot.

use super::page::{Page, PageId, PageResult, HEADER, META};

pub const MAGIC: &[u8; 8] = b"KVBTREE\0";
pub const VERSION: u32 = 3;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    pub root: PageId,
    /// Pages the data file has (ids `0..page_count`), on disk or still only in the WAL.
    pub page_count: u32,
    /// First free-list trunk page (0 = the free list is empty).
    pub free_head: PageId,
    pub free_pages: u32,
    pub height: u32,
    pub leaf_pages: u32,
    pub internal_pages: u32,
    pub overflow_pages: u32,
    pub live_keys: u64,
    /// Bytes of cells and slots in all leaves (for the fill factor).
    pub leaf_bytes: u64,
    /// Number of the checkpoint that wrote this image (0: none yet).
    pub checkpoint: u64,
    /// Sequence number (LSN) of the last write the tree holds.
    pub lsn: u64,
    /// Generation of the first log file to replay: it starts right after `lsn`.
    pub log_gen: u64,
}

fn get<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b[at..at + N]
        .try_into()
        .expect("fixed offsets inside a page")
}

/// The format version a sound meta page declares (`None` when it is not a meta page).
pub fn format_version(p: &Page) -> Option<u32> {
    let b = &p.bytes()[HEADER..];
    (p.kind() == META && &b[0..8] == MAGIC).then(|| u32::from_le_bytes(get(b, 8)))
}

impl Meta {
    /// The tree of a new store: an empty leaf as the root (page 1).
    pub fn empty() -> Meta {
        Meta {
            root: 1,
            page_count: 2,
            height: 1,
            leaf_pages: 1,
            log_gen: 1,
            ..Meta::default()
        }
    }

    pub fn encode(&self) -> Page {
        let mut p = Page::new(META, 0);
        let b = &mut p.bytes_mut()[HEADER..];
        b[0..8].copy_from_slice(MAGIC);
        let words = [
            VERSION,
            self.root,
            self.page_count,
            self.free_head,
            self.free_pages,
            self.height,
            self.leaf_pages,
            self.internal_pages,
            self.overflow_pages,
        ];
        for (i, w) in words.iter().enumerate() {
            b[8 + 4 * i..12 + 4 * i].copy_from_slice(&w.to_le_bytes());
        }
        let longs = [
            self.live_keys,
            self.leaf_bytes,
            self.checkpoint,
            self.lsn,
            self.log_gen,
        ];
        for (i, w) in longs.iter().enumerate() {
            b[44 + 8 * i..52 + 8 * i].copy_from_slice(&w.to_le_bytes());
        }
        p.seal();
        p
    }

    /// Decodes a verified page 0 and checks that its fields hang together.
    pub fn decode(p: &Page) -> PageResult<Meta> {
        if p.kind() != META {
            return Err("page 0 is not a meta page");
        }
        let b = &p.bytes()[HEADER..];
        if &b[0..8] != MAGIC {
            return Err("meta page without the btree magic");
        }
        let w = |i: usize| u32::from_le_bytes(get(b, 8 + 4 * i));
        let d = |i: usize| u64::from_le_bytes(get(b, 44 + 8 * i));
        if w(0) != VERSION {
            return Err("meta page of an unknown format version");
        }
        let m = Meta {
            root: w(1),
            page_count: w(2),
            free_head: w(3),
            free_pages: w(4),
            height: w(5),
            leaf_pages: w(6),
            internal_pages: w(7),
            overflow_pages: w(8),
            live_keys: d(0),
            leaf_bytes: d(1),
            checkpoint: d(2),
            lsn: d(3),
            log_gen: d(4),
        };
        let ok = m.page_count >= 2
            && (1..m.page_count).contains(&m.root)
            && m.free_head < m.page_count
            && (1..=64).contains(&m.height)
            && m.free_pages < m.page_count
            && m.log_gen >= 1;
        if !ok {
            return Err("meta page fields out of range");
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checks() {
        let mut m = Meta::empty();
        m.checkpoint = 7;
        m.log_gen = 3;
        m.lsn = 99;
        m.live_keys = 3;
        let p = m.encode();
        p.verify(0).unwrap();
        assert_eq!(Meta::decode(&p).unwrap(), m);
        m.root = 5;
        assert!(Meta::decode(&m.encode()).is_err(), "root past page count");
    }
}
