//! The B+ tree operations: lookups and range scans straight on page bytes; inserts and
//! deletes on decoded nodes along the root-to-leaf path, with splits growing the tree and
//! merges or redistribution shrinking it.

use super::node::{self, CellVal, Edit, Entry, Internal, Node, Rebalanced, Val, UNDERFLOW};
use super::overflow;
use std::sync::Arc;

use super::page::{Page, PageId, ValueRef, BODY, INTERNAL, LEAF};
use super::pager::{Pager, Passing};
use crate::Result;

/// More levels than any sound tree has: a guard against cycles in damaged files.
const MAX_DEPTH: usize = 64;

fn value_of(p: &Pager, leaf: &Page, i: usize) -> Result<Vec<u8>> {
    match leaf.value(i).map_err(|d| p.corrupt(leaf.id(), d))? {
        ValueRef::Inline(v) => Ok(v.to_vec()),
        ValueRef::Overflow { first, len } => overflow::read_chain(p, first, len),
    }
}

/// The leaf whose range holds `key`, with the path of `(internal page, child index)` above it.
fn descend<'p>(
    p: &'p Pager,
    key: &[u8],
    mut path: Option<&mut Vec<(PageId, usize)>>,
) -> Result<&'p Page> {
    let mut id = p.meta.root;
    for _ in 0..MAX_DEPTH {
        let page = p.page_ref(id)?;
        match page.kind() {
            LEAF => return Ok(page),
            INTERNAL => {
                let idx = match page.search(key).map_err(|d| p.corrupt(id, d))? {
                    Ok(i) => i + 1,
                    Err(i) => i,
                };
                if let Some(path) = path.as_deref_mut() {
                    path.push((id, idx));
                }
                id = page.child(idx).map_err(|d| p.corrupt(id, d))?;
            }
            _ => return Err(p.corrupt(id, "tree points at a page that is not a node")),
        }
    }
    Err(p.corrupt(p.meta.root, "tree deeper than any sound tree (a cycle?)"))
}

/// Where a write to a key goes: the leaf and the path above it. A writer finds it under the
/// shared lock (pages it reads from disk then do not hold readers up), and it stays right
/// until the writer changes the tree, since only writers change pages and they take turns.
pub struct Located {
    path: Vec<(PageId, usize)>,
    leaf: Arc<Page>,
}

pub fn locate(p: &Pager, key: &[u8]) -> Result<Located> {
    let mut path = Vec::with_capacity(p.meta.height as usize);
    let leaf = descend(p, key, Some(&mut path))?.id();
    Ok(Located {
        path,
        leaf: p.page(leaf)?,
    })
}

pub fn get(p: &Pager, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let leaf = descend(p, key, None)?;
    match leaf.search(key).map_err(|d| p.corrupt(leaf.id(), d))? {
        Ok(i) => value_of(p, leaf, i).map(Some),
        Err(_) => Ok(None),
    }
}

/// Pairs with `start <= key < end`, ascending, at most `limit`, walking the leaf chain.
pub fn scan(
    p: &Pager,
    start: &[u8],
    end: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::with_capacity(limit.min(128));
    let mut leaf = Passing::Pooled(descend(p, start, None)?);
    let mut i = match leaf.search(start).map_err(|d| p.corrupt(leaf.id(), d))? {
        Ok(i) | Err(i) => i,
    };
    let mut hops = 0u64;
    while out.len() < limit {
        if i >= leaf.count() {
            let next = leaf.next();
            hops += 1;
            if next == 0 {
                break;
            }
            if hops > p.meta.leaf_pages as u64 + 1 {
                return Err(p.corrupt(next, "leaf chain longer than the tree (a cycle?)"));
            }
            leaf = p.page_passing(next)?;
            if leaf.kind() != LEAF {
                return Err(p.corrupt(next, "leaf chain points at a page that is not a leaf"));
            }
            i = 0;
            continue;
        }
        let key = leaf.key(i).map_err(|d| p.corrupt(leaf.id(), d))?;
        if end.is_some_and(|e| key >= e) {
            break;
        }
        out.push((key.to_vec(), value_of(p, &leaf, i)?));
        i += 1;
    }
    Ok(out)
}

/// Inserts or replaces `key`; true when the key is new.
pub fn insert(p: &mut Pager, key: &[u8], value: &[u8]) -> Result<bool> {
    let loc = locate(p, key)?;
    insert_at(p, loc, key, value)
}

/// Removes `key`; true when it was there.
pub fn delete(p: &mut Pager, key: &[u8]) -> Result<bool> {
    let loc = locate(p, key)?;
    delete_at(p, loc, key)
}

/// Inserts or replaces `key` where `locate` found its place; true when the key is new.
pub fn insert_at(p: &mut Pager, loc: Located, key: &[u8], value: &[u8]) -> Result<bool> {
    let Located { path, leaf: page } = loc;
    let id = page.id();
    let found = page.search(key).map_err(|d| p.corrupt(id, d))?;
    let val = if node::fits_inline(key.len(), value.len()) {
        CellVal::Inline(value)
    } else {
        let first = overflow::write_chain(p, value)?;
        CellVal::Overflow {
            first,
            len: value.len() as u32,
        }
    };
    let (i, new) = match found {
        Ok(i) => (i, false),
        Err(i) => (i, true),
    };
    let old_chain = match found {
        Ok(i) => match page.value(i).map_err(|d| p.corrupt(id, d))? {
            ValueRef::Overflow { first, len } => Some((first, len)),
            ValueRef::Inline(_) => None,
        },
        Err(_) => None,
    };
    let edit = if new {
        Edit::Insert(key, val)
    } else {
        Edit::Replace(key, val)
    };
    // Fast path: the leaf takes the change without a split.
    let mut leaf = p.blank(LEAF, id);
    let edited =
        node::edit_leaf(&page, i, edit, Page::unique(&mut leaf)).map_err(|d| p.corrupt(id, d))?;
    let slow = match edited {
        Some((before, after)) => {
            drop(page);
            p.meta.leaf_bytes = (p.meta.leaf_bytes + after as u64).saturating_sub(before as u64);
            p.write(leaf)?;
            None
        }
        None => {
            p.spare(leaf);
            let mut leaf = node::Leaf::decode(&page).map_err(|d| p.corrupt(id, d))?;
            drop(page);
            let old_size = leaf.size();
            let val = match val {
                CellVal::Inline(v) => Val::Inline(v.to_vec()),
                CellVal::Overflow { first, len } => Val::Overflow { first, len },
            };
            let entry = Entry {
                key: key.to_vec(),
                val,
            };
            if new {
                leaf.entries.insert(i, entry);
            } else {
                leaf.entries[i] = entry;
            }
            Some((leaf, old_size))
        }
    };
    if let Some((first, len)) = old_chain {
        overflow::free_chain(p, first, len)?;
    }
    if new {
        p.meta.live_keys += 1;
    }
    if let Some((leaf, old_size)) = slow {
        settle(p, path, id, Node::Leaf(leaf), old_size)?;
    }
    Ok(new)
}

/// Removes `key` where `locate` found its place; true when it was there.
pub fn delete_at(p: &mut Pager, loc: Located, key: &[u8]) -> Result<bool> {
    let Located { path, leaf: page } = loc;
    let id = page.id();
    let Ok(i) = page.search(key).map_err(|d| p.corrupt(id, d))? else {
        return Ok(false);
    };
    if let ValueRef::Overflow { first, len } = page.value(i).map_err(|d| p.corrupt(id, d))? {
        overflow::free_chain(p, first, len)?;
    }
    p.meta.live_keys = p.meta.live_keys.saturating_sub(1);
    let mut leaf = p.blank(LEAF, id);
    let edited = node::edit_leaf(&page, i, Edit::Remove, Page::unique(&mut leaf))
        .map_err(|d| p.corrupt(id, d))?;
    match edited {
        // Fast path: the leaf stays at least a quarter full (or is the root).
        Some((before, after)) if after >= UNDERFLOW || path.is_empty() => {
            drop(page);
            p.meta.leaf_bytes = (p.meta.leaf_bytes + after as u64).saturating_sub(before as u64);
            p.write(leaf)?;
        }
        _ => {
            p.spare(leaf);
            let mut leaf = node::Leaf::decode(&page).map_err(|d| p.corrupt(id, d))?;
            drop(page);
            let old_size = leaf.size();
            leaf.entries.remove(i);
            settle(p, path, id, Node::Leaf(leaf), old_size)?;
        }
    }
    Ok(true)
}

fn kind_of(n: &Node) -> u8 {
    match n {
        Node::Leaf(_) => LEAF,
        Node::Internal(_) => INTERNAL,
    }
}

/// Writes a changed node and repairs the tree above it: an overfull node splits and pushes a
/// separator up (a new root when the root splits); an underfull one merges with a sibling or
/// takes some of its entries; a root left with one child gives way to that child.
fn settle(
    p: &mut Pager,
    mut path: Vec<(PageId, usize)>,
    mut id: PageId,
    mut node: Node,
    mut old_size: usize,
) -> Result<()> {
    loop {
        if node.size() > BODY {
            let kind = kind_of(&node);
            let right_id = p.alloc(kind)?;
            let (sep, right) = match &mut node {
                Node::Leaf(l) => {
                    let (sep, mut r) = node::split_leaf(l);
                    r.next = l.next;
                    l.next = right_id;
                    (sep, Node::Leaf(r))
                }
                Node::Internal(n) => {
                    let (sep, r) = n.split();
                    (sep, Node::Internal(r))
                }
            };
            p.write_node(id, &node, old_size)?;
            p.write_node(right_id, &right, 0)?;
            match path.pop() {
                None => {
                    let root = p.alloc(INTERNAL)?;
                    let n = Internal {
                        keys: vec![sep],
                        children: vec![id, right_id],
                    };
                    p.write_node(root, &Node::Internal(n), 0)?;
                    p.meta.root = root;
                    p.meta.height += 1;
                    return Ok(());
                }
                Some((pid, idx)) => {
                    let Node::Internal(mut parent) = p.node(pid)? else {
                        return Err(p.corrupt(pid, "parent is not an internal node"));
                    };
                    parent.keys.insert(idx, sep);
                    parent.children.insert(idx + 1, right_id);
                    (id, node, old_size) = (pid, Node::Internal(parent), 0);
                }
            }
        } else if path.is_empty() {
            if let Node::Internal(n) = &node {
                if n.keys.is_empty() {
                    p.meta.root = n.children[0];
                    p.meta.height = p.meta.height.saturating_sub(1).max(1);
                    return p.free(id, INTERNAL, 0);
                }
            }
            return p.write_node(id, &node, old_size);
        } else if node.size() < UNDERFLOW {
            let (pid, idx) = path.pop().expect("path is not empty");
            let Node::Internal(mut parent) = p.node(pid)? else {
                return Err(p.corrupt(pid, "parent is not an internal node"));
            };
            if parent.children.get(idx) != Some(&id) {
                return Err(p.corrupt(pid, "parent does not point at its child"));
            }
            if parent.children.len() < 2 {
                return p.write_node(id, &node, old_size);
            }
            let (li, ri) = if idx + 1 < parent.children.len() {
                (idx, idx + 1)
            } else {
                (idx - 1, idx)
            };
            let sib_id = parent.children[if li == idx { ri } else { li }];
            let sib = p.node(sib_id)?;
            let sib_size = match &sib {
                Node::Leaf(l) => l.size(),
                Node::Internal(_) => 0,
            };
            let (left, right, l_old, r_old) = if li == idx {
                (node, sib, old_size, sib_size)
            } else {
                (sib, node, sib_size, old_size)
            };
            let kind = kind_of(&left);
            let (lid, rid) = (parent.children[li], parent.children[ri]);
            let sep = parent.keys[li].clone();
            match node::rebalance(left, sep, right).map_err(|d| p.corrupt(pid, d))? {
                Rebalanced::Merged(m) => {
                    p.write_node(lid, &m, l_old)?;
                    p.free(rid, kind, r_old)?;
                    parent.keys.remove(li);
                    parent.children.remove(ri);
                }
                Rebalanced::Shared(l, sep, r) => {
                    p.write_node(lid, &l, l_old)?;
                    p.write_node(rid, &r, r_old)?;
                    parent.keys[li] = sep;
                }
            }
            (id, node, old_size) = (pid, Node::Internal(parent), 0);
        } else {
            return p.write_node(id, &node, old_size);
        }
    }
}
