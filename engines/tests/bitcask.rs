//! The bitcask engine: the whole conformance kit with small segments (so rollover, hint
//! files and merges happen inside the kit's workloads), then the engine's own tests.

use engines::conformance::Kit;
use engines::{EngineKind, Options};

fn bitcask_kit() -> Kit {
    let mut o = Options::default();
    o.bitcask.max_segment_bytes = 64 << 10;
    o.bitcask.merge_min_dead_bytes = 128 << 10;
    o.bitcask.merge_dead_ratio = 0.4;
    Kit::for_kind(EngineKind::Bitcask).with_options(o)
}

engines::conformance_suite!(bitcask, bitcask_kit());

// ---------------------------------------------------------------------------------------
// The engine's own tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use engines::{Durability, Engine, Error};

#[path = "bitcask/close.rs"]
mod close;
#[path = "bitcask/failed_writes.rs"]
mod failed_writes;
#[path = "bitcask/power_cut.rs"]
mod power_cut;

/// Small segments, no background work (tests drive merges and hints themselves).
fn quiet(segment: u64) -> Options {
    let mut o = Options::default();
    o.bitcask.max_segment_bytes = segment;
    o.bitcask.background_merge = false;
    o.bitcask.hint_files = true;
    o
}

fn open(dir: &Path, o: &Options) -> Box<dyn Engine> {
    engines::open(EngineKind::Bitcask, dir, o).unwrap()
}

fn names(dir: &Path, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(ext))
        .collect();
    v.sort();
    v
}

fn value(i: u32, round: u32) -> Vec<u8> {
    format!("value-{i}-round-{round}-{}", "v".repeat((i % 90) as usize)).into_bytes()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn extra(db: &dyn Engine, name: &str) -> f64 {
    db.stats().extra[name]
}

fn all(db: &dyn Engine) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.scan(b"", None, usize::MAX).unwrap()
}

#[test]
fn rollover_makes_new_segments_and_all_survive_reopen() {
    let dir = kit_dir();
    let o = quiet(8 << 10);
    let db = open(dir.path(), &o);
    for i in 0..2000 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    let segs = extra(&*db, "segments");
    assert!(
        segs >= 20.0,
        "2000 records of ~100 bytes in 8 KiB segments: {segs} segments"
    );
    db.close().unwrap();
    let data = names(dir.path(), ".data");
    assert_eq!(data.len() as f64, segs, "{data:?}");
    for f in &data {
        let len = std::fs::metadata(dir.path().join(f)).unwrap().len();
        assert!(len <= 8 << 10, "{f} is {len} bytes, past the 8 KiB limit");
    }
    let db = open(dir.path(), &o);
    for i in 0..2000 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 0)), "key {i}");
    }
    // A value larger than a segment gets a segment of its own.
    let big = vec![7u8; 20 << 10];
    db.put(b"big", &big).unwrap();
    db.put(b"after", b"x").unwrap();
    assert_eq!(db.get(b"big").unwrap(), Some(big));
    db.close().unwrap();
}

fn kit_dir() -> tempfile::TempDir {
    engines::conformance::temp_dir()
}

/// Brings the engine to rest, which writes the hint file of every sealed file.
fn wait_for_hints(db: &dyn Engine) {
    db.settle().unwrap();
    assert_eq!(
        extra(db, "hint_files_pending"),
        0.0,
        "settle left hints to write"
    );
}

#[test]
fn start_up_from_hint_files_equals_start_up_from_data_files() {
    let dir = kit_dir();
    let o = quiet(16 << 10);
    let db = open(dir.path(), &o);
    for round in 0..3 {
        for i in 0..1500 {
            let mut v = value(i, round);
            v.resize(400, b'.');
            db.put(&key(i), &v).unwrap();
        }
        for i in (0..1500).step_by(7 + round as usize) {
            db.delete(&key(i)).unwrap();
        }
        if round == 1 {
            db.compact().unwrap();
        }
    }
    wait_for_hints(&*db);
    let before = all(&*db);
    db.close().unwrap();
    assert!(names(dir.path(), ".hint").len() >= 5);

    let with_hints = open(dir.path(), &o);
    let read_with = with_hints.stats().io.bytes_read;
    let a = all(&*with_hints);
    let keys_a = with_hints.stats().live_keys;
    with_hints.close().unwrap();

    let mut no_hints = o.clone();
    no_hints.bitcask.hint_files = false;
    let without = open(dir.path(), &no_hints);
    let read_without = without.stats().io.bytes_read;
    let b = all(&*without);
    assert_eq!(without.stats().live_keys, keys_a);
    without.close().unwrap();

    assert!(a == before, "start-up from hints lost or changed data");
    assert!(b == before, "start-up from data files lost or changed data");
    assert!(
        read_with * 4 < read_without,
        "hints should spare reading values: {read_with} bytes read with hints, {read_without} without"
    );
}

#[test]
fn merge_reclaims_space_from_overwrites_and_deletes() {
    let dir = kit_dir();
    let o = quiet(64 << 10);
    let db = open(dir.path(), &o);
    for round in 0..10 {
        for i in 0..1000 {
            db.put(&key(i), &value(i, round)).unwrap();
        }
    }
    for i in 500..1000 {
        db.delete(&key(i)).unwrap();
    }
    db.sync().unwrap();
    let s = db.stats();
    let live = s.extra["live_bytes"];
    assert!(s.extra["dead_bytes"] > 8.0 * live, "{:?}", s.extra);
    let disk_before = s.disk_bytes as f64;
    db.compact().unwrap();
    let s = db.stats();
    let disk_after = s.disk_bytes as f64;
    assert_eq!(s.compactions, 1);
    assert!(s.compaction_bytes_written > 0);
    assert_eq!(s.live_keys, Some(500));
    assert!(
        disk_after < 1.5 * live + 16384.0,
        "after a merge {disk_after} bytes on disk for {live} live bytes (before: {disk_before})"
    );
    assert!(disk_after < disk_before / 5.0);
    assert!(names(dir.path(), ".merging").is_empty() && !dir.path().join("MERGE").exists());
    for i in 0..1000 {
        let want = (i < 500).then(|| value(i, 9));
        assert_eq!(db.get(&key(i)).unwrap(), want, "key {i}");
    }
    db.close().unwrap();
    let db = open(dir.path(), &o);
    assert_eq!(db.stats().live_keys, Some(500));
    for i in 0..1000 {
        let want = (i < 500).then(|| value(i, 9));
        assert_eq!(db.get(&key(i)).unwrap(), want, "key {i} after reopen");
    }
    db.close().unwrap();
}

#[test]
fn background_merge_runs_when_dead_share_passes_threshold() {
    let dir = kit_dir();
    let mut o = quiet(16 << 10);
    o.bitcask.background_merge = true;
    o.bitcask.merge_min_dead_bytes = 32 << 10;
    o.bitcask.merge_dead_ratio = 0.5;
    let db = open(dir.path(), &o);
    for round in 0..20 {
        for i in 0..300 {
            db.put(&key(i), &value(i, round)).unwrap();
        }
    }
    let t = std::time::Instant::now();
    while db.stats().compactions == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no background merge ran"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    for i in 0..300 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 19)));
    }
    db.close().unwrap();
}

#[test]
fn deleted_keys_stay_deleted_across_merges_and_reopens() {
    let dir = kit_dir();
    let o = quiet(4096);
    let db = open(dir.path(), &o);
    for i in 0..200 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    db.compact().unwrap(); // the puts now live in merged files
    for i in 0..100 {
        db.delete(&key(i)).unwrap(); // tombstones in newer files
    }
    db.close().unwrap();
    for _ in 0..3 {
        let db = open(dir.path(), &o);
        for i in 0..200 {
            assert_eq!(db.get(&key(i)).unwrap().is_some(), i >= 100, "key {i}");
        }
        db.compact().unwrap();
        db.close().unwrap();
    }
}

#[test]
fn writes_during_merges_are_never_lost_or_overwritten_by_older_values() {
    let dir = kit_dir();
    let o = quiet(8 << 10);
    let db = open(dir.path(), &o);
    let stop = AtomicBool::new(false);
    let mut last = BTreeMap::new();
    std::thread::scope(|s| {
        let merger = s.spawn(|| {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                db.compact().unwrap();
                n += 1;
            }
            n
        });
        let writers: Vec<_> = (0..3u32)
            .map(|t| {
                let db = &db;
                s.spawn(move || {
                    let mut mine = BTreeMap::new();
                    for round in 0..40 {
                        for i in (t * 100)..(t * 100 + 100) {
                            if (i + round) % 5 == 0 {
                                db.delete(&key(i)).unwrap();
                                mine.insert(i, None);
                            } else {
                                db.put(&key(i), &value(i, round)).unwrap();
                                mine.insert(i, Some(value(i, round)));
                            }
                            let got = db.get(&key(i)).unwrap();
                            assert_eq!(
                                got.as_ref(),
                                mine[&i].as_ref(),
                                "read-your-write of key {i}"
                            );
                        }
                    }
                    mine
                })
            })
            .collect();
        for w in writers {
            last.extend(w.join().unwrap());
        }
        stop.store(true, Ordering::Relaxed);
        assert!(
            merger.join().unwrap() > 1,
            "merges ran alongside the writers"
        );
    });
    let check = |db: &dyn Engine, when: &str| {
        for (i, want) in &last {
            assert_eq!(
                db.get(&key(*i)).unwrap().as_ref(),
                want.as_ref(),
                "key {i} {when}"
            );
        }
    };
    check(&*db, "after the merges");
    db.close().unwrap();
    let db = open(dir.path(), &o);
    check(&*db, "after reopen");
    db.close().unwrap();
}

#[test]
fn torn_tail_is_cut_before_new_appends() {
    let dir = kit_dir();
    let o = quiet(1 << 20);
    let db = open(dir.path(), &o);
    for i in 0..100 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    db.close().unwrap();
    let active = dir.path().join(names(dir.path(), ".data").pop().unwrap());
    let clean_len = std::fs::metadata(&active).unwrap().len();
    // The watermark header as the close left it: synced up to `clean_len`.
    let head = std::fs::read(&active).unwrap()[..1024].to_vec();
    // A crash mid-append: the start of a record (a valid frame header, a part of its
    // payload), never synced (the header still names `clean_len`).
    let db = open(dir.path(), &o);
    db.put(b"torn", &vec![1u8; 500]).unwrap();
    db.close().unwrap();
    let mut full = std::fs::read(&active).unwrap();
    full[..1024].copy_from_slice(&head);
    std::fs::write(&active, &full[..clean_len as usize + 100]).unwrap();

    let db = open(dir.path(), &o);
    assert_eq!(
        std::fs::metadata(&active).unwrap().len(),
        clean_len,
        "the torn record is cut at open"
    );
    assert_eq!(db.get(b"torn").unwrap(), None);
    db.put(b"after", b"the cut").unwrap();
    db.close().unwrap();
    let db = open(dir.path(), &o);
    assert_eq!(
        db.get(b"after").unwrap().as_deref(),
        Some(&b"the cut"[..]),
        "an append after the cut survives"
    );
    for i in 0..100 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 0)));
    }
    db.close().unwrap();
}

#[test]
fn a_cut_in_an_immutable_file_is_corruption_not_a_silent_loss() {
    let dir = kit_dir();
    let o = quiet(4096);
    let db = open(dir.path(), &o);
    for i in 0..300 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    db.close().unwrap();
    let data = names(dir.path(), ".data");
    assert!(data.len() > 3);
    let sealed = dir.path().join(&data[1]);
    let bytes = std::fs::read(&sealed).unwrap();
    let _ = std::fs::remove_file(dir.path().join(data[1].replace(".data", ".hint")));
    std::fs::write(&sealed, &bytes[..bytes.len() - 30]).unwrap();
    match engines::open(EngineKind::Bitcask, dir.path(), &o) {
        Err(Error::Corruption { file, .. }) => assert_eq!(file, sealed),
        other => panic!(
            "expected Corruption naming {}, got {:?}",
            sealed.display(),
            other.err()
        ),
    }
}

#[test]
fn group_commit_lets_many_writers_share_fsyncs() {
    for mode in [Durability::Sync, Durability::Group] {
        let dir = kit_dir();
        let mut o = quiet(1 << 20);
        o.durability = mode;
        let db = open(dir.path(), &o);
        const THREADS: u32 = 8;
        const EACH: u32 = 150;
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let db = &db;
                s.spawn(move || {
                    for i in 0..EACH {
                        let k = t * EACH + i;
                        db.put(&key(k), &value(k, t)).unwrap();
                    }
                });
            }
        });
        let fsyncs = db.stats().io.fsyncs;
        assert!(
            fsyncs < (THREADS * EACH) as u64,
            "{mode}: {fsyncs} fsyncs for {} writes: no sharing",
            THREADS * EACH
        );
        if mode == Durability::Sync {
            assert!(fsyncs > 0, "sync mode must fsync");
        }
        db.close().unwrap();
        let db = open(dir.path(), &o);
        for t in 0..THREADS {
            for i in 0..EACH {
                let k = t * EACH + i;
                assert_eq!(db.get(&key(k)).unwrap(), Some(value(k, t)));
            }
        }
        db.close().unwrap();
    }
}

#[test]
fn stats_report_keydir_and_space() {
    let dir = kit_dir();
    let db = open(dir.path(), &quiet(1 << 20));
    for i in 0..1000 {
        db.put(&key(i), &value(i, 0)).unwrap();
    }
    db.put(&key(0), b"again").unwrap();
    let s = db.stats();
    assert_eq!(s.live_keys, Some(1000));
    let per_key = s.extra["keydir_bytes_per_key"];
    // 9-byte keys, a 24-byte entry, a 16-byte boxed key pointer, table overhead.
    assert!((49.0..200.0).contains(&per_key), "{per_key} bytes per key");
    assert!(s.memory_bytes >= 1000 * 49);
    assert!(s.extra["dead_bytes"] > 0.0);
    assert!(s.disk_bytes >= s.extra["data_bytes"] as u64);
    db.close().unwrap();
}

// --- A crash at each step of a merge, in a child process --------------------------------

const MERGE_DIR_ENV: &str = "BITCASK_TEST_MERGE_DIR";
const MERGE_STEPS: &[&str] = &[
    "bitcask.merge.start",
    "bitcask.merge.copied",
    "bitcask.merge.synced",
    "bitcask.merge.committed",
    "bitcask.merge.renamed",
    "bitcask.merge.deleting",
    "bitcask.merge.done",
];

/// The state the merge child leaves durable before it merges.
fn merge_child_model() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    for round in 0..4 {
        for i in 0..400 {
            if (i + round) % 6 == 0 {
                m.remove(&key(i));
            } else {
                m.insert(key(i), value(i, round));
            }
        }
    }
    m
}

#[test]
#[ignore = "the child process of merge_crash_at_every_step"]
fn merge_crash_child() {
    let Ok(dir) = std::env::var(MERGE_DIR_ENV) else {
        return;
    };
    let db = open(dir.as_ref(), &quiet(8 << 10));
    for round in 0..4 {
        for i in 0..400 {
            if (i + round) % 6 == 0 {
                db.delete(&key(i)).unwrap();
            } else {
                db.put(&key(i), &value(i, round)).unwrap();
            }
        }
        if round == 1 {
            db.compact().unwrap(); // the crash point may already fire here
        }
    }
    db.sync().unwrap();
    db.compact().unwrap();
    std::process::exit(0); // reached only when the armed step is not on the path
}

#[test]
fn merge_crash_at_every_step() {
    let exe = std::env::current_exe().unwrap();
    let want = merge_child_model();
    for step in MERGE_STEPS {
        let dir = kit_dir();
        let status = Command::new(&exe)
            .args([
                "merge_crash_child",
                "--exact",
                "--ignored",
                "--test-threads=1",
            ])
            .env(MERGE_DIR_ENV, dir.path())
            .env(engines::io::CRASH_AT_ENV, step)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.code().is_none(),
            "{step}: the child was not killed at the crash point ({status})"
        );
        let o = quiet(8 << 10);
        let db = open(dir.path(), &o);
        assert!(
            names(dir.path(), ".merging").is_empty() && !dir.path().join("MERGE").exists(),
            "{step}: leftovers of the merge remain after open: {:?}",
            names(dir.path(), "")
        );
        let got: BTreeMap<Vec<u8>, Vec<u8>> = all(&*db).into_iter().collect();
        // The first compact (round 1) may be the one killed: then rounds 2 and 3 never ran.
        if got != want {
            let mut early = BTreeMap::new();
            for round in 0..2 {
                for i in 0..400 {
                    if (i + round) % 6 == 0 {
                        early.remove(&key(i));
                    } else {
                        early.insert(key(i), value(i, round));
                    }
                }
            }
            assert!(
                got == early,
                "{step}: the store after the crash holds neither state"
            );
        }
        for (k, v) in &got {
            assert_eq!(db.get(k).unwrap().as_ref(), Some(v), "{step}");
        }
        db.put(b"probe", b"after").unwrap();
        db.compact().unwrap();
        db.close().unwrap();
        let db = open(dir.path(), &o);
        assert_eq!(
            db.get(b"probe").unwrap().as_deref(),
            Some(&b"after"[..]),
            "{step}"
        );
        assert_eq!(all(&*db).len(), got.len() + 1, "{step}");
        db.close().unwrap();
    }
}

/// The figures the CLI cannot give (start-up with and without hint files, space before and
/// after a merge), with puts/s, gets/s and keydir bytes per key on the way. Rough figures,
/// not a benchmark: run in release mode with
/// `cargo test --release -p engines --test bitcask figures -- --ignored --nocapture`.
#[test]
#[ignore = "prints release-mode figures; run by hand"]
fn figures() {
    let dir = kit_dir();
    let mut o = Options::default();
    o.bitcask.background_merge = false;
    const N: u32 = 1_000_000;
    let k = |i: u32| {
        format!(
            "user{:012}",
            (i as u64).wrapping_mul(0x9E37_79B9) % 1_000_000_000_000
        )
        .into_bytes()
    };
    let v = vec![0x5a; 100];
    let secs = |t: std::time::Instant| t.elapsed().as_secs_f64();
    let db = open(dir.path(), &o);
    let t = std::time::Instant::now();
    for i in 0..N {
        db.put(&k(i), &v).unwrap();
    }
    let puts = N as f64 / secs(t);
    let t = std::time::Instant::now();
    for i in 0..N {
        assert!(db.get(&k(i.wrapping_mul(7919) % N)).unwrap().is_some());
    }
    let gets = N as f64 / secs(t);
    let keydir = db.stats().extra["keydir_bytes_per_key"];
    // A second generation of every value: half the data bytes are dead.
    for i in 0..N {
        db.put(&k(i), &v).unwrap();
    }
    wait_for_hints(&*db);
    db.close().unwrap();
    drop(db);

    // Start-up times, page cache warm and then cold (the store's files dropped from it).
    let startup = |o: &Options, cold: bool| {
        if cold {
            engines::io::drop_page_cache(dir.path()).unwrap();
        }
        let t = std::time::Instant::now();
        let db = open(dir.path(), o);
        let took = secs(t);
        db.close().unwrap();
        took
    };
    let hints = names(dir.path(), ".hint").len();
    let with_hints = [startup(&o, false), startup(&o, true)];
    for h in names(dir.path(), ".hint") {
        std::fs::remove_file(dir.path().join(h)).unwrap();
    }
    let mut no_hints = o.clone();
    no_hints.bitcask.hint_files = false;
    let without_hints = [startup(&no_hints, false), startup(&no_hints, true)];
    let db = open(dir.path(), &no_hints);
    let before = db.stats().disk_bytes;
    let t = std::time::Instant::now();
    db.compact().unwrap();
    let merge_secs = secs(t);
    let after = db.stats().disk_bytes;
    assert_eq!(db.stats().live_keys, Some(N as u64));
    db.close().unwrap();
    let live = N as u64 * (16 + 100);
    eprintln!(
        "bitcask, {N} keys of 16 B, values of 100 B, durability none, page cache warm:\n  \
         {puts:.0} puts/s, {gets:.0} gets/s, keydir {keydir:.1} B/key\n  \
         start-up after {N} overwrites, page cache warm / cold: {:.0} / {:.0} ms with {hints} hint files, \
         {:.0} / {:.0} ms scanning the data files\n  \
         disk before merge {:.1} MiB, after {:.1} MiB (merge {merge_secs:.1} s); live key+value bytes {:.1} MiB",
        with_hints[0] * 1e3,
        with_hints[1] * 1e3,
        without_hints[0] * 1e3,
        without_hints[1] * 1e3,
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        live as f64 / 1048576.0,
    );
}

#[test]
fn a_merge_that_fails_before_its_commit_leaves_the_store_whole() {
    use engines::io::{clear_faults, inject_fault, Fault};
    let dir = kit_dir();
    let mut o = quiet(8 << 10);
    o.bitcask.hint_files = false; // no background worker spending the disk budget below
    let db = open(dir.path(), &o);
    for round in 0..3 {
        for i in 0..300 {
            db.put(&key(i), &value(i, round)).unwrap();
        }
    }
    // Room for the rollover (seal and new header), not for the merge's output.
    inject_fault(dir.path(), Fault::DiskFullAfter(200));
    let r = db.compact();
    clear_faults(dir.path());
    assert!(r.is_err(), "a merge on a full disk reported success");
    assert!(
        names(dir.path(), ".merging").is_empty() && names(dir.path(), ".merged").is_empty(),
        "the failed merge's output was not removed: {:?}",
        names(dir.path(), "")
    );
    db.put(b"after", b"failure")
        .expect("the engine goes on after a merge failed before its commit");
    for i in 0..300 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 2)));
    }
    db.compact().unwrap();
    db.close().unwrap();
    let db = open(dir.path(), &o);
    for i in 0..300 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 2)));
    }
    assert_eq!(db.get(b"after").unwrap().as_deref(), Some(&b"failure"[..]));
    db.close().unwrap();
}
