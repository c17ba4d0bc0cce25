//! The write-ahead log: every write is framed by `engines::log` and appended here before it
//! enters the memtable. A WAL that was rotated out ends with an END record, so a WAL that
//! is not the newest yet lacks one was cut short: that is corruption, not a torn tail.
//!
//! ```text
//! payload: kind u8 (1 put, 0 delete, 2 end) | seq u64 | key_len u16 | key | value
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::coding::Cursor;
use crate::io::{File, Io};
use crate::log::{self, Scanner, Tail};
use crate::{Error, Result};

const KIND_DELETE: u8 = 0;
const KIND_PUT: u8 = 1;
const KIND_END: u8 = 2;
/// Capacity above which the encode buffer is given back after a large write.
const KEEP_BUFFER: usize = 1 << 20;

pub fn wal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.wal"))
}

/// Appends records to one WAL file.
pub struct WalWriter {
    pub file: Arc<File>,
    pub number: u64,
    offset: u64,
    buf: Vec<u8>,
}

impl WalWriter {
    /// Creates WAL `number` (the caller fsyncs the directory).
    pub fn create(io: &Io, dir: &Path, number: u64) -> Result<Self> {
        let file = io.create(&wal_path(dir, number))?;
        Ok(Self::resume(file, number, 0))
    }

    /// Appends to an existing WAL whose valid records end at `offset`.
    pub fn resume(file: File, number: u64, offset: u64) -> Self {
        WalWriter {
            file: Arc::new(file),
            number,
            offset,
            buf: Vec::new(),
        }
    }

    fn write(&mut self, kind: u8, seq: u64, key: &[u8], value: &[u8]) -> Result<u64> {
        self.buf.clear();
        log::encode_with(&mut self.buf, |out| {
            out.push(kind);
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(&(key.len() as u16).to_le_bytes());
            out.extend_from_slice(key);
            out.extend_from_slice(value);
        });
        let n = self.buf.len() as u64;
        let r = self.file.write_all_at(&self.buf, self.offset);
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
        r?;
        self.offset += n;
        Ok(n)
    }

    /// Appends one write; returns the bytes written.
    pub fn append(&mut self, seq: u64, key: &[u8], value: Option<&[u8]>) -> Result<u64> {
        match value {
            Some(v) => self.write(KIND_PUT, seq, key, v),
            None => self.write(KIND_DELETE, seq, key, &[]),
        }
    }

    /// Seals the WAL with an END record and fsyncs it; returns the bytes written.
    pub fn seal(&mut self, last_seq: u64) -> Result<u64> {
        let n = self.write(KIND_END, last_seq, &[], &[])?;
        self.file.sync()?;
        Ok(n)
    }
}

/// What replaying one WAL found.
pub struct Replayed {
    pub tail: Tail,
    pub sealed: bool,
    pub max_seq: u64,
}

/// Replays WAL `path`, calling `apply(seq, key, value)` per write. `newest`: it is the last
/// WAL, whose torn tail is the trace of a crash; in any other WAL a torn tail or a missing
/// END record is corruption.
pub fn replay(
    io: &Io,
    path: &Path,
    newest: bool,
    mut apply: impl FnMut(u64, &[u8], Option<&[u8]>),
) -> Result<(File, Replayed)> {
    let file = io.open(path)?;
    let mut scan = Scanner::new(&file, 0)?;
    let (mut sealed, mut max_seq) = (false, 0u64);
    while let Some((at, payload)) = scan.next_record()? {
        let bad = |d: &str| Error::corruption(path, at, d);
        if sealed {
            return Err(bad("WAL record after the END record"));
        }
        let mut c = Cursor::new(payload);
        let (kind, seq) = (c.u8(), c.u64());
        let key = c.short_bytes();
        let (Some(kind), Some(seq), Some(key)) = (kind, seq, key) else {
            return Err(bad("malformed WAL record"));
        };
        let value = c.bytes(c.remaining()).unwrap_or(&[]);
        match kind {
            KIND_PUT | KIND_DELETE if !key.is_empty() => {
                if kind == KIND_DELETE && !value.is_empty() {
                    return Err(bad("WAL delete record carries a value"));
                }
                apply(seq, key, (kind == KIND_PUT).then_some(value));
                max_seq = max_seq.max(seq);
            }
            KIND_END => sealed = true,
            _ => return Err(bad("unknown WAL record kind")),
        }
    }
    let tail = scan.tail().expect("scan ended");
    drop(scan);
    if !newest && (tail.torn || !sealed) {
        return Err(Error::corruption(
            path,
            tail.valid_len,
            "an older WAL ends without its END record (cut short)",
        ));
    }
    Ok((
        file,
        Replayed {
            tail,
            sealed,
            max_seq,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_seal_and_cut() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let mut w = WalWriter::create(&io, dir.path(), 7).unwrap();
        w.append(1, b"a", Some(b"one")).unwrap();
        w.append(2, b"b", None).unwrap();
        let path = wal_path(dir.path(), 7);
        let mut got = Vec::new();
        let (_, r) = replay(&io, &path, true, |s, k, v| {
            got.push((s, k.to_vec(), v.map(<[u8]>::to_vec)))
        })
        .unwrap();
        assert_eq!(
            got,
            vec![
                (1, b"a".to_vec(), Some(b"one".to_vec())),
                (2, b"b".to_vec(), None)
            ]
        );
        assert!(!r.sealed && r.max_seq == 2);
        assert!(
            replay(&io, &path, false, |_, _, _| {}).is_err(),
            "unsealed older WAL"
        );
        w.seal(2).unwrap();
        let (_, r) = replay(&io, &path, false, |_, _, _| {}).unwrap();
        assert!(r.sealed && r.max_seq == 2);
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let (_, r) = replay(&io, &path, true, |_, _, _| {}).unwrap();
        assert!(r.tail.torn && !r.sealed, "a cut newest WAL is a torn tail");
        assert!(replay(&io, &path, false, |_, _, _| {}).is_err());
    }
}
