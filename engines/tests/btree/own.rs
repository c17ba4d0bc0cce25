//! The btree engine's own tests of the tree: its shape through splits and merges, free-page
//! reuse, overflow chains, a buffer pool smaller than the tree, the figures it reports.

use std::collections::BTreeMap;
use std::path::Path;

use engines::{Engine, EngineKind, EngineStats, Error, Options};
use rand::{Rng, SeedableRng};

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

pub fn small() -> Options {
    super::btree_kit().options
}

/// Opens through the kit, which waits out a lock briefly held by a sibling test's fork.
pub fn open(dir: &Path, o: &Options) -> Box<dyn Engine> {
    super::btree_kit().try_open(dir, o).unwrap()
}

pub fn stat(s: &EngineStats, name: &str) -> f64 {
    *s.extra
        .get(name)
        .unwrap_or_else(|| panic!("stat {name} missing"))
}

/// Every page is a node, an overflow page, free, or the meta page.
pub fn check_page_accounting(db: &dyn Engine) {
    let s = db.stats();
    let parts = [
        "leaf_pages",
        "internal_pages",
        "overflow_pages",
        "free_pages",
    ]
    .iter()
    .map(|n| stat(&s, n))
    .sum::<f64>();
    assert_eq!(parts + 1.0, stat(&s, "page_count"), "{:?}", s.extra);
}

/// A full scan and point reads agree with the model; the leaf chain is in key order.
pub fn check(db: &dyn Engine, model: &Model) {
    let all = db.scan(b"", None, usize::MAX).unwrap();
    assert!(
        all.windows(2).all(|w| w[0].0 < w[1].0),
        "leaf chain out of order"
    );
    assert_eq!(all.len(), model.len());
    assert!(
        all.iter()
            .zip(model)
            .all(|(a, b)| a.0 == *b.0 && a.1 == *b.1),
        "scan differs from the model"
    );
    for (k, v) in model {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v));
    }
    assert_eq!(db.stats().live_keys, Some(model.len() as u64));
    check_page_accounting(db);
}

/// A 1000-byte key whose distinguishing digits come last, so that even the shortest
/// separator between two of them is about 1000 bytes.
pub fn big_key(i: u32) -> Vec<u8> {
    [vec![b'k'; 992], format!("{i:08}").into_bytes()].concat()
}

/// Keys (and separators) of 1000 bytes leave three or four per page, so a few hundred keys build a tree
/// of height 4; deleting them shrinks it back to a single leaf through merges at every
/// level, and the leaf chain stays in order throughout.
#[test]
fn splits_to_height_four_and_merges_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &small());
    let mut model = Model::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let mut order: Vec<u32> = (0..600).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.gen_range(0..=i));
    }
    let mut heights = vec![];
    for (n, &i) in order.iter().enumerate() {
        let v = vec![i as u8; (i % 50) as usize];
        db.put(&big_key(i), &v).unwrap();
        model.insert(big_key(i), v);
        let h = stat(&db.stats(), "tree_height");
        if heights.last() != Some(&h) {
            heights.push(h);
            check(&*db, &model);
        }
        if n % 97 == 0 {
            check(&*db, &model);
        }
    }
    assert_eq!(
        heights[..4],
        [1.0, 2.0, 3.0, 4.0],
        "grows one level at a time"
    );
    check(&*db, &model);
    let full_leaves = stat(&db.stats(), "leaf_pages");
    db.close().unwrap();
    let db = open(dir.path(), &small());
    check(&*db, &model);
    for (n, &i) in order.iter().enumerate() {
        db.delete(&big_key(i)).unwrap();
        model.remove(&big_key(i));
        if n % 53 == 0 {
            check(&*db, &model);
        }
    }
    check(&*db, &model);
    let s = db.stats();
    assert_eq!(
        stat(&s, "tree_height"),
        1.0,
        "merges shrink the tree to a root leaf"
    );
    assert_eq!(
        (stat(&s, "leaf_pages"), stat(&s, "internal_pages")),
        (1.0, 0.0)
    );
    assert!(stat(&s, "free_pages") >= full_leaves);
    db.close().unwrap();
}

/// Deleting three keys in four leaves every leaf touched at least a quarter full: the
/// underfull ones merged with or borrowed from a sibling.
#[test]
fn merges_and_borrowing_keep_leaves_filled() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &small());
    let mut model = Model::new();
    for i in 0..6000u32 {
        let (k, v) = (format!("k{i:06}").into_bytes(), vec![7u8; 40]);
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    let before = db.stats();
    for i in (0..6000u32).filter(|i| i % 4 != 0) {
        let k = format!("k{i:06}").into_bytes();
        db.delete(&k).unwrap();
        model.remove(&k);
    }
    check(&*db, &model);
    let after = db.stats();
    assert!(
        stat(&after, "leaf_pages") <= stat(&before, "leaf_pages") * 0.5,
        "{} leaves before, {} after",
        stat(&before, "leaf_pages"),
        stat(&after, "leaf_pages")
    );
    let fill = stat(&after, "leaf_fill_factor");
    assert!(fill >= 0.25, "leaf fill factor {fill} after deletes");
    db.close().unwrap();
}

/// Fill, delete everything, fill again: the second fill reuses the freed pages.
#[test]
fn free_pages_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &small());
    let fill = |db: &dyn Engine, round: u8| {
        for i in 0..3000u32 {
            let len = if i % 50 == 0 { 30_000 } else { 100 };
            db.put(format!("k{i:06}").as_bytes(), &vec![round; len])
                .unwrap();
        }
    };
    fill(&*db, 1);
    db.compact().unwrap();
    let pages_full = stat(&db.stats(), "page_count");
    let file_full = std::fs::metadata(dir.path().join("btree.db"))
        .unwrap()
        .len();
    for i in 0..3000u32 {
        db.delete(format!("k{i:06}").as_bytes()).unwrap();
    }
    let s = db.stats();
    assert_eq!(s.live_keys, Some(0));
    assert!(stat(&s, "free_pages") >= pages_full - 3.0, "{:?}", s.extra);
    check_page_accounting(&*db);
    fill(&*db, 2);
    db.compact().unwrap();
    let pages_again = stat(&db.stats(), "page_count");
    let file_again = std::fs::metadata(dir.path().join("btree.db"))
        .unwrap()
        .len();
    assert!(
        pages_again <= pages_full * 1.03,
        "{pages_full} pages after the first fill, {pages_again} after the second"
    );
    assert!(file_again as f64 <= file_full as f64 * 1.03);
    assert_eq!(db.get(b"k000050").unwrap().unwrap(), vec![2u8; 30_000]);
    check_page_accounting(&*db);
    db.close().unwrap();
}

/// Values that need overflow chains of every length up to 16 MiB, replaced and deleted
/// (their chains freed), across a reopen and a checkpoint.
#[test]
fn overflow_chains() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &small());
    let mut model = Model::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    for (i, len) in [1200usize, 1300, 4076, 4077, 8152, 8153, 100_000, 16 << 20]
        .into_iter()
        .enumerate()
    {
        let v: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let k = format!("big{i}").into_bytes();
        db.put(&k, &v).unwrap();
        assert_eq!(db.get(&k).unwrap().as_ref(), Some(&v), "len {len}");
        model.insert(k, v);
    }
    assert!(stat(&db.stats(), "overflow_pages") >= 4096.0);
    check(&*db, &model);
    db.close().unwrap();
    let db = open(dir.path(), &small());
    check(&*db, &model);
    db.put(b"big7", b"small now").unwrap();
    model.insert(b"big7".to_vec(), b"small now".to_vec());
    db.delete(b"big6").unwrap();
    model.remove(b"big6".as_slice());
    check(&*db, &model);
    assert!(stat(&db.stats(), "overflow_pages") < 20.0);
    assert!(stat(&db.stats(), "free_pages") >= 4096.0);
    db.compact().unwrap();
    check(&*db, &model);
    db.close().unwrap();
}

/// A pool of 16 frames under a tree of thousands of pages: reads evict and miss, and
/// every value still comes back right.
#[test]
fn buffer_pool_smaller_than_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small();
    o.btree.buffer_pool_bytes = 16 * 4096;
    let db = open(dir.path(), &o);
    let mut model = Model::new();
    for i in 0..20_000u32 {
        let (k, v) = (
            format!("key{i:08}").into_bytes(),
            i.to_le_bytes().repeat(20),
        );
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    db.close().unwrap();
    let db = open(dir.path(), &o);
    // Write out what the reopen replayed from the log, so that every page is clean.
    db.compact().unwrap();
    check(&*db, &model);
    let s = db.stats();
    assert!(stat(&s, "leaf_pages") > 16.0 * 20.0);
    assert_eq!(stat(&s, "dirty_pages"), 0.0);
    assert!(
        stat(&s, "buffer_pool_used_pages") <= 16.0 + 8.0,
        "{:?}",
        s.extra
    );
    assert!(stat(&s, "buffer_pool_evictions") > 1000.0);
    assert!(stat(&s, "buffer_pool_misses") > 1000.0);
    assert!(stat(&s, "buffer_pool_hits") > 1000.0);
    // One scan over the whole tree reads past the pool once it is full: the pool stays
    // within its bound while the call runs, not only after the next call evicts.
    assert_eq!(db.scan(b"", None, usize::MAX).unwrap().len(), model.len());
    let s = db.stats();
    assert!(
        stat(&s, "buffer_pool_used_pages") <= 16.0 + 8.0,
        "{:?}",
        s.extra
    );
    db.close().unwrap();
}

/// Options no pool could work with are refused with a clear error, and nothing is
/// written to the directory.
#[test]
fn bad_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small();
    o.btree.buffer_pool_bytes = 4096;
    let err = engines::open(EngineKind::Btree, dir.path(), &o)
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("buffer_pool_bytes")),
        "{err}"
    );
    let mut o = small();
    o.btree.commit_bytes = 0;
    assert!(matches!(
        engines::open(EngineKind::Btree, dir.path(), &o).err(),
        Some(Error::InvalidInput(_))
    ));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// The figures the engine reports, under the names the issue lists.
#[test]
fn stats_report_tree_wal_checkpoint_and_pool_figures() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &small());
    for i in 0..3000u32 {
        db.put(format!("k{i:05}").as_bytes(), &[3u8; 90]).unwrap();
    }
    db.put(b"big", &vec![1u8; 50_000]).unwrap();
    db.compact().unwrap();
    for i in 0..3000u32 {
        assert!(db.get(format!("k{i:05}").as_bytes()).unwrap().is_some());
    }
    let s = db.stats();
    for name in [
        "tree_height",
        "leaf_pages",
        "internal_pages",
        "overflow_pages",
        "free_pages",
        "leaf_fill_factor",
        "wal_records",
        "wal_bytes_written",
        "checkpoint_pages_written",
        "checkpoint_bytes_written",
        "buffer_pool_hits",
        "buffer_pool_misses",
        "buffer_pool_evictions",
        "dwb_bytes_written",
        "wal_writes",
        "wal_fsyncs",
    ] {
        assert!(s.extra.contains_key(name), "missing {name}");
    }
    assert!(stat(&s, "tree_height") >= 2.0);
    assert_eq!(
        stat(&s, "overflow_pages"),
        13.0,
        "50,000 bytes in 4,076-byte pages"
    );
    let fill = stat(&s, "leaf_fill_factor");
    assert!((0.4..=1.0).contains(&fill), "fill factor {fill}");
    assert!(stat(&s, "checkpoint_pages_written") >= stat(&s, "leaf_pages"));
    assert!(s.compactions >= 1 && s.compaction_bytes_written > 0);
    assert!(stat(&s, "buffer_pool_hits") > 0.0 && stat(&s, "buffer_pool_misses") > 0.0);
    assert_eq!(s.live_keys, Some(3001));
    assert!(s.io.bytes_written >= stat(&s, "wal_bytes_written") as u64);
    assert!(s.disk_bytes >= 4096 * stat(&s, "page_count") as u64);
    db.close().unwrap();
}
