//! The double-write buffer (`btree.dwb`): a checkpoint writes its whole snapshot here, and
//! fsyncs it, before it writes a single page in place; recovery copies a complete snapshot
//! found here into the data file again. A crash that tears pages in place, or leaves the data
//! file half old and half new, is so repaired to the snapshot whole.
//!
//! ```text
//!  | head: | 1 u8 | lsn u64 | pages u32 |                 each in engines::log framing
//!  | page: | 2 u8 | lsn u64 | page id u32 | image (4096) |   x pages, in page-id order
//! ```
//!
//! A snapshot counts only when it is complete: the head, then exactly `pages` page frames,
//! every one whole, carrying the head's LSN, with an image that passes its own checksum. A
//! crash while the buffer itself is being written leaves it incomplete, and then the data
//! file has not been touched by that checkpoint. After a checkpoint the buffer is emptied
//! (not fsynced: a snapshot found again is one the data file already holds, and copying it
//! again changes nothing).

use super::page::{seal, Page, PageId, PAGE_SIZE};
use crate::io::File;
use crate::log::{self, Scanner};
use crate::Result;

const KIND_HEAD: u8 = 1;
const KIND_PAGE: u8 = 2;
const PAGE_PAYLOAD: usize = 1 + 8 + 4 + PAGE_SIZE;

/// Bytes handed to one write while the buffer is filled.
const CHUNK: usize = 1 << 20;

/// Writes the snapshot `pages` (in page-id order, images unsealed) of LSN `lsn` to the
/// buffer and fsyncs it. Returns the bytes written.
pub fn write(dwb: &File, lsn: u64, pages: &[(PageId, &Page)]) -> Result<u64> {
    let mut buf = Vec::with_capacity(CHUNK + PAGE_PAYLOAD + log::HEADER_LEN);
    log::encode_with(&mut buf, |b| {
        b.push(KIND_HEAD);
        b.extend_from_slice(&lsn.to_le_bytes());
        b.extend_from_slice(&(pages.len() as u32).to_le_bytes());
    });
    let mut at = 0u64;
    for &(id, page) in pages {
        log::encode_with(&mut buf, |b| {
            b.push(KIND_PAGE);
            b.extend_from_slice(&lsn.to_le_bytes());
            b.extend_from_slice(&id.to_le_bytes());
            let start = b.len();
            b.extend_from_slice(page.bytes());
            seal(&mut b[start..]);
        });
        if buf.len() >= CHUNK {
            dwb.write_all_at(&buf, at)?;
            at += buf.len() as u64;
            buf.clear();
        }
    }
    dwb.write_all_at(&buf, at)?;
    at += buf.len() as u64;
    dwb.sync()?;
    Ok(at)
}

/// Empties the buffer after its snapshot is durable in the data file.
pub fn clear(dwb: &File) -> Result<()> {
    dwb.set_len(0)
}

/// Calls `each(id, image)` for every page of the complete snapshot the buffer holds; returns
/// its LSN, or `None` (having called nothing) when the buffer holds none.
pub fn read(dwb: &File, mut each: impl FnMut(PageId, &[u8]) -> Result<()>) -> Result<Option<u64>> {
    let Some((lsn, pages)) = complete(dwb)? else {
        return Ok(None);
    };
    let mut s = Scanner::new(dwb, 0)?;
    s.next_record()?;
    for _ in 0..pages {
        let Some((_, payload)) = s.next_record()? else {
            return Ok(None);
        };
        let id = u32::from_le_bytes(payload[9..13].try_into().expect("length checked"));
        each(id, &payload[13..])?;
    }
    Ok(Some(lsn))
}

/// The LSN and page count of a complete snapshot in the buffer (see the module comment).
fn complete(dwb: &File) -> Result<Option<(u64, u32)>> {
    let mut s = Scanner::new(dwb, 0)?;
    let head = match s.next_record() {
        Ok(Some((_, p))) if p.len() == 13 && p[0] == KIND_HEAD => p,
        _ => return Ok(None),
    };
    let lsn = u64::from_le_bytes(head[1..9].try_into().expect("length checked"));
    let pages = u32::from_le_bytes(head[9..13].try_into().expect("length checked"));
    let mut prev: Option<PageId> = None;
    for _ in 0..pages {
        let payload = match s.next_record() {
            Ok(Some((_, p))) if p.len() == PAGE_PAYLOAD && p[0] == KIND_PAGE => p,
            _ => return Ok(None),
        };
        let same_lsn = payload[1..9] == lsn.to_le_bytes();
        let id = u32::from_le_bytes(payload[9..13].try_into().expect("length checked"));
        let sound = Page::from_bytes(&payload[13..]).is_ok_and(|p| p.verify(id).is_ok());
        if !same_lsn || !sound || prev.is_some_and(|p| p >= id) {
            return Ok(None);
        }
        prev = Some(id);
    }
    Ok(Some((lsn, pages)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::page::LEAF;
    use crate::io::Io;

    fn pages(n: u32, fill: u8) -> Vec<(PageId, Page)> {
        (1..=n)
            .map(|id| {
                let mut p = Page::new(LEAF, id);
                p.bytes_mut()[100] = fill;
                (id, p)
            })
            .collect()
    }

    fn snapshot(dwb: &File) -> Option<(u64, Vec<(PageId, u8)>)> {
        let mut seen = vec![];
        let lsn = read(dwb, |id, image| {
            seen.push((id, image[100]));
            Ok(())
        })
        .unwrap()?;
        Some((lsn, seen))
    }

    #[test]
    fn only_a_complete_snapshot_counts() {
        let dir = tempfile::tempdir().unwrap();
        let f = Io::new().create(&dir.path().join("dwb")).unwrap();
        assert_eq!(snapshot(&f), None, "empty");
        let old = pages(300, 1);
        let refs: Vec<(PageId, &Page)> = old.iter().map(|(id, p)| (*id, p)).collect();
        let len = write(&f, 9, &refs).unwrap();
        let (lsn, seen) = snapshot(&f).unwrap();
        assert_eq!((lsn, seen.len(), seen[299]), (9, 300, (300, 1)));
        // A newer, shorter snapshot written over it, then cut short: neither counts.
        let new = pages(100, 2);
        let refs: Vec<(PageId, &Page)> = new.iter().map(|(id, p)| (*id, p)).collect();
        let new_len = write(&f, 12, &refs).unwrap();
        assert!(new_len < len);
        assert_eq!(snapshot(&f).unwrap().0, 12, "the newer head rules");
        let bytes = f.read_all().unwrap();
        let mut torn = bytes.clone();
        torn[new_len as usize / 2..new_len as usize / 2 + 512].fill(0);
        f.write_all_at(&torn, 0).unwrap();
        assert_eq!(snapshot(&f), None, "a torn page frame");
        // New head and frames, then old frames where blocks of the new were lost.
        let mut mixed = bytes.clone();
        let cut = (new_len as usize / 2) & !4095;
        let old_bytes = {
            let g = Io::new().create(&dir.path().join("old")).unwrap();
            let refs: Vec<(PageId, &Page)> = old.iter().map(|(id, p)| (*id, p)).collect();
            write(&g, 9, &refs).unwrap();
            g.read_all().unwrap()
        };
        mixed[cut..new_len as usize].copy_from_slice(&old_bytes[cut..new_len as usize]);
        f.write_all_at(&mixed, 0).unwrap();
        assert_eq!(snapshot(&f), None, "frames of two snapshots");
        clear(&f).unwrap();
        assert_eq!(snapshot(&f), None);
    }
}
