//! Hint files: for an immutable data file, every record's key and location without its value,
//! so start-up rebuilds the keydir without reading values (Bitcask paper, section 2).
//!
//! A hint file is a sequence of `engines::log` frames: one entry per record of the data file
//! (tombstones included: they must still shadow older puts in other files at start-up),
//! then a trailer naming the data file and its length. A hint that fails a checksum, lacks
//! its trailer or names another length is ignored and the data file scanned instead: a hint
//! is a cache, never the only copy of anything.

use std::path::Path;

use super::keydir::Entry;
use super::segment::{file_name, FileType};
use crate::io::{File, Io};
use crate::log::{self, Scanner};
use crate::Result;

const ENTRY: u8 = 1;
const TRAILER: u8 = 2;
const MAGIC: &[u8; 8] = b"kvbhint1";
/// tag u8 | seq u64 | offset u64 | len u32 | key_len u16  (then the key)
const ENTRY_FIXED: usize = 1 + 8 + 8 + 4 + 2;
/// tag u8 | magic [8] | data file id u32 | data file length u64 | entries u64
const TRAILER_LEN: usize = 1 + 8 + 4 + 8 + 8;

/// Builds the bytes of a hint file, entry by entry.
pub struct HintWriter {
    buf: Vec<u8>,
    entries: u64,
}

impl HintWriter {
    pub fn new() -> Self {
        HintWriter {
            buf: Vec::new(),
            entries: 0,
        }
    }

    /// Adds the record of `key` at `e` (`e.len == 0` for a tombstone).
    pub fn add(&mut self, key: &[u8], e: &Entry) {
        self.entries += 1;
        log::encode_with(&mut self.buf, |b| {
            b.push(ENTRY);
            b.extend_from_slice(&e.seq.to_le_bytes());
            b.extend_from_slice(&e.offset.to_le_bytes());
            b.extend_from_slice(&e.len.to_le_bytes());
            b.extend_from_slice(&(key.len() as u16).to_le_bytes());
            b.extend_from_slice(key);
        });
    }

    /// Writes `dir/NNNNNNNN.hint` atomically for data file `id` of `data_len` bytes.
    /// Returns the bytes written.
    pub fn finish(mut self, io: &Io, dir: &Path, id: u32, data_len: u64) -> Result<u64> {
        log::encode_with(&mut self.buf, |b| {
            b.push(TRAILER);
            b.extend_from_slice(MAGIC);
            b.extend_from_slice(&id.to_le_bytes());
            b.extend_from_slice(&data_len.to_le_bytes());
            b.extend_from_slice(&self.entries.to_le_bytes());
        });
        io.write_file_atomic(dir, &file_name(id, FileType::Hint), &self.buf)?;
        Ok(self.buf.len() as u64)
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// One entry read back: the key and its location.
pub type HintEntry = (Box<[u8]>, Entry);

/// Reads the hint file of data file `id`, whose length is `data_len`. Returns every entry
/// (key, location; `len == 0` for a tombstone), or `None` when the hint is absent, damaged or
/// stale, in which case the caller scans the data file.
pub fn read(io: &Io, dir: &Path, id: u32, data_len: u64) -> Result<Option<Vec<HintEntry>>> {
    let path = dir.join(file_name(id, FileType::Hint));
    let file: File = match io.open_read(&path) {
        Ok(f) => f,
        Err(_) => return Ok(None),
    };
    let mut scanner = Scanner::new(&file, 0)?;
    let mut out = Vec::new();
    let mut trailer_ok = false;
    loop {
        let rec = match scanner.next_record() {
            Ok(Some((_, p))) => p,
            Ok(None) => break,
            Err(_) => return Ok(None),
        };
        if trailer_ok {
            return Ok(None); // bytes after the trailer
        }
        match rec.first() {
            Some(&ENTRY) if rec.len() >= ENTRY_FIXED => {
                let klen = u16::from_le_bytes([rec[21], rec[22]]) as usize;
                if klen == 0 || rec.len() != ENTRY_FIXED + klen {
                    return Ok(None);
                }
                let e = Entry {
                    seq: u64_at(rec, 1),
                    offset: u64_at(rec, 9),
                    len: u32::from_le_bytes(rec[17..21].try_into().unwrap()),
                    file: id,
                };
                if e.offset.saturating_add(e.len as u64) > data_len {
                    return Ok(None);
                }
                out.push((rec[ENTRY_FIXED..].into(), e));
            }
            Some(&TRAILER) if rec.len() == TRAILER_LEN && &rec[1..9] == MAGIC => {
                let hid = u32::from_le_bytes(rec[9..13].try_into().unwrap());
                if hid != id || u64_at(rec, 13) != data_len || u64_at(rec, 21) != out.len() as u64 {
                    return Ok(None);
                }
                trailer_ok = true;
            }
            _ => return Ok(None),
        }
    }
    if !trailer_ok || scanner.tail().is_some_and(|t| t.torn) {
        return Ok(None);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let mut w = HintWriter::new();
        let a = Entry {
            seq: 9,
            offset: 26,
            file: 4,
            len: 40,
        };
        let tomb = Entry {
            seq: 10,
            offset: 66,
            file: 4,
            len: 0,
        };
        w.add(b"alpha", &a);
        w.add(b"beta", &tomb);
        w.finish(&io, dir.path(), 4, 200).unwrap();
        let got = read(&io, dir.path(), 4, 200).unwrap().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((&*got[0].0, got[0].1), (&b"alpha"[..], a));
        assert_eq!(got[1].1, tomb);
        assert!(
            read(&io, dir.path(), 4, 201).unwrap().is_none(),
            "stale length"
        );
        assert!(
            read(&io, dir.path(), 5, 200).unwrap().is_none(),
            "no such hint"
        );

        let path = dir.path().join(file_name(4, FileType::Hint));
        let good = std::fs::read(&path).unwrap();
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            std::fs::write(&path, &bad).unwrap();
            assert!(
                read(&io, dir.path(), 4, 200).unwrap().is_none(),
                "flip at {at}"
            );
            std::fs::write(&path, &good[..at]).unwrap();
            assert!(
                read(&io, dir.path(), 4, 200).unwrap().is_none(),
                "cut at {at}"
            );
        }
    }
}
