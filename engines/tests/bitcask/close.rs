//! `close()` is a barrier, and `settle()` brings the engine to rest. After close returns,
//! nothing of the instance touches the directory; calls on other threads finished before it
//! or get `Error::Closed`; a second close returns only once the first has finished. After
//! settle returns, an idle engine writes nothing.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::*;

/// Names, sizes and content hashes of every file in `dir`.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, u64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap_or_default();
            let mut h = DefaultHasher::new();
            bytes.hash(&mut h);
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, (bytes.len() as u64, h.finish()))
        })
        .collect()
}

/// Records a result that must be `Ok` or `Err(Closed)`; `true` once the engine is closed.
fn closed_or_ok<T>(r: Result<T, Error>, what: &str, bad: &Mutex<Vec<String>>) -> bool {
    match r {
        Ok(_) => false,
        Err(Error::Closed) => true,
        Err(e) => {
            bad.lock().unwrap().push(format!("{what}: {e}"));
            true
        }
    }
}

/// A writer's acknowledged state of its keys (`None`: deleted).
type Acked = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

fn churn_options(round: u32) -> Options {
    let mut o = quiet(8 << 10);
    o.bitcask.background_merge = true;
    o.bitcask.merge_min_dead_bytes = 16 << 10;
    o.bitcask.merge_dead_ratio = 0.3;
    o.durability = [Durability::None, Durability::Sync, Durability::Group][round as usize % 3];
    o
}

#[test]
fn close_is_a_barrier_for_calls_on_other_threads() {
    for round in 0..50u32 {
        let dir = kit_dir();
        let o = churn_options(round);
        let db = open(dir.path(), &o);
        for i in 0..200 {
            db.put(&key(i), &value(i, 0)).unwrap();
        }
        let acked: Vec<Mutex<Acked>> = (0..2).map(|_| Mutex::new(BTreeMap::new())).collect();
        let bad = Mutex::new(Vec::new());
        let stop = AtomicBool::new(false);
        let (before, after) = std::thread::scope(|s| {
            let (db, acked, bad, stop) = (&db, &acked, &bad, &stop);
            let mut threads = Vec::new();
            // Two writers (puts and deletes; one also syncs), a reader (gets and scans) and
            // a compactor.
            for t in 0..2u32 {
                threads.push(s.spawn(move || {
                    for n in 0u32.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let k = format!("t{t}-{:04}", n % 300).into_bytes();
                        let r = if n % 7 == 3 {
                            db.delete(&k).map(|()| None)
                        } else {
                            let v = value(n, t);
                            db.put(&k, &v).map(|()| Some(v))
                        };
                        if let Ok(state) = &r {
                            acked[t as usize].lock().unwrap().insert(k, state.clone());
                        }
                        closed_or_ok(r, "put/delete", bad);
                        if t == 1 && n % 50 == 0 {
                            closed_or_ok(db.sync(), "sync", bad);
                        }
                    }
                }));
            }
            threads.push(s.spawn(move || {
                for n in 0u32.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    closed_or_ok(db.get(&key(n % 200)), "get", bad);
                    if n % 20 == 0 {
                        closed_or_ok(db.scan(b"t0-", Some(b"t1-"), 50), "scan", bad);
                    }
                }
            }));
            threads.push(s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    closed_or_ok(db.compact(), "compact", bad);
                }
            }));
            std::thread::sleep(Duration::from_millis(u64::from(round % 10) * 3 + 2));
            let closed = db.close();
            let before = snapshot(dir.path());
            // The other threads go on calling while the directory is watched.
            std::thread::sleep(Duration::from_millis(200));
            let after = snapshot(dir.path());
            stop.store(true, Ordering::Relaxed);
            for t in threads {
                if t.join().is_err() {
                    bad.lock().unwrap().push("a thread panicked".into());
                }
            }
            assert!(closed.is_ok(), "round {round}: close: {closed:?}");
            (before, after)
        });
        let bad = bad.into_inner().unwrap();
        assert!(bad.is_empty(), "round {round}: {bad:?}");
        assert!(
            before == after,
            "round {round}: the directory changed after close returned:\n{before:?}\n{after:?}"
        );
        drop(db);
        let db = open(dir.path(), &o);
        for (t, m) in acked.iter().enumerate() {
            for (k, want) in m.lock().unwrap().iter() {
                assert_eq!(
                    db.get(k).unwrap().as_ref(),
                    want.as_ref(),
                    "round {round}: thread {t}'s acknowledged write of {} after reopen",
                    String::from_utf8_lossy(k)
                );
            }
        }
        db.close().unwrap();
    }
}

#[test]
fn a_second_close_returns_only_once_the_first_has_finished() {
    for round in 0..20u32 {
        let dir = kit_dir();
        let o = churn_options(round);
        let db = open(dir.path(), &o);
        for r in 0..4 {
            for i in 0..300 {
                db.put(&key(i), &value(i, r)).unwrap();
            }
        }
        let bad = Mutex::new(Vec::new());
        let reopen = Mutex::new(());
        std::thread::scope(|s| {
            let (db, bad, reopen, o, dir) = (&db, &bad, &reopen, &o, dir.path());
            // A merge in flight makes the first close take a while.
            s.spawn(move || closed_or_ok(db.compact(), "compact", bad));
            for _ in 0..2 {
                s.spawn(move || {
                    let r = db.close();
                    if !matches!(r, Ok(()) | Err(Error::Closed)) {
                        bad.lock().unwrap().push(format!("close: {r:?}"));
                    }
                    // The store is free as soon as either close returns (a claim still held
                    // in this process is refused at once).
                    let _one = reopen.lock().unwrap();
                    match engines::open(EngineKind::Bitcask, dir, o) {
                        Ok(again) => again.close().unwrap(),
                        Err(e) => bad.lock().unwrap().push(format!("open after close: {e}")),
                    }
                });
            }
        });
        let bad = bad.into_inner().unwrap();
        assert!(bad.is_empty(), "round {round}: {bad:?}");
    }
}

#[test]
fn settle_leaves_an_idle_engine_nothing_to_write() {
    for due in [true, false] {
        let dir = kit_dir();
        let mut o = quiet(8 << 10);
        o.durability = Durability::Group; // the group-commit flusher runs too
        o.bitcask.background_merge = true;
        o.bitcask.merge_dead_ratio = 0.3;
        o.bitcask.merge_min_dead_bytes = if due { 16 << 10 } else { 1 << 40 };
        let db = open(dir.path(), &o);
        for r in 0..6 {
            for i in 0..300 {
                db.put(&key(i), &value(i, r)).unwrap();
            }
        }
        db.settle().unwrap();
        let s = db.stats();
        assert_eq!(s.write_buffer_bytes, 0);
        assert_eq!(s.extra["hint_files_pending"], 0.0, "due: {due}");
        assert_eq!(
            s.compactions > 0,
            due,
            "a merge runs if and only if one is due"
        );
        let files = snapshot(dir.path());
        std::thread::sleep(Duration::from_millis(300));
        let later = db.stats();
        assert_eq!(later.io, s.io, "due: {due}: the engine did I/O while idle");
        assert_eq!(files, snapshot(dir.path()), "due: {due}");
        for i in 0..300 {
            assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 5)));
        }
        db.close().unwrap();
    }
}

/// How long writers wait while the active file rolls over: 4 threads put 100 MiB of 1 KiB
/// values in 2 MiB segments (about 50 rollovers), durability `none`, and the puts slower than
/// 1 ms and 10 ms are counted. Rough figures on a shared machine, not a benchmark: run with
/// `cargo test -p engines --test bitcask rollover_stall_figures -- --ignored --nocapture`.
#[test]
#[ignore = "prints rollover stall figures; run by hand"]
fn rollover_stall_figures() {
    let dir = kit_dir();
    let mut o = quiet(2 << 20);
    o.bitcask.hint_files = false;
    let db = open(dir.path(), &o);
    const THREADS: u32 = 4;
    const EACH: u32 = 25_600;
    let v = vec![0x5a; 1024];
    let started = std::time::Instant::now();
    let slow: Vec<(u32, u32, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (db, v) = (&db, &v);
                s.spawn(move || {
                    let (mut over1, mut over10, mut max) = (0, 0, Duration::ZERO);
                    for i in 0..EACH {
                        let t0 = std::time::Instant::now();
                        db.put(format!("t{t}-{i:06}").as_bytes(), v).unwrap();
                        let took = t0.elapsed();
                        over1 += u32::from(took >= Duration::from_millis(1));
                        over10 += u32::from(took >= Duration::from_millis(10));
                        max = max.max(took);
                    }
                    (over1, over10, max)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let segments = extra(&*db, "segments");
    db.close().unwrap();
    let over1: u32 = slow.iter().map(|s| s.0).sum();
    let over10: u32 = slow.iter().map(|s| s.1).sum();
    let max = slow.iter().map(|s| s.2).max().unwrap();
    eprintln!(
        "{} puts of 1 KiB by {THREADS} threads, {segments} segments of 2 MiB, {secs:.1} s: \
         {over1} puts took >= 1 ms, {over10} >= 10 ms, the slowest {:.1} ms",
        THREADS * EACH,
        max.as_secs_f64() * 1e3
    );
}
