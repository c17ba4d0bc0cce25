//! Start-up: finish or undo an interrupted merge, then rebuild the keydir from hint files
//! where they are valid and from the data files otherwise, keeping the highest sequence
//! number per key whatever file it sits in.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::hint;
use super::keydir::{Entry, Keydir};
use super::merge;
use super::rollover::Active;
use super::segment::{self, file_name, parse_name, FileType, Scanned, Trust};
use super::segment::{BORN_ACTIVE, BORN_MERGE, DATA_START};
use super::store::Seg;
use crate::io::{File, Io};
use crate::log::{self, SyncedMark};
use crate::{Error, Result};

/// The writer's file that recovery appends to next, where the log ended.
pub(super) struct Resumed {
    pub active: Arc<Active>,
    pub len: u64,
    /// Its records and their highest sequence number.
    pub records: u64,
    pub max_seq: u64,
}

/// What start-up found.
pub(super) struct Recovered {
    pub keydir: Keydir,
    pub segs: HashMap<u32, Seg>,
    /// The active file to append to; `None` when a new one must be created.
    pub active: Option<Resumed>,
    pub max_seq: u64,
    pub next_file_id: u32,
    pub data_bytes: u64,
    /// Sealed files without a valid hint file.
    pub need_hints: Vec<u32>,
}

#[derive(Default)]
struct Listing {
    /// id -> the type of data file (`Data` or `Merged`).
    data: BTreeMap<u32, FileType>,
    hints: Vec<u32>,
    merging: Vec<u32>,
    max_id: u32,
    commit: bool,
    tmp: Vec<String>,
}

fn list(dir: &Path) -> Result<Listing> {
    let mut l = Listing::default();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == merge::COMMIT {
            l.commit = true;
            continue;
        }
        if let Some(stem) = name.strip_suffix(".tmp") {
            if stem == merge::COMMIT || parse_name(stem).is_some() {
                l.tmp.push(name.to_string());
            }
            continue;
        }
        let Some((id, ty)) = parse_name(name) else {
            continue;
        };
        l.max_id = l.max_id.max(id);
        match ty {
            FileType::Data | FileType::Merged => {
                if l.data.insert(id, ty).is_some() {
                    return Err(Error::corruption(
                        dir.join(name),
                        0,
                        "two data files carry the same id",
                    ));
                }
            }
            FileType::Hint => l.hints.push(id),
            FileType::Merging => l.merging.push(id),
        }
    }
    Ok(l)
}

/// Removes what a crash left half done: temporary files, the output of a merge that never
/// committed, hint files without a data file. Finishes a committed merge first.
fn tidy(io: &Io, dir: &Path) -> Result<Listing> {
    let mut l = list(dir)?;
    let mut removed = false;
    for name in &l.tmp {
        io.remove(&dir.join(name))?;
        removed = true;
    }
    if l.commit {
        merge::finish_committed(io, dir)?;
        let max_id = l.max_id;
        l = list(dir)?;
        l.max_id = l.max_id.max(max_id);
    }
    for &id in &l.merging {
        io.remove(&dir.join(file_name(id, FileType::Merging)))?;
        removed = true;
    }
    for &id in &l.hints {
        if !l.data.contains_key(&id) {
            io.remove(&dir.join(file_name(id, FileType::Hint)))?;
            removed = true;
        }
    }
    if removed {
        io.sync_dir(dir)?;
    }
    Ok(l)
}

pub(super) fn recover(io: &Io, dir: &Path, use_hints: bool) -> Result<Recovered> {
    let l = tidy(io, dir)?;
    let mut out = Recovered {
        keydir: Keydir::default(),
        segs: HashMap::new(),
        active: None,
        max_seq: 0,
        next_file_id: l.max_id + 1,
        data_bytes: 0,
        need_hints: Vec::new(),
    };
    // Merged files were written whole and fsynced before their merge committed.
    for (&id, _) in l.data.iter().filter(|(_, ty)| **ty == FileType::Merged) {
        let file = Arc::new(io.open_read(&dir.join(file_name(id, FileType::Merged)))?);
        let len = file.len()?;
        if !(use_hints && load_hinted(io, dir, id, len, &mut out)?) {
            let s = scan_into(&file, id, Trust::Whole, &mut out.keydir)?;
            if s.born != Some(BORN_MERGE) {
                return Err(Error::corruption(
                    file.path(),
                    0,
                    "data file header disagrees with its name",
                ));
            }
            if !s.sealed {
                return Err(Error::corruption(
                    file.path(),
                    s.tail.valid_len,
                    "a merged data file ends early (it is not sealed)",
                ));
            }
            out.max_seq = out.max_seq.max(s.max_seq);
            out.need_hints.push(id);
        }
        out.add_sealed(id, file, len);
    }
    // The writer's files, oldest first, are one log: it ends at the first file that is not
    // sealed whole, and recovery appends there again.
    let chain: Vec<u32> = l
        .data
        .iter()
        .filter(|(_, ty)| **ty == FileType::Data)
        .map(|(id, _)| *id)
        .collect();
    for (n, &id) in chain.iter().enumerate() {
        let file = Arc::new(io.open(&dir.join(file_name(id, FileType::Data)))?);
        let len = file.len()?;
        if use_hints && load_hinted(io, dir, id, len, &mut out)? {
            out.add_sealed(id, file, len);
            continue;
        }
        let s = scan_into(&file, id, Trust::Watermark, &mut out.keydir)?;
        if s.born == Some(BORN_MERGE) {
            return Err(Error::corruption(
                file.path(),
                0,
                "data file header disagrees with its name",
            ));
        }
        out.max_seq = out.max_seq.max(s.max_seq);
        if s.sealed {
            // Nothing is appended after a seal: bytes there are an unsynced tail.
            log::truncate_tail(&file, s.tail)?;
            make_durable(&file, s.tail.valid_len)?;
            out.need_hints.push(id);
            out.add_sealed(id, file, s.tail.valid_len);
            continue;
        }
        drop_unsynced(io, dir, &chain[n + 1..], &file, s.tail.valid_len)?;
        let r = resume(io, dir, file, id, &s)?;
        out.data_bytes += r.len;
        out.segs.insert(
            id,
            Seg {
                file: r.active.file.clone(),
                sealed_len: None,
            },
        );
        out.active = Some(r);
        break;
    }
    out.keydir.drop_tombstones();
    Ok(out)
}

impl Recovered {
    fn add_sealed(&mut self, id: u32, file: Arc<File>, len: u64) {
        self.data_bytes += len;
        self.segs.insert(
            id,
            Seg {
                file,
                sealed_len: Some(len),
            },
        );
    }
}

/// Loads data file `id` from its hint file, when it has a valid one.
fn load_hinted(io: &Io, dir: &Path, id: u32, len: u64, out: &mut Recovered) -> Result<bool> {
    let Some(entries) = hint::read(io, dir, id, len)? else {
        return Ok(false);
    };
    for (key, e) in entries {
        out.max_seq = out.max_seq.max(e.seq);
        out.keydir.insert_if_newer(&key, e);
    }
    Ok(true)
}

fn scan_into(file: &File, id: u32, trust: Trust, kd: &mut Keydir) -> Result<Scanned> {
    segment::scan(file, id, trust, |at, payload, r| {
        let len = if r.tombstone {
            0
        } else {
            log::frame_len(payload.len()) as u32
        };
        let e = Entry {
            seq: r.seq,
            offset: at,
            file: id,
            len,
        };
        kd.insert_if_newer(r.key, e);
        Ok(())
    })
}

/// A sealed file whose watermark falls short of its length lost its rollover's fsync to a
/// crash: what the scan read may sit in the page cache only. It is fsynced now, as the
/// rollover would have done, before any later file can be.
fn make_durable(file: &File, len: u64) -> Result<()> {
    let mark = SyncedMark::read(file)?;
    if mark.synced_len() < len {
        file.sync()?;
        mark.record(file, len)?;
        file.sync()?;
    }
    Ok(())
}

/// Removes the writer's files that follow the end of the log (`end`, valid to `end_len`):
/// the file prepared for the next rollover, or files whose records never reached the disk
/// before the machine stopped. None of them may hold a synced record: every file is made
/// durable before a later one is fsynced, so one that does means damage inside synced data.
fn drop_unsynced(io: &Io, dir: &Path, later: &[u32], end: &File, end_len: u64) -> Result<()> {
    for &id in later {
        let file = io.open_read(&dir.join(file_name(id, FileType::Data)))?;
        let hinted = dir.join(file_name(id, FileType::Hint)).exists();
        if hinted || log::read_synced_len(&file)? > DATA_START {
            return Err(Error::corruption(
                end.path(),
                end_len,
                format!(
                    "the writer's log ends here, but the later data file {} holds synced records",
                    file.path().display()
                ),
            ));
        }
    }
    for &id in later {
        io.remove(&dir.join(file_name(id, FileType::Data)))?;
    }
    if !later.is_empty() {
        io.sync_dir(dir)?;
    }
    Ok(())
}

/// Makes the file where the log ended the active file again: its torn tail is cut (a file
/// that never got its header is given one) before anything is appended.
fn resume(io: &Io, dir: &Path, file: Arc<File>, id: u32, s: &Scanned) -> Result<Resumed> {
    let (mark, len) = match s.born {
        None => {
            // Created just before a crash: neither its head nor its name may be durable.
            file.set_len(0)?;
            let mark = segment::write_head(&file, BORN_ACTIVE, id)?;
            file.sync()?;
            io.sync_dir(dir)?;
            (mark, DATA_START)
        }
        Some(_) => {
            log::truncate_tail(&file, s.tail)?;
            (SyncedMark::read(&file)?, s.tail.valid_len)
        }
    };
    Ok(Resumed {
        active: Arc::new(Active::new(id, file, mark, len)),
        len,
        records: s.records,
        max_seq: s.max_seq,
    })
}
