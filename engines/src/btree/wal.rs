//! The write-ahead log of page images: frames in `engines::log` framing behind the log's
//! synced-length watermark header, and its recovery scan. The byte layout is drawn in
//! `mod.rs`.

use std::path::Path;

use super::page::{IdMap, Page, PageId, PAGE_SIZE};
use super::WAL_FILE;
use crate::io::{File, Io};
use crate::log::{self, Scanner, SyncedMark, Tail, LOG_START};
use crate::{Error, Result};

pub const KIND_PAGE: u8 = 1;
pub const KIND_COMMIT: u8 = 2;

/// Payload bytes of a page frame: kind, txn, page id, image.
pub const PAGE_PAYLOAD: usize = 1 + 8 + 4 + PAGE_SIZE;
/// Bytes of a whole page frame in the log.
pub const PAGE_FRAME: usize = log::HEADER_LEN + PAGE_PAYLOAD;

/// Appends a page frame of transaction `txn` to `out`.
pub fn encode_page(out: &mut Vec<u8>, txn: u64, page: &Page) {
    log::encode_with(out, |b| {
        b.push(KIND_PAGE);
        b.extend_from_slice(&txn.to_le_bytes());
        b.extend_from_slice(&page.id().to_le_bytes());
        b.extend_from_slice(page.bytes());
    });
}

/// Appends the commit frame of `txn`: its LSN and how many page frames it holds.
pub fn encode_commit(out: &mut Vec<u8>, txn: u64, lsn: u64, frames: u32) {
    log::encode_with(out, |b| {
        b.push(KIND_COMMIT);
        b.extend_from_slice(&txn.to_le_bytes());
        b.extend_from_slice(&lsn.to_le_bytes());
        b.extend_from_slice(&frames.to_le_bytes());
    });
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("length checked"))
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("length checked"))
}

/// Reads the page frame at `offset` and checks it holds a sound image of page `id`.
pub fn read_page(wal: &File, offset: u64, id: PageId) -> Result<Page> {
    let mut buf = vec![0u8; PAGE_FRAME];
    let n = wal.read_at(&mut buf, offset)?;
    let corrupt = |d: &str| Error::corruption(wal.path(), offset, d);
    if n != PAGE_FRAME {
        return Err(corrupt("page frame cut short"));
    }
    let payload = log::decode(&buf, wal, offset)?;
    if payload[0] != KIND_PAGE || u32_at(payload, 9) != id {
        return Err(corrupt("WAL frame is not the expected page image"));
    }
    let page = Page::from_bytes(&payload[13..]).map_err(corrupt)?;
    page.verify(id).map_err(corrupt)?;
    Ok(page)
}

/// Creates the WAL of a new store whole: its header is written and fsynced under a temporary
/// name, renamed into place and the directory fsynced, so `btree.wal` either does not exist
/// or has a header.
pub fn create(io: &Io, dir: &Path) -> Result<()> {
    let tmp = dir.join(format!("{WAL_FILE}.tmp"));
    if tmp.exists() {
        io.remove(&tmp)?;
    }
    let f = io.create(&tmp)?;
    log::create_log(&f)?;
    f.sync()?;
    drop(f);
    io.rename(&tmp, &dir.join(WAL_FILE))?;
    io.sync_dir(dir)
}

/// Starts the log over (after a checkpoint has made the data file hold every page): a fresh
/// header is written and fsynced first, so that every record behind it counts as an unsynced
/// tail of transactions the data file already holds; then the file is cut to the header and
/// fsynced again. A crash between the steps leaves a log that recovers either way.
pub fn restart(wal: &File) -> Result<SyncedMark> {
    let mark = log::create_log(wal)?;
    wal.sync()?;
    wal.set_len(LOG_START)?;
    wal.sync()?;
    Ok(mark)
}

/// What the committed part of a WAL holds.
#[derive(Debug)]
pub struct Recovered {
    /// Latest committed frame offset of each page.
    pub index: IdMap<u64>,
    pub first_txn: Option<u64>,
    pub last_txn: u64,
    pub last_lsn: u64,
    /// End of the last commit frame: everything after it is cut off.
    pub end: u64,
    pub commits: u64,
}

/// Scans the log, keeps the frames of committed transactions and cuts the rest (a torn tail,
/// frames of a transaction that never committed) off the file. Damage before the synced
/// length the header records is `Error::Corruption`; at or past it, a torn tail.
pub fn recover(wal: &File) -> Result<Recovered> {
    let mut r = Recovered {
        index: IdMap::default(),
        first_txn: None,
        last_txn: 0,
        last_lsn: 0,
        end: LOG_START,
        commits: 0,
    };
    let mut pending: Vec<(PageId, u64)> = Vec::new();
    let mut open_txn: Option<u64> = None;
    let mut scanner = Scanner::log(wal)?;
    while let Some((off, payload)) = scanner.next_record()? {
        let corrupt = |d: &str| Error::corruption(wal.path(), off, d);
        let kind = *payload.first().ok_or_else(|| corrupt("empty WAL record"))?;
        if payload.len() < 9 {
            return Err(corrupt("WAL record too short"));
        }
        let txn = u64_at(payload, 1);
        // Transactions are numbered consecutively; frames of one all carry its number.
        let expected = match (open_txn, r.first_txn) {
            (Some(t), _) => t,
            (None, Some(_)) => r.last_txn + 1,
            (None, None) => txn,
        };
        match kind {
            KIND_PAGE => {
                if payload.len() != PAGE_PAYLOAD || txn != expected {
                    return Err(corrupt("page frame out of sequence or of the wrong size"));
                }
                open_txn = Some(txn);
                pending.push((u32_at(payload, 9), off));
            }
            KIND_COMMIT => {
                if payload.len() != 1 + 8 + 8 + 4 || txn != expected || open_txn.is_none() {
                    return Err(corrupt("commit frame out of sequence"));
                }
                let (lsn, frames) = (u64_at(payload, 9), u32_at(payload, 17));
                if frames as usize != pending.len() || lsn < r.last_lsn {
                    return Err(corrupt("commit frame does not match its transaction"));
                }
                r.index.extend(pending.drain(..));
                r.first_txn.get_or_insert(txn);
                r.last_txn = txn;
                r.last_lsn = lsn;
                r.commits += 1;
                open_txn = None;
                r.end = off + log::frame_len(payload.len()) as u64;
            }
            _ => return Err(corrupt("unknown WAL record kind")),
        }
    }
    let tail = scanner.tail().unwrap_or(Tail {
        valid_len: r.end,
        torn: true,
    });
    log::truncate_tail(
        wal,
        Tail {
            valid_len: r.end,
            torn: tail.torn || tail.valid_len != r.end,
        },
    )?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::page::LEAF;

    fn page(id: PageId, fill: u8) -> Page {
        let mut p = Page::new(LEAF, id);
        p.bytes_mut()[100] = fill;
        p.seal();
        p
    }

    /// A new log file with its header; records go from `LOG_START`.
    fn new_log(dir: &std::path::Path) -> File {
        let f = Io::new().create(&dir.join("wal")).unwrap();
        log::create_log(&f).unwrap();
        f
    }

    #[test]
    fn committed_frames_survive_the_rest_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let f = new_log(dir.path());
        let mut buf = Vec::new();
        encode_page(&mut buf, 5, &page(1, 1));
        encode_page(&mut buf, 5, &page(2, 1));
        encode_commit(&mut buf, 5, 10, 2);
        let first_end = LOG_START + buf.len() as u64;
        encode_page(&mut buf, 6, &page(1, 2));
        encode_commit(&mut buf, 6, 12, 1);
        let second_end = LOG_START + buf.len() as u64;
        encode_page(&mut buf, 7, &page(2, 3)); // never committed
        f.write_all_at(&buf, LOG_START).unwrap();
        let r = recover(&f).unwrap();
        assert_eq!((r.first_txn, r.last_txn, r.last_lsn), (Some(5), 6, 12));
        assert_eq!(r.end, second_end);
        assert_eq!(f.len().unwrap(), second_end, "uncommitted frames cut off");
        assert_eq!(read_page(&f, r.index[&1], 1).unwrap().bytes()[100], 2);
        assert_eq!(read_page(&f, r.index[&2], 2).unwrap().bytes()[100], 1);
        // A torn commit frame past the synced length loses that transaction only.
        f.set_len(second_end - 3).unwrap();
        let r = recover(&f).unwrap();
        assert_eq!((r.last_txn, r.end), (5, first_end));
        // Within the synced length, the same cut is corruption.
        let mark = SyncedMark::read(&f).unwrap();
        mark.record(&f, first_end).unwrap();
        f.set_len(first_end - 3).unwrap();
        assert!(matches!(recover(&f), Err(Error::Corruption { .. })));
    }

    #[test]
    fn out_of_sequence_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let f = new_log(dir.path());
        let mut buf = Vec::new();
        encode_page(&mut buf, 5, &page(1, 1));
        encode_commit(&mut buf, 5, 10, 1);
        encode_page(&mut buf, 9, &page(1, 1));
        encode_commit(&mut buf, 9, 11, 1);
        f.write_all_at(&buf, LOG_START).unwrap();
        assert!(matches!(recover(&f), Err(Error::Corruption { .. })));
    }

    #[test]
    fn restart_leaves_an_empty_log_with_a_fresh_mark() {
        let dir = tempfile::tempdir().unwrap();
        let f = new_log(dir.path());
        let mut buf = Vec::new();
        encode_page(&mut buf, 1, &page(1, 1));
        encode_commit(&mut buf, 1, 1, 1);
        f.write_all_at(&buf, LOG_START).unwrap();
        SyncedMark::read(&f)
            .unwrap()
            .record(&f, LOG_START + buf.len() as u64)
            .unwrap();
        let mark = restart(&f).unwrap();
        assert_eq!(
            (f.len().unwrap(), mark.synced_len()),
            (LOG_START, LOG_START)
        );
        let r = recover(&f).unwrap();
        assert_eq!((r.commits, r.end), (0, LOG_START));
    }
}
