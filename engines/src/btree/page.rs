//! A 4 KiB page: the common header, its checksum, and read-side accessors of the slotted
//! layout (binary search straight on the page bytes, no decoding on the read path).
//!
//! Every accessor is bounds-checked and returns `Err(detail)` on a malformed page, so that
//! bytes from disk can never cause a panic; callers turn the detail into
//! `Error::Corruption` with the file and offset the page came from.

use std::cmp::Ordering;
use std::sync::Arc;

pub const PAGE_SIZE: usize = 4096;
/// Bytes of the common header.
pub const HEADER: usize = 20;
/// Bytes a page offers after its header.
pub const BODY: usize = PAGE_SIZE - HEADER;
/// Bytes of a slot of a leaf or internal page: the cell's offset (u16) and the head of its
/// key (the four bytes after the page prefix, big-endian u32).
pub const SLOT: usize = 6;

pub type PageId = u32;

/// Page types (header byte 4).
pub const META: u8 = 1;
pub const INTERNAL: u8 = 2;
pub const LEAF: u8 = 3;
pub const OVERFLOW: u8 = 4;
pub const FREE: u8 = 5;

/// Leaf cell flag: the value lives in an overflow chain.
pub const FLAG_OVERFLOW: u8 = 1;

/// A malformed page: the detail for `Error::Corruption`.
pub type PageResult<T> = std::result::Result<T, &'static str>;

/// One page image, its bytes inline (an `Arc<Page>` in the buffer pool is one allocation, one
/// pointer away from its bytes).
#[derive(Clone)]
pub struct Page {
    buf: [u8; PAGE_SIZE],
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Page(id {}, type {})", self.id(), self.kind())
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Where a leaf's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRef<'a> {
    Inline(&'a [u8]),
    Overflow { first: PageId, len: u32 },
}

impl Page {
    /// A zeroed page of `kind` with id `id`.
    pub fn new(kind: u8, id: PageId) -> Page {
        let mut p = Page {
            buf: [0u8; PAGE_SIZE],
        };
        p.buf[4] = kind;
        p.buf[8..12].copy_from_slice(&id.to_le_bytes());
        p
    }

    /// A zeroed page of `kind` with id `id`, in the shared allocation the buffer pool keeps.
    pub fn new_shared(kind: u8, id: PageId) -> Arc<Page> {
        let mut p = Page::zeroed_shared();
        let b = Page::unique(&mut p);
        b.buf[4] = kind;
        b.buf[8..12].copy_from_slice(&id.to_le_bytes());
        p
    }

    /// Makes this a zeroed page of `kind` with id `id`.
    pub fn reset(&mut self, kind: u8, id: PageId) {
        self.buf.fill(0);
        self.buf[4] = kind;
        self.buf[8..12].copy_from_slice(&id.to_le_bytes());
    }

    /// A copy of this page in a new shared allocation.
    pub fn to_shared(&self) -> Arc<Page> {
        let mut p = Page::zeroed_shared();
        Page::unique(&mut p).buf.copy_from_slice(&self.buf);
        p
    }

    fn zeroed_shared() -> Arc<Page> {
        Arc::new(Page::zeroed())
    }

    /// The page behind a handle just made, to fill in.
    pub fn unique(p: &mut Arc<Page>) -> &mut Page {
        Arc::get_mut(p).expect("a page just made is not shared yet")
    }

    /// A zeroed page to read into.
    pub fn zeroed() -> Page {
        Page {
            buf: [0u8; PAGE_SIZE],
        }
    }

    /// A page from exactly `PAGE_SIZE` bytes (as read from a file).
    pub fn from_bytes(bytes: &[u8]) -> PageResult<Page> {
        let buf: [u8; PAGE_SIZE] = bytes.try_into().map_err(|_| "page of the wrong size")?;
        Ok(Page { buf })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..]
    }
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..]
    }
    pub fn kind(&self) -> u8 {
        self.buf[4]
    }
    pub fn count(&self) -> usize {
        u16_at(&self.buf[..], 6) as usize
    }
    pub fn set_count(&mut self, n: usize) {
        self.buf[6..8].copy_from_slice(&(n as u16).to_le_bytes());
    }
    pub fn id(&self) -> PageId {
        u32_at(&self.buf[..], 8)
    }
    /// Leaf: right sibling; internal: leftmost child; overflow and free: next page (0 = none).
    pub fn next(&self) -> PageId {
        u32_at(&self.buf[..], 12)
    }
    pub fn set_next(&mut self, id: PageId) {
        self.buf[12..16].copy_from_slice(&id.to_le_bytes());
    }
    /// Overflow: bytes of value held by this page.
    pub fn aux(&self) -> usize {
        u16_at(&self.buf[..], 16) as usize
    }
    pub fn set_aux(&mut self, n: usize) {
        self.buf[16..18].copy_from_slice(&(n as u16).to_le_bytes());
    }

    /// Writes the checksum over bytes 4.. into bytes 0..4.
    pub fn seal(&mut self) {
        seal(&mut self.buf);
    }

    /// Checks the checksum, the page id and the type byte.
    pub fn verify(&self, id: PageId) -> PageResult<()> {
        if crc32c::crc32c(&self.buf[4..]) != u32_at(&self.buf[..], 0) {
            return Err("page checksum mismatch (torn or damaged page)");
        }
        if self.id() != id {
            return Err("page holds another page id");
        }
        if !(META..=FREE).contains(&self.kind()) {
            return Err("unknown page type");
        }
        Ok(())
    }

    /// Bytes every key of a leaf or internal page begins with (header bytes 18..20).
    pub fn prefix_len(&self) -> usize {
        u16_at(&self.buf[..], 18) as usize
    }
    pub fn set_prefix_len(&mut self, n: usize) {
        self.buf[18..20].copy_from_slice(&(n as u16).to_le_bytes());
    }

    /// Offset of cell `i` (slot array after the header).
    #[inline]
    fn cell_at(&self, i: usize) -> PageResult<usize> {
        let n = self.count();
        if i >= n || HEADER + SLOT * n > PAGE_SIZE {
            return Err("slot index out of range");
        }
        let off = u16_at(&self.buf[..], HEADER + SLOT * i) as usize;
        if off < HEADER + SLOT * n || off >= PAGE_SIZE {
            return Err("cell offset outside the cell area");
        }
        Ok(off)
    }

    /// The head of key `i` as its slot holds it (the caller checked `i < count`).
    #[inline]
    fn slot_head(&self, i: usize) -> u32 {
        let at = HEADER + SLOT * i + 2;
        u32::from_be_bytes([
            self.buf[at],
            self.buf[at + 1],
            self.buf[at + 2],
            self.buf[at + 3],
        ])
    }

    fn slice(&self, from: usize, len: usize) -> PageResult<&[u8]> {
        self.buf
            .get(from..from.checked_add(len).ok_or("cell length overflow")?)
            .ok_or("cell runs past the end of the page")
    }

    /// Key of cell `i` of a leaf or internal page.
    pub fn key(&self, i: usize) -> PageResult<&[u8]> {
        let off = self.cell_at(i)?;
        let klen = u16_at(self.slice(off, 2)?, 0) as usize;
        let skip = if self.kind() == LEAF { 7 } else { 6 };
        self.slice(off + skip, klen)
    }

    /// Value of leaf cell `i`.
    pub fn value(&self, i: usize) -> PageResult<ValueRef<'_>> {
        let off = self.cell_at(i)?;
        let h = self.slice(off, 7)?;
        let (klen, flags, vlen) = (u16_at(h, 0) as usize, h[2], u32_at(h, 3));
        let at = off + 7 + klen;
        if flags & FLAG_OVERFLOW != 0 {
            let first = u32_at(self.slice(at, 4)?, 0);
            Ok(ValueRef::Overflow { first, len: vlen })
        } else {
            Ok(ValueRef::Inline(self.slice(at, vlen as usize)?))
        }
    }

    /// Child `i` (0..=count) of an internal page.
    pub fn child(&self, i: usize) -> PageResult<PageId> {
        if i == 0 {
            return Ok(self.next());
        }
        let off = self.cell_at(i - 1)?;
        Ok(u32_at(self.slice(off, 6)?, 2))
    }

    /// Binary search of the keys: `Ok(i)` found at `i`, `Err(i)` would be inserted at `i`.
    /// It compares the heads in the slot array first and reads a cell only when the heads
    /// are equal, so a search touches few cache lines beyond the slots.
    pub fn search(&self, key: &[u8]) -> PageResult<std::result::Result<usize, usize>> {
        let n = self.count();
        if n == 0 {
            return Ok(Err(0));
        }
        if HEADER + SLOT * n > PAGE_SIZE {
            return Err("slot index out of range");
        }
        let plen = self.prefix_len();
        if plen > 0 {
            let prefix = self
                .key(0)?
                .get(..plen)
                .ok_or("key shorter than the page prefix")?;
            let k = &key[..plen.min(key.len())];
            match k.cmp(&prefix[..k.len()]) {
                Ordering::Less => return Ok(Err(0)),
                Ordering::Greater => return Ok(Err(n)),
                Ordering::Equal if key.len() < plen => return Ok(Err(0)),
                Ordering::Equal => {}
            }
        }
        let h = head(key, plen);
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let order = match self.slot_head(mid).cmp(&h) {
                Ordering::Equal => {
                    let k = self
                        .key(mid)?
                        .get(plen..)
                        .ok_or("key shorter than the page prefix")?;
                    k.cmp(&key[plen..])
                }
                other => other,
            };
            match order {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(Ok(mid)),
            }
        }
        Ok(Err(lo))
    }

    /// The child of an internal page whose range holds `key`.
    #[cfg(test)]
    pub fn child_for(&self, key: &[u8]) -> PageResult<PageId> {
        let i = match self.search(key)? {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        self.child(i)
    }

    /// The raw bytes of cell `i` of a leaf or internal page.
    pub fn cell(&self, i: usize) -> PageResult<&[u8]> {
        let off = self.cell_at(i)?;
        self.slice(off, cell_len_at(self, off)?)
    }

    /// Bytes in use by cells and slots (for the fill factor).
    #[cfg(test)]
    pub fn used(&self) -> usize {
        let n = self.count();
        let mut used = SLOT * n;
        for i in 0..n {
            if let Ok(off) = self.cell_at(i) {
                used += cell_len_at(self, off).unwrap_or(0);
            }
        }
        used
    }
}

/// The head of `key` past a prefix of `plen` bytes: its next four bytes as a big-endian
/// number, zero-padded, so that heads order as the keys do (equal heads: compare the keys).
#[inline]
pub fn head(key: &[u8], plen: usize) -> u32 {
    let mut b = [0u8; 4];
    let rest = key.get(plen..).unwrap_or(&[]);
    let n = rest.len().min(4);
    b[..n].copy_from_slice(&rest[..n]);
    u32::from_be_bytes(b)
}

/// Writes the checksum of a page image held in `bytes` (exactly one page) into its first four
/// bytes: pages in memory are sealed only when they are written out.
pub fn seal(bytes: &mut [u8]) {
    let crc = crc32c::crc32c(&bytes[4..]);
    bytes[0..4].copy_from_slice(&crc.to_le_bytes());
}

fn cell_len_at(p: &Page, off: usize) -> PageResult<usize> {
    let b = p.bytes();
    if p.kind() == LEAF {
        let h = b.get(off..off + 7).ok_or("cell past page")?;
        let (klen, flags, vlen) = (u16_at(h, 0) as usize, h[2], u32_at(h, 3) as usize);
        Ok(7 + klen + if flags & FLAG_OVERFLOW != 0 { 4 } else { vlen })
    } else {
        let h = b.get(off..off + 2).ok_or("cell past page")?;
        Ok(6 + u16_at(h, 0) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_catches_every_flip() {
        let mut p = Page::new(LEAF, 9);
        p.set_next(3);
        p.seal();
        assert!(p.verify(9).is_ok());
        assert!(p.verify(8).is_err());
        for at in [0, 4, 7, 100, PAGE_SIZE - 1] {
            let mut q = p.clone();
            q.bytes_mut()[at] ^= 1;
            assert!(q.verify(9).is_err(), "flip at {at}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut p = Page::new(LEAF, 1);
        p.set_count(2000);
        for b in p.bytes_mut()[HEADER..].iter_mut() {
            *b = 0xff;
        }
        assert!(p.key(0).is_err());
        assert!(p.search(b"x").is_err());
        let mut q = Page::new(INTERNAL, 1);
        q.set_count(3);
        q.bytes_mut()[HEADER..HEADER + 6].copy_from_slice(&[0xfe, 0x0f, 0, 0, 0, 0]);
        assert!(q.child(1).is_err() && q.key(0).is_err());
    }
}
