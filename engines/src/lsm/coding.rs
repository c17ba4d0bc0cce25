//! Bounds-checked little-endian decoding: every read returns `None` instead of slicing past
//! the end, so bytes from disk can never cause a panic or an out-of-bounds read.

pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    pub fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes(2)?.try_into().ok()?))
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }

    /// A u16 length followed by that many bytes.
    pub fn short_bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()? as usize;
        self.bytes(n)
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

/// Appends a u16 length and the bytes (keys are at most 1024 bytes).
pub fn put_short_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_le_bytes());
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let mut c = Cursor::new(&[1, 0, 5, 0, 0, 0]);
        assert_eq!(c.u16(), Some(1));
        assert_eq!(c.u32(), Some(5));
        assert_eq!(c.u8(), None);
        let mut c = Cursor::new(&[0xFF, 0xFF, 1]);
        assert_eq!(c.short_bytes(), None, "a length past the end");
        assert_eq!(Cursor::new(&[1]).bytes(usize::MAX), None);
    }
}
