//! The manifest: the set of live tables per level. `MANIFEST` is a log file (the synced-length
//! header of `engines::log`, records from `LOG_START`) of *snapshots*. Each manifest switch
//! appends one whole snapshot with one write, fsyncs the file and then records the synced
//! length; the last whole snapshot is the current version. When the file holds many
//! snapshots' worth of bytes, the switch instead writes a fresh file with the one snapshot
//! (`MANIFEST.tmp`, fsync, rename over `MANIFEST`, directory fsync).
//!
//! ```text
//! snapshot:  header record, then one record per table (engines::log frames)
//! header:    tag 1 | format u32 | next_file u64 | last_seq u64 | wal_min u64 | tables u32
//! table:     tag 2 | level u8 | id u64 | size u64 | smallest (u16 len + bytes)
//!                  | largest (u16 len + bytes)
//! ```
//! Level-0 tables are listed newest first.
//!
//! **Recovery.** The last whole snapshot wins. A snapshot cut short at or beyond the synced
//! length (a torn record, or the file ending between its records) is an append the crash
//! interrupted: it is cut off, after the tables were checked, before anything is appended.
//! Damage inside synced data, a snapshot cut short inside it, or a file without one whole
//! snapshot is corruption.

use std::path::Path;

use super::coding::{put_short_bytes, Cursor};
use super::sstable::TableMeta;
use super::wal::MARK_BYTES;
use crate::io::{File, Io};
use crate::log::{self, Scanner, SyncedMark, Tail, LOG_START};
use crate::{Error, Result};

pub const NAME: &str = "MANIFEST";
pub const FORMAT: u32 = 2;
const TAG_HEADER: u8 = 1;
const TAG_TABLE: u8 = 2;
/// The file is rewritten whole instead of appended to once it would exceed this many bytes
/// of snapshots and `REWRITE_FACTOR` times the new snapshot.
const REWRITE_MIN: u64 = 64 << 10;
const REWRITE_FACTOR: u64 = 8;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Every file number below it has been handed out.
    pub next_file: u64,
    /// No sequence number above it was used by a table when the snapshot was written (WAL
    /// replay may raise it further).
    pub last_seq: u64,
    /// WALs numbered below it are fully flushed to tables.
    pub wal_min: u64,
    /// `(level, table)`, level 0 newest first, other levels in key order.
    pub tables: Vec<(usize, TableMeta)>,
}

impl Manifest {
    /// The snapshot as log frames.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        log::encode_with(&mut out, |p| {
            p.push(TAG_HEADER);
            p.extend_from_slice(&FORMAT.to_le_bytes());
            p.extend_from_slice(&self.next_file.to_le_bytes());
            p.extend_from_slice(&self.last_seq.to_le_bytes());
            p.extend_from_slice(&self.wal_min.to_le_bytes());
            p.extend_from_slice(&(self.tables.len() as u32).to_le_bytes());
        });
        for (level, t) in &self.tables {
            log::encode_with(&mut out, |p| {
                p.push(TAG_TABLE);
                p.push(*level as u8);
                p.extend_from_slice(&t.id.to_le_bytes());
                p.extend_from_slice(&t.size.to_le_bytes());
                put_short_bytes(p, &t.smallest);
                put_short_bytes(p, &t.largest);
            });
        }
        out
    }
}

/// The open manifest log of a running engine; used under the engine's manifest lock.
pub struct ManifestLog {
    file: File,
    mark: SyncedMark,
    /// End of the last whole snapshot.
    len: u64,
    /// A write or fsync failed: the file may hold a partial snapshot, so nothing more is
    /// appended by this instance.
    failed: bool,
}

impl ManifestLog {
    /// Writes a fresh `MANIFEST` holding `m` alone and makes it durable (temporary file,
    /// fsync, rename, directory fsync). Returns the log and the bytes written.
    pub fn create(io: &Io, dir: &Path, m: &Manifest) -> Result<(Self, u64)> {
        let tmp = dir.join(format!("{NAME}.tmp"));
        if tmp.exists() {
            io.remove(&tmp)?;
        }
        let file = io.create(&tmp)?;
        let mark = log::create_log(&file)?;
        let bytes = m.encode();
        file.write_all_at(&bytes, LOG_START)?;
        file.sync()?;
        let len = LOG_START + bytes.len() as u64;
        mark.record(&file, len)?;
        drop(file);
        let path = dir.join(NAME);
        io.rename(&tmp, &path)?;
        io.sync_dir(dir)?;
        let log = ManifestLog {
            file: io.open(&path)?,
            mark,
            len,
            failed: false,
        };
        Ok((log, len + MARK_BYTES))
    }

    /// Makes `m` the current version: appends it and fsyncs, or rewrites the file whole
    /// when it has grown large. Returns the bytes written.
    pub fn switch(&mut self, io: &Io, dir: &Path, m: &Manifest) -> Result<u64> {
        if self.failed {
            return Err(Error::Poisoned(
                "an earlier manifest write failed; reopen the store".into(),
            ));
        }
        let bytes = m.encode();
        let n = bytes.len() as u64;
        let grown = self.len + n - LOG_START;
        if grown > REWRITE_MIN && grown > REWRITE_FACTOR * n {
            let (fresh, written) = ManifestLog::create(io, dir, m).inspect_err(|_| {
                // A rename may or may not have happened: this log is no longer known.
                self.failed = true;
            })?;
            *self = fresh;
            return Ok(written);
        }
        let before = self.mark.synced_len();
        let end = self.len + n;
        let r = self
            .file
            .write_all_at(&bytes, self.len)
            .and_then(|()| self.file.sync())
            .and_then(|()| self.mark.record(&self.file, end));
        if let Err(e) = r {
            self.failed = true;
            return Err(e);
        }
        self.len = end;
        let marked = if self.mark.synced_len() > before {
            MARK_BYTES
        } else {
            0
        };
        Ok(n + marked)
    }
}

/// What [`read`] found: the current version, and where the last whole snapshot ends.
pub struct Recovered {
    pub manifest: Manifest,
    file: File,
    end: Tail,
}

impl Recovered {
    /// Cuts off whatever follows the last whole snapshot, fsyncs the file (its contents may
    /// have come back from a crashed instance's page cache) and opens it for switches.
    /// Returns the log and the bytes written.
    pub fn resume(self) -> Result<(ManifestLog, u64)> {
        log::truncate_tail(&self.file, self.end)?;
        self.file.sync()?;
        let mark = SyncedMark::read(&self.file)?;
        let before = mark.synced_len();
        mark.record(&self.file, self.end.valid_len)?;
        let n = if mark.synced_len() > before {
            MARK_BYTES
        } else {
            0
        };
        let log = ManifestLog {
            file: self.file,
            mark,
            len: self.end.valid_len,
            failed: false,
        };
        Ok((log, n))
    }
}

/// A snapshot being read: the version so far, its table count, where it started.
struct Partial {
    m: Manifest,
    count: usize,
    start: u64,
}

/// Reads `dir/MANIFEST`; `None` when there is none. Nothing is written.
pub fn read(io: &Io, dir: &Path, max_levels: usize) -> Result<Option<Recovered>> {
    let path = dir.join(NAME);
    let file = match io.open(&path) {
        Ok(f) => f,
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let synced = log::read_synced_len(&file)?;
    let mut scan = Scanner::log(&file)?;
    let mut last: Option<(Manifest, u64)> = None;
    let mut partial: Option<Partial> = None;
    while let Some((at, payload)) = scan.next_record()? {
        let bad = || Error::corruption(&path, at, "malformed manifest record");
        let mut c = Cursor::new(payload);
        match (c.u8(), partial.as_mut()) {
            (Some(TAG_HEADER), None) => {
                if c.u32().ok_or_else(bad)? != FORMAT {
                    return Err(Error::corruption(&path, at, "unknown manifest format"));
                }
                let m = Manifest {
                    next_file: c.u64().ok_or_else(bad)?,
                    last_seq: c.u64().ok_or_else(bad)?,
                    wal_min: c.u64().ok_or_else(bad)?,
                    tables: Vec::new(),
                };
                let count = c.u32().ok_or_else(bad)? as usize;
                partial = Some(Partial {
                    m,
                    count,
                    start: at,
                });
            }
            (Some(TAG_TABLE), Some(p)) => {
                let level = c.u8().ok_or_else(bad)? as usize;
                let id = c.u64().ok_or_else(bad)?;
                let size = c.u64().ok_or_else(bad)?;
                let smallest = c.short_bytes().ok_or_else(bad)?.to_vec();
                let largest = c.short_bytes().ok_or_else(bad)?.to_vec();
                if level >= max_levels.max(1) || smallest > largest || id >= p.m.next_file {
                    return Err(bad());
                }
                let meta = TableMeta {
                    id,
                    size,
                    smallest,
                    largest,
                    ..TableMeta::default()
                };
                p.m.tables.push((level, meta));
            }
            _ => return Err(bad()),
        }
        if c.remaining() != 0 {
            return Err(bad());
        }
        if partial
            .as_ref()
            .is_some_and(|p| p.m.tables.len() == p.count)
        {
            let p = partial.take().expect("checked");
            let end = at + log::frame_len(payload.len()) as u64;
            last = Some((p.m, end));
        }
    }
    let tail = scan.tail().expect("scan ended");
    drop(scan);
    if let Some(p) = &partial {
        if p.start < synced {
            return Err(Error::corruption(
                &path,
                p.start,
                "a manifest snapshot inside the synced length is cut short",
            ));
        }
    }
    let Some((manifest, end)) = last else {
        return Err(Error::corruption(
            &path,
            tail.valid_len,
            "the manifest holds no whole snapshot",
        ));
    };
    let mut ids: Vec<u64> = manifest.tables.iter().map(|(_, t)| t.id).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::corruption(
            &path,
            end,
            "manifest lists a table twice",
        ));
    }
    let end = Tail {
        valid_len: end,
        torn: end != tail.valid_len || tail.torn,
    };
    Ok(Some(Recovered {
        manifest,
        file,
        end,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: u64) -> Manifest {
        let t = |id, a: &[u8], b: &[u8]| TableMeta {
            id,
            size: 100 + id,
            smallest: a.to_vec(),
            largest: b.to_vec(),
            ..TableMeta::default()
        };
        Manifest {
            next_file: 10 + n,
            last_seq: 99 + n,
            wal_min: 4,
            tables: vec![
                (0, t(8, b"a", b"z")),
                (1, t(5, b"b", b"c")),
                (1, t(6, b"d", b"e")),
            ],
        }
    }

    fn current(io: &Io, dir: &Path) -> Result<Option<Manifest>> {
        Ok(read(io, dir, 7)?.map(|r| r.manifest))
    }

    #[test]
    fn switches_append_snapshots_and_the_last_whole_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        assert_eq!(current(&io, dir.path()).unwrap(), None);
        let (mut log, _) = ManifestLog::create(&io, dir.path(), &sample(0)).unwrap();
        assert_eq!(current(&io, dir.path()).unwrap(), Some(sample(0)));
        let mut renames = 0;
        for n in 1..1000 {
            let before = log.len;
            log.switch(&io, dir.path(), &sample(n)).unwrap();
            renames += u32::from(log.len < before);
        }
        assert!(renames > 0, "the log was never rewritten whole");
        let len = std::fs::metadata(dir.path().join(NAME)).unwrap().len();
        assert!(len <= LOG_START + REWRITE_MIN + 1000, "{len}");
        assert_eq!(current(&io, dir.path()).unwrap(), Some(sample(999)));
        assert!(!dir.path().join("MANIFEST.tmp").exists());
    }

    /// A MANIFEST holding snapshots 0 and 1, both synced.
    fn two_snapshots() -> (tempfile::TempDir, Io, ManifestLog) {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let (mut log, _) = ManifestLog::create(&io, dir.path(), &sample(0)).unwrap();
        log.switch(&io, dir.path(), &sample(1)).unwrap();
        (dir, io, log)
    }

    #[test]
    fn an_unsynced_snapshot_cut_short_is_dropped() {
        // An append the crash cut short: part of a third snapshot beyond the synced length,
        // the cut between records or inside one.
        let third = sample(2).encode();
        for cut in [12 + 29, third.len() - 5, 40] {
            let (dir, io, log) = two_snapshots();
            let synced = log.len;
            log.file.write_all_at(&third[..cut], synced).unwrap();
            let r = read(&io, dir.path(), 7).unwrap().unwrap();
            assert_eq!(r.manifest, sample(1), "cut at {cut}");
            let (mut log, _) = r.resume().unwrap();
            let path = dir.path().join(NAME);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), synced);
            log.switch(&io, dir.path(), &sample(3)).unwrap();
            assert_eq!(current(&io, dir.path()).unwrap(), Some(sample(3)));
        }
    }

    #[test]
    fn damage_inside_synced_snapshots_is_corruption() {
        let (dir, io, _log) = two_snapshots();
        let path = dir.path().join(NAME);
        let bytes = std::fs::read(&path).unwrap();
        // A flip in the header slots falls back to the other slot and changes nothing.
        for at in (0..bytes.len()).step_by(7) {
            let mut bad = bytes.clone();
            bad[at] ^= 0x08;
            std::fs::write(&path, &bad).unwrap();
            match current(&io, dir.path()) {
                Err(Error::Corruption { .. }) => assert!(at >= LOG_START as usize, "{at}"),
                Ok(m) => {
                    assert!(at < LOG_START as usize, "flip at {at} went unnoticed");
                    assert_eq!(m, Some(sample(1)));
                }
                Err(e) => panic!("{e}"),
            }
            std::fs::write(&path, &bytes[..at]).unwrap();
            assert!(
                matches!(current(&io, dir.path()), Err(Error::Corruption { .. })),
                "cut at {at}"
            );
        }
    }
}
