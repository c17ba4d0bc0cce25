//! Start-up: finish or undo an interrupted merge, then rebuild the keydir from hint files
//! where they are valid and from the data files otherwise, keeping the highest sequence
//! number per key whatever file it sits in.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::hint;
use super::keydir::{Entry, Keydir};
use super::merge;
use super::segment::{self, file_name, parse_name, FileType, BORN_ACTIVE, BORN_MERGE};
use super::store::Seg;
use crate::io::{File, Io};
use crate::log;
use crate::{Error, Result};

/// What start-up found.
pub(super) struct Recovered {
    pub keydir: Keydir,
    pub segs: HashMap<u32, Seg>,
    /// The active file to append to: id, handle, length, records and their max sequence.
    /// `None` when a new one must be created.
    pub active: Option<(u32, Arc<File>, u64, u64, u64)>,
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
    // The active file is the newest file the writer made; only it may end in a torn record.
    let active_id = l
        .data
        .iter()
        .rev()
        .find(|(_, ty)| **ty == FileType::Data)
        .map(|(id, _)| *id);
    let mut out = Recovered {
        keydir: Keydir::default(),
        segs: HashMap::new(),
        active: None,
        max_seq: 0,
        next_file_id: l.max_id + 1,
        data_bytes: 0,
        need_hints: Vec::new(),
    };
    for (&id, &ty) in &l.data {
        let path = dir.join(file_name(id, ty));
        let born = if ty == FileType::Data {
            BORN_ACTIVE
        } else {
            BORN_MERGE
        };
        if Some(id) == active_id {
            load_active(io, &path, id, &mut out)?;
            continue;
        }
        let file = Arc::new(io.open_read(&path)?);
        let len = file.len()?;
        let hinted = if use_hints {
            hint::read(io, dir, id, len)?
        } else {
            None
        };
        match hinted {
            Some(entries) => {
                for (key, e) in entries {
                    out.max_seq = out.max_seq.max(e.seq);
                    out.keydir.insert_if_newer(&key, e);
                }
            }
            None => {
                let s = scan_into(&file, id, &mut out.keydir)?;
                if s.born != Some(born) {
                    return Err(Error::corruption(
                        &path,
                        0,
                        "data file header disagrees with its name",
                    ));
                }
                if !s.sealed || s.tail.torn || s.tail.valid_len != len {
                    return Err(Error::corruption(
                        &path,
                        s.tail.valid_len,
                        "an immutable data file ends early (it is not sealed)",
                    ));
                }
                out.max_seq = out.max_seq.max(s.max_seq);
                out.need_hints.push(id);
            }
        }
        out.data_bytes += len;
        out.segs.insert(
            id,
            Seg {
                file,
                sealed_len: Some(len),
            },
        );
    }
    out.keydir.drop_tombstones();
    Ok(out)
}

fn scan_into(file: &File, id: u32, kd: &mut Keydir) -> Result<segment::Scanned> {
    segment::scan(file, id, |at, payload, r| {
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

/// Loads the active file, cutting a torn tail. A file that never got its header is emptied
/// and given one; a file that was sealed (a crash during rollover) becomes immutable.
fn load_active(io: &Io, path: &Path, id: u32, out: &mut Recovered) -> Result<()> {
    let file = Arc::new(io.open(path)?);
    let s = scan_into(&file, id, &mut out.keydir)?;
    log::truncate_tail(&file, s.tail)?;
    out.max_seq = out.max_seq.max(s.max_seq);
    let mut len = s.tail.valid_len;
    match s.born {
        None => {
            let mut buf = Vec::new();
            segment::encode_header(&mut buf, BORN_ACTIVE, id);
            file.write_all_at(&buf, 0)?;
            file.sync()?;
            len = buf.len() as u64;
        }
        Some(BORN_ACTIVE) => {}
        Some(_) => {
            return Err(Error::corruption(
                path,
                0,
                "data file header disagrees with its name",
            ));
        }
    }
    out.data_bytes += len;
    if s.sealed {
        out.need_hints.push(id);
        out.segs.insert(
            id,
            Seg {
                file,
                sealed_len: Some(len),
            },
        );
    } else {
        out.segs.insert(
            id,
            Seg {
                file: file.clone(),
                sealed_len: None,
            },
        );
        out.active = Some((id, file, len, s.records, s.max_seq));
    }
    Ok(())
}
