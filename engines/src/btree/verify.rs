//! A full structural check of a tree, for tests: every page accounted for exactly once
//! (nodes, overflow chains, free list, meta), all leaves at one depth, keys ordered within
//! the separators above them, the leaf chain in key order, and the meta page's counts right.
//! Random inserts and deletes on a small tree are checked against a model after every step.

use std::collections::BTreeMap;

use super::freelist::TRUNK_CAP;
use super::node::{Leaf, Node, Val};
use super::page::{PageId, FREE, HEADER};
use super::pager::Pager;
use super::{overflow, tree};

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
    fn claim(&mut self, id: PageId, what: &'static str) {
        if let Some(prev) = self.owner.insert(id, what) {
            panic!("page {id} used twice: {prev} and {what}");
        }
    }
}

fn walk(p: &Pager, id: PageId, depth: u32, lo: Option<&[u8]>, hi: Option<&[u8]>, w: &mut Walk) {
    assert!(
        depth <= p.meta.height,
        "page {id} deeper than the tree height"
    );
    match p.node(id).unwrap() {
        Node::Leaf(l) => {
            w.claim(id, "leaf");
            assert_eq!(depth, p.meta.height, "leaf {id} not at the bottom");
            check_range(l.entries.iter().map(|e| e.key.as_slice()), lo, hi, id);
            w.leaves.push(id);
            w.entries += l.entries.len() as u64;
            w.leaf_bytes += l.size() as u64;
            for e in &l.entries {
                if let Val::Overflow { first, len } = e.val {
                    let mut at = first;
                    for _ in 0..overflow::pages_for(len as usize) {
                        w.claim(at, "overflow");
                        w.overflow += 1;
                        at = p.page(at).unwrap().next();
                    }
                    assert_eq!(at, 0, "overflow chain of {len} bytes too long");
                    assert_eq!(
                        overflow::read_chain(p, first, len).unwrap().len(),
                        len as usize
                    );
                }
            }
        }
        Node::Internal(n) => {
            w.claim(id, "internal");
            w.internal += 1;
            assert_eq!(n.children.len(), n.keys.len() + 1);
            assert!(
                !n.keys.is_empty() || id != p.meta.root,
                "root with one child"
            );
            check_range(n.keys.iter().map(|k| k.as_slice()), lo, hi, id);
            for (i, &c) in n.children.iter().enumerate() {
                let clo = if i == 0 {
                    lo
                } else {
                    Some(n.keys[i - 1].as_slice())
                };
                let chi = n.keys.get(i).map(|k| k.as_slice()).or(hi);
                walk(p, c, depth + 1, clo, chi, w);
            }
        }
    }
}

fn check_range<'a>(
    keys: impl Iterator<Item = &'a [u8]>,
    lo: Option<&[u8]>,
    hi: Option<&[u8]>,
    id: PageId,
) {
    let mut prev: Option<&[u8]> = None;
    for k in keys {
        assert!(prev.is_none_or(|p| p < k), "page {id}: keys out of order");
        assert!(
            lo.is_none_or(|lo| lo <= k),
            "page {id}: key below its separator"
        );
        assert!(
            hi.is_none_or(|hi| k < hi),
            "page {id}: key at or above its separator"
        );
        prev = Some(k);
    }
}

/// Checks everything the module comment promises; panics with the first violation.
pub fn verify(p: &Pager) {
    let mut w = Walk::default();
    walk(p, p.meta.root, 1, None, None, &mut w);
    // The leaf chain visits the leaves in tree order.
    let mut chain = vec![];
    let mut at = w.leaves[0];
    while at != 0 {
        chain.push(at);
        assert!(
            chain.len() <= w.leaves.len(),
            "leaf chain longer than the tree"
        );
        at = Leaf::decode(&p.page(at).unwrap()).unwrap().next;
    }
    assert_eq!(chain, w.leaves, "leaf chain out of tree order");
    // The free list.
    let (mut trunk, mut free) = (p.meta.free_head, 0u32);
    while trunk != 0 {
        let t = p.page(trunk).unwrap();
        assert_eq!(t.kind(), FREE);
        w.claim(trunk, "free-list trunk");
        assert!(t.count() <= TRUNK_CAP);
        for i in 0..t.count() {
            let b = &t.bytes()[HEADER + 4 * i..HEADER + 4 * i + 4];
            w.claim(u32::from_le_bytes(b.try_into().unwrap()), "free");
        }
        free += 1 + t.count() as u32;
        trunk = t.next();
    }
    let m = &p.meta;
    assert_eq!(
        w.owner.len() as u32 + 1,
        m.page_count,
        "pages leaked or out of range"
    );
    assert!(w.owner.keys().all(|&id| id > 0 && id < m.page_count));
    assert_eq!(
        (w.leaves.len() as u32, w.internal, w.overflow, free),
        (
            m.leaf_pages,
            m.internal_pages,
            m.overflow_pages,
            m.free_pages
        ),
        "page counts in the meta page"
    );
    assert_eq!((w.entries, w.leaf_bytes), (m.live_keys, m.leaf_bytes));
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

    fn pager(dir: &std::path::Path, pool_pages: usize, max_dirty: usize) -> Pager {
        let io = Io::new();
        let data = io.create(&dir.join("db")).unwrap();
        let mut leaf = super::super::page::Page::new(LEAF, 1);
        leaf.seal();
        data.write_all_at(Meta::empty().encode().bytes(), 0)
            .unwrap();
        data.write_all_at(leaf.bytes(), 4096).unwrap();
        let wal = Arc::new(io.create(&dir.join("wal")).unwrap());
        Pager::new(
            Meta::empty(),
            data,
            wal,
            BufferPool::new(pool_pages),
            max_dirty,
        )
    }

    /// Random puts (small, large, huge keys; inline and overflow values) and deletes, with a
    /// commit now and then and a full check against a model after every few steps.
    #[test]
    fn random_changes_keep_every_invariant() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = pager(dir.path(), 16, 8);
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
            // Deletes win in the middle of the run, so the tree grows, shrinks, grows.
            let delete_odds = if (1500..2800).contains(&step) { 8 } else { 3 };
            if rng.gen_range(0..10) < delete_odds {
                let had = tree::delete(&mut p, &key).unwrap();
                assert_eq!(had, model.remove(&key).is_some());
            } else {
                let len = match rng.gen_range(0..20) {
                    0 => rng.gen_range(1000..12_000),
                    _ => rng.gen_range(0..200),
                };
                let v: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                let new = tree::insert(&mut p, &key, &v).unwrap();
                assert_eq!(new, model.insert(key, v).is_none());
            }
            if step % 50 == 0 {
                p.commit().unwrap();
            }
            if step % 25 == 0 {
                verify(&p);
                let all = tree::scan(&p, b"", None, usize::MAX).unwrap();
                assert!(all.iter().map(|(k, v)| (k, v)).eq(model.iter()));
            }
        }
        verify(&p);
        assert!(tallest >= 3, "the run never built a tree of height 3");
    }
}
