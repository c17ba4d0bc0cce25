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
//! **The synced watermark.** A log file starts with a header of two 512-byte slots; each slot
//! holds the length of the file that an fsync has covered (the *synced length*):
//!
//! ```text
//!  0                         512                       1024
//!  +-------+-----------+-----+-------+-----------+-----+------------- records ...
//!  | magic | synced_len| crc | magic | synced_len| crc |
//!  +-------+-----------+-----+-------+-----------+-----+
//!    u32     u64         u32   (slot 1, same layout)     crc = crc32c(magic ++ synced_len)
//! ```
//!
//! The writer updates a slot (alternately) only *after* an fsync has returned, with a length
//! whose every byte was written before that fsync began, so a slot never names bytes that
//! were not on stable storage. The slot write itself is not synced; it becomes durable with
//! the next fsync. A power cut may therefore leave the newer slot torn or reverted: the
//! reader takes the larger of the valid slots, which is always a length that was synced. A
//! fresh log has both slots at [`LOG_START`] (nothing synced yet), and a log whose slots are
//! both invalid has never completed an fsync, so nothing in it was ever acknowledged.
//!
//! **Recovery rule.** Scanning stops at the first record that is not whole and valid. With a
//! synced length (every log, through [`Scanner::log`]), the rule is exact: a stop at or
//! beyond the synced length is a *torn tail*, whatever the damage looks like (after a power
//! cut the unsynced part of a file may come back with zeroed blocks followed by blocks that
//! did reach the disk, or with one torn sector), and is cut off with [`truncate_tail`] before
//! anything is appended. A stop before it, or a file shorter than it, is damage to synced
//! data: `Error::Corruption` with the offset. A file written whole and fsynced before it is
//! used (an SSTable's index, a hint file) is scanned with its own length as the synced
//! length, so every damage is corruption.
//!
//! Files scanned with [`Scanner::new`] (no synced length) fall back to a heuristic: the stop
//! is a torn tail when fewer than 12 bytes remain or every remaining byte is zero, when the
//! header is valid but the payload runs past the end of the file, or when the payload ends
//! exactly at the end of the file and fails its checksum; anything else is corruption.

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
    /// Length covered by an fsync, when known (see the module comment).
    synced_len: Option<u64>,
}

const READ_AHEAD: usize = 1 << 20;

impl<'f> Scanner<'f> {
    /// Scans `file` from `start` with the heuristic torn-tail rule (no synced length known).
    pub fn new(file: &'f File, start: u64) -> Result<Self> {
        Ok(Scanner {
            file,
            file_len: file.len()?,
            pos: start,
            buf: Vec::new(),
            buf_start: start,
            tail: None,
            synced_len: None,
        })
    }

    /// Scans `file` from `start`, knowing that its first `synced_len` bytes were on stable
    /// storage: damage before that offset is corruption, damage at or after it a torn tail.
    /// A file shorter than `synced_len` is corruption at once.
    pub fn with_synced_len(file: &'f File, start: u64, synced_len: u64) -> Result<Self> {
        let mut s = Scanner::new(file, start)?;
        if s.file_len < synced_len {
            return Err(Error::corruption(
                file.path(),
                s.file_len,
                format!("log is shorter than its synced length {synced_len}"),
            ));
        }
        s.synced_len = Some(synced_len);
        Ok(s)
    }

    /// Scans a log file with a watermark header (see [`create_log`]) from [`LOG_START`].
    pub fn log(file: &'f File) -> Result<Self> {
        let synced = read_synced_len(file)?;
        Scanner::with_synced_len(file, LOG_START, synced)
    }

    /// Scans a file written whole and fsynced before use: every damage is corruption.
    pub fn whole(file: &'f File, start: u64) -> Result<Self> {
        let len = file.len()?;
        Scanner::with_synced_len(file, start, len)
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
            return self.damaged(at, true, "record shorter than its header");
        }
        let header = self.fill(at, HEADER_LEN)?;
        let Some((len, pcrc)) = parse_header(header) else {
            let zeros = self.zero_from(at)?;
            return self.damaged(at, zeros, "record header checksum mismatch");
        };
        let end = at + (HEADER_LEN + len) as u64;
        if end > self.file_len {
            return self.damaged(at, true, "record runs past the end of the file");
        }
        let file_len = self.file_len;
        let ok = crc32c::crc32c(self.fill(at + HEADER_LEN as u64, len)?) == pcrc;
        if !ok {
            return self.damaged(at, end == file_len, "record checksum mismatch");
        }
        self.pos = end;
        let from = (at + HEADER_LEN as u64 - self.buf_start) as usize;
        Ok(Some((at, &self.buf[from..from + len])))
    }

    /// The scan stopped at damage at `at`: a torn tail or corruption, by the synced length
    /// when it is known and by `looks_torn` (the heuristic) when it is not.
    fn damaged(&mut self, at: u64, looks_torn: bool, detail: &str) -> Result<Option<(u64, &[u8])>> {
        let torn = match self.synced_len {
            Some(synced) => at >= synced,
            None => looks_torn,
        };
        if torn {
            return self.stop(true);
        }
        Err(Error::corruption(self.file.path(), at, detail))
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

/// Bytes of the watermark header at the head of a log file; the first record starts here.
pub const LOG_START: u64 = 1024;
const SLOT_LEN: u64 = 512;
const SLOT_MAGIC: u32 = 0x6b76_6c67; // "kvlg"

fn slot_bytes(synced_len: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&SLOT_MAGIC.to_le_bytes());
    b[4..12].copy_from_slice(&synced_len.to_le_bytes());
    let crc = crc32c::crc32c(&b[0..12]);
    b[12..16].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Writes a fresh watermark header (both slots: nothing synced beyond the header) to a new,
/// empty log file, and returns its mark. Records are appended from [`LOG_START`]. The header
/// becomes durable with the file's first fsync; the caller fsyncs the directory to make the
/// file itself durable.
pub fn create_log(file: &File) -> Result<SyncedMark> {
    let mut h = vec![0u8; LOG_START as usize];
    let slot = slot_bytes(LOG_START);
    h[..16].copy_from_slice(&slot);
    h[SLOT_LEN as usize..SLOT_LEN as usize + 16].copy_from_slice(&slot);
    file.write_all_at(&h, 0)?;
    Ok(SyncedMark::with(LOG_START, 0))
}

/// The valid slots' synced lengths (`None` for an invalid slot).
fn read_slots(file: &File) -> Result<[Option<u64>; 2]> {
    let mut h = [0u8; LOG_START as usize];
    let n = file.read_at(&mut h, 0)?;
    Ok([0usize, SLOT_LEN as usize].map(|at| {
        let b = h.get(at..at + 16).filter(|_| n >= at + 16)?;
        let synced = u64::from_le_bytes(b[4..12].try_into().unwrap());
        (b[..] == slot_bytes(synced)[..]).then_some(synced)
    }))
}

/// The synced length a log's header records: the larger of its valid slots, or
/// [`LOG_START`] when neither is valid (the file never completed an fsync).
pub fn read_synced_len(file: &File) -> Result<u64> {
    let slots = read_slots(file)?;
    Ok(slots.into_iter().flatten().fold(LOG_START, u64::max))
}

/// Records in a log's header, after an fsync, how much of the file that fsync covered. Keeps
/// which slot to write next; one per open log file.
#[derive(Debug)]
pub struct SyncedMark {
    /// (largest length recorded, next slot).
    state: std::sync::Mutex<(u64, u8)>,
}

impl SyncedMark {
    fn with(synced_len: u64, next_slot: u8) -> Self {
        SyncedMark {
            state: std::sync::Mutex::new((synced_len, next_slot)),
        }
    }

    /// The mark of an existing log (after recovery): its synced length, and the slot that
    /// does not hold it is written next, so a torn write keeps the current value readable.
    pub fn read(file: &File) -> Result<Self> {
        let slots = read_slots(file)?;
        let [a, b] = slots.map(|s| s.unwrap_or(0));
        let next = u8::from(a >= b && slots[0].is_some());
        Ok(SyncedMark::with(a.max(b).max(LOG_START), next))
    }

    /// The largest length recorded so far.
    pub fn synced_len(&self) -> u64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    /// Records that an fsync of `file`, begun after its first `synced_len` bytes were written,
    /// has returned. Call it only then; a length not larger than the last one is skipped.
    pub fn record(&self, file: &File, synced_len: u64) -> Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if synced_len <= st.0 {
            return Ok(());
        }
        let slot = u64::from(st.1) * SLOT_LEN;
        file.write_all_at(&slot_bytes(synced_len), slot)?;
        *st = (synced_len, st.1 ^ 1);
        Ok(())
    }
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

    /// A log with a watermark header and `n` records of 300 bytes; the first `synced`
    /// records are recorded as synced.
    fn watermarked(n: usize, synced: usize) -> (tempfile::TempDir, File, Vec<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let f = Io::new().create(&dir.path().join("log")).unwrap();
        let mark = create_log(&f).unwrap();
        let mut ends = vec![LOG_START];
        let mut buf = Vec::new();
        for i in 0..n {
            encode(&[i as u8; 300], &mut buf);
            ends.push(LOG_START + buf.len() as u64);
        }
        f.write_all_at(&buf, LOG_START).unwrap();
        mark.record(&f, ends[synced]).unwrap();
        (dir, f, ends)
    }

    fn scan_log(f: &File) -> Result<(usize, Tail)> {
        let mut s = Scanner::log(f)?;
        let mut n = 0;
        while s.next_record()?.is_some() {
            n += 1;
        }
        Ok((n, s.tail().unwrap()))
    }

    #[test]
    fn damage_beyond_the_synced_length_is_a_torn_tail_however_it_looks() {
        // 40 records (about 12.5 KiB), 10 synced; a 4 KiB block of the unsynced part reads
        // as zeros with later blocks intact, then one sector is garbage instead.
        let (_d, f, ends) = watermarked(40, 10);
        let hole = ends[12].next_multiple_of(4096);
        f.write_all_at(&[0u8; 4096], hole).unwrap();
        let (n, tail) = scan_log(&f).unwrap();
        assert!(tail.torn && (10..40).contains(&n), "{n} records, {tail:?}");
        assert!(tail.valid_len >= ends[10]);
        let (_d, f, ends) = watermarked(40, 10);
        f.write_all_at(&[0x5a; 512], ends[20] + 100).unwrap();
        let (n, tail) = scan_log(&f).unwrap();
        assert_eq!(n, 20);
        assert!(tail.torn);
        truncate_tail(&f, tail).unwrap();
        assert_eq!(f.len().unwrap(), ends[20]);
    }

    #[test]
    fn damage_inside_synced_data_is_corruption() {
        let (_d, f, ends) = watermarked(40, 30);
        f.write_all_at(&[0u8; 64], ends[5] + 20).unwrap();
        match scan_log(&f) {
            Err(Error::Corruption { offset, .. }) => assert_eq!(offset, ends[5]),
            other => panic!("{other:?}"),
        }
        let (_d, f, ends) = watermarked(40, 30);
        f.set_len(ends[29]).unwrap();
        assert!(matches!(scan_log(&f), Err(Error::Corruption { .. })));
    }

    #[test]
    fn the_larger_valid_slot_wins_and_a_torn_slot_falls_back() {
        // ends[3] is in slot 0; a reopened mark writes the other slot next.
        let (_d, f, ends) = watermarked(10, 3);
        let mark = SyncedMark::read(&f).unwrap();
        assert_eq!(mark.synced_len(), ends[3]);
        mark.record(&f, ends[7]).unwrap();
        assert_eq!(read_synced_len(&f).unwrap(), ends[7]);
        mark.record(&f, ends[5]).unwrap(); // not larger: skipped
        assert_eq!(read_synced_len(&f).unwrap(), ends[7]);
        // Tear the slot holding ends[7] (slot 1): the other slot (ends[3]) rules.
        f.write_all_at(&[0xff; 8], SLOT_LEN + 4).unwrap();
        assert_eq!(read_synced_len(&f).unwrap(), ends[3]);
        // Both slots gone: nothing was ever synced.
        f.write_all_at(&[0u8; LOG_START as usize], 0).unwrap();
        assert_eq!(read_synced_len(&f).unwrap(), LOG_START);
        let (n, tail) = scan_log(&f).unwrap();
        assert_eq!((n, tail.torn), (10, false));
    }

    #[test]
    fn whole_files_treat_every_damage_as_corruption() {
        let (_d, f, buf) = log_with(&[b"one", b"two", b"three"]);
        let last = (buf.len() - frame_len(5)) as u64;
        f.write_all_at(b"!", last + HEADER_LEN as u64 + 1).unwrap();
        let mut s = Scanner::whole(&f, 0).unwrap();
        let err = loop {
            match s.next_record() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("a damaged last record passed as a torn tail"),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, Error::Corruption { offset, .. } if offset == last));
    }
}
