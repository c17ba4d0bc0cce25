//! Data blocks: a builder that packs sorted entries and a reader that checks and searches them.
//!
//! ```text
//! +---------+---------+-----+-----------+-----------+-----+-------+-------+
//! | entry 0 | entry 1 | ... | offset 0  | offset 1  | ... | count | crc   |
//! +---------+---------+-----+-----------+-----------+-----+-------+-------+
//!                              u32 each                  u32     u32 = crc32c(all before)
//! entry: key_len u16 | kind u8 (1 put, 0 delete) | seq u64 | value_len u32 | key | value
//! ```
//! Keys are strictly ascending user keys; a table holds one version per key, so the entry's
//! sequence number tells which table's version is newest. A block holds at least one entry,
//! so a 16 MiB value makes one large block.

use super::coding::Cursor;

/// The checksum after each block.
pub const TRAILER: usize = 4;

pub const KIND_DELETE: u8 = 0;
pub const KIND_PUT: u8 = 1;

/// Packs entries into one block.
#[derive(Default)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    offsets: Vec<u32>,
}

impl BlockBuilder {
    pub fn add(&mut self, key: &[u8], seq: u64, value: Option<&[u8]>) {
        self.offsets.push(self.buf.len() as u32);
        self.buf
            .extend_from_slice(&(key.len() as u16).to_le_bytes());
        self.buf.push(if value.is_some() {
            KIND_PUT
        } else {
            KIND_DELETE
        });
        self.buf.extend_from_slice(&seq.to_le_bytes());
        let v = value.unwrap_or(&[]);
        self.buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(key);
        self.buf.extend_from_slice(v);
    }

    /// Bytes the block would take if finished now.
    pub fn size(&self) -> usize {
        self.buf.len() + 4 * self.offsets.len() + 4 + TRAILER
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Appends the finished block (with its checksum) to `out` and resets the builder.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.buf);
        for o in &self.offsets {
            out.extend_from_slice(&o.to_le_bytes());
        }
        out.extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        let crc = crc32c::crc32c(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
        self.buf.clear();
        self.offsets.clear();
    }
}

/// One entry of a block, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    pub key: &'a [u8],
    pub seq: u64,
    /// `None`: a tombstone.
    pub value: Option<&'a [u8]>,
}

/// A checked block. Every entry was validated when the block was decoded.
#[derive(Debug)]
pub struct Block {
    data: Vec<u8>,
    offsets_at: usize,
    count: usize,
}

impl Block {
    /// Checks the checksum and structure of `raw` (block bytes with the trailer). `Err` holds
    /// the reason, for the caller to wrap with the file and offset.
    pub fn decode(mut raw: Vec<u8>) -> Result<Block, &'static str> {
        if raw.len() < 4 + TRAILER {
            return Err("block shorter than its trailer");
        }
        let body = raw.len() - TRAILER;
        let want = u32::from_le_bytes(raw[body..].try_into().unwrap());
        if crc32c::crc32c(&raw[..body]) != want {
            return Err("block checksum mismatch");
        }
        raw.truncate(body);
        let count = u32::from_le_bytes(raw[body - 4..].try_into().unwrap()) as usize;
        let offsets_at = (body - 4)
            .checked_sub(count.checked_mul(4).ok_or("block entry count overflows")?)
            .ok_or("block entry count exceeds the block")?;
        if count == 0 {
            return Err("empty block");
        }
        let block = Block {
            data: raw,
            offsets_at,
            count,
        };
        let mut prev: Option<&[u8]> = None;
        for i in 0..count {
            let e = block.entry(i).ok_or("block entry out of bounds")?;
            if prev.is_some_and(|p| p >= e.key) {
                return Err("block keys out of order");
            }
            prev = Some(e.key);
        }
        Ok(block)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Bytes held, for the block cache.
    pub fn size(&self) -> usize {
        self.data.len()
    }

    /// Entry `i`, or `None` when it is out of range (never for a decoded block and `i < len`).
    pub fn entry(&self, i: usize) -> Option<EntryRef<'_>> {
        if i >= self.count {
            return None;
        }
        let at = 4 * i + self.offsets_at;
        let off = u32::from_le_bytes(self.data.get(at..at + 4)?.try_into().ok()?) as usize;
        let mut c = Cursor::new(self.data.get(off..self.offsets_at)?);
        let klen = c.u16()? as usize;
        let kind = c.u8()?;
        let seq = c.u64()?;
        let vlen = c.u32()? as usize;
        let key = c.bytes(klen)?;
        let value = c.bytes(vlen)?;
        let value = match kind {
            KIND_PUT => Some(value),
            KIND_DELETE if vlen == 0 => None,
            _ => return None,
        };
        Some(EntryRef { key, seq, value })
    }

    /// Index of the first entry whose key is `>= key` (`len()` when none is).
    pub fn seek(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.entry(mid) {
                Some(e) if e.key < key => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut b = BlockBuilder::default();
        b.add(b"apple", 3, Some(b"red"));
        b.add(b"banana", 9, None);
        b.add(b"cherry", 1, Some(b""));
        let mut out = Vec::new();
        b.finish_into(&mut out);
        assert!(b.is_empty());
        out
    }

    #[test]
    fn round_trip_and_seek() {
        let raw = sample();
        let blk = Block::decode(raw).unwrap();
        assert_eq!(blk.len(), 3);
        let e = blk.entry(1).unwrap();
        assert_eq!((e.key, e.seq, e.value), (&b"banana"[..], 9, None));
        assert_eq!(blk.entry(2).unwrap().value, Some(&b""[..]));
        assert_eq!(blk.seek(b"a"), 0);
        assert_eq!(blk.seek(b"banana"), 1);
        assert_eq!(blk.seek(b"bz"), 2);
        assert_eq!(blk.seek(b"z"), 3);
    }

    #[test]
    fn every_flip_and_cut_is_refused() {
        let raw = sample();
        for at in 0..raw.len() {
            let mut bad = raw.clone();
            bad[at] ^= 0x10;
            assert!(Block::decode(bad).is_err(), "flip at {at}");
            assert!(Block::decode(raw[..at].to_vec()).is_err(), "cut at {at}");
        }
    }
}
