//! Failed writes: an fsync that fails or a disk that fills up while several writers run,
//! memtables flush and tables compact. The instance is poisoned; nothing acknowledged is
//! lost or changed for readers (a reader never sees a value go backwards, before or after
//! the reopen); the store reopens and takes writes again.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use std::time::{Duration, Instant};

use super::{small, POLICIES};
use crate::io::{clear_faults, inject_fault, Fault};
use crate::lsm::LsmEngine;
use crate::{Durability, Engine, Error, Options};

const WRITERS: u32 = 4;
const KEYS_PER_WRITER: u32 = 60;
const KEYS: usize = (WRITERS * KEYS_PER_WRITER) as usize;

fn key(k: usize) -> Vec<u8> {
    format!("k{k:04}").into_bytes()
}

/// Version `v` of key `k`: names both, padded so that memtables fill quickly.
fn value(k: usize, v: u32) -> Vec<u8> {
    format!("k{k:04}:{v:06}:{}", "p".repeat(40 + k % 50)).into_bytes()
}

/// The version a value of key `k` carries; a foreign or malformed value fails the test.
fn version_of(k: usize, bytes: &[u8]) -> u32 {
    let s = std::str::from_utf8(bytes).expect("a value that was never written");
    let want = format!("k{k:04}:");
    assert!(s.starts_with(&want), "k{k:04} holds a foreign value {s}");
    s[6..12].parse().expect("a value that was never written")
}

/// Every key's version as `db` serves it now (0 for absent).
fn versions(db: &LsmEngine) -> crate::Result<Vec<u32>> {
    (0..KEYS)
        .map(|k| Ok(db.get(&key(k))?.map_or(0, |v| version_of(k, &v))))
        .collect()
}

fn run(fault: Fault, durability: Durability, options: &Options) {
    let ctx = format!("{fault:?} in {durability:?} mode");
    let mut o = options.clone();
    o.durability = durability;
    let dir = tempfile::tempdir().unwrap();
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    let acked: Vec<AtomicU32> = (0..KEYS).map(|_| AtomicU32::new(0)).collect();
    let seen: Vec<AtomicU32> = (0..KEYS).map(|_| AtomicU32::new(0)).collect();
    let stop = AtomicBool::new(false);
    let failures: std::sync::Mutex<Vec<Error>> = Default::default();
    std::thread::scope(|s| {
        for w in 0..WRITERS as usize {
            let (db, acked, stop, failures) = (&db, &acked, &stop, &failures);
            s.spawn(move || {
                let own = (w..KEYS).step_by(WRITERS as usize);
                'run: for v in 1..=400u32 {
                    for k in own.clone() {
                        if stop.load(Relaxed) {
                            break 'run;
                        }
                        match db.put(&key(k), &value(k, v)) {
                            Ok(()) => acked[k].store(v, Release),
                            Err(e) => {
                                failures.lock().unwrap().push(e);
                                break 'run;
                            }
                        }
                    }
                }
            });
        }
        for r in 0..2usize {
            let (db, seen, stop) = (&db, &seen, &stop);
            s.spawn(move || {
                let mut mine = vec![0u32; KEYS];
                let mut i = r;
                while !stop.load(Relaxed) {
                    let k = i.wrapping_mul(7919) % KEYS;
                    i += 1;
                    let v = match db.get(&key(k)) {
                        Ok(got) => got.map_or(0, |b| version_of(k, &b)),
                        Err(e) => panic!("a read failed: {e}"),
                    };
                    assert!(v >= mine[k], "k{k:04} went back from {} to {v}", mine[k]);
                    mine[k] = v;
                    seen[k].fetch_max(v, Relaxed);
                }
            });
        }
        // Let flushes and compactions get under way, then break the disk.
        let t = Instant::now();
        while db.stats().compactions < 2 {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "{ctx}: no compaction ran"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        inject_fault(dir.path(), fault);
        while failures.lock().unwrap().is_empty() {
            if t.elapsed() > Duration::from_secs(60) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Give the other writers a moment to run into the poison, then stop everyone.
        std::thread::sleep(Duration::from_millis(20));
        stop.store(true, Relaxed);
    });
    clear_faults(dir.path());
    let failures = failures.into_inner().unwrap();
    assert!(!failures.is_empty(), "{ctx}: no write failed");
    for e in &failures {
        assert!(
            matches!(e, Error::Poisoned(_) | Error::Io(_)),
            "{ctx}: a writer got {e}"
        );
    }
    assert!(
        matches!(db.put(b"later", b"x"), Err(Error::Poisoned(_))),
        "{ctx}: the instance takes writes after a failed one"
    );
    // The poisoned instance still serves every acknowledged write, and nothing older than
    // what a reader saw.
    let now = versions(&db).unwrap();
    for k in 0..KEYS {
        let floor = acked[k].load(Acquire).max(seen[k].load(Relaxed));
        assert!(
            now[k] >= floor,
            "{ctx}: k{k:04} is at {} below {floor}",
            now[k]
        );
    }
    let _ = db.close();
    drop(db);

    let db = LsmEngine::open(dir.path(), &o).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
    let after = versions(&db).unwrap();
    for k in 0..KEYS {
        let floor = acked[k].load(Acquire).max(seen[k].load(Relaxed));
        assert!(
            after[k] >= floor,
            "{ctx}: k{k:04} reopened at version {} below {floor} (acknowledged {}, seen {})",
            after[k],
            acked[k].load(Acquire),
            seen[k].load(Relaxed)
        );
    }
    db.put(b"later", b"x").unwrap();
    db.close().unwrap();
}

#[test]
fn a_failed_fsync_under_concurrent_writers_loses_nothing_acknowledged() {
    for (i, durability) in [Durability::None, Durability::Sync].into_iter().enumerate() {
        run(Fault::FailSync, durability, &small(POLICIES[i % 2]));
    }
}

#[test]
fn a_full_disk_under_concurrent_writers_loses_nothing_acknowledged() {
    for (i, durability) in [Durability::None, Durability::Sync].into_iter().enumerate() {
        run(
            Fault::DiskFullAfter(64 << 10),
            durability,
            &small(POLICIES[(i + 1) % 2]),
        );
    }
}

/// In `sync` mode a write whose fsync fails returns an error and is never seen: it enters
/// the memtable only once its commit succeeded.
#[test]
fn a_write_whose_fsync_fails_is_never_visible() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small(POLICIES[0]);
    o.durability = Durability::Sync;
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    db.put(b"k", b"old").unwrap();
    inject_fault(dir.path(), Fault::FailSync);
    let r = db.put(b"k", b"new");
    clear_faults(dir.path());
    assert!(r.is_err(), "a put whose fsync failed returned Ok");
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"old"[..]));
    let all = db.scan(b"", None, 10).unwrap();
    assert_eq!(all, vec![(b"k".to_vec(), b"old".to_vec())]);
    let _ = db.close();
}
