//! The write-ahead log: one logical record per write, in a sequence of log files
//! `btree.wal.<generation>` (each an `engines::log` file: the synced-length watermark header,
//! then records). The byte layout is drawn in `mod.rs`.
//!
//! Writers gather records in memory (`Log::append_*`) and hand them to the active file in one
//! write (`Log::write_out`): in `none` and `group` modes when `commit_bytes` have gathered,
//! at every fsync in `sync` mode. A checkpoint *switches* the log: the records up to its
//! snapshot stay in the old file, the next ones go to a new file that the checkpoint created
//! (and made durable) beforehand, so nothing is created, cut or fsynced under the writers'
//! lock. Files older than the last checkpoint's are removed once it is durable.

use std::path::Path;
use std::sync::Arc;

use super::WAL_FILE;
use crate::io::{File, Io};
use crate::log::{self, SyncedMark, LOG_START};
use crate::Result;

pub const KIND_PUT: u8 = 1;
pub const KIND_DELETE: u8 = 2;

/// A write as the log holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    Put { key: &'a [u8], value: &'a [u8] },
    Delete { key: &'a [u8] },
}

/// Name of log file `generation`.
pub fn file_name(generation: u64) -> String {
    format!("{WAL_FILE}.{generation}")
}

/// Appends the record of write `lsn` to `out`.
pub fn encode(out: &mut Vec<u8>, lsn: u64, record: Record<'_>) {
    log::encode_with(out, |b| match record {
        Record::Put { key, value } => {
            b.push(KIND_PUT);
            b.extend_from_slice(&lsn.to_le_bytes());
            b.extend_from_slice(&(key.len() as u16).to_le_bytes());
            b.extend_from_slice(key);
            b.extend_from_slice(value);
        }
        Record::Delete { key } => {
            b.push(KIND_DELETE);
            b.extend_from_slice(&lsn.to_le_bytes());
            b.extend_from_slice(key);
        }
    });
}

/// The LSN and write of a record's payload; `None` when it is malformed.
pub fn decode(payload: &[u8]) -> Option<(u64, Record<'_>)> {
    let (&kind, rest) = payload.split_first()?;
    let lsn = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
    let rest = &rest[8..];
    let record = match kind {
        KIND_PUT => {
            let klen = u16::from_le_bytes(rest.get(..2)?.try_into().ok()?) as usize;
            let key = rest.get(2..2 + klen)?;
            Record::Put {
                key,
                value: &rest[2 + klen..],
            }
        }
        KIND_DELETE => Record::Delete { key: rest },
        _ => return None,
    };
    Some((lsn, record))
}

/// One log file and its watermark.
pub struct LogFile {
    pub file: File,
    pub generation: u64,
    pub mark: SyncedMark,
}

impl LogFile {
    /// Opens an existing log file.
    pub fn open(io: &Io, dir: &Path, generation: u64) -> Result<LogFile> {
        let file = io.open(&dir.join(file_name(generation)))?;
        let mark = SyncedMark::read(&file)?;
        Ok(LogFile {
            file,
            generation,
            mark,
        })
    }

    /// Makes the first `len` bytes durable (unless an earlier fsync did) and records so.
    pub fn sync_to(&self, len: u64) -> Result<()> {
        if self.mark.synced_len() >= len {
            return Ok(());
        }
        self.file.sync()?;
        self.mark.record(&self.file, len)
    }

    /// Makes the first `len` bytes durable for good: once more fsynced after the watermark is
    /// recorded, so that the watermark itself survives (for a file that takes no more writes).
    pub fn seal(&self, len: u64) -> Result<()> {
        if self.mark.synced_len() < len {
            self.sync_to(len)?;
            self.file.sync()?;
        }
        Ok(())
    }
}

/// Creates log file `generation` whole: its header is written and fsynced under a temporary
/// name, renamed into place and the directory fsynced, so the file either does not exist or
/// has a header.
pub fn create(io: &Io, dir: &Path, generation: u64) -> Result<LogFile> {
    let name = file_name(generation);
    let tmp = dir.join(format!("{name}.tmp"));
    if tmp.exists() {
        io.remove(&tmp)?;
    }
    let f = io.create(&tmp)?;
    log::create_log(&f)?;
    f.sync()?;
    drop(f);
    io.rename(&tmp, &dir.join(&name))?;
    io.sync_dir(dir)?;
    LogFile::open(io, dir, generation)
}

/// The generations of the log files in `dir`, ascending.
pub fn generations(dir: &Path) -> Result<Vec<u64>> {
    let prefix = format!("{WAL_FILE}.");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        let name = name.to_string_lossy();
        if let Some(g) = name.strip_prefix(&prefix).and_then(|g| g.parse().ok()) {
            out.push(g);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The log the writers append to.
pub struct Log {
    pub active: Arc<LogFile>,
    /// The file the last switch retired and its length, until a checkpoint or a flush has
    /// made all of it durable: a flush fsyncs it before the active file, so that records in
    /// a newer file are never durable while older ones are not.
    pub retired: Option<(Arc<LogFile>, u64)>,
    buf: Vec<u8>,
    /// Gathered records beyond which `write_out` is due (`commit_bytes`).
    commit_bytes: usize,
    /// End of the records written to the active file.
    pub end: u64,
    pub bytes_written: u64,
    pub records: u64,
    pub write_outs: u64,
}

impl Log {
    pub fn new(active: LogFile, end: u64, commit_bytes: u64) -> Log {
        Log {
            active: Arc::new(active),
            retired: None,
            buf: Vec::new(),
            commit_bytes: commit_bytes.min(usize::MAX as u64) as usize,
            end,
            bytes_written: 0,
            records: 0,
            write_outs: 0,
        }
    }

    /// Gathers the record of write `lsn`.
    pub fn append(&mut self, lsn: u64, record: Record<'_>) {
        encode(&mut self.buf, lsn, record);
        self.records += 1;
    }

    /// True when the gathered records should be written out before the next write.
    pub fn due(&self) -> bool {
        self.buf.len() >= self.commit_bytes
    }

    /// Bytes of gathered records.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes of records in the active file and gathered for it.
    pub fn active_bytes(&self) -> u64 {
        self.end - LOG_START + self.buf.len() as u64
    }

    /// Hands the gathered records to the active file in one write. On failure they stay
    /// gathered (the engine is poisoned and writes no more).
    pub fn write_out(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.active.file.write_all_at(&self.buf, self.end)?;
        self.end += self.buf.len() as u64;
        self.bytes_written += self.buf.len() as u64;
        self.write_outs += 1;
        self.buf.clear();
        if self.buf.capacity() > 4 * self.commit_bytes.max(1 << 16) {
            self.buf = Vec::new();
        }
        Ok(())
    }

    /// Makes `next` the active file; the gathered records go to the old one first. Returns
    /// the old file and its length.
    pub fn switch(&mut self, next: LogFile) -> Result<(Arc<LogFile>, u64)> {
        self.write_out()?;
        let old = std::mem::replace(&mut self.active, Arc::new(next));
        let len = std::mem::replace(&mut self.end, LOG_START);
        self.retired = Some((Arc::clone(&old), len));
        Ok((old, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_malformed_ones_are_refused() {
        let mut buf = Vec::new();
        let put = Record::Put {
            key: b"key",
            value: b"value",
        };
        encode(&mut buf, 7, put);
        encode(&mut buf, 8, Record::Delete { key: b"gone" });
        encode(
            &mut buf,
            9,
            Record::Put {
                key: b"k",
                value: b"",
            },
        );
        let payloads: Vec<&[u8]> = {
            let mut out = vec![];
            let mut at = 0;
            while at < buf.len() {
                let len = u32::from_le_bytes(buf[at + 4..at + 8].try_into().unwrap()) as usize;
                out.push(&buf[at + log::HEADER_LEN..at + log::HEADER_LEN + len]);
                at += log::HEADER_LEN + len;
            }
            out
        };
        assert_eq!(decode(payloads[0]), Some((7, put)));
        assert_eq!(
            decode(payloads[1]),
            Some((8, Record::Delete { key: b"gone" }))
        );
        assert_eq!(
            decode(payloads[2]),
            Some((
                9,
                Record::Put {
                    key: b"k",
                    value: b""
                }
            ))
        );
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[KIND_PUT, 1, 2]), None);
        assert_eq!(
            decode(&[KIND_PUT, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, b'x']),
            None
        );
        assert_eq!(decode(&[7, 0, 0, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn switch_retires_the_old_file_with_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let mut log = Log::new(create(&io, dir.path(), 1).unwrap(), LOG_START, 1 << 20);
        log.append(1, Record::Delete { key: b"a" });
        let next = create(&io, dir.path(), 2).unwrap();
        let (old, len) = log.switch(next).unwrap();
        assert_eq!((old.generation, log.active.generation), (1, 2));
        assert_eq!(old.file.len().unwrap(), len);
        assert!(len > LOG_START && log.end == LOG_START);
        assert_eq!(generations(dir.path()).unwrap(), [1, 2]);
        old.seal(len).unwrap();
        assert_eq!(log::read_synced_len(&old.file).unwrap(), len);
    }
}
