//! Checksummed record framing shared by every log the engines keep (bitcask data files, the
//! lsm write-ahead log and manifest, the btree page log). Written once, used everywhere.
//!
//! ```text
//!  0        4        8        12                 12+len
//!  +--------+--------+--------+------------------+
//!  | hcrc   | len    | pcrc   | payload ...      |   all integers little-endian u32
//!  +--------+--------+--------+------------------+
//!  hcrc = crc32c(len ++ pcrc)   pcrc = crc32c(payload)
//! ```
//!
//! The header has its own checksum so that a damaged length is caught before it is trusted:
//! a corrupt `len` can never send the reader past good records or make it allocate a huge
//! buffer.
//!
//! **Recovery rule.** Scanning stops at the first record that is not whole and valid. That
//! record is a *torn tail* (the trace of a crash mid-append, to be cut off with
//! [`truncate_tail`] before anything is appended) when
//! * fewer than 12 bytes remain, or every remaining byte is zero (a file extended but never
//!   written), or
//! * the header is valid but the payload runs past the end of the file, or
//! * the header is valid, the payload ends exactly at the end of the file and fails its
//!   checksum (the last write reached the disk only in part).
//!
//! Anything else (a bad header with data behind it, a bad payload with records behind it)
//! is damage a crash cannot cause and is reported as `Error::Corruption` with the offset.

use crate::io::File;
use crate::{Error, Result};

/// Bytes of framing before each payload.
pub const HEADER_LEN: usize = 12;
/// Largest payload a frame may carry (a 16 MiB value, its key and room for engine fields).
pub const MAX_PAYLOAD: usize = 64 << 20;

/// Appends one frame holding `payload` to `out`.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    out.extend_from_slice(payload);
    seal(out, start);
}

/// Appends one frame to `out` whose payload `build` writes in place (no intermediate copy).
pub fn encode_with(out: &mut Vec<u8>, build: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    build(out);
    seal(out, start);
}

/// Fills in the header of the frame starting at `start`, whose payload runs to the end of `buf`.
fn seal(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start - HEADER_LEN) as u32;
    let pcrc = crc32c::crc32c(&buf[start + HEADER_LEN..]);
    buf[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
    buf[start + 8..start + 12].copy_from_slice(&pcrc.to_le_bytes());
    let hcrc = crc32c::crc32c(&buf[start + 4..start + 12]);
    buf[start..start + 4].copy_from_slice(&hcrc.to_le_bytes());
}

/// Total bytes a frame with a payload of `payload_len` bytes takes.
pub fn frame_len(payload_len: usize) -> usize {
    HEADER_LEN + payload_len
}

/// Checks one whole frame held in `buf` (as read back by a positioned read) and returns its
/// payload. `file` and `offset` name where it came from, for the error.
pub fn decode<'a>(buf: &'a [u8], file: &File, offset: u64) -> Result<&'a [u8]> {
    let corrupt = |detail: &str| Error::corruption(file.path(), offset, detail);
    if buf.len() < HEADER_LEN {
        return Err(corrupt("record shorter than its header"));
    }
    let (len, pcrc) =
        parse_header(buf).ok_or_else(|| corrupt("record header checksum mismatch"))?;
    if buf.len() != HEADER_LEN + len {
        return Err(corrupt("record length does not match its header"));
    }
    let payload = &buf[HEADER_LEN..];
    if crc32c::crc32c(payload) != pcrc {
        return Err(corrupt("record checksum mismatch"));
    }
    Ok(payload)
}

/// `(len, pcrc)` when the header checksum holds and the length is within bounds.
fn parse_header(h: &[u8]) -> Option<(usize, u32)> {
    let hcrc = u32::from_le_bytes(h[0..4].try_into().unwrap());
    if crc32c::crc32c(&h[4..12]) != hcrc {
        return None;
    }
    let len = u32::from_le_bytes(h[4..8].try_into().unwrap()) as usize;
    let pcrc = u32::from_le_bytes(h[8..12].try_into().unwrap());
    (len <= MAX_PAYLOAD).then_some((len, pcrc))
}

/// Where a scan of a log ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// Length of the valid prefix: every record before it is whole and checksummed.
    pub valid_len: u64,
    /// The file holds a torn record (or zero fill) after `valid_len`.
    pub torn: bool,
}

/// Reads the frames of a log file in order, with a bounded read-ahead buffer.
pub struct Scanner<'f> {
    file: &'f File,
    file_len: u64,
    /// Offset of the next frame.
    pos: u64,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_start: u64,
    tail: Option<Tail>,
}

const READ_AHEAD: usize = 1 << 20;

impl<'f> Scanner<'f> {
    /// Scans `file` from `start` (usually 0, or the length of a file header).
    pub fn new(file: &'f File, start: u64) -> Result<Self> {
        Ok(Scanner {
            file,
            file_len: file.len()?,
            pos: start,
            buf: Vec::new(),
            buf_start: start,
            tail: None,
        })
    }

    /// Makes `buf` hold `[at, at + n)`, reading from the file as needed. `n` must fit in the file.
    fn fill(&mut self, at: u64, n: usize) -> Result<&[u8]> {
        let have_from = at.wrapping_sub(self.buf_start) as usize;
        if at < self.buf_start || have_from + n > self.buf.len() {
            let want = n.max(READ_AHEAD).min((self.file_len - at) as usize);
            self.buf.resize(want, 0);
            let got = self.file.read_at(&mut self.buf, at)?;
            self.buf.truncate(got);
            self.buf_start = at;
            if got < n {
                return Err(Error::corruption(
                    self.file.path(),
                    at,
                    "file shrank while it was being read",
                ));
            }
        }
        let from = (at - self.buf_start) as usize;
        Ok(&self.buf[from..from + n])
    }

    /// True when every byte from `at` to the end of the file is zero.
    fn zero_from(&mut self, at: u64) -> Result<bool> {
        let mut pos = at;
        while pos < self.file_len {
            let n = ((self.file_len - pos) as usize).min(READ_AHEAD);
            if self.fill(pos, n)?.iter().any(|&b| b != 0) {
                return Ok(false);
            }
            pos += n as u64;
        }
        Ok(true)
    }

    fn stop(&mut self, torn: bool) -> Result<Option<(u64, &[u8])>> {
        self.tail = Some(Tail {
            valid_len: self.pos,
            torn,
        });
        Ok(None)
    }

    /// The next record as `(offset of its frame, payload)`, or `None` at the end of the valid
    /// prefix (see [`Scanner::tail`]). Damage that is not a torn tail is `Error::Corruption`.
    pub fn next_record(&mut self) -> Result<Option<(u64, &[u8])>> {
        if self.tail.is_some() {
            return Ok(None);
        }
        let at = self.pos;
        let remaining = self.file_len - at;
        if remaining == 0 {
            return self.stop(false);
        }
        if remaining < HEADER_LEN as u64 {
            return self.stop(true);
        }
        let header = self.fill(at, HEADER_LEN)?;
        let Some((len, pcrc)) = parse_header(header) else {
            if self.zero_from(at)? {
                return self.stop(true);
            }
            return Err(Error::corruption(
                self.file.path(),
                at,
                "record header checksum mismatch",
            ));
        };
        let end = at + (HEADER_LEN + len) as u64;
        if end > self.file_len {
            return self.stop(true);
        }
        let file_len = self.file_len;
        let ok = crc32c::crc32c(self.fill(at + HEADER_LEN as u64, len)?) == pcrc;
        if !ok {
            if end == file_len {
                return self.stop(true);
            }
            return Err(Error::corruption(
                self.file.path(),
                at,
                "record checksum mismatch",
            ));
        }
        self.pos = end;
        let from = (at + HEADER_LEN as u64 - self.buf_start) as usize;
        Ok(Some((at, &self.buf[from..from + len])))
    }

    /// Where the scan ended; `None` until `next_record` has returned `None`.
    pub fn tail(&self) -> Option<Tail> {
        self.tail
    }
}

/// Cuts a torn tail off `file` and makes the cut durable, so that appends land after the
/// last valid record. A no-op when the tail is clean.
pub fn truncate_tail(file: &File, tail: Tail) -> Result<()> {
    if tail.torn || file.len()? != tail.valid_len {
        file.set_len(tail.valid_len)?;
        file.sync()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Io;

    fn log_with(records: &[&[u8]]) -> (tempfile::TempDir, File, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let f = Io::new().create(&dir.path().join("log")).unwrap();
        let mut buf = Vec::new();
        for r in records {
            encode(r, &mut buf);
        }
        f.write_all_at(&buf, 0).unwrap();
        (dir, f, buf)
    }

    fn scan(f: &File) -> Result<(Vec<Vec<u8>>, Tail)> {
        let mut s = Scanner::new(f, 0)?;
        let mut out = Vec::new();
        while let Some((_, p)) = s.next_record()? {
            out.push(p.to_vec());
        }
        Ok((out, s.tail().unwrap()))
    }

    #[test]
    fn round_trip_and_clean_tail() {
        let big = vec![7u8; 3 << 20];
        let (_d, f, buf) = log_with(&[b"a", b"", &big, b"last"]);
        let (recs, tail) = scan(&f).unwrap();
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[2], big);
        assert_eq!(
            tail,
            Tail {
                valid_len: buf.len() as u64,
                torn: false
            }
        );
    }

    #[test]
    fn every_truncation_is_a_torn_tail_keeping_a_prefix() {
        let (_d, f, buf) = log_with(&[b"one", b"two", b"three"]);
        for cut in 0..buf.len() as u64 {
            f.set_len(cut).unwrap();
            let (recs, tail) = scan(&f).unwrap();
            assert!(tail.valid_len <= cut);
            let want: Vec<&[u8]> = [&b"one"[..], b"two", b"three"][..recs.len()].to_vec();
            assert_eq!(recs, want, "cut at {cut}");
            truncate_tail(&f, tail).unwrap();
            assert_eq!(f.len().unwrap(), tail.valid_len);
            f.write_all_at(&buf, 0).unwrap();
        }
    }

    #[test]
    fn flips_before_the_last_record_are_corruption() {
        let (_d, f, buf) = log_with(&[b"one", b"two", b"three"]);
        let last = (buf.len() - frame_len(5)) as u64;
        for at in 0..buf.len() {
            let mut bad = buf.clone();
            bad[at] ^= 0x41;
            f.write_all_at(&bad, 0).unwrap();
            match scan(&f) {
                Err(Error::Corruption { .. }) => assert!(
                    (at as u64) < last || at < last as usize + HEADER_LEN,
                    "payload flip of the last record at {at} is a torn tail"
                ),
                Ok((recs, tail)) => {
                    assert!(at as u64 >= last, "flip at {at} went unnoticed");
                    assert_eq!(recs.len(), 2);
                    assert!(tail.torn);
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn zero_fill_is_torn() {
        let (_d, f, buf) = log_with(&[b"one"]);
        f.set_len(buf.len() as u64 + 4096).unwrap();
        let (recs, tail) = scan(&f).unwrap();
        assert_eq!(recs.len(), 1);
        assert!(tail.torn);
    }
}
