//! Overflow chains: a value too large to share a leaf with others is cut into pages of type
//! OVERFLOW linked by their `next` field; the leaf cell keeps the first page id and the
//! value's length. Reading checks the chain has exactly the pages the length calls for.

use super::page::{Page, PageId, BODY, OVERFLOW};
use super::pager::Pager;
use crate::limits::MAX_VALUE_LEN;
use crate::Result;

/// Pages a chain of `len` bytes takes.
pub fn pages_for(len: usize) -> usize {
    len.div_ceil(BODY).max(1)
}

/// Writes `value` to a new chain and returns its first page.
pub fn write_chain(p: &mut Pager, value: &[u8]) -> Result<PageId> {
    let mut chunks = value.chunks(BODY);
    let first = p.alloc(OVERFLOW)?;
    let (mut id, mut chunk) = (first, chunks.next().unwrap_or(&[]));
    loop {
        let following = chunks.next();
        let next = match following {
            Some(_) => p.alloc(OVERFLOW)?,
            None => 0,
        };
        let mut shared = Page::new_shared(OVERFLOW, id);
        let page = Page::unique(&mut shared);
        page.set_next(next);
        page.set_aux(chunk.len());
        page.bytes_mut()[super::page::HEADER..super::page::HEADER + chunk.len()]
            .copy_from_slice(chunk);
        p.write(shared)?;
        match following {
            Some(c) => (id, chunk) = (next, c),
            None => return Ok(first),
        }
    }
}

/// Walks a chain, checking each page; calls `each(page)` in order.
fn walk(p: &Pager, first: PageId, len: u32, mut each: impl FnMut(&Page)) -> Result<()> {
    let len = len as usize;
    if len > MAX_VALUE_LEN {
        return Err(p.corrupt(first, "overflow value longer than the value limit"));
    }
    let (mut id, mut seen) = (first, 0usize);
    for _ in 0..pages_for(len) {
        let page = p.page_ref(id)?;
        let used = page.aux();
        if page.kind() != OVERFLOW || used > BODY || seen + used > len {
            return Err(p.corrupt(id, "malformed overflow page"));
        }
        seen += used;
        each(page);
        id = page.next();
    }
    if id != 0 || seen != len {
        return Err(p.corrupt(first, "overflow chain does not match the value length"));
    }
    Ok(())
}

/// Reads the value held by a chain.
pub fn read_chain(p: &Pager, first: PageId, len: u32) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity((len as usize).min(MAX_VALUE_LEN));
    walk(p, first, len, |page| {
        let h = super::page::HEADER;
        out.extend_from_slice(&page.bytes()[h..h + page.aux()]);
    })?;
    Ok(out)
}

/// Frees every page of a chain.
pub fn free_chain(p: &mut Pager, first: PageId, len: u32) -> Result<()> {
    let mut ids = Vec::with_capacity(pages_for(len as usize).min(8192));
    ids.push(first);
    walk(p, first, len, |page| ids.push(page.next()))?;
    ids.pop(); // the terminating 0
    for id in ids {
        p.free(id, OVERFLOW, 0)?;
    }
    Ok(())
}
