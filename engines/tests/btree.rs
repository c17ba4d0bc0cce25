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

mod own {
    use std::collections::BTreeMap;

    use engines::{Engine, Options};
    use rand::{Rng, SeedableRng};

    fn small() -> Options {
        super::btree_kit().options
    }

    fn open(dir: &std::path::Path, o: &Options) -> Box<dyn Engine> {
        engines::open(engines::EngineKind::Btree, dir, o).unwrap()
    }

    fn check(db: &dyn Engine, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
        let all = db.scan(b"", None, usize::MAX).unwrap();
        let want: Vec<(Vec<u8>, Vec<u8>)> =
            model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(all.len(), want.len());
        assert!(all == want, "scan differs from the model");
        for (k, v) in model {
            assert_eq!(db.get(k).unwrap().as_ref(), Some(v));
        }
    }

    fn random_writes(
        db: &dyn Engine,
        model: &mut BTreeMap<Vec<u8>, Vec<u8>>,
        rng: &mut rand::rngs::StdRng,
        n: usize,
    ) {
        for _ in 0..n {
            let k = format!("key{:05}", rng.gen_range(0..400)).into_bytes();
            if rng.gen_range(0..10) == 0 {
                db.delete(&k).unwrap();
                model.remove(&k);
            } else {
                let len = match rng.gen_range(0..100) {
                    0 => 0,
                    1 | 2 => rng.gen_range(3000..20000),
                    _ => rng.gen_range(8..300),
                };
                let v: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                db.put(&k, &v).unwrap();
                model.insert(k, v);
            }
        }
    }

    /// The data file alone (WAL emptied) holds exactly the state of the last checkpoint.
    #[test]
    fn data_file_alone_is_the_last_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.btree.checkpoint_wal_bytes = u64::MAX;
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut model = BTreeMap::new();
        let db = open(dir.path(), &o);
        for _ in 0..3 {
            random_writes(&*db, &mut model, &mut rng, 250);
            db.compact().unwrap();
        }
        let at_checkpoint = model.clone();
        check(&*db, &model);
        random_writes(&*db, &mut model, &mut rng, 100);
        db.sync().unwrap();
        assert_eq!(db.stats().compactions, 3);
        db.close().unwrap();
        drop(db);
        let wal = dir.path().join("btree.wal");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&wal)
            .unwrap()
            .set_len(0)
            .unwrap();
        let db = open(dir.path(), &o);
        check(&*db, &at_checkpoint);
    }
}

mod replica {
    use std::collections::BTreeMap;

    use engines::Engine;

    fn mix(mut x: u64) -> u64 {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    fn apply(db: &dyn Engine, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, i: u64) {
        let h = mix(i);
        let k = format!("key{:05}", h % 400).into_bytes();
        if (h >> 32) % 10 == 0 {
            db.delete(&k).unwrap();
            model.remove(&k);
            return;
        }
        let len = match (h >> 40) % 100 {
            0 => 0,
            1 | 2 => 3000 + (h >> 48) as usize % 17_000,
            _ => 8 + (h >> 48) as usize % 300,
        };
        let tag = i.to_le_bytes();
        let v: Vec<u8> = (0..len).map(|j| tag[j % 8] ^ (j / 8) as u8).collect();
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }

    #[test]
    fn kit_stream_truncated_wal() {
        let dir = tempfile::tempdir().unwrap();
        let o = super::btree_kit().options;
        let db = engines::open(engines::EngineKind::Btree, dir.path(), &o).unwrap();
        let mut model = BTreeMap::new();
        let mut snap = model.clone();
        let mut ck = 0;
        for i in 0..1500 {
            apply(&*db, &mut model, i);
            if i == 750 {
                db.compact().unwrap();
            }
            if db.stats().compactions != ck {
                ck = db.stats().compactions;
                snap = model.clone();
                eprintln!("checkpoint {ck} after write {i}");
            }
        }
        db.sync().unwrap();
        db.close().unwrap();
        drop(db);
        let data = std::fs::read(dir.path().join("btree.db")).unwrap();
        let walb = std::fs::read(dir.path().join("btree.wal")).unwrap();
        std::fs::write(dir.path().join("btree.db"), &data[..4096]).unwrap();
        if let Ok(db) = engines::open(engines::EngineKind::Btree, dir.path(), &o) {
            let _ = db.scan(b"", None, usize::MAX);
            let _ = db.close();
        }
        std::fs::write(dir.path().join("btree.db"), &data).unwrap();
        std::fs::write(dir.path().join("btree.wal"), &walb[..0]).unwrap();
        let db = engines::open(engines::EngineKind::Btree, dir.path(), &o).unwrap();
        let all = db.scan(b"", None, usize::MAX).unwrap();
        let want: Vec<_> = snap.into_iter().collect();
        assert_eq!(all.len(), want.len());
        assert!(all == want);
        for (k, v) in &want {
            assert_eq!(
                db.get(k).unwrap().as_ref(),
                Some(v),
                "get {:?}",
                String::from_utf8_lossy(k)
            );
        }
    }
}
