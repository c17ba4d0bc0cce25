//! Engine-level tests: crashes at every step of a flush and a compaction (in a child
//! process), the manifest switch and orphan clean-up, write stalls, level targets, tiered
//! merging, and the one-block-per-table read path.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::manifest;
use super::*;
use crate::{Durability, Engine, Error};

mod close;
mod faults;
mod power;
mod settle;

fn small(policy: CompactionPolicy) -> Options {
    let mut o = Options::default();
    o.lsm.compaction = policy;
    o.lsm.memtable_bytes = 8 << 10;
    o.lsm.block_bytes = 512;
    o.lsm.table_bytes = 8 << 10;
    o.lsm.level1_bytes = 24 << 10;
    o.lsm.level_multiplier = 4;
    o.lsm.block_cache_bytes = 32 << 10;
    o
}

const POLICIES: [CompactionPolicy; 2] = [CompactionPolicy::Leveled, CompactionPolicy::Tiered];

/// The write stream of the crash tests: op `i` puts key `i % 300` (value naming `i`), and
/// every tenth op deletes another key instead.
fn op(i: u64) -> (Vec<u8>, Option<Vec<u8>>) {
    if i % 10 == 9 {
        return (format!("key{:03}", (i * 7) % 300).into_bytes(), None);
    }
    let len = 20 + (i * 13) % 200;
    let v = format!("v{i}-")
        .into_bytes()
        .into_iter()
        .cycle()
        .take(len as usize)
        .collect();
    (format!("key{:03}", i % 300).into_bytes(), Some(v))
}

fn apply(db: &dyn Engine, i: u64) -> crate::Result<()> {
    match op(i) {
        (k, Some(v)) => db.put(&k, &v),
        (k, None) => db.delete(&k),
    }
}

fn tables_in_manifest(dir: &Path) -> Vec<u64> {
    let m = manifest::read(&crate::io::Io::new(), dir, 20)
        .unwrap()
        .unwrap()
        .manifest;
    m.tables.iter().map(|(_, t)| t.id).collect()
}

fn files_with(dir: &Path, ext: &str) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(ext).and_then(|s| s.parse().ok())
        })
        .collect();
    out.sort_unstable();
    out
}

const CHILD_DIR: &str = "LSM_TEST_CHILD_DIR";
const CHILD_POLICY: &str = "LSM_TEST_CHILD_POLICY";

#[test]
#[ignore = "the child process of crash_at_every_flush_and_compaction_step"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let policy = match std::env::var(CHILD_POLICY).unwrap().as_str() {
        "tiered" => CompactionPolicy::Tiered,
        _ => CompactionPolicy::Leveled,
    };
    let db = LsmEngine::open(dir.as_ref(), &small(policy)).unwrap();
    for i in 0..3000u64 {
        apply(&db, i).unwrap();
        if i % 10 == 9 {
            db.sync().unwrap();
            println!("ACK {}", i + 1);
        }
        if i % 400 == 399 {
            db.compact().unwrap();
        }
    }
    println!("FINISHED");
}

/// The state after the first `n` ops.
fn state_after(n: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    for i in 0..n {
        match op(i) {
            (k, Some(v)) => m.insert(k, v),
            (k, None) => m.remove(&k),
        };
    }
    m
}

#[test]
fn crash_at_every_flush_and_compaction_step() {
    let points = [
        "lsm.wal.sealed",
        "lsm.wal.created",
        "lsm.flush.start",
        "lsm.flush.table_written",
        "lsm.flush.before_manifest",
        "lsm.flush.manifest_switched",
        "lsm.flush.wal_removed",
        "lsm.compaction.start",
        "lsm.compaction.outputs_written",
        "lsm.compaction.before_manifest",
        "lsm.compaction.manifest_switched",
        "lsm.compaction.inputs_removed",
    ];
    let exe = std::env::current_exe().unwrap();
    for policy in POLICIES {
        for point in points {
            let ctx = format!("{} crash at {point}", policy.as_str());
            let dir = tempfile::tempdir().unwrap();
            let out = Command::new(&exe)
                .args([
                    "lsm::tests::crash_child",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                ])
                .env(CHILD_DIR, dir.path())
                .env(CHILD_POLICY, policy.as_str())
                .env(crate::io::CRASH_AT_ENV, point)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            assert_eq!(
                out.status.signal(),
                Some(libc::SIGKILL),
                "{ctx}: the child was not killed at the crash point: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let acked = BufReader::new(&out.stdout[..])
                .lines()
                .filter_map(|l| l.ok()?.strip_prefix("ACK ")?.parse::<u64>().ok())
                .max()
                .unwrap_or(0);
            let db = LsmEngine::open(dir.path(), &small(policy))
                .unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
            let got: BTreeMap<Vec<u8>, Vec<u8>> = db
                .scan(b"", None, usize::MAX)
                .unwrap()
                .into_iter()
                .collect();
            let ok = (acked..=acked + 10).any(|n| state_after(n) == got);
            assert!(ok, "{ctx}: the store matches no prefix from ACK {acked}");
            for (k, v) in &got {
                assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "{ctx}");
            }
            db.put(b"after", b"crash").unwrap();
            db.compact().unwrap();
            db.close().unwrap();
            // Nothing but open removes a table no manifest names, and close waits for the
            // background step under way: every table on disk is now a live one.
            let mut listed = tables_in_manifest(dir.path());
            listed.sort_unstable();
            assert_eq!(
                files_with(dir.path(), ".sst"),
                listed,
                "{ctx}: orphan tables survived"
            );
            let db = LsmEngine::open(dir.path(), &small(policy)).unwrap();
            assert_eq!(
                db.get(b"after").unwrap().as_deref(),
                Some(&b"crash"[..]),
                "{ctx}"
            );
            db.close().unwrap();
        }
    }
}

#[test]
fn manifest_switch_leftovers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let o = small(CompactionPolicy::Leveled);
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    for i in 0..600 {
        apply(&db, i).unwrap();
    }
    db.compact().unwrap();
    db.close().unwrap();
    let before = tables_in_manifest(dir.path());
    assert!(!before.is_empty());
    // A crash during a switch leaves a half-written MANIFEST.tmp; a crash before a switch
    // leaves tables no manifest names.
    std::fs::write(dir.path().join("MANIFEST.tmp"), b"half a manifest").unwrap();
    std::fs::write(dir.path().join("999999.sst"), b"orphan").unwrap();
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    assert!(!dir.path().join("MANIFEST.tmp").exists());
    assert!(!dir.path().join("999999.sst").exists());
    assert_eq!(tables_in_manifest(dir.path()), before);
    let want = state_after(600);
    let got: BTreeMap<_, _> = db
        .scan(b"", None, usize::MAX)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(got, want);
    db.close().unwrap();
    // A missing manifest beside tables is damage, not an empty store.
    std::fs::remove_file(dir.path().join("MANIFEST")).unwrap();
    assert!(matches!(
        LsmEngine::open(dir.path(), &o),
        Err(Error::Corruption { .. })
    ));
}

#[test]
fn tombstones_are_dropped_by_a_full_compaction_and_stay_deleted() {
    for policy in POLICIES {
        let dir = tempfile::tempdir().unwrap();
        let o = small(policy);
        let db = LsmEngine::open(dir.path(), &o).unwrap();
        for i in 0..500u32 {
            db.put(format!("k{i:04}").as_bytes(), &[7; 100]).unwrap();
        }
        db.compact().unwrap();
        for i in (0..500u32).step_by(2) {
            db.delete(format!("k{i:04}").as_bytes()).unwrap();
        }
        db.compact().unwrap();
        let s = db.stats();
        assert!(s.extra["tombstones_dropped"] >= 250.0, "{policy:?}: {s:?}");
        let v = db.inner.view();
        let left: u64 = v.version.tables().map(|(_, t)| t.meta.tombstones).sum();
        assert_eq!(
            left, 0,
            "{policy:?}: tombstones left after a full compaction"
        );
        db.close().unwrap();
        let db = LsmEngine::open(dir.path(), &o).unwrap();
        for i in 0..500u32 {
            let got = db.get(format!("k{i:04}").as_bytes()).unwrap();
            assert_eq!(got.is_some(), i % 2 == 1, "{policy:?} k{i:04}");
        }
        assert_eq!(db.scan(b"", None, usize::MAX).unwrap().len(), 250);
        db.close().unwrap();
    }
}

#[test]
fn writes_stall_while_flush_is_blocked_and_resume_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small(CompactionPolicy::Leveled);
    o.lsm.max_immutable_memtables = 1;
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    let flush_gate = lock(&db.inner.flush_lock);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for i in 0..400u32 {
                db.put(format!("k{i:04}").as_bytes(), &[1; 100]).unwrap();
            }
        });
        let t = std::time::Instant::now();
        while db.inner.stats.write_stalls.get() == 0 {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the writer never stalled"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(!writer.is_finished(), "a stalled writer went on");
        assert_eq!(db.inner.imm_count.load(Ordering::Relaxed), 1);
        drop(flush_gate);
        writer.join().unwrap();
    });
    let s = db.stats();
    assert!(s.extra["stall_micros"] >= 50_000.0, "{:?}", s.extra);
    for i in 0..400u32 {
        assert!(db.get(format!("k{i:04}").as_bytes()).unwrap().is_some());
    }
    db.close().unwrap();
}

#[test]
fn leveled_compaction_keeps_each_level_under_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let o = small(CompactionPolicy::Leveled);
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    for i in 0..6000u32 {
        let k = format!("k{:06}", (i as u64 * 7919) % 4000);
        db.put(k.as_bytes(), &[i as u8; 120]).unwrap();
    }
    db.settle().unwrap();
    let levels = db.levels();
    assert!(levels[0].0 < o.lsm.level0_compaction_trigger, "{levels:?}");
    assert!(
        levels.iter().filter(|l| l.0 > 0).count() >= 2,
        "data reached several levels: {levels:?}"
    );
    for (l, &(_, bytes)) in levels.iter().enumerate().take(levels.len() - 1).skip(1) {
        let target = o.lsm.level_target(l);
        assert!(
            bytes <= target,
            "level {l}: {bytes} bytes over its target {target}: {levels:?}"
        );
    }
    let s = db.stats();
    assert!(s.compactions > 0 && s.compaction_bytes_written > 0);
    for i in 0..4000u64 {
        let k = format!("k{i:06}");
        assert!(db.get(k.as_bytes()).unwrap().is_some(), "{k}");
    }
    db.close().unwrap();
}

#[test]
fn tiered_compaction_merges_similar_runs() {
    let dir = tempfile::tempdir().unwrap();
    let o = small(CompactionPolicy::Tiered);
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    for i in 0..6000u32 {
        db.put(format!("k{i:06}").as_bytes(), &[3; 100]).unwrap();
    }
    db.settle().unwrap();
    let v = db.inner.view();
    let runs: Vec<u64> = v.version.levels[0].iter().map(|t| t.meta.size).collect();
    assert!(
        compaction::tiered::pick(&v.version, &o.lsm).is_none(),
        "settled, yet a merge is due: {runs:?}"
    );
    assert!(runs.len() < o.lsm.tiered_slowdown_runs, "{runs:?}");
    assert!(
        runs.iter().max() > runs.iter().min(),
        "no tier was ever merged: {runs:?}"
    );
    assert!(v.version.levels[1..].iter().all(Vec::is_empty));
    assert!(db.stats().compactions > 0);
    assert_eq!(db.scan(b"", None, usize::MAX).unwrap().len(), 6000);
    db.close().unwrap();
}

#[test]
fn a_point_read_touches_at_most_one_block_per_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small(CompactionPolicy::Leveled);
    o.lsm.block_cache_bytes = 0;
    o.lsm.memtable_bytes = 1 << 20;
    o.lsm.level0_compaction_trigger = 8;
    o.lsm.level0_slowdown_trigger = 8;
    o.lsm.level0_stop_trigger = 12;
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    // Overlapping level-0 tables: every key is in every table's range.
    for round in 0..5u32 {
        for i in 0..200u32 {
            db.put(
                format!("k{:04}", i * 5 + round).as_bytes(),
                &[round as u8; 60],
            )
            .unwrap();
        }
        db.inner.freeze_memtable().unwrap();
        while db.inner.flush_one().unwrap() {}
    }
    assert_eq!(db.levels()[0].0, 5);
    let before = db.inner.io.snapshot();
    let probed = db.inner.stats.tables_probed.get();
    let fp = db.inner.stats.bloom_false_positives.get();
    for i in 0..1000u32 {
        assert!(db.get(format!("k{i:04}").as_bytes()).unwrap().is_some());
    }
    let reads = db.inner.io.snapshot().since(&before);
    let probed = db.inner.stats.tables_probed.get() - probed;
    let fp = db.inner.stats.bloom_false_positives.get() - fp;
    assert!(probed >= 1000);
    // One block read per hit plus one per bloom false positive, nothing else.
    assert_eq!(reads.read_calls, 1000 + fp, "{reads:?}");
    assert!(reads.bytes_read <= (1000 + fp) * (o.lsm.block_bytes as u64 + 400));
    db.close().unwrap();
}

#[test]
fn closed_engine_refuses_and_drop_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let o = small(CompactionPolicy::Leveled);
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    db.put(b"k", b"v").unwrap();
    drop(db);
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    db.close().unwrap();
    assert!(matches!(db.put(b"k", b"w"), Err(Error::Closed)));
    let again = LsmEngine::open(dir.path(), &Options::with_durability(Durability::Sync)).unwrap();
    again.close().unwrap();
}

#[test]
fn concurrent_sync_writers_share_wal_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small(CompactionPolicy::Leveled);
    o.durability = Durability::Sync;
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    std::thread::scope(|s| {
        for t in 0..8u32 {
            let db = &db;
            s.spawn(move || {
                for i in 0..100u32 {
                    db.put(format!("t{t}-{i:03}").as_bytes(), &[t as u8; 50])
                        .unwrap();
                }
            });
        }
    });
    let fsyncs = db.inner.committer.fsyncs();
    assert!(
        fsyncs > 0 && fsyncs < 800,
        "{fsyncs} WAL fsyncs for 800 sync writes"
    );
    db.close().unwrap();
    let db = LsmEngine::open(dir.path(), &small(CompactionPolicy::Leveled)).unwrap();
    assert_eq!(db.scan(b"", None, usize::MAX).unwrap().len(), 800);
    db.close().unwrap();
}

#[test]
fn a_store_reopens_under_the_other_policy() {
    let dir = tempfile::tempdir().unwrap();
    let mut want = BTreeMap::new();
    for (round, policy) in [POLICIES[0], POLICIES[1], POLICIES[0]]
        .into_iter()
        .enumerate()
    {
        let db = LsmEngine::open(dir.path(), &small(policy)).unwrap();
        let got: BTreeMap<_, _> = db
            .scan(b"", None, usize::MAX)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(got, want, "round {round}");
        for i in 0..1500u32 {
            let k = format!("k{:05}", (i * 7 + round as u32 * 13) % 2000).into_bytes();
            let v = format!("{round}-{i}").into_bytes();
            db.put(&k, &v).unwrap();
            want.insert(k, v);
        }
        db.settle().unwrap();
        db.close().unwrap();
    }
}

#[test]
fn scans_and_reads_see_the_newest_version_across_every_layer() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small(CompactionPolicy::Leveled);
    o.lsm.memtable_bytes = 1 << 20;
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    let freeze = || db.inner.freeze_memtable().unwrap();
    let mut want = BTreeMap::new();
    let put = |k: u32, v: &str, want: &mut BTreeMap<Vec<u8>, Vec<u8>>| {
        let k = format!("k{k:03}").into_bytes();
        match v {
            "-" => {
                db.delete(&k).unwrap();
                want.remove(&k);
            }
            v => {
                db.put(&k, v.as_bytes()).unwrap();
                want.insert(k, v.as_bytes().to_vec());
            }
        }
    };
    // Bottom level: everything; then a level-0 table, an immutable memtable and the
    // memtable, each overwriting or deleting part of what lies below.
    for k in 0..100 {
        put(k, "base", &mut want);
    }
    db.compact().unwrap();
    for k in (0..100).step_by(2) {
        put(k, if k % 4 == 0 { "-" } else { "l0" }, &mut want);
    }
    freeze();
    while db.inner.flush_one().unwrap() {}
    // Hold flushes back so the next memtable stays an immutable memtable.
    let gate = lock(&db.inner.flush_lock);
    for k in (0..100).step_by(3) {
        put(k, if k % 9 == 0 { "-" } else { "imm" }, &mut want);
    }
    freeze();
    for k in (0..100).step_by(5) {
        put(k, if k % 10 == 0 { "mem" } else { "-" }, &mut want);
    }
    let v = db.inner.view();
    assert!(
        v.imms.len() == 1 && v.version.levels[0].len() == 1,
        "{} {:?}",
        v.imms.len(),
        db.levels()
    );
    assert!(v.version.levels[1..].iter().any(|l| !l.is_empty()));
    let all: BTreeMap<_, _> = db
        .scan(b"", None, usize::MAX)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(all, want);
    for k in 0..100u32 {
        let key = format!("k{k:03}").into_bytes();
        assert_eq!(db.get(&key).unwrap().as_ref(), want.get(&key), "k{k:03}");
    }
    let page = db.scan(b"k010", Some(b"k050"), 7).unwrap();
    let expect: Vec<_> = want
        .range(b"k010".to_vec()..b"k050".to_vec())
        .take(7)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(page, expect);
    // Misses are mostly answered by the bloom filters, and counted.
    for k in 0..1000u32 {
        assert_eq!(db.get(format!("absent{k}").as_bytes()).unwrap(), None);
    }
    let s = db.stats();
    assert!(s.extra["bloom_checks"] > 0.0);
    assert!(
        s.extra["bloom_negatives"] >= 0.9 * s.extra["bloom_checks"] - 200.0,
        "{:?}",
        s.extra
    );
    drop(gate);
    db.close().unwrap();
}

#[test]
fn readers_never_see_a_key_go_back_in_time_during_flushes_and_compactions() {
    use std::sync::atomic::AtomicBool;
    for policy in POLICIES {
        let dir = tempfile::tempdir().unwrap();
        let db = LsmEngine::open(dir.path(), &small(policy)).unwrap();
        let done = AtomicBool::new(false);
        const KEYS: u32 = 500;
        std::thread::scope(|s| {
            let writers: Vec<_> = (0..2u32)
                .map(|w| {
                    let db = &db;
                    s.spawn(move || {
                        // Writer w owns the keys k with k % 2 == w; versions rise per key.
                        for version in 1..=12u32 {
                            for k in (w..KEYS).step_by(2) {
                                let v = format!("k{k:04}:{version:04}:{}", "x".repeat(60));
                                db.put(format!("k{k:04}").as_bytes(), v.as_bytes()).unwrap();
                            }
                        }
                    })
                })
                .collect();
            for r in 0..2u32 {
                let (db, done) = (&db, &done);
                s.spawn(move || {
                    let mut seen = vec![0u32; KEYS as usize];
                    let mut i = r;
                    while !done.load(Ordering::Relaxed) {
                        let k = i.wrapping_mul(7919) % KEYS;
                        i += 1;
                        let Some(v) = db.get(format!("k{k:04}").as_bytes()).unwrap() else {
                            assert_eq!(seen[k as usize], 0, "k{k:04} vanished");
                            continue;
                        };
                        let v = String::from_utf8(v).unwrap();
                        assert!(v.starts_with(&format!("k{k:04}:")), "foreign value {v}");
                        let version: u32 = v[6..10].parse().unwrap();
                        assert!(
                            version >= seen[k as usize],
                            "k{k:04} went from {} back to {version}",
                            seen[k as usize]
                        );
                        seen[k as usize] = version;
                    }
                });
            }
            for w in writers {
                w.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
        });
        let s = db.stats();
        assert!(
            s.extra["flushes"] > 5.0 && s.compactions > 0,
            "{policy:?}: {:?}",
            s.extra
        );
        db.close().unwrap();
    }
}

#[test]
fn a_failed_background_fsync_poisons_the_engine_and_loses_nothing_synced() {
    use crate::io::{clear_faults, inject_fault, Fault};
    let dir = tempfile::tempdir().unwrap();
    let o = small(CompactionPolicy::Leveled);
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    for i in 0..1000u32 {
        db.put(format!("k{i:04}").as_bytes(), &[1; 80]).unwrap();
    }
    db.sync().unwrap();
    inject_fault(dir.path(), Fault::FailSync);
    // Durability `none`: puts do not fsync, but the next memtable rotation or flush does.
    let mut failed = None;
    for i in 1000..5000u32 {
        if let Err(e) = db.put(format!("k{i:04}").as_bytes(), &[2; 80]) {
            failed = Some(e);
            break;
        }
    }
    clear_faults(dir.path());
    let e = failed.expect("no write failed although every fsync did");
    assert!(matches!(e, Error::Poisoned(_) | Error::Io(_)), "{e}");
    assert!(
        matches!(db.put(b"later", b"x"), Err(Error::Poisoned(_))),
        "writes must stay refused until reopen"
    );
    assert!(db.get(b"k0001").unwrap().is_some(), "reads still work");
    let _ = db.close();
    drop(db);
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    for i in 0..1000u32 {
        assert!(
            db.get(format!("k{i:04}").as_bytes()).unwrap().is_some(),
            "k{i:04}"
        );
    }
    db.put(b"later", b"x").unwrap();
    db.close().unwrap();
}

#[test]
fn write_counters_account_for_every_byte_written() {
    for policy in POLICIES {
        let dir = tempfile::tempdir().unwrap();
        let db = LsmEngine::open(dir.path(), &small(policy)).unwrap();
        for i in 0..4000u64 {
            apply(&db, i).unwrap();
        }
        db.compact().unwrap();
        db.settle().unwrap();
        let s = db.stats();
        let x = |k: &str| s.extra[k] as u64;
        let marker = std::fs::metadata(dir.path().join(crate::store_dir::MARKER))
            .unwrap()
            .len();
        let parts = x("wal_bytes_written")
            + x("flush_bytes_written")
            + x("compaction_bytes_written")
            + x("manifest_bytes_written")
            + marker;
        assert_eq!(s.io.bytes_written, parts, "{policy:?}: {:?}", s.extra);
        assert_eq!(s.compaction_bytes_written, x("compaction_bytes_written"));
        assert!(x("flush_bytes_written") > 0 && x("compaction_bytes_written") > 0);
        db.close().unwrap();
    }
}

#[test]
fn group_mode_syncs_the_wal_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small(CompactionPolicy::Leveled);
    o.durability = Durability::Group;
    o.group_commit.interval = Duration::from_millis(5);
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    db.put(b"k", b"v").unwrap();
    let t = std::time::Instant::now();
    while db.inner.committer.synced() < 1 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the group flusher never synced"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(db.inner.committer.fsyncs() >= 1);
    db.close().unwrap();
}

/// A throwaway sanity figure, not a benchmark: run in release mode with
/// `cargo test --release -p engines --lib lsm::tests::sanity_figures -- --ignored --nocapture`.
#[test]
#[ignore = "prints rough release-mode figures"]
fn sanity_figures() {
    for policy in POLICIES {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Options::default();
        o.lsm.compaction = policy;
        let db = LsmEngine::open(dir.path(), &o).unwrap();
        let n = 1_000_000u64;
        let key = |i: u64| {
            format!(
                "user{:012}",
                i.wrapping_mul(0x9E37_79B9) % 1_000_000_000_000
            )
        };
        let value = [7u8; 100];
        let t = std::time::Instant::now();
        for i in 0..n {
            db.put(key(i).as_bytes(), &value).unwrap();
        }
        let put_s = t.elapsed().as_secs_f64();
        db.settle().unwrap();
        let t = std::time::Instant::now();
        for i in 0..n {
            let k = key((i * 7919) % n);
            assert!(db.get(k.as_bytes()).unwrap().is_some());
        }
        let get_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        for i in 0..100_000u64 {
            assert!(db.get(format!("miss{i}").as_bytes()).unwrap().is_none());
        }
        let miss_s = t.elapsed().as_secs_f64();
        let s = db.stats();
        let user = n * (16 + 100);
        let x = |k: &str| s.extra.get(k).copied().unwrap_or(0.0);
        println!(
            "{}: {n} puts {:.0}/s, {n} gets {:.0}/s, 100k misses {:.0}/s; write amp {:.2} (wal {:.2}, flush {:.2}, compaction {:.2}); levels {:?}; bloom FP {:.4}; stalls {} ({} ms), slowdowns {}",
            policy.as_str(),
            n as f64 / put_s,
            n as f64 / get_s,
            100_000.0 / miss_s,
            s.io.bytes_written as f64 / user as f64,
            x("wal_bytes_written") / user as f64,
            x("flush_bytes_written") / user as f64,
            x("compaction_bytes_written") / user as f64,
            db.levels(),
            x("bloom_false_positives") / x("bloom_checks").max(1.0),
            x("write_stalls"),
            x("stall_micros") / 1000.0,
            x("write_slowdowns"),
        );
        db.close().unwrap();
    }
}

#[test]
#[ignore = "prints where a small-option run spends its time"]
fn small_options_profile() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::default();
    if std::env::var("LSM_POLICY").as_deref() == Ok("tiered") {
        o.lsm.compaction = CompactionPolicy::Tiered;
    }
    o.lsm.memtable_bytes = 32 << 10;
    o.lsm.block_bytes = 1024;
    o.lsm.table_bytes = 16 << 10;
    o.lsm.level1_bytes = 64 << 10;
    o.lsm.level_multiplier = 4;
    o.lsm.block_cache_bytes = 64 << 10;
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    let t = std::time::Instant::now();
    for i in 0..100_000u64 {
        let k = format!(
            "user{:012}",
            i.wrapping_mul(0x9E37_79B9) % 1_000_000_000_000
        );
        db.put(k.as_bytes(), &[1; 100]).unwrap();
    }
    let s = db.stats();
    println!(
        "{:?} {:?} {:?} {:?}",
        t.elapsed(),
        s.io,
        s.extra,
        db.levels()
    );
}
