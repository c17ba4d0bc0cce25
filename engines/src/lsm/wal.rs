//! The write-ahead log: every write is framed by `engines::log` and appended here before it
//! enters the memtable. A WAL is a log file with the synced-length header of `engines::log`
//! (records from `log::LOG_START`); a WAL that was rotated out ends with an END record.
//!
//! ```text
//! payload: kind u8 (1 put, 0 delete, 2 end) | seq u64 | key_len u16 | key | value
//! ```
//!
//! A WAL is created whole before it is used: header written and fsynced under a temporary
//! name, renamed into place, directory fsynced (by the caller). So every `NNNNNN.wal` in the
//! directory has a durable header, and its recorded synced length never names a byte that
//! an fsync did not cover.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};

use super::coding::Cursor;
use crate::io::{File, Io};
use crate::log::{self, Scanner, SyncedMark, Tail, LOG_START};
use crate::{Error, Result};

const KIND_DELETE: u8 = 0;
const KIND_PUT: u8 = 1;
const KIND_END: u8 = 2;
/// Capacity above which the encode buffer is given back after a large write.
const KEEP_BUFFER: usize = 1 << 20;
/// Bytes one update of the synced-length header writes (one slot; see `engines::log`).
pub const MARK_BYTES: u64 = 16;

pub fn wal_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.wal"))
}

/// The temporary name a WAL is prepared under.
pub fn wal_tmp_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.wal.tmp"))
}

/// One WAL file as every thread sees it: the appender publishes how far whole records
/// reach, and whoever fsyncs records the synced length in the header.
pub struct WalFile {
    pub file: File,
    pub number: u64,
    mark: SyncedMark,
    /// End of the last whole record written.
    written: AtomicU64,
    /// Orders this file's fsync-and-mark steps (a mark must follow its own fsync). Holds
    /// true once an fsync failed: the file is never fsynced or marked again, since a retried
    /// fsync can report success for data the kernel has already dropped.
    sync_lock: Mutex<bool>,
}

impl WalFile {
    /// The end of the last whole record written.
    pub fn written(&self) -> u64 {
        self.written.load(Acquire)
    }

    /// Fsyncs the file and then records in its header the length written before the fsync
    /// began. Returns the bytes the header update wrote (0 when it had nothing to add). A
    /// file whose every written byte is already marked synced is not fsynced again.
    pub fn sync(&self) -> Result<u64> {
        let mut failed = self.sync_lock.lock().unwrap_or_else(|p| p.into_inner());
        if *failed {
            return Err(Error::Poisoned(format!(
                "an earlier fsync of {} failed",
                self.file.path().display()
            )));
        }
        let len = self.written();
        let before = self.mark.synced_len();
        if len <= before {
            return Ok(0);
        }
        if let Err(e) = self.file.sync() {
            *failed = true;
            return Err(e);
        }
        self.mark.record(&self.file, len)?;
        Ok(if self.mark.synced_len() > before {
            MARK_BYTES
        } else {
            0
        })
    }
}

/// Appends records to one WAL file; used under the engine's write lock.
pub struct WalWriter {
    pub shared: Arc<WalFile>,
    offset: u64,
    buf: Vec<u8>,
}

impl WalWriter {
    /// Prepares WAL `number`: the header is written and fsynced under a temporary name, then
    /// the file is renamed into place. The caller fsyncs the directory before the WAL takes a
    /// record. Returns the writer and the bytes written.
    pub fn create(io: &Io, dir: &Path, number: u64) -> Result<(Self, u64)> {
        let tmp = wal_tmp_path(dir, number);
        if tmp.exists() {
            io.remove(&tmp)?;
        }
        let file = io.create(&tmp)?;
        let mark = log::create_log(&file)?;
        file.sync()?;
        drop(file);
        let path = wal_path(dir, number);
        io.rename(&tmp, &path)?;
        let file = io.open(&path)?;
        Ok((Self::resume(file, number, mark, LOG_START), LOG_START))
    }

    /// Appends to an existing WAL whose valid records end at `offset`.
    pub fn resume(file: File, number: u64, mark: SyncedMark, offset: u64) -> Self {
        WalWriter {
            shared: Arc::new(WalFile {
                file,
                number,
                mark,
                written: AtomicU64::new(offset),
                sync_lock: Mutex::new(false),
            }),
            offset,
            buf: Vec::new(),
        }
    }

    pub fn number(&self) -> u64 {
        self.shared.number
    }

    /// True when the WAL holds a record.
    pub fn has_records(&self) -> bool {
        self.offset > LOG_START
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
        let r = self.shared.file.write_all_at(&self.buf, self.offset);
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
        // A failed write may have written part of the record; `offset` stays before it, and
        // the engine takes no further write (the caller poisons it).
        r?;
        self.offset += n;
        self.shared.written.store(self.offset, Release);
        Ok(n)
    }

    /// Appends one write; returns the bytes written.
    pub fn append(&mut self, seq: u64, key: &[u8], value: Option<&[u8]>) -> Result<u64> {
        match value {
            Some(v) => self.write(KIND_PUT, seq, key, v),
            None => self.write(KIND_DELETE, seq, key, &[]),
        }
    }

    /// Seals the WAL with an END record (not fsynced here); returns the bytes written.
    pub fn seal(&mut self, last_seq: u64) -> Result<u64> {
        self.write(KIND_END, last_seq, &[], &[])
    }
}

/// What replaying one WAL found.
pub struct Replayed {
    pub tail: Tail,
    pub sealed: bool,
    pub max_seq: u64,
}

/// Replays WAL `path` (scanned with its synced length: damage inside synced data is
/// corruption, damage beyond it a torn tail), calling `apply(seq, key, value)` per write.
/// Whether an unsealed WAL may end the log is the caller's rule.
pub fn replay(
    io: &Io,
    path: &Path,
    mut apply: impl FnMut(u64, &[u8], Option<&[u8]>),
) -> Result<(File, Replayed)> {
    let file = io.open(path)?;
    let mut scan = Scanner::log(&file)?;
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

    type Records = Vec<(u64, Vec<u8>)>;

    fn records(io: &Io, path: &Path) -> Result<(Records, Replayed)> {
        let mut got = Vec::new();
        let (_, r) = replay(io, path, |s, k, _| got.push((s, k.to_vec())))?;
        Ok((got, r))
    }

    #[test]
    fn round_trip_seal_and_the_synced_length() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let (mut w, header) = WalWriter::create(&io, dir.path(), 7).unwrap();
        assert_eq!(header, LOG_START);
        assert!(!wal_tmp_path(dir.path(), 7).exists());
        assert!(!w.has_records());
        w.append(1, b"a", Some(b"one")).unwrap();
        w.append(2, b"b", None).unwrap();
        let path = wal_path(dir.path(), 7);
        let (got, r) = records(&io, &path).unwrap();
        assert_eq!(got, vec![(1, b"a".to_vec()), (2, b"b".to_vec())]);
        assert!(!r.sealed && r.max_seq == 2 && !r.tail.torn);
        assert_eq!(w.shared.sync().unwrap(), MARK_BYTES);
        assert_eq!(w.shared.sync().unwrap(), 0, "nothing new to sync");
        assert_eq!(log::read_synced_len(&w.shared.file).unwrap(), w.offset);
        w.seal(2).unwrap();
        let (_, r) = records(&io, &path).unwrap();
        assert!(r.sealed && r.max_seq == 2);

        // The END record is beyond the synced length: a cut there is a torn tail; a cut
        // inside the synced records is corruption.
        let synced = log::read_synced_len(&w.shared.file).unwrap();
        w.shared.file.set_len(w.offset - 3).unwrap();
        let (got, r) = records(&io, &path).unwrap();
        assert!(r.tail.torn && !r.sealed && got.len() == 2);
        w.shared.file.set_len(synced - 3).unwrap();
        assert!(matches!(records(&io, &path), Err(Error::Corruption { .. })));
    }
}
