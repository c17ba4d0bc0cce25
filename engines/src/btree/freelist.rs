//! The free list: pages no longer in use, reused by later allocations before the file grows.
//!
//! It is a chain of *trunk* pages (type FREE) in the manner of SQLite's freelist: a trunk
//! holds up to `TRUNK_CAP` ids of free pages and the id of the next trunk in its header.
//! Freeing a page adds its id to the head trunk (or makes the page itself the new head
//! trunk when that one is full), so freeing a 16 MiB overflow chain rewrites a handful of
//! trunk pages, not four thousand pages. Allocating pops an id from the head trunk; an
//! empty trunk is itself handed out and its successor becomes the head.

use super::page::{Page, PageId, BODY, FREE, HEADER};
use super::pager::Pager;
use crate::{Error, Result};

/// Page ids one trunk page holds.
pub const TRUNK_CAP: usize = BODY / 4;

fn slot(i: usize) -> usize {
    HEADER + 4 * i
}

/// A page id to use: from the free list, else a new page at the end of the file.
pub fn alloc(p: &mut Pager) -> Result<PageId> {
    let head = p.meta.free_head;
    if head == 0 {
        let id = p.meta.page_count;
        if id == u32::MAX {
            return Err(Error::InvalidInput("the btree data file is full".into()));
        }
        p.meta.page_count += 1;
        return Ok(id);
    }
    let trunk = p.page(head)?;
    let n = trunk.count();
    if trunk.kind() != FREE || n > TRUNK_CAP {
        return Err(p.corrupt(head, "free-list trunk page is malformed"));
    }
    p.meta.free_pages = p.meta.free_pages.saturating_sub(1);
    if n == 0 {
        let next = trunk.next();
        if next >= p.meta.page_count || next == head {
            return Err(p.corrupt(head, "free-list trunk links outside the file"));
        }
        p.meta.free_head = next;
        return Ok(head);
    }
    let b = trunk.bytes();
    let at = slot(n - 1);
    let id = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    if id == 0 || id == head || id >= p.meta.page_count {
        return Err(p.corrupt(head, "free-list entry outside the file"));
    }
    let mut t = trunk.to_shared();
    drop(trunk);
    Page::unique(&mut t).set_count(n - 1);
    p.write(t)?;
    Ok(id)
}

/// Puts page `id` on the free list.
pub fn free(p: &mut Pager, id: PageId) -> Result<()> {
    p.meta.free_pages += 1;
    let head = p.meta.free_head;
    if head != 0 {
        let trunk = p.page(head)?;
        let n = trunk.count();
        if trunk.kind() != FREE || n > TRUNK_CAP {
            return Err(p.corrupt(head, "free-list trunk page is malformed"));
        }
        if n < TRUNK_CAP {
            let mut t = trunk.to_shared();
            drop(trunk);
            let tp = Page::unique(&mut t);
            tp.bytes_mut()[slot(n)..slot(n) + 4].copy_from_slice(&id.to_le_bytes());
            tp.set_count(n + 1);
            return p.write(t);
        }
    }
    let mut t = Page::new_shared(FREE, id);
    Page::unique(&mut t).set_next(head);
    p.meta.free_head = id;
    p.write(t)
}
