//! Nodes decoded for change: a leaf's entries or an internal node's keys and children, with
//! the write-side operations of a B+ tree (encode into a slotted page, split, merge and
//! redistribute with a sibling). Reads never decode: they search the page bytes directly.

use super::page::{
    head, Page, PageId, PageResult, ValueRef, BODY, FLAG_OVERFLOW, HEADER, INTERNAL, LEAF,
    PAGE_SIZE, SLOT,
};

/// Largest leaf or internal cell, slot included: a third of a page, so that any split of an
/// overfull node leaves two halves that fit, and a page always holds three cells.
pub const MAX_CELL: usize = 1300;
/// A non-root node smaller than this (bytes of cells and slots) is merged or refilled.
pub const UNDERFLOW: usize = BODY / 4;

/// A leaf value: inline bytes or a reference to an overflow chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Inline(Vec<u8>),
    Overflow { first: PageId, len: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub val: Val,
}

impl Entry {
    /// Bytes the entry takes in a page, slot included.
    pub fn size(&self) -> usize {
        entry_size(&self.key, &self.val)
    }
}

impl Val {
    /// The value as a cell holds it.
    pub fn as_cell(&self) -> CellVal<'_> {
        match self {
            Val::Inline(v) => CellVal::Inline(v),
            Val::Overflow { first, len } => CellVal::Overflow {
                first: *first,
                len: *len,
            },
        }
    }
}

/// A leaf value borrowed for writing into a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellVal<'a> {
    Inline(&'a [u8]),
    Overflow { first: PageId, len: u32 },
}

/// Bytes a leaf entry takes in a page, slot included.
pub fn cell_size(key: &[u8], val: CellVal<'_>) -> usize {
    SLOT + 7
        + key.len()
        + match val {
            CellVal::Inline(v) => v.len(),
            CellVal::Overflow { .. } => 4,
        }
}

/// Bytes an entry takes in a page, slot included.
pub fn entry_size(key: &[u8], val: &Val) -> usize {
    cell_size(key, val.as_cell())
}

/// Fills a blank page with cells in slot order at ascending addresses, the last one ending at
/// the end of the page, so that a scan reads a page front to back. Each slot gets the head
/// of its key past the page prefix.
struct Layout<'p> {
    page: &'p mut Page,
    prefix: usize,
    slot: usize,
    at: usize,
}

impl<'p> Layout<'p> {
    /// `cells` bytes of cells (slots not included) are to come, with keys from `first` to
    /// `last`.
    fn new(page: &'p mut Page, cells: usize, first: &[u8], last: &[u8]) -> Self {
        let prefix = common_prefix(first, last);
        page.set_prefix_len(prefix);
        Layout {
            page,
            prefix,
            slot: 0,
            at: PAGE_SIZE - cells,
        }
    }

    fn cell(&mut self, len: usize, key: &[u8]) -> &mut [u8] {
        let (slot, at) = (self.slot, self.at);
        let h = head(key, self.prefix);
        let b = self.page.bytes_mut();
        let s = HEADER + SLOT * slot;
        b[s..s + 2].copy_from_slice(&(at as u16).to_le_bytes());
        b[s + 2..s + 6].copy_from_slice(&h.to_be_bytes());
        self.slot += 1;
        self.at += len;
        &mut b[at..at + len]
    }

    fn leaf_cell(&mut self, key: &[u8], val: CellVal<'_>) {
        let c = self.cell(cell_size(key, val) - SLOT, key);
        c[0..2].copy_from_slice(&(key.len() as u16).to_le_bytes());
        let k = 7 + key.len();
        c[7..k].copy_from_slice(key);
        match val {
            CellVal::Inline(v) => {
                c[2] = 0;
                c[3..7].copy_from_slice(&(v.len() as u32).to_le_bytes());
                c[k..].copy_from_slice(v);
            }
            CellVal::Overflow { first, len } => {
                c[2] = FLAG_OVERFLOW;
                c[3..7].copy_from_slice(&len.to_le_bytes());
                c[k..].copy_from_slice(&first.to_le_bytes());
            }
        }
    }

    /// Copies a leaf cell whose key is `key`.
    fn raw_cell(&mut self, cell: &[u8], key: &[u8]) {
        self.cell(cell.len(), key).copy_from_slice(cell);
    }

    fn internal_cell(&mut self, key: &[u8], child: PageId) {
        let c = self.cell(internal_cell(key) - SLOT, key);
        c[0..2].copy_from_slice(&(key.len() as u16).to_le_bytes());
        c[2..6].copy_from_slice(&child.to_le_bytes());
        c[6..].copy_from_slice(key);
    }

    fn finish(self) {
        debug_assert_eq!(self.at, PAGE_SIZE);
        let n = self.slot;
        self.page.set_count(n);
    }
}

/// Bytes `a` and `b` begin with alike.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A change to one leaf entry, for [`edit_leaf`].
#[derive(Clone, Copy)]
pub enum Edit<'a> {
    Insert(&'a [u8], CellVal<'a>),
    Replace(&'a [u8], CellVal<'a>),
    Remove,
}

/// Writes into `into` (a blank leaf page with its id) the leaf `old` with entry `i`
/// inserted, replaced or removed, copied cell by cell without decoding (the write fast
/// path). Returns the used bytes before and after, or `None` (with `into` untouched) when the
/// result does not fit in one page (the caller splits).
pub fn edit_leaf(
    old: &Page,
    i: usize,
    edit: Edit<'_>,
    into: &mut Page,
) -> PageResult<Option<(usize, usize)>> {
    let n = old.count();
    let skip = !matches!(edit, Edit::Insert(..));
    if i > n || (skip && i >= n) {
        return Err("leaf edit past the last entry");
    }
    let mut old_size = 0;
    for j in 0..n {
        old_size += SLOT + old.cell(j)?.len();
    }
    let new_size = old_size - if skip { SLOT + old.cell(i)?.len() } else { 0 }
        + match edit {
            Edit::Insert(k, v) | Edit::Replace(k, v) => cell_size(k, v),
            Edit::Remove => 0,
        };
    if new_size > BODY {
        return Ok(None);
    }
    into.set_next(old.next());
    let count = match edit {
        Edit::Insert(..) => n + 1,
        Edit::Replace(..) => n,
        Edit::Remove => n - 1,
    };
    if count == 0 {
        Layout::new(into, 0, &[], &[]).finish();
        return Ok(Some((old_size, new_size)));
    }
    // The keys of the new page, by their index in it.
    let new_key = |j: usize| -> PageResult<&[u8]> {
        match edit {
            Edit::Insert(k, _) if j == i => Ok(k),
            Edit::Insert(..) if j > i => old.key(j - 1),
            Edit::Replace(k, _) if j == i => Ok(k),
            Edit::Remove if j >= i => old.key(j + 1),
            _ => old.key(j),
        }
    };
    let (first, last) = (new_key(0)?, new_key(count - 1)?);
    let mut out = Layout::new(into, new_size - SLOT * count, first, last);
    for j in 0..=n {
        if j == i {
            if let Edit::Insert(k, v) | Edit::Replace(k, v) = edit {
                out.leaf_cell(k, v);
            }
            if skip {
                continue;
            }
        }
        if j < n {
            out.raw_cell(old.cell(j)?, old.key(j)?);
        }
    }
    out.finish();
    Ok(Some((old_size, new_size)))
}

/// True when a value of `vlen` bytes under `key_len` fits inline.
pub fn fits_inline(key_len: usize, vlen: usize) -> bool {
    SLOT + 7 + key_len + vlen <= MAX_CELL
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leaf {
    pub entries: Vec<Entry>,
    pub next: PageId,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Internal {
    /// `keys[i]` separates `children[i]` (keys below it) from `children[i + 1]`.
    pub keys: Vec<Vec<u8>>,
    pub children: Vec<PageId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Leaf(Leaf),
    Internal(Internal),
}

fn internal_cell(key: &[u8]) -> usize {
    SLOT + 6 + key.len()
}

impl Leaf {
    pub fn decode(p: &Page) -> PageResult<Leaf> {
        let n = p.count();
        let mut entries = Vec::with_capacity(n + 1);
        for i in 0..n {
            let key = p.key(i)?.to_vec();
            let val = match p.value(i)? {
                ValueRef::Inline(v) => Val::Inline(v.to_vec()),
                ValueRef::Overflow { first, len } => Val::Overflow { first, len },
            };
            entries.push(Entry { key, val });
        }
        Ok(Leaf {
            entries,
            next: p.next(),
        })
    }

    pub fn size(&self) -> usize {
        self.entries.iter().map(Entry::size).sum()
    }

    /// Writes the leaf into `into`, a blank leaf page with its id.
    pub fn fill(&self, into: &mut Page) {
        into.set_next(self.next);
        let first = self.entries.first().map_or(&[][..], |e| &e.key[..]);
        let last = self.entries.last().map_or(&[][..], |e| &e.key[..]);
        let mut out = Layout::new(into, self.size() - SLOT * self.entries.len(), first, last);
        for e in &self.entries {
            out.leaf_cell(&e.key, e.val.as_cell());
        }
        out.finish();
    }

    /// Splits an overfull leaf: `self` keeps the lower half, the upper half is returned.
    pub fn split(&mut self) -> Leaf {
        let sizes: Vec<usize> = self.entries.iter().map(Entry::size).collect();
        let at = split_point(&sizes);
        Leaf {
            entries: self.entries.split_off(at),
            next: 0,
        }
    }
}

/// Index where a run of cells is cut so both halves hold about half the bytes (each side
/// keeps at least one cell).
fn split_point(sizes: &[usize]) -> usize {
    let total: usize = sizes.iter().sum();
    let mut acc = 0;
    for (i, s) in sizes.iter().enumerate() {
        if acc + s > total / 2 && i > 0 {
            return i.min(sizes.len() - 1);
        }
        acc += s;
    }
    sizes.len().saturating_sub(1).max(1)
}

impl Internal {
    pub fn decode(p: &Page) -> PageResult<Internal> {
        let n = p.count();
        let mut keys = Vec::with_capacity(n + 1);
        let mut children = Vec::with_capacity(n + 2);
        children.push(p.child(0)?);
        for i in 0..n {
            keys.push(p.key(i)?.to_vec());
            children.push(p.child(i + 1)?);
        }
        Ok(Internal { keys, children })
    }

    pub fn size(&self) -> usize {
        self.keys.iter().map(|k| internal_cell(k)).sum()
    }

    /// Writes the node into `into`, a blank internal page with its id.
    pub fn fill(&self, into: &mut Page) {
        into.set_next(self.children[0]);
        let first = self.keys.first().map_or(&[][..], |k| &k[..]);
        let last = self.keys.last().map_or(&[][..], |k| &k[..]);
        let mut out = Layout::new(into, self.size() - SLOT * self.keys.len(), first, last);
        for (k, &child) in self.keys.iter().zip(&self.children[1..]) {
            out.internal_cell(k, child);
        }
        out.finish();
    }

    /// Splits an overfull node: `self` keeps the lower keys, the separator that moves up and
    /// the upper node are returned.
    pub fn split(&mut self) -> (Vec<u8>, Internal) {
        let sizes: Vec<usize> = self.keys.iter().map(|k| internal_cell(k)).collect();
        let m = split_point(&sizes).clamp(1, self.keys.len().saturating_sub(2).max(1));
        let right_keys = self.keys.split_off(m + 1);
        let sep = self.keys.pop().expect("split of a node with keys");
        let right_children = self.children.split_off(m + 1);
        (
            sep,
            Internal {
                keys: right_keys,
                children: right_children,
            },
        )
    }
}

impl Node {
    pub fn decode(p: &Page) -> PageResult<Node> {
        match p.kind() {
            LEAF => Leaf::decode(p).map(Node::Leaf),
            INTERNAL => Internal::decode(p).map(Node::Internal),
            _ => Err("expected a tree node, found another page type"),
        }
    }

    pub fn size(&self) -> usize {
        match self {
            Node::Leaf(l) => l.size(),
            Node::Internal(n) => n.size(),
        }
    }

    /// The page type the node is written as.
    pub fn kind(&self) -> u8 {
        match self {
            Node::Leaf(_) => LEAF,
            Node::Internal(_) => INTERNAL,
        }
    }

    /// Writes the node into `into`, a blank page of its type with its id.
    pub fn fill(&self, into: &mut Page) {
        match self {
            Node::Leaf(l) => l.fill(into),
            Node::Internal(n) => n.fill(into),
        }
    }

    /// The node as a new page `id`.
    #[cfg(test)]
    pub fn encode(&self, id: PageId) -> std::sync::Arc<Page> {
        let mut page = Page::new_shared(self.kind(), id);
        self.fill(Page::unique(&mut page));
        page
    }
}

/// The separator pushed up between two leaves: the shortest prefix of `right_first` that is
/// still greater than `left_last` (suffix truncation, after Bayer's prefix B-trees), so
/// internal nodes hold short keys and fan out wider.
pub fn separator(left_last: &[u8], right_first: &[u8]) -> Vec<u8> {
    let common = left_last
        .iter()
        .zip(right_first)
        .take_while(|(a, b)| a == b)
        .count();
    right_first[..(common + 1).min(right_first.len())].to_vec()
}

/// Splits an overfull leaf and returns the separator for its parent with the upper half.
pub fn split_leaf(l: &mut Leaf) -> (Vec<u8>, Leaf) {
    let upper = l.split();
    let sep = match l.entries.last() {
        Some(last) => separator(&last.key, &upper.entries[0].key),
        None => upper.entries[0].key.clone(),
    };
    (sep, upper)
}

/// What became of two siblings rebalanced through their parent.
pub enum Rebalanced {
    /// Everything fits in the left node; the right one is to be freed.
    Merged(Node),
    /// Entries were redistributed; the new separator between the two.
    Shared(Node, Vec<u8>, Node),
}

/// Merges `left` and `right` (separated by `sep` in the parent) or, when they do not fit in
/// one page, shares their entries evenly ("borrowing" from the fuller one).
pub fn rebalance(left: Node, sep: Vec<u8>, right: Node) -> PageResult<Rebalanced> {
    match (left, right) {
        (Node::Leaf(mut l), Node::Leaf(r)) => {
            let right_next = r.next;
            l.entries.extend(r.entries);
            if l.size() <= BODY {
                l.next = right_next;
                return Ok(Rebalanced::Merged(Node::Leaf(l)));
            }
            let (sep, mut upper) = split_leaf(&mut l);
            upper.next = right_next;
            Ok(Rebalanced::Shared(Node::Leaf(l), sep, Node::Leaf(upper)))
        }
        (Node::Internal(mut l), Node::Internal(r)) => {
            l.keys.push(sep);
            l.keys.extend(r.keys);
            l.children.extend(r.children);
            if l.size() <= BODY {
                return Ok(Rebalanced::Merged(Node::Internal(l)));
            }
            let (sep, upper) = l.split();
            Ok(Rebalanced::Shared(
                Node::Internal(l),
                sep,
                Node::Internal(upper),
            ))
        }
        _ => Err("siblings of different types (a leaf beside an internal node)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn encode_leaf(l: &Leaf, id: PageId) -> Arc<Page> {
        Node::Leaf(l.clone()).encode(id)
    }

    fn edit(old: &Page, i: usize, e: Edit<'_>) -> PageResult<Option<(Arc<Page>, usize, usize)>> {
        let mut page = Page::new_shared(LEAF, old.id());
        let r = edit_leaf(old, i, e, Page::unique(&mut page))?;
        Ok(r.map(|(before, after)| (page, before, after)))
    }

    fn leaf(keys: std::ops::Range<u32>, vlen: usize) -> Leaf {
        Leaf {
            entries: keys
                .map(|i| Entry {
                    key: format!("k{i:06}").into_bytes(),
                    val: Val::Inline(vec![i as u8; vlen]),
                })
                .collect(),
            next: 77,
        }
    }

    #[test]
    fn leaf_round_trip_and_search() {
        let mut l = leaf(0..20, 50);
        l.entries.push(Entry {
            key: b"zz".to_vec(),
            val: Val::Overflow {
                first: 5,
                len: 9000,
            },
        });
        let p = encode_leaf(&l, 4);
        assert_eq!(Leaf::decode(&p).unwrap(), l);
        assert_eq!(p.search(b"k000007").unwrap(), Ok(7));
        assert_eq!(p.search(b"k0000075").unwrap(), Err(8));
        assert_eq!(
            p.value(20).unwrap(),
            ValueRef::Overflow {
                first: 5,
                len: 9000
            }
        );
        assert_eq!(p.used(), l.size());
    }

    #[test]
    fn edit_leaf_matches_decode_and_encode() {
        let l = leaf(0..20, 30);
        let p = encode_leaf(&l, 4);
        let v = Val::Inline(b"new".to_vec());
        for i in 0..=20 {
            let mut want = l.clone();
            want.entries.insert(
                i,
                Entry {
                    key: format!("k{i:06}x").into_bytes(),
                    val: v.clone(),
                },
            );
            let key = want.entries[i].key.clone();
            let (got, before, after) = edit(&p, i, Edit::Insert(&key, v.as_cell()))
                .unwrap()
                .unwrap();
            assert_eq!(Leaf::decode(&got).unwrap(), want);
            assert_eq!((before, after), (l.size(), want.size()));
            if i < 20 {
                let mut want = l.clone();
                want.entries[i].val = v.clone();
                let key = want.entries[i].key.clone();
                let (got, ..) = edit(&p, i, Edit::Replace(&key, v.as_cell()))
                    .unwrap()
                    .unwrap();
                assert_eq!(Leaf::decode(&got).unwrap(), want);
                let mut want = l.clone();
                want.entries.remove(i);
                let (got, ..) = edit(&p, i, Edit::Remove).unwrap().unwrap();
                assert_eq!(Leaf::decode(&got).unwrap(), want);
            }
        }
        let full = leaf(0..100, 300);
        let mut fits = full.clone();
        while fits.size() > BODY {
            fits.entries.pop();
        }
        let p = encode_leaf(&fits, 1);
        let big = Val::Inline(vec![0; 1000]);
        assert!(edit(&p, 0, Edit::Insert(b"a", big.as_cell()))
            .unwrap()
            .is_none());
        assert!(edit(&p, 99, Edit::Remove).is_err());
    }

    /// The head-first search agrees with a plain search of the keys: keys with a long common
    /// prefix, keys equal in their heads (zero bytes, different lengths), search keys outside
    /// the prefix, shorter than it or a prefix of a key.
    #[test]
    fn search_by_heads_agrees_with_a_plain_search() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        use rand::{Rng, SeedableRng};
        for round in 0..300 {
            let prefix = vec![b'p'; rng.gen_range(0..12)];
            let mut keys: Vec<Vec<u8>> = (0..rng.gen_range(1..40))
                .map(|_| {
                    let mut k = prefix.clone();
                    let tail = rng.gen_range(0..7);
                    k.extend((0..tail).map(|_| [0u8, 1, b'a', 0xff][rng.gen_range(0..4)]));
                    k
                })
                .filter(|k| !k.is_empty())
                .collect();
            keys.sort();
            keys.dedup();
            if keys.is_empty() {
                continue;
            }
            let leaf = Leaf {
                entries: keys
                    .iter()
                    .map(|k| Entry {
                        key: k.clone(),
                        val: Val::Inline(vec![1]),
                    })
                    .collect(),
                next: 0,
            };
            let p = encode_leaf(&leaf, 1);
            let mut probes = keys.clone();
            for _ in 0..40 {
                let len = rng.gen_range(0..prefix.len() + 8);
                probes.push(
                    (0..len)
                        .map(|i| {
                            if i < prefix.len() && rng.gen_bool(0.9) {
                                b'p'
                            } else {
                                [0u8, 1, b'a', b'q', 0xff][rng.gen_range(0..5)]
                            }
                        })
                        .collect(),
                );
            }
            for probe in probes.iter().filter(|k| !k.is_empty()) {
                assert_eq!(
                    p.search(probe).unwrap(),
                    keys.binary_search(probe),
                    "round {round}: {probe:?} in {keys:?}"
                );
            }
            // The same after an edit, which lays the page out again.
            let (k, v) = (keys[0].clone(), Val::Inline(vec![]));
            let (q, ..) = edit(&p, 0, Edit::Replace(&k, v.as_cell()))
                .unwrap()
                .unwrap();
            for probe in &keys {
                assert_eq!(q.search(probe).unwrap(), keys.binary_search(probe));
            }
        }
    }

    #[test]
    fn separators_are_short_and_between() {
        for (l, r, want) in [
            (&b"apple"[..], &b"banana"[..], &b"b"[..]),
            (b"abc", b"abd", b"abd"),
            (b"ab", b"abc", b"abc"),
            (b"key00041", b"key00107", b"key001"),
        ] {
            let sep = separator(l, r);
            assert_eq!(sep, want);
            assert!(l < &sep[..] && &sep[..] <= r);
        }
    }

    #[test]
    fn internal_round_trip_and_child_for() {
        let n = Internal {
            keys: vec![b"b".to_vec(), b"d".to_vec()],
            children: vec![10, 11, 12],
        };
        let p = Node::Internal(n.clone()).encode(3);
        assert_eq!(Internal::decode(&p).unwrap(), n);
        assert_eq!(p.child_for(b"a").unwrap(), 10);
        assert_eq!(p.child_for(b"b").unwrap(), 11);
        assert_eq!(p.child_for(b"c").unwrap(), 11);
        assert_eq!(p.child_for(b"z").unwrap(), 12);
    }

    #[test]
    fn splits_leave_two_fitting_halves() {
        // Largest cells, smallest cells and a mix.
        for vlen in [1, 100, MAX_CELL - 2 - 7 - 7] {
            let mut l = leaf(0..400, vlen);
            while l.size() > BODY + MAX_CELL {
                l.entries.pop();
            }
            let r = l.split();
            assert!(!l.entries.is_empty() && !r.entries.is_empty());
            assert!(l.size() <= BODY && r.size() <= BODY, "vlen {vlen}");
            assert!(l.entries.last().unwrap().key < r.entries[0].key);
        }
        let mut n = Internal {
            keys: (0..5).map(|i| vec![i as u8; 1024]).collect(),
            children: (0..6).collect(),
        };
        let (sep, r) = n.split();
        assert!(n.size() <= BODY && r.size() <= BODY);
        assert_eq!(n.children.len(), n.keys.len() + 1);
        assert_eq!(r.children.len(), r.keys.len() + 1);
        assert!(n.keys.iter().all(|k| *k < sep) && r.keys.iter().all(|k| *k > sep));
    }

    #[test]
    fn rebalance_merges_or_shares() {
        let (l, r) = (leaf(0..3, 10), leaf(3..6, 10));
        match rebalance(Node::Leaf(l), b"k000003".to_vec(), Node::Leaf(r)).unwrap() {
            Rebalanced::Merged(Node::Leaf(m)) => assert_eq!(m.entries.len(), 6),
            _ => panic!("small siblings must merge"),
        }
        let (l, r) = (leaf(0..2, 10), leaf(2..40, 100));
        match rebalance(Node::Leaf(l), b"k000002".to_vec(), Node::Leaf(r)).unwrap() {
            Rebalanced::Shared(Node::Leaf(a), sep, Node::Leaf(b)) => {
                assert!(a.size() >= UNDERFLOW && b.size() >= UNDERFLOW);
                assert!(a.entries.last().unwrap().key < sep && sep <= b.entries[0].key);
            }
            _ => panic!("full siblings must share"),
        }
    }
}
