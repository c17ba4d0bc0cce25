//! Opening a store: creating its files, repairing a checkpoint cut short from the
//! double-write buffer, and replaying the log on top of the last checkpoint (the rule is
//! drawn in `mod.rs`).

use std::path::Path;
use std::sync::Arc;

use super::buffer_pool::BufferPool;
use super::meta::{self, Meta};
use super::page::{Page, PAGE_SIZE};
use super::pager::Pager;
use super::wal::{self, LogFile, Record};
use super::{dwb, tree, BtreeOptions, DATA_FILE, DWB_FILE};
use crate::io::{File, Io};
use crate::log::{self, Scanner, LOG_START};
use crate::{Error, Result};

/// What recovery hands the engine.
pub struct Recovered {
    pub pager: Pager,
    /// The log file to append to, and where its records end.
    pub log: LogFile,
    pub log_end: u64,
    pub dwb: File,
}

/// The data file of a new store: the meta page and an empty root leaf.
fn initial_data_file() -> Vec<u8> {
    let mut bytes = Meta::empty().encode().bytes().to_vec();
    let mut leaf = Page::new(super::page::LEAF, 1);
    leaf.seal();
    bytes.extend_from_slice(leaf.bytes());
    bytes
}

/// Reads and checks the meta page of the data file; a store of another format version is
/// refused as incompatible.
fn data_meta(data: &File) -> Result<Meta> {
    let mut page = Page::zeroed();
    let n = data.read_at(page.bytes_mut(), 0)?;
    let corrupt = |d: &str| Error::corruption(data.path(), 0, format!("meta page: {d}"));
    if n != PAGE_SIZE {
        return Err(corrupt("data file shorter than one page"));
    }
    page.verify(0).map_err(corrupt)?;
    if let Some(v) = meta::format_version(&page).filter(|&v| v != meta::VERSION) {
        return Err(Error::Incompatible(format!(
            "{} holds btree format version {v}; this build reads version {}",
            data.path().display(),
            meta::VERSION
        )));
    }
    Meta::decode(&page).map_err(corrupt)
}

/// Opens (creating if needed) the files of the store in `dir` and recovers the tree.
pub fn open(io: &Io, dir: &Path, o: &BtreeOptions) -> Result<Recovered> {
    let data_path = dir.join(DATA_FILE);
    if !data_path.exists() {
        if !wal::generations(dir)?.is_empty() {
            return Err(Error::corruption(
                &data_path,
                0,
                "the data file is missing but log files are there",
            ));
        }
        io.write_file_atomic(dir, DATA_FILE, &initial_data_file())?;
    }
    if !dir.join(DWB_FILE).exists() {
        io.write_file_atomic(dir, DWB_FILE, &[])?;
    }
    let data = io.open(&data_path)?;
    let dwb = io.open(&dir.join(DWB_FILE))?;
    repair_from_dwb(&dwb, &data)?;
    let meta = data_meta(&data)?;
    let mut pager = Pager::new(
        meta.clone(),
        Arc::new(data),
        BufferPool::new(o.pool_pages()),
    );
    let (log, log_end) = replay(io, dir, &meta, &mut pager)?;
    #[cfg(debug_assertions)]
    super::verify::verify(&pager)?;
    Ok(Recovered {
        pager,
        log,
        log_end,
        dwb,
    })
}

/// Copies a complete snapshot from the double-write buffer into the data file (a checkpoint
/// cut short while it wrote pages in place), then empties the buffer.
fn repair_from_dwb(dwb_file: &File, data: &File) -> Result<()> {
    let mut pages: Vec<(u32, Page)> = Vec::new();
    let flush = |pages: &mut Vec<(u32, Page)>| -> Result<()> {
        let refs: Vec<(u32, &Page)> = pages.iter().map(|(id, p)| (*id, p)).collect();
        super::checkpoint::write_in_place(data, &refs)?;
        pages.clear();
        Ok(())
    };
    let found = dwb::read(dwb_file, |id, image| {
        let page = Page::from_bytes(image).map_err(|d| Error::corruption(dwb_file.path(), 0, d))?;
        pages.push((id, page));
        if pages.len() == 256 {
            flush(&mut pages)?;
        }
        Ok(())
    })?;
    if found.is_some() {
        flush(&mut pages)?;
        data.sync()?;
        dwb::clear(dwb_file)?;
    }
    Ok(())
}

/// Replays the log files from the checkpoint's on (see the recovery rule) into `pager`, and
/// returns the file to append to with the end of its records.
fn replay(io: &Io, dir: &Path, meta: &Meta, pager: &mut Pager) -> Result<(LogFile, u64)> {
    let mut gens = wal::generations(dir)?;
    // Files older than the checkpoint's are left over from a finished checkpoint.
    for &g in gens.iter().filter(|&&g| g < meta.log_gen) {
        io.remove(&dir.join(wal::file_name(g)))?;
    }
    gens.retain(|&g| g >= meta.log_gen);
    if gens.is_empty() {
        // Only a store that never wrote can lack its log (a crash while it was created).
        if meta.checkpoint != 0 || meta.lsn != 0 {
            let path = dir.join(wal::file_name(meta.log_gen));
            return Err(Error::corruption(path, 0, "the log file is missing"));
        }
        let f = wal::create(io, dir, meta.log_gen)?;
        return Ok((f, LOG_START));
    }
    if gens[0] != meta.log_gen || gens.windows(2).any(|w| w[1] != w[0] + 1) {
        let path = dir.join(wal::file_name(meta.log_gen));
        return Err(Error::corruption(
            path,
            0,
            "log files missing from the sequence",
        ));
    }
    let mut lsn = meta.lsn;
    let mut last: Option<(LogFile, u64)> = None;
    let mut torn = false;
    for &g in &gens {
        let f = LogFile::open(io, dir, g)?;
        if torn {
            // Past a torn tail nothing may have been synced; what is there was never
            // acknowledged as durable, and is dropped.
            if log::read_synced_len(&f.file)? > LOG_START {
                return Err(Error::corruption(
                    f.file.path(),
                    LOG_START,
                    "a log file with synced records follows a torn one",
                ));
            }
            drop(f);
            io.remove(&dir.join(wal::file_name(g)))?;
            io.sync_dir(dir)?;
            continue;
        }
        let mut scanner = Scanner::log(&f.file)?;
        while let Some((off, payload)) = scanner.next_record()? {
            let corrupt = |d: &str| Error::corruption(f.file.path(), off, d);
            let (rec_lsn, record) =
                wal::decode(payload).ok_or_else(|| corrupt("malformed log record"))?;
            if rec_lsn != lsn + 1 {
                return Err(corrupt("log record out of sequence"));
            }
            apply(pager, record, rec_lsn)?;
            lsn = rec_lsn;
        }
        let tail = scanner.tail().expect("the scan ended");
        log::truncate_tail(&f.file, tail)?;
        torn = tail.torn;
        // Records that survived past the synced length are made durable before anyone can
        // read them as such.
        f.seal(tail.valid_len)?;
        last = Some((f, tail.valid_len));
    }
    Ok(last.expect("at least one log file"))
}

/// Applies one logged write to the tree.
fn apply(pager: &mut Pager, record: Record<'_>, lsn: u64) -> Result<()> {
    pager.begin_op();
    let r = match record {
        Record::Put { key, value } => tree::insert(pager, key, value).map(drop),
        Record::Delete { key } => tree::delete(pager, key).map(drop),
    };
    match r {
        Ok(()) => {
            pager.end_op(lsn);
            Ok(())
        }
        Err(e) => {
            pager.undo_op();
            Err(e)
        }
    }
}
