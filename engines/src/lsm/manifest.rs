//! The manifest: the set of live tables per level, written as a log of checksummed records
//! (`engines::log` framing) and switched atomically with `Io::write_file_atomic` (write
//! `MANIFEST.tmp`, fsync, rename over `MANIFEST`, fsync the directory). A crash at any
//! moment leaves either the old or the new manifest, never a mix.
//!
//! ```text
//! record 0 (header): tag 1 | format u32 | next_file u64 | last_seq u64 | wal_min u64 | tables u32
//! record 1..=n:      tag 2 | level u8 | id u64 | size u64 | smallest (u16 len + bytes)
//!                          | largest (u16 len + bytes)
//! ```
//! Level-0 tables are listed newest first. The header's table count must match and nothing
//! may follow: the file is written whole, so a short or torn manifest is corruption.

use std::path::Path;

use super::coding::{put_short_bytes, Cursor};
use super::sstable::TableMeta;
use crate::io::Io;
use crate::log::{self, Scanner};
use crate::{Error, Result};

pub const NAME: &str = "MANIFEST";
pub const FORMAT: u32 = 1;
const TAG_HEADER: u8 = 1;
const TAG_TABLE: u8 = 2;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Every file number below it has been handed out.
    pub next_file: u64,
    /// No sequence number above it was used before the manifest was written... at least
    /// those in tables; WAL replay raises it further.
    pub last_seq: u64,
    /// WALs numbered below it are fully flushed to tables.
    pub wal_min: u64,
    /// `(level, table)`, level 0 newest first, other levels in key order.
    pub tables: Vec<(usize, TableMeta)>,
}

impl Manifest {
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

    /// Switches the manifest atomically; returns the bytes written.
    pub fn write(&self, io: &Io, dir: &Path) -> Result<u64> {
        let bytes = self.encode();
        io.write_file_atomic(dir, NAME, &bytes)?;
        Ok(bytes.len() as u64)
    }

    /// Reads `dir/MANIFEST`; `None` when there is none.
    pub fn read(io: &Io, dir: &Path, max_levels: usize) -> Result<Option<Manifest>> {
        let path = dir.join(NAME);
        let file = match io.open_read(&path) {
            Ok(f) => f,
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut scan = Scanner::new(&file, 0)?;
        let mut m = Manifest::default();
        let mut count = None;
        while let Some((at, payload)) = scan.next_record()? {
            let bad = || Error::corruption(&path, at, "malformed manifest record");
            let mut c = Cursor::new(payload);
            match (c.u8(), count) {
                (Some(TAG_HEADER), None) => {
                    if c.u32().ok_or_else(bad)? != FORMAT {
                        return Err(Error::corruption(&path, at, "unknown manifest format"));
                    }
                    m.next_file = c.u64().ok_or_else(bad)?;
                    m.last_seq = c.u64().ok_or_else(bad)?;
                    m.wal_min = c.u64().ok_or_else(bad)?;
                    count = Some(c.u32().ok_or_else(bad)? as usize);
                }
                (Some(TAG_TABLE), Some(n)) if m.tables.len() < n => {
                    let level = c.u8().ok_or_else(bad)? as usize;
                    let id = c.u64().ok_or_else(bad)?;
                    let size = c.u64().ok_or_else(bad)?;
                    let smallest = c.short_bytes().ok_or_else(bad)?.to_vec();
                    let largest = c.short_bytes().ok_or_else(bad)?.to_vec();
                    if level >= max_levels.max(1) || smallest > largest || id >= m.next_file {
                        return Err(bad());
                    }
                    let meta = TableMeta {
                        id,
                        size,
                        smallest,
                        largest,
                        ..TableMeta::default()
                    };
                    m.tables.push((level, meta));
                }
                _ => return Err(bad()),
            }
            if c.remaining() != 0 {
                return Err(bad());
            }
        }
        let tail = scan.tail().expect("scan ended");
        if tail.torn || count != Some(m.tables.len()) {
            return Err(Error::corruption(
                &path,
                tail.valid_len,
                "manifest is incomplete",
            ));
        }
        let mut ids: Vec<u64> = m.tables.iter().map(|(_, t)| t.id).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::corruption(&path, 0, "manifest lists a table twice"));
        }
        Ok(Some(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let t = |id, a: &[u8], b: &[u8]| TableMeta {
            id,
            size: 100 + id,
            smallest: a.to_vec(),
            largest: b.to_vec(),
            ..TableMeta::default()
        };
        Manifest {
            next_file: 10,
            last_seq: 99,
            wal_min: 4,
            tables: vec![
                (0, t(8, b"a", b"z")),
                (1, t(5, b"b", b"c")),
                (1, t(6, b"d", b"e")),
            ],
        }
    }

    #[test]
    fn switch_round_trips_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        assert_eq!(Manifest::read(&io, dir.path(), 7).unwrap(), None);
        let mut m = sample();
        m.write(&io, dir.path()).unwrap();
        assert_eq!(Manifest::read(&io, dir.path(), 7).unwrap(), Some(m.clone()));
        m.tables.pop();
        m.write(&io, dir.path()).unwrap();
        assert_eq!(Manifest::read(&io, dir.path(), 7).unwrap(), Some(m));
        assert!(!dir.path().join("MANIFEST.tmp").exists());
    }

    #[test]
    fn every_cut_and_flip_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            std::fs::write(dir.path().join(NAME), &bytes[..cut]).unwrap();
            let r = Manifest::read(&io, dir.path(), 7);
            assert!(
                matches!(r, Err(Error::Corruption { .. })),
                "cut at {cut}: {r:?}"
            );
            let mut bad = bytes.clone();
            bad[cut] ^= 0x08;
            std::fs::write(dir.path().join(NAME), &bad).unwrap();
            let r = Manifest::read(&io, dir.path(), 7);
            assert!(
                matches!(r, Err(Error::Corruption { .. })),
                "flip at {cut}: {r:?}"
            );
        }
    }
}
