//! A full structural check of a tree: every page accounted for exactly once (nodes,
//! overflow chains, free list, meta), all leaves at one depth, keys ordered within the
//! separators above them, the leaf chain in key order, and the meta page's counts right.
//! Debug builds (and so every test, the crash cycles included) run it on every open, where
//! a violation is `Error::Corruption`; release builds skip it (it reads the whole tree).
//! Random inserts and deletes on a small tree are checked after every few steps below.

use std::collections::BTreeMap;

use super::freelist::TRUNK_CAP;
use super::node::{Leaf, Node, Val};
use super::overflow;
use super::page::{PageId, FREE, HEADER};
use super::pager::Pager;
#[cfg(test)]
use super::tree;
use crate::Result;

/// Fails the check with a formatted detail.
macro_rules! ensure {
    ($p:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($p.corrupt(0, &format!("structural check: {}", format!($($msg)+))));
        }
    };
}

#[derive(Default)]
struct Walk {
    owner: BTreeMap<PageId, &'static str>,
    leaves: Vec<PageId>,
    entries: u64,
    leaf_bytes: u64,
    internal: u32,
    overflow: u32,
}

impl Walk {
    fn claim(&mut self, p: &Pager, id: PageId, what: &'static str) -> Result<()> {
        if let Some(prev) = self.owner.insert(id, what) {
            ensure!(p, false, "page {id} used twice: {prev} and {what}");
        }
        Ok(())
    }
}

fn walk(
    p: &Pager,
    id: PageId,
    depth: u32,
    bounds: (Option<&[u8]>, Option<&[u8]>),
    w: &mut Walk,
) -> Result<()> {
    ensure!(
        p,
        depth <= p.meta.height,
        "page {id} deeper than the tree height"
    );
    match p.node(id)? {
        Node::Leaf(l) => {
            w.claim(p, id, "leaf")?;
            ensure!(p, depth == p.meta.height, "leaf {id} not at the bottom");
            check_range(p, l.entries.iter().map(|e| e.key.as_slice()), bounds, id)?;
            w.leaves.push(id);
            w.entries += l.entries.len() as u64;
            w.leaf_bytes += l.size() as u64;
            for e in &l.entries {
                if let Val::Overflow { first, len } = e.val {
                    let mut at = first;
                    for _ in 0..overflow::pages_for(len as usize) {
                        w.claim(p, at, "overflow")?;
                        w.overflow += 1;
                        at = p.page(at)?.next();
                    }
                    ensure!(p, at == 0, "overflow chain of {len} bytes too long");
                    overflow::read_chain(p, first, len)?;
                }
            }
        }
        Node::Internal(n) => {
            w.claim(p, id, "internal")?;
            w.internal += 1;
            ensure!(
                p,
                n.children.len() == n.keys.len() + 1,
                "page {id}: child count"
            );
            ensure!(
                p,
                !n.keys.is_empty() || id != p.meta.root,
                "root with one child"
            );
            check_range(p, n.keys.iter().map(|k| k.as_slice()), bounds, id)?;
            for (i, &c) in n.children.iter().enumerate() {
                let lo = if i == 0 {
                    bounds.0
                } else {
                    Some(n.keys[i - 1].as_slice())
                };
                let hi = n.keys.get(i).map(|k| k.as_slice()).or(bounds.1);
                walk(p, c, depth + 1, (lo, hi), w)?;
            }
        }
    }
    Ok(())
}

fn check_range<'a>(
    p: &Pager,
    keys: impl Iterator<Item = &'a [u8]>,
    (lo, hi): (Option<&[u8]>, Option<&[u8]>),
    id: PageId,
) -> Result<()> {
    let mut prev: Option<&[u8]> = None;
    for k in keys {
        ensure!(
            p,
            prev.is_none_or(|p| p < k),
            "page {id}: keys out of order"
        );
        ensure!(
            p,
            lo.is_none_or(|lo| lo <= k),
            "page {id}: key below its separator"
        );
        ensure!(
            p,
            hi.is_none_or(|hi| k < hi),
            "page {id}: key at or above its separator"
        );
        prev = Some(k);
    }
    Ok(())
}

/// Checks everything the module comment promises.
pub fn verify(p: &Pager) -> Result<()> {
    let mut w = Walk::default();
    walk(p, p.meta.root, 1, (None, None), &mut w)?;
    // The leaf chain visits the leaves in tree order.
    let mut chain = vec![];
    let mut at = w.leaves.first().copied().unwrap_or(0);
    while at != 0 {
        chain.push(at);
        ensure!(
            p,
            chain.len() <= w.leaves.len(),
            "leaf chain longer than the tree"
        );
        let page = p.page(at)?;
        at = Leaf::decode(&page).map_err(|d| p.corrupt(at, d))?.next;
    }
    ensure!(p, chain == w.leaves, "leaf chain out of tree order");
    // The free list.
    let (mut trunk, mut free) = (p.meta.free_head, 0u32);
    while trunk != 0 {
        let t = p.page(trunk)?;
        ensure!(
            p,
            t.kind() == FREE && t.count() <= TRUNK_CAP,
            "bad trunk {trunk}"
        );
        w.claim(p, trunk, "free-list trunk")?;
        for i in 0..t.count() {
            let b = &t.bytes()[HEADER + 4 * i..HEADER + 4 * i + 4];
            w.claim(p, u32::from_le_bytes([b[0], b[1], b[2], b[3]]), "free")?;
        }
        free += 1 + t.count() as u32;
        trunk = t.next();
    }
    let m = &p.meta;
    ensure!(
        p,
        w.owner.len() as u32 + 1 == m.page_count,
        "{} pages in use or free, {} in the file",
        w.owner.len() + 1,
        m.page_count
    );
    ensure!(
        p,
        w.owner.keys().all(|&id| id > 0 && id < m.page_count),
        "page id out of range"
    );
    ensure!(
        p,
        (w.leaves.len() as u32, w.internal, w.overflow, free)
            == (
                m.leaf_pages,
                m.internal_pages,
                m.overflow_pages,
                m.free_pages
            ),
        "page counts {:?} differ from the meta page's",
        (w.leaves.len(), w.internal, w.overflow, free)
    );
    ensure!(
        p,
        (w.entries, w.leaf_bytes) == (m.live_keys, m.leaf_bytes),
        "key count or leaf bytes differ from the meta page's"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btree::buffer_pool::BufferPool;
    use crate::btree::meta::Meta;
    use crate::btree::page::LEAF;
    use crate::io::Io;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    fn pager(dir: &std::path::Path, pool_pages: usize) -> Pager {
        let io = Io::new();
        let data = io.create(&dir.join("db")).unwrap();
        let mut leaf = super::super::page::Page::new(LEAF, 1);
        leaf.seal();
        data.write_all_at(Meta::empty().encode().bytes(), 0)
            .unwrap();
        data.write_all_at(leaf.bytes(), 4096).unwrap();
        Pager::new(Meta::empty(), Arc::new(data), BufferPool::new(pool_pages))
    }

    /// Random puts (small, large, huge keys; inline and overflow values) and deletes, with
    /// evictions, some changes taken back whole (`undo_op`), and a full check against a model
    /// after every few steps.
    #[test]
    fn random_changes_keep_every_invariant() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = pager(dir.path(), 16);
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut tallest = 0;
        for step in 0..4000 {
            tallest = tallest.max(p.meta.height);
            let n = rng.gen_range(0..300u32);
            // One key in seven is long with a long common prefix, so that separators stay
            // long too and internal nodes split.
            let mut key = format!("{n:05}").into_bytes();
            if n % 7 == 0 {
                key = [vec![b'x'; 300 + (n as usize * 3) % 700], key].concat();
            }
            // Evictions happen between changes, as the engine does them; every so often a
            // checkpoint's freeze and thaw make the dirty pages clean and evictable.
            if step % 97 == 0 {
                let mut ids = p.pool.freeze();
                ids.sort_unstable();
                let frozen: Vec<_> = ids
                    .iter()
                    .filter_map(|&id| Some((id, p.pool.frozen_image(id)?)))
                    .collect();
                let pages: Vec<_> = frozen.iter().map(|(id, pg)| (*id, &**pg)).collect();
                super::super::checkpoint::write_in_place(&p.data, &pages).unwrap();
                p.pool.thaw();
            }
            if p.pool.over_capacity() {
                p.pool.evict();
            }
            // One change in nine is taken back whole after it is done, as a change that
            // fails at its last step would be: the tree must be as before it.
            let undo = step % 9 == 4;
            p.begin_op();
            // Deletes win in the middle of the run, so the tree grows, shrinks, grows.
            let delete_odds = if (1500..2800).contains(&step) { 8 } else { 3 };
            if rng.gen_range(0..10) < delete_odds {
                let had = tree::delete(&mut p, &key).unwrap();
                assert_eq!(had, model.contains_key(&key));
                if !undo {
                    model.remove(&key);
                }
            } else {
                let len = match rng.gen_range(0..20) {
                    0 => rng.gen_range(1000..12_000),
                    _ => rng.gen_range(0..200),
                };
                let v: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                let new = tree::insert(&mut p, &key, &v).unwrap();
                assert_eq!(new, !model.contains_key(&key));
                if !undo {
                    model.insert(key, v);
                }
            }
            if undo {
                p.undo_op();
            } else {
                p.end_op(step + 1);
            }
            if step % 25 == 0 || undo {
                verify(&p).unwrap();
                let all = tree::scan(&p, b"", None, usize::MAX).unwrap();
                assert!(all.iter().map(|(k, v)| (k, v)).eq(model.iter()));
            }
        }
        verify(&p).unwrap();
        assert!(tallest >= 3, "the run never built a tree of height 3");
        assert!(p.pool.stats().evictions > 100, "{:?}", p.pool.stats());
    }
}
