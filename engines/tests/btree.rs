//! The btree engine against the conformance kit (small budgets so that checkpoints and
//! evictions happen inside the kit's small workloads), then its own tests.

use engines::conformance::Kit;
use engines::{EngineKind, Options};

fn btree_kit() -> Kit {
    let mut o = Options::default();
    o.btree.buffer_pool_bytes = 64 * 4096;
    o.btree.checkpoint_wal_bytes = 256 * 1024;
    o.btree.commit_bytes = 2048;
    o.btree.max_dirty_pages = 32;
    Kit::for_kind(EngineKind::Btree).with_options(o)
}

engines::conformance_suite!(btree, btree_kit());

/// A second configuration for SIGKILL and power-cut cycles only: a checkpoint every few
/// commits and a tiny pool, so that many crashes land inside checkpoints and evictions.
fn busy_kit() -> Kit {
    let mut o = Options::default();
    o.btree.buffer_pool_bytes = 16 * 4096;
    o.btree.checkpoint_wal_bytes = 48 * 1024;
    o.btree.commit_bytes = 512;
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

    #[test]
    fn power_cuts_with_frequent_checkpoints() {
        crash::power_cycles(&super::busy_kit(), "busy::crash_child")
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
        db.close().unwrap();
    }

    fn flip(path: &Path, at: u64) {
        let mut b = std::fs::read(path).unwrap();
        b[at as usize] ^= 0x20;
        std::fs::write(path, b).unwrap();
    }

    /// A damaged data page (the meta page included) is `Error::Corruption` with its file and
    /// offset, never read as data.
    #[test]
    fn damaged_data_pages_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path(), &small());
        for i in 0..500u32 {
            db.put(format!("k{i:04}").as_bytes(), &[1u8; 100]).unwrap();
        }
        db.compact().unwrap();
        db.close().unwrap();
        let data = dir.path().join("btree.db");
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
        o.btree.max_dirty_pages = 1 << 30;
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
            "log_created",
            "frozen",
            "log_synced",
            "fresh_written",
            "dwb_synced",
            "half_written",
            "pages_written",
            "data_synced",
            "dwb_cleared",
            "done",
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

    /// The log holds one small record per write: its bytes are the user bytes plus a fixed
    /// overhead, and in `none` mode they reach the file in a few large writes.
    #[test]
    fn log_costs_about_the_user_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.btree.commit_bytes = 16 * 1024;
        o.btree.checkpoint_wal_bytes = u64::MAX;
        o.btree.max_dirty_pages = 1 << 20;
        let db = open(dir.path(), &o);
        let (n, user) = (2000u64, 2000 * (7 + 90));
        for i in 0..n {
            db.put(format!("k{i:06}").as_bytes(), &[5u8; 90]).unwrap();
        }
        db.sync().unwrap();
        let s = db.stats();
        let logged = stat(&s, "wal_bytes_written") as u64;
        // Framing (12), kind (1), LSN (8) and key length (2) per record.
        assert_eq!(logged, user + 23 * n, "{:?}", s.extra);
        assert!(stat(&s, "wal_writes") <= (logged / (16 * 1024) + 2) as f64);
        assert_eq!(stat(&s, "checkpoints"), 0.0);
        let file = std::fs::metadata(dir.path().join("btree.wal.1"))
            .unwrap()
            .len();
        assert_eq!(file, logged + engines::log::LOG_START);
        assert!(
            s.io.bytes_written < 2 * user,
            "{} bytes written for {user}",
            s.io.bytes_written
        );
        db.close().unwrap();
    }

    /// The newest log file of a store.
    fn last_log(dir: &Path) -> std::path::PathBuf {
        let mut logs: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path();
                let g = p
                    .file_name()?
                    .to_str()?
                    .strip_prefix("btree.wal.")?
                    .parse()
                    .ok()?;
                Some((g, p))
            })
            .collect();
        logs.sort();
        logs.pop().expect("a log file").1
    }

    /// After a clean close the whole log lies inside its synced length, so damage anywhere in
    /// it, a record in the middle or a cut into the last one, is `Error::Corruption`, never a
    /// silent loss of writes. (Damage past the synced length is a torn tail: see
    /// `reliability::power_cut_damage_past_the_synced_length_is_a_torn_tail`.)
    #[test]
    fn log_damage_after_a_clean_close_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.btree.commit_bytes = 1;
        o.btree.checkpoint_wal_bytes = u64::MAX;
        let db = open(dir.path(), &o);
        for i in 0..50u32 {
            db.put(format!("k{i:03}").as_bytes(), &[1u8; 10]).unwrap();
        }
        db.close().unwrap();
        drop(db);
        let wal = last_log(dir.path());
        let pristine = std::fs::read(&wal).unwrap();
        flip(&wal, (1024 + pristine.len() as u64) / 2);
        assert!(matches!(
            engines::open(EngineKind::Btree, dir.path(), &o).err(),
            Some(Error::Corruption { .. })
        ));
        std::fs::write(&wal, &pristine[..pristine.len() - 10]).unwrap();
        assert!(matches!(
            engines::open(EngineKind::Btree, dir.path(), &o).err(),
            Some(Error::Corruption { .. })
        ));
        std::fs::write(&wal, &pristine).unwrap();
        let db = open(dir.path(), &o);
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
        assert!(stat(&s, "wal_fsyncs") <= 240.0 && stat(&s, "wal_writes") <= 240.0);
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

    /// Page ids of the snapshot in a double-write buffer (frames after the head: a 12-byte
    /// frame header, then kind 2, LSN, page id, image).
    fn pages_in_dwb(dwb: &[u8]) -> Vec<u64> {
        let (mut at, mut ids) = (0, vec![]);
        while at + 12 <= dwb.len() {
            let len = u32::from_le_bytes(dwb[at + 4..at + 8].try_into().unwrap()) as usize;
            let payload = &dwb[at + 12..at + 12 + len];
            if payload[0] == 2 {
                ids.push(u32::from_le_bytes(payload[9..13].try_into().unwrap()) as u64);
            }
            at += 12 + len;
        }
        ids
    }

    /// A checkpoint killed while it writes pages in place leaves the data file half old and
    /// half new; here every page of its snapshot is torn besides. The double-write buffer
    /// holds the snapshot whole, so the store opens with every write.
    #[test]
    fn a_checkpoint_cut_short_is_repaired_from_the_double_write_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let mut model = Model::new();
        for (round, step) in [(1, "done"), (2, "half_written")] {
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
                "the child was to die at {step}"
            );
            model_round(&mut model, round);
        }
        let ids = pages_in_dwb(&std::fs::read(dir.path().join("btree.dwb")).unwrap());
        assert!(
            ids.len() > 20,
            "{} pages in the double-write buffer",
            ids.len()
        );
        let data = dir.path().join("btree.db");
        let mut bytes = std::fs::read(&data).unwrap();
        for &id in &ids {
            let at = (id * 4096) as usize;
            bytes.resize(bytes.len().max(at + 4096), 0);
            bytes[at + 2048..at + 4096].fill(0xAB);
        }
        std::fs::write(&data, &bytes).unwrap();
        let db = open(dir.path(), &small());
        check(&*db, &model);
        db.close().unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join("btree.dwb"))
                .unwrap()
                .len(),
            0
        );
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
}

/// The durability contract where a SIGKILL does not reach: `close()` racing other threads, a
/// power cut that tears the unsynced tail of the log, a write that fails under concurrent
/// writers, and `settle()`.
mod reliability {
    use std::collections::BTreeMap;
    use std::hash::{Hash, Hasher};
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
    use std::sync::{Arc, Barrier, Mutex};
    use std::time::Duration;

    use engines::io::{clear_faults, inject_fault, Fault};
    use engines::{Durability, Engine, Error, Options};
    use rand::{Rng, SeedableRng};

    fn small() -> Options {
        super::btree_kit().options
    }

    fn open(dir: &Path, o: &Options) -> Box<dyn Engine> {
        super::btree_kit().try_open(dir, o).unwrap()
    }

    /// Name, length and a hash of the contents of every file of the store but the lock.
    fn files(dir: &Path) -> Vec<(String, u64, u64)> {
        let mut out = vec![];
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "LOCK" {
                continue;
            }
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            out.push((name, bytes.len() as u64, h.finish()));
        }
        out.sort();
        out
    }

    /// Copies the store's files (not the lock) to a new directory, as a crash would leave them.
    fn copy_store(from: &Path) -> tempfile::TempDir {
        let to = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_name() != "LOCK" {
                std::fs::copy(e.path(), to.path().join(e.file_name())).unwrap();
            }
        }
        to
    }

    /// What an instance has written and fsynced, by its own I/O counters.
    fn written(db: &dyn Engine) -> (u64, u64, u64, u64) {
        let io = db.stats().io;
        (
            io.bytes_written,
            io.write_calls,
            io.fsyncs,
            io.files_created + io.files_removed,
        )
    }

    /// Ok, or `Closed` (the caller stops); anything else fails the test.
    fn ok_or_closed<T>(r: engines::Result<T>, what: &str) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(Error::Closed) => None,
            Err(e) => panic!("{what} racing close(): {e}"),
        }
    }

    /// A put in flight when `close()` begins finishes, checkpoint included, before `close()`
    /// returns: a new instance opened at once in the same process, which writes and syncs,
    /// never sees the old one touch the files, and every write either instance acknowledged
    /// is there on the next open.
    #[test]
    fn close_waits_for_puts_in_flight() {
        let mut o = small();
        // A checkpoint after every put, so in-flight puts are often in one.
        o.btree.checkpoint_wal_bytes = 1;
        // In `sync` mode a put waits for an fsync between its change and its checkpoint,
        // and close() commits and fsyncs too.
        o.durability = Durability::Sync;
        o.btree.commit_bytes = 64;
        for trial in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let db: Arc<dyn Engine> = open(dir.path(), &o).into();
            let done = Arc::new(AtomicU64::new(0));
            let writers: Vec<_> = (0..3u8)
                .map(|t| {
                    let (db, done) = (db.clone(), done.clone());
                    std::thread::spawn(move || {
                        let mut n = 0u32;
                        while ok_or_closed(
                            db.put(format!("t{t}-{n:06}").as_bytes(), &[t; 200]),
                            "put",
                        )
                        .is_some()
                        {
                            n += 1;
                            done.fetch_add(1, Relaxed);
                        }
                        n
                    })
                })
                .collect();
            while done.load(Relaxed) < 5 + trial / 4 {
                std::thread::yield_now();
            }
            db.close().unwrap();
            let at_close = written(&*db);
            let new = open(dir.path(), &o);
            new.put(b"new-owner", b"synced").unwrap();
            new.sync().unwrap();
            let before = files(dir.path());
            let acked: Vec<u32> = writers.into_iter().map(|w| w.join().unwrap()).collect();
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(
                written(&*db),
                at_close,
                "trial {trial}: the closed instance wrote after close() returned"
            );
            assert_eq!(files(dir.path()), before, "trial {trial}: files changed");
            drop(db);
            new.close().unwrap();
            let db = open(dir.path(), &o);
            assert_eq!(
                db.get(b"new-owner").unwrap().as_deref(),
                Some(&b"synced"[..]),
                "trial {trial}: the new owner's synced write is lost"
            );
            for (t, &n) in acked.iter().enumerate() {
                for i in 0..n {
                    assert!(
                        db.get(format!("t{t}-{i:06}").as_bytes()).unwrap().is_some(),
                        "trial {trial}: acknowledged write t{t}-{i:06} lost"
                    );
                }
            }
            db.close().unwrap();
        }
    }

    /// `close()` while threads put, get, scan, sync and compact, in every durability mode:
    /// they see only Ok or `Closed`; once `close()` returns the files do not change for
    /// 200 ms; the next open holds every acknowledged write. 50 rounds.
    #[test]
    fn close_while_every_call_runs() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        for round in 0..50u32 {
            let dir = tempfile::tempdir().unwrap();
            let mut o = small();
            o.durability =
                [Durability::None, Durability::Group, Durability::Sync][round as usize % 3];
            o.group_commit.interval = Duration::from_millis(2);
            o.btree.checkpoint_wal_bytes = 64 * 1024;
            let db: Arc<dyn Engine> = open(dir.path(), &o).into();
            let puts = |t: u32, db: Arc<dyn Engine>| {
                std::thread::spawn(move || {
                    let mut acked = vec![];
                    for i in 0u32.. {
                        let k = format!("t{t}-{i:06}").into_bytes();
                        if ok_or_closed(db.put(&k, &[t as u8; 150]), "put").is_none() {
                            break;
                        }
                        acked.push(k);
                        if t == 1 && i % 20 == 0 && ok_or_closed(db.sync(), "sync").is_none() {
                            break;
                        }
                        if t == 2 && i % 50 == 0 && ok_or_closed(db.compact(), "compact").is_none()
                        {
                            break;
                        }
                    }
                    acked
                })
            };
            let writers = vec![
                puts(0, db.clone()),
                puts(1, db.clone()),
                puts(2, db.clone()),
            ];
            let reader = {
                let db = db.clone();
                std::thread::spawn(move || {
                    for i in 0u32.. {
                        let k = format!("t0-{:06}", i % 500);
                        if ok_or_closed(db.get(k.as_bytes()), "get").is_none()
                            || ok_or_closed(db.scan(b"t1", Some(b"t2"), 20), "scan").is_none()
                        {
                            break;
                        }
                    }
                })
            };
            std::thread::sleep(Duration::from_micros(rng.gen_range(500..8000)));
            db.close().unwrap();
            let (before, at_close) = (files(dir.path()), written(&*db));
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(
                written(&*db),
                at_close,
                "round {round}: the instance wrote after close() returned"
            );
            assert_eq!(
                files(dir.path()),
                before,
                "round {round}: the files changed after close() returned"
            );
            let acked: Vec<Vec<u8>> = writers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect();
            reader.join().unwrap();
            drop(db);
            let db = open(dir.path(), &o);
            for k in &acked {
                assert!(
                    db.get(k).unwrap().is_some(),
                    "round {round}: acknowledged write {} lost",
                    String::from_utf8_lossy(k)
                );
            }
            db.close().unwrap();
        }
    }

    /// Two `close()` calls at once: each returns only when the store is closed (its
    /// directory lock released).
    #[test]
    fn a_second_close_waits_for_the_first() {
        use std::os::fd::AsRawFd;
        let probe = Arc::new(Mutex::new(()));
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let mut o = small();
            o.btree.commit_bytes = 1 << 30;
            o.btree.max_dirty_pages = 1 << 20;
            let db: Arc<dyn Engine> = open(dir.path(), &o).into();
            for i in 0..3000u32 {
                db.put(format!("k{i:06}").as_bytes(), &[1u8; 300]).unwrap();
            }
            let start = Arc::new(Barrier::new(2));
            let closers: Vec<_> = (0..2)
                .map(|_| {
                    let (db, start, probe) = (db.clone(), start.clone(), probe.clone());
                    let lock = dir.path().join("LOCK");
                    std::thread::spawn(move || {
                        start.wait();
                        let r = db.close();
                        assert!(matches!(r, Ok(()) | Err(Error::Closed)), "close: {r:?}");
                        let _one_at_a_time = probe.lock().unwrap();
                        let f = std::fs::File::open(&lock).unwrap();
                        // SAFETY: flock on a descriptor we own.
                        let rc =
                            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
                        assert_eq!(
                            rc, 0,
                            "round {round}: close() returned while the store was still locked"
                        );
                    })
                })
                .collect();
            for c in closers {
                c.join().unwrap();
            }
        }
    }

    fn key(i: u32) -> Vec<u8> {
        format!("k{i:05}").into_bytes()
    }

    fn value(i: u32) -> Vec<u8> {
        vec![i as u8; 300]
    }

    /// Opens a copy of a store written by [`power_cut_damage_past_the_synced_length_is_a_torn_tail`]
    /// and returns how many of its writes (a prefix) it holds.
    fn prefix_held(dir: &Path, o: &Options, written: u32) -> engines::Result<u32> {
        let db = super::btree_kit().try_open(dir, o)?;
        let mut n = 0;
        while n < written && db.get(&key(n))?.is_some() {
            assert_eq!(db.get(&key(n))?, Some(value(n)), "write {n}");
            n += 1;
        }
        for i in n..written {
            assert_eq!(db.get(&key(i))?, None, "write {i} is there but {n} is not");
        }
        db.put(b"~probe", b"after the cut")?;
        db.close()?;
        let db = super::btree_kit().try_open(dir, o)?;
        assert_eq!(db.get(b"~probe")?.as_deref(), Some(&b"after the cut"[..]));
        db.close()?;
        Ok(n)
    }

    /// After a power cut the unsynced tail of the WAL may come back with a hole (a 4 KiB block
    /// of zeros, with good frames behind it) or a torn 512-byte sector inside the last
    /// commit: the store opens with every synced write and a prefix of the rest. Damage to
    /// the synced part is `Corruption`.
    #[test]
    fn power_cut_damage_past_the_synced_length_is_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        // Records reach the log file every few writes, unsynced; no checkpoint runs.
        o.btree.commit_bytes = 1024;
        o.btree.checkpoint_wal_bytes = u64::MAX;
        o.btree.max_dirty_pages = 1 << 20;
        let db = open(dir.path(), &o);
        for i in 0..200 {
            db.put(&key(i), &value(i)).unwrap();
        }
        db.sync().unwrap();
        let wal = dir.path().join("btree.wal.1");
        let synced = std::fs::metadata(&wal).unwrap().len();
        for i in 200..600 {
            db.put(&key(i), &value(i)).unwrap();
        }
        // The files as they are while the engine is open: the commits after the sync are
        // written but not synced.
        let image = copy_store(dir.path());
        let len = std::fs::metadata(image.path().join("btree.wal.1"))
            .unwrap()
            .len();
        assert!(
            len > synced.next_multiple_of(4096) + 8 * 4096,
            "WAL {len} bytes, synced {synced}"
        );
        let damaged = |at: u64, bytes: &[u8]| {
            let copy = copy_store(image.path());
            let path = copy.path().join("btree.wal.1");
            let mut wal = std::fs::read(&path).unwrap();
            wal[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
            std::fs::write(&path, wal).unwrap();
            copy
        };
        // A block of zeros two blocks past the synced length, good frames behind it.
        let hole = synced.next_multiple_of(4096) + 2 * 4096;
        let copy = damaged(hole, &[0u8; 4096]);
        let n = prefix_held(copy.path(), &o, 600)
            .unwrap_or_else(|e| panic!("open after a zeroed block past the synced length: {e}"));
        assert!((200..600).contains(&n), "{n} writes held");
        // A torn sector inside the last commit.
        let sector = (len - 512) / 512 * 512;
        let copy = damaged(sector, &[0x5a; 512]);
        let n = prefix_held(copy.path(), &o, 600)
            .unwrap_or_else(|e| panic!("open after a torn sector in the last commit: {e}"));
        assert!((200..600).contains(&n), "{n} writes held");
        // Damage inside the synced part is corruption, never a silent loss.
        for at in [synced / 2, synced - 100] {
            let copy = damaged(at, &[0xa5; 8]);
            match prefix_held(copy.path(), &o, 600) {
                Err(Error::Corruption { .. }) => {}
                other => panic!("damage at {at} inside synced data ({synced} bytes): {other:?}"),
            }
        }
        db.close().unwrap();
    }

    /// Writer threads each own some keys and check every put they make reads back; once each
    /// has written a little, a fault is injected; each writer stops at its first error.
    fn writers_until_a_fault(
        db: &Arc<dyn Engine>,
        fault: impl FnOnce(),
    ) -> Vec<BTreeMap<u32, u32>> {
        let injected = Arc::new(AtomicBool::new(false));
        let progress: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());
        let writers: Vec<_> = (0..4u32)
            .map(|t| {
                let (db, injected, progress) = (db.clone(), injected.clone(), progress.clone());
                std::thread::spawn(move || {
                    let mut acked = BTreeMap::new();
                    let mut after_fault = 0;
                    for v in 1u32.. {
                        let k = t + 4 * (v * 7919 % 100);
                        let val = format!("{k}:{v}").into_bytes();
                        match db.put(&key(k), &val) {
                            Ok(()) => {
                                acked.insert(k, v);
                                assert_eq!(db.get(&key(k)).unwrap(), Some(val));
                                progress[t as usize].fetch_add(1, Relaxed);
                            }
                            Err(Error::Poisoned(_) | Error::Io(_)) => break,
                            Err(e) => panic!("writer {t}: {e}"),
                        }
                        if injected.load(Relaxed) {
                            after_fault += 1;
                            assert!(
                                after_fault < 100_000,
                                "writer {t}: no error after the fault"
                            );
                        }
                    }
                    acked
                })
            })
            .collect();
        let t = std::time::Instant::now();
        while progress.iter().any(|p| p.load(Relaxed) < 50) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "writers made no progress"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        fault();
        injected.store(true, Relaxed);
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    }

    /// A failed write (a full disk or a failed fsync, under four writers, in `none` and
    /// `group` modes) poisons the instance and changes nothing readers have seen: every key
    /// reads back as its last acknowledged put. The store reopens with every write synced
    /// before the fault, each key at a version that was written.
    #[test]
    fn failed_writes_change_nothing_readers_have_seen() {
        for (mode, disk_full) in [
            (Durability::None, true),
            (Durability::None, false),
            (Durability::Group, true),
            (Durability::Group, false),
        ] {
            let ctx = format!(
                "{mode} mode, {}",
                if disk_full {
                    "disk full"
                } else {
                    "failed fsync"
                }
            );
            let dir = tempfile::tempdir().unwrap();
            let mut o = small();
            o.durability = mode;
            o.group_commit.interval = Duration::from_millis(5);
            o.btree.commit_bytes = 2048;
            let db: Arc<dyn Engine> = open(dir.path(), &o).into();
            for k in 0..400 {
                db.put(&key(k), format!("{k}:0").as_bytes()).unwrap();
            }
            db.sync().unwrap();
            let d = dir.path().to_path_buf();
            let acked = writers_until_a_fault(&db, || {
                if disk_full {
                    inject_fault(&d, Fault::DiskFullAfter(40_000));
                } else {
                    inject_fault(&d, Fault::FailSync);
                    // A sync finding everything durable already (after a checkpoint) needs no
                    // fsync; the writers soon give the next one something to do.
                    let t = std::time::Instant::now();
                    while db.sync().is_ok() {
                        assert!(
                            t.elapsed() < Duration::from_secs(10),
                            "{ctx}: sync never failed"
                        );
                    }
                }
            });
            clear_faults(dir.path());
            assert!(
                matches!(db.put(b"~after", b"x"), Err(Error::Poisoned(_))),
                "{ctx}: the instance takes writes after a failed write"
            );
            for (t, acked) in acked.iter().enumerate() {
                assert!(!acked.is_empty(), "{ctx}: writer {t} never wrote");
                for (&k, &v) in acked {
                    assert_eq!(
                        db.get(&key(k)).unwrap(),
                        Some(format!("{k}:{v}").into_bytes()),
                        "{ctx}: key {k} no longer reads as its last acknowledged put"
                    );
                }
            }
            let _ = db.close();
            drop(db);
            let db = open(dir.path(), &o);
            for (t, acked) in acked.iter().enumerate() {
                for k in (0..400).filter(|k| k % 4 == t as u32) {
                    let got = db.get(&key(k)).unwrap().expect("synced before the fault");
                    let got = String::from_utf8(got).unwrap();
                    let v: u32 = got.split(':').nth(1).unwrap().parse().unwrap();
                    assert!(
                        got == format!("{k}:{v}")
                            && v <= acked.get(&k).copied().unwrap_or(0).max(v),
                        "{ctx}: key {k} reads {got} after reopen"
                    );
                }
            }
            db.put(b"~probe", b"reopened").unwrap();
            db.close().unwrap();
        }
    }

    /// `settle()` writes every dirty page out (a checkpoint), makes every write durable, and
    /// leaves an engine that writes nothing while idle, in every durability mode.
    #[test]
    fn settle_writes_everything_out_then_idles() {
        for mode in [Durability::None, Durability::Group, Durability::Sync] {
            let dir = tempfile::tempdir().unwrap();
            let mut o = small();
            o.durability = mode;
            o.group_commit.interval = Duration::from_millis(2);
            o.btree.checkpoint_wal_bytes = u64::MAX;
            let db = open(dir.path(), &o);
            let n = if mode == Durability::Sync { 500 } else { 3000 };
            for i in 0..n {
                db.put(&key(i), &value(i)).unwrap();
            }
            let s = db.stats();
            assert!(
                s.write_buffer_bytes >= 8 * 4096,
                "{mode}: write_buffer_bytes {}",
                s.write_buffer_bytes
            );
            let checkpoints = s.compactions;
            db.settle().unwrap();
            let s = db.stats();
            assert!(
                s.compactions > checkpoints,
                "{mode}: settle() did not checkpoint"
            );
            assert_eq!(s.extra["dirty_pages"], 0.0, "{mode}");
            let still = files(dir.path());
            std::thread::sleep(Duration::from_millis(100));
            let later = db.stats();
            assert_eq!(
                later.io.bytes_written, s.io.bytes_written,
                "{mode}: writes while idle"
            );
            assert_eq!(later.io.fsyncs, s.io.fsyncs, "{mode}: fsyncs while idle");
            assert_eq!(files(dir.path()), still, "{mode}");
            // The files as they are now hold every write.
            let copy = copy_store(dir.path());
            let c = open(copy.path(), &o);
            for i in 0..n {
                assert_eq!(c.get(&key(i)).unwrap(), Some(value(i)), "{mode}");
            }
            c.close().unwrap();
            db.close().unwrap();
        }
    }
}
