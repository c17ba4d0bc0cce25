//! The btree engine's own tests of checkpoints and recovery: a kill at each step of a
//! checkpoint, one cut short and repaired from the double-write buffer, damage to data pages
//! and to the log, the log's cost, and durability modes under concurrent writers.

use std::path::Path;
use std::process::Command;

use engines::{Engine, EngineKind, Error};

use super::own::{check, open, small, stat, Model};

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
    o.btree.checkpoint_wal_bytes = 1 << 40; // the largest allowed: checkpoints only when asked
    o.btree.max_dirty_pages = 1 << 28; // the largest allowed
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
                "checkpoints::checkpoint_crash_child",
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
    o.btree.checkpoint_wal_bytes = 1 << 40; // the largest allowed: checkpoints only when asked
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
    o.btree.checkpoint_wal_bytes = 1 << 40; // the largest allowed: checkpoints only when asked
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
                "checkpoints::checkpoint_crash_child",
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
