//! The btree engine against the conformance kit (small pages budgets so that checkpoints,
//! spills and evictions happen inside the kit's small workloads), then its own tests.

use engines::conformance::Kit;
use engines::{EngineKind, Options};

fn btree_kit() -> Kit {
    let mut o = Options::default();
    o.btree.buffer_pool_bytes = 64 * 4096;
    o.btree.checkpoint_wal_bytes = 256 * 1024;
    o.btree.commit_every_writes = 16;
    o.btree.max_dirty_pages = 32;
    Kit::for_kind(EngineKind::Btree).with_options(o)
}

engines::conformance_suite!(btree, btree_kit());

/// A second configuration for SIGKILL cycles only: a checkpoint every few commits and a
/// tiny pool, so that many kills land inside checkpoints, spills and evictions.
fn busy_kit() -> Kit {
    let mut o = Options::default();
    o.btree.buffer_pool_bytes = 16 * 4096;
    o.btree.checkpoint_wal_bytes = 48 * 1024;
    o.btree.commit_every_writes = 4;
    o.btree.max_dirty_pages = 8;
    Kit::for_kind(EngineKind::Btree).with_options(o)
}

mod busy {
    use engines::conformance::crash;
    use engines::Durability;

    #[test]
    #[ignore = "the child process of the busy crash tests"]
    fn crash_child() {
        crash::child(&super::busy_kit())
    }

    #[test]
    fn crash_with_frequent_checkpoints_sync() {
        crash::cycles(&super::busy_kit(), "busy::crash_child", Durability::Sync)
    }

    #[test]
    fn crash_with_frequent_checkpoints_none() {
        crash::cycles(&super::busy_kit(), "busy::crash_child", Durability::None)
    }
}

/// The btree engine's own tests: tree shape, free-page reuse, overflow chains, the buffer
/// pool, torn pages and a crash at each step of a checkpoint.
mod own {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::process::Command;

    use engines::{Engine, EngineKind, EngineStats, Error, Options};
    use rand::{Rng, SeedableRng};

    type Model = BTreeMap<Vec<u8>, Vec<u8>>;

    fn small() -> Options {
        super::btree_kit().options
    }

    /// Opens through the kit, which waits out a lock briefly held by a sibling test's fork.
    fn open(dir: &Path, o: &Options) -> Box<dyn Engine> {
        super::btree_kit().try_open(dir, o).unwrap()
    }

    fn stat(s: &EngineStats, name: &str) -> f64 {
        *s.extra
            .get(name)
            .unwrap_or_else(|| panic!("stat {name} missing"))
    }

    /// Every page is a node, an overflow page, free, or the meta page.
    fn check_page_accounting(db: &dyn Engine) {
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
    fn check(db: &dyn Engine, model: &Model) {
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
    fn big_key(i: u32) -> Vec<u8> {
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
        assert!(stat(&after, "leaf_pages") < stat(&before, "leaf_pages") * 0.5);
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
        check(&*db, &model);
        let s = db.stats();
        assert!(stat(&s, "leaf_pages") > 16.0 * 20.0);
        assert!(stat(&s, "buffer_pool_used_pages") <= 16.0);
        assert!(stat(&s, "buffer_pool_evictions") > 1000.0);
        assert!(stat(&s, "buffer_pool_misses") > 1000.0);
        assert!(stat(&s, "buffer_pool_hits") > 1000.0);
        db.close().unwrap();
    }

    fn flip(path: &Path, at: u64) {
        let mut b = std::fs::read(path).unwrap();
        b[at as usize] ^= 0x20;
        std::fs::write(path, b).unwrap();
    }

    /// A damaged data page is repaired from the WAL when the WAL holds its image, and is
    /// `Error::Corruption` when it does not, never data.
    #[test]
    fn torn_data_pages_repaired_from_the_wal_or_reported() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path(), &small());
        for i in 0..500u32 {
            db.put(format!("k{i:04}").as_bytes(), &[1u8; 100]).unwrap();
        }
        db.compact().unwrap();
        db.put(b"k0000", b"newer").unwrap();
        db.close().unwrap();
        // The meta page is in every commit, so the WAL repairs it.
        let data = dir.path().join("btree.db");
        flip(&data, 100);
        let db = open(dir.path(), &small());
        assert_eq!(db.get(b"k0000").unwrap().as_deref(), Some(&b"newer"[..]));
        assert_eq!(db.scan(b"", None, usize::MAX).unwrap().len(), 500);
        db.compact().unwrap();
        db.close().unwrap();
        // After a checkpoint the WAL is empty: damage is reported, never read as data.
        flip(&data, 100);
        assert!(matches!(
            engines::open(EngineKind::Btree, dir.path(), &small()).err(),
            Some(Error::Corruption { .. })
        ));
        flip(&data, 100);
        let pages = std::fs::metadata(&data).unwrap().len() / 4096;
        // Debug builds check the whole tree at open, so the damage may be found there.
        for page in 1..pages {
            flip(&data, page * 4096 + 2000);
            let r = super::btree_kit()
                .try_open(dir.path(), &small())
                .and_then(|db| {
                    let all = db.scan(b"", None, usize::MAX);
                    db.close()?;
                    all
                });
            match r {
                Ok(all) => assert_eq!(all.len(), 500, "page {page} damage went unnoticed"),
                Err(Error::Corruption { file, offset, .. }) => {
                    assert_eq!((file, offset), (data.clone(), page * 4096))
                }
                Err(e) => panic!("{e}"),
            }
            flip(&data, page * 4096 + 2000);
        }
    }

    const CHILD_DIR: &str = "BTREE_TEST_CHILD_DIR";

    /// Child of `crash_at_each_checkpoint_step`: writes, syncs, and checkpoints with
    /// `KVBENCH_CRASH_AT` set, so it dies at that step.
    #[test]
    #[ignore = "run by crash_at_each_checkpoint_step"]
    fn checkpoint_crash_child() {
        let Ok(dir) = std::env::var(CHILD_DIR) else {
            return;
        };
        let mut o = small();
        o.btree.checkpoint_wal_bytes = u64::MAX;
        let db = open(dir.as_ref(), &o);
        let round: u32 = std::env::var("BTREE_TEST_ROUND").unwrap().parse().unwrap();
        write_round(&*db, round);
        db.sync().unwrap();
        db.compact().unwrap();
        db.close().unwrap();
    }

    fn write_round(db: &dyn Engine, round: u32) {
        for i in 0..1500u32 {
            let k = format!("k{:05}", (i * 7 + round) % 1000).into_bytes();
            if i % 11 == 0 {
                db.delete(&k).unwrap();
            } else {
                let len = if i % 97 == 0 {
                    9000
                } else {
                    50 + (i % 200) as usize
                };
                db.put(&k, &vec![(round * 31 + i) as u8; len]).unwrap();
            }
        }
    }

    fn model_round(model: &mut Model, round: u32) {
        for i in 0..1500u32 {
            let k = format!("k{:05}", (i * 7 + round) % 1000).into_bytes();
            if i % 11 == 0 {
                model.remove(&k);
            } else {
                let len = if i % 97 == 0 {
                    9000
                } else {
                    50 + (i % 200) as usize
                };
                model.insert(k, vec![(round * 31 + i) as u8; len]);
            }
        }
    }

    /// SIGKILL at every step of a checkpoint (each step twice, on a store that already went
    /// through earlier checkpoints): the store reopens with every synced write, checkpoints
    /// again and takes writes.
    #[test]
    fn crash_at_each_checkpoint_step() {
        let steps = [
            "start",
            "wal_synced",
            "half_written",
            "pages_written",
            "data_synced",
            "wal_reset",
        ];
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let mut model = Model::new();
        let mut round = 0;
        for step in steps.iter().chain(steps.iter()) {
            round += 1;
            let out = Command::new(&exe)
                .args([
                    "own::checkpoint_crash_child",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                ])
                .env(CHILD_DIR, dir.path())
                .env("BTREE_TEST_ROUND", round.to_string())
                .env("KVBENCH_CRASH_AT", format!("btree.checkpoint.{step}"))
                .output()
                .unwrap();
            assert!(
                out.status.code().is_none(),
                "the child was to die at {step}: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            model_round(&mut model, round);
            let db = open(dir.path(), &small());
            check(&*db, &model);
            if round % 2 == 0 {
                db.compact().unwrap();
                check(&*db, &model);
            }
            db.put(b"~probe", step.as_bytes()).unwrap();
            db.delete(b"~probe").unwrap();
            db.close().unwrap();
        }
    }

    /// In `none` mode writes are batched into commits: far fewer page images than writes.
    #[test]
    fn commits_batch_many_writes_per_page_image() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.btree.commit_every_writes = 100;
        o.btree.checkpoint_wal_bytes = u64::MAX;
        let db = open(dir.path(), &o);
        for i in 0..2000u32 {
            db.put(format!("k{i:06}").as_bytes(), &[5u8; 20]).unwrap();
        }
        db.sync().unwrap();
        let s = db.stats();
        let images = stat(&s, "wal_pages_written");
        assert!(stat(&s, "wal_commits") <= 21.0, "{:?}", s.extra);
        assert!(images < 400.0, "{images} page images for 2000 writes");
        assert_eq!(
            stat(&s, "wal_bytes_written") as u64,
            std::fs::metadata(dir.path().join("btree.wal"))
                .unwrap()
                .len()
        );
        db.close().unwrap();
    }

    /// A damaged frame in the middle of the WAL is `Error::Corruption`, not a silent loss of
    /// the commits behind it; a torn last commit costs only that commit.
    #[test]
    fn wal_damage_is_reported_and_torn_tail_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.btree.commit_every_writes = 1;
        o.btree.checkpoint_wal_bytes = u64::MAX;
        let db = open(dir.path(), &o);
        for i in 0..50u32 {
            db.put(format!("k{i:03}").as_bytes(), &[1u8; 10]).unwrap();
        }
        db.close().unwrap();
        drop(db);
        let wal = dir.path().join("btree.wal");
        let pristine = std::fs::read(&wal).unwrap();
        flip(&wal, 5000);
        assert!(matches!(
            engines::open(EngineKind::Btree, dir.path(), &o).err(),
            Some(Error::Corruption { .. })
        ));
        // Cut inside the last commit (before the close marker): that write is lost, and
        // the store takes writes again behind the cut.
        std::fs::write(&wal, &pristine[..pristine.len() - 40]).unwrap();
        let db = open(dir.path(), &o);
        assert_eq!(db.get(b"k049").unwrap(), None);
        assert_eq!(db.get(b"k048").unwrap().as_deref(), Some(&[1u8; 10][..]));
        db.put(b"k049", b"again").unwrap();
        db.close().unwrap();
        let db = open(dir.path(), &o);
        assert_eq!(db.get(b"k049").unwrap().as_deref(), Some(&b"again"[..]));
        assert_eq!(db.scan(b"", None, usize::MAX).unwrap().len(), 50);
        db.close().unwrap();
    }

    /// Readers and scans run beside writers and checkpoints and never see a torn value or an
    /// unordered scan.
    #[test]
    fn readers_beside_writers_and_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let db: std::sync::Arc<dyn Engine> = open(dir.path(), &small()).into();
        let value = |k: u32, ver: u32| {
            let mut v = format!("{k}:{ver}:").into_bytes();
            v.resize(if k % 13 == 0 { 5000 } else { 60 }, (k ^ ver) as u8);
            v
        };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|t| {
                let (db, stop) = (db.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let k = (n * 7 + t) as u32 % 500;
                        if let Some(v) = db.get(format!("k{k:04}").as_bytes()).unwrap() {
                            let text = String::from_utf8_lossy(&v);
                            let ver: u32 = text.split(':').nth(1).unwrap().parse().unwrap();
                            assert_eq!(v, value(k, ver), "torn value");
                        }
                        if n % 50 == 0 {
                            let all = db.scan(b"k0100", Some(b"k0300"), 1000).unwrap();
                            assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        for ver in 0..8u32 {
            for k in 0..500u32 {
                db.put(format!("k{k:04}").as_bytes(), &value(k, ver))
                    .unwrap();
            }
            db.compact().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        assert!(db.stats().compactions >= 8);
        db.close().unwrap();
    }

    /// In `group` mode a failed fsync in the flusher poisons the engine: later writes are
    /// refused until reopen, and the reopened store holds every write synced before.
    #[test]
    fn group_mode_fsync_failure_poisons() {
        use engines::io::{clear_faults, inject_fault, Fault};
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.durability = engines::Durability::Group;
        o.group_commit.interval = std::time::Duration::from_millis(2);
        let db = open(dir.path(), &o);
        db.put(b"synced", b"yes").unwrap();
        db.sync().unwrap();
        inject_fault(dir.path(), Fault::FailSync);
        db.put(b"later", b"maybe").unwrap();
        let t = std::time::Instant::now();
        let poisoned = loop {
            match db.put(b"probe", b"x") {
                Err(Error::Poisoned(_)) => break true,
                Err(e) => panic!("{e}"),
                Ok(()) if t.elapsed() > std::time::Duration::from_secs(10) => break false,
                Ok(()) => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        };
        clear_faults(dir.path());
        assert!(
            poisoned,
            "the flusher's failed fsync did not poison the engine"
        );
        assert!(db.close().is_err());
        drop(db);
        let db = open(dir.path(), &o);
        assert_eq!(db.get(b"synced").unwrap().as_deref(), Some(&b"yes"[..]));
        db.put(b"after", b"reopen").unwrap();
        db.close().unwrap();
    }

    /// In `sync` mode concurrent writers each wait for a commit and an fsync that covers
    /// their write (shared when they overlap: never more commits than writes), and every
    /// write is there after reopen.
    #[test]
    fn sync_mode_concurrent_writers() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.durability = engines::Durability::Sync;
        let db: std::sync::Arc<dyn Engine> = open(dir.path(), &o).into();
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for i in 0..60u32 {
                        db.put(format!("t{t}k{i:03}").as_bytes(), b"v").unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = db.stats();
        assert!(stat(&s, "wal_fsyncs") <= 240.0 && stat(&s, "wal_commits") <= 240.0);
        assert_eq!(s.live_keys, Some(240));
        db.close().unwrap();
        let db = open(dir.path(), &o);
        assert_eq!(db.scan(b"", None, usize::MAX).unwrap().len(), 240);
        db.close().unwrap();
    }

    /// Dropping an engine without `close()` stops its flusher and releases the store lock;
    /// every synced write is there on reopen.
    #[test]
    fn drop_without_close_releases_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.durability = engines::Durability::Group;
        for round in 0..3u8 {
            let db = open(dir.path(), &o);
            db.put(&[b'k', round], &[round; 10]).unwrap();
            db.sync().unwrap();
            db.put(b"unsynced", &[round]).unwrap();
            drop(db);
        }
        let db = open(dir.path(), &o);
        for round in 0..3u8 {
            assert_eq!(db.get(&[b'k', round]).unwrap(), Some(vec![round; 10]));
        }
        db.close().unwrap();
    }

    /// Page ids with an image in the WAL, read from its frames (12-byte log header, then
    /// kind 1, txn, page id, image).
    fn pages_in_wal(wal: &[u8]) -> Vec<u64> {
        let (mut at, mut ids) = (0, vec![]);
        while at + 12 <= wal.len() {
            let len = u32::from_le_bytes(wal[at + 4..at + 8].try_into().unwrap()) as usize;
            let payload = &wal[at + 12..at + 12 + len];
            if payload[0] == 1 {
                ids.push(u32::from_le_bytes(payload[9..13].try_into().unwrap()) as u64);
            }
            at += 12 + len;
        }
        ids
    }

    /// Every data page whose image is in the WAL is torn (as a crash in the middle of a
    /// checkpoint leaves it): the store reads right, and its next checkpoint rewrites them.
    #[test]
    fn data_pages_torn_mid_checkpoint_are_repaired_from_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.btree.checkpoint_wal_bytes = u64::MAX;
        let db = open(dir.path(), &o);
        let mut model = Model::new();
        for i in 0..3000u32 {
            let (k, v) = (format!("k{i:05}").into_bytes(), vec![i as u8; 80]);
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
        db.compact().unwrap();
        for i in (0..3000u32).step_by(3) {
            let (k, v) = (format!("k{i:05}").into_bytes(), vec![!i as u8; 120]);
            db.put(&k, &v).unwrap();
            model.insert(k, v);
        }
        db.close().unwrap();
        drop(db);
        let data = dir.path().join("btree.db");
        let mut bytes = std::fs::read(&data).unwrap();
        let ids = pages_in_wal(&std::fs::read(dir.path().join("btree.wal")).unwrap());
        let mut torn = 0;
        for id in ids {
            let at = (id * 4096) as usize;
            if at + 4096 <= bytes.len() {
                bytes[at + 2048..at + 4096].fill(0xAB);
                torn += 1;
            }
        }
        assert!(torn > 50, "only {torn} pages torn");
        std::fs::write(&data, &bytes).unwrap();
        let db = open(dir.path(), &o);
        check(&*db, &model);
        db.compact().unwrap();
        db.close().unwrap();
        let db = open(dir.path(), &o);
        check(&*db, &model);
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
        o.btree.commit_every_writes = 0;
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
            "wal_pages_written",
            "wal_bytes_written",
            "checkpoint_pages_written",
            "checkpoint_bytes_written",
            "buffer_pool_hits",
            "buffer_pool_misses",
            "buffer_pool_evictions",
            "buffer_pool_pages_written",
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
}
