//! `close()` as a barrier: when it returns, nothing of the instance writes to the directory any
//! more, calls on other threads have finished or get `Error::Closed`, and the store can be
//! opened again at once by a new instance.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use super::{apply, small, state_after, POLICIES};
use crate::lsm::LsmEngine;
use crate::{Engine, Error};

/// Every file's name, size and checksum (the lock file aside).
pub(super) fn snapshot(dir: &Path) -> BTreeMap<String, (u64, u32)> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            // A file removed between the listing and the read shows as missing.
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            Some((name, (bytes.len() as u64, crc32c::crc32c(&bytes))))
        })
        .collect()
}

/// True when the store can be claimed at once by this process (no instance here holds it;
/// the claim waits out lock copies held briefly by processes other test threads fork).
fn lock_is_free(dir: &Path) -> bool {
    let io = crate::io::Io::new();
    crate::store_dir::claim(&io, dir, "lsm", crate::lsm::FORMAT_VERSION).is_ok()
}

fn scan_all(db: &dyn Engine) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.scan(b"", None, usize::MAX)
        .unwrap()
        .into_iter()
        .collect()
}

/// `compact()` on one thread, `close()` on another, and the store opened again at once: the
/// compaction must not go on writing (a manifest switch, removing tables or WALs) behind the
/// new instance's back.
#[test]
fn close_waits_for_a_compaction_on_another_thread_before_the_store_reopens() {
    for round in 0..40u64 {
        let policy = POLICIES[round as usize % 2];
        let o = small(policy);
        let dir = tempfile::tempdir().unwrap();
        let db = LsmEngine::open(dir.path(), &o).unwrap();
        for i in 0..2500 {
            apply(&db, i).unwrap();
        }
        let want = state_after(2500);
        std::thread::scope(|s| {
            let compaction = s.spawn(|| db.compact());
            std::thread::sleep(Duration::from_micros(300 * (round % 8)));
            db.close().unwrap();
            let again = LsmEngine::open(dir.path(), &o)
                .unwrap_or_else(|e| panic!("round {round}: reopen right after close: {e}"));
            let r = compaction.join().unwrap();
            assert!(
                matches!(r, Ok(()) | Err(Error::Closed)),
                "round {round}: compact() racing close() returned {r:?}"
            );
            assert!(
                scan_all(&again) == want,
                "round {round}: reopened store differs"
            );
            again.close().unwrap();
        });
        let db = LsmEngine::open(dir.path(), &o)
            .unwrap_or_else(|e| panic!("round {round}: the store no longer opens: {e}"));
        assert!(scan_all(&db) == want, "round {round}: store differs");
        db.close().unwrap();
    }
}

/// What one worker thread saw.
#[derive(Default)]
struct Seen {
    /// Writes that returned Ok: key -> value (each key written once).
    acked: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Errors other than `Closed`.
    bad: Vec<String>,
}

fn worker(db: &LsmEngine, t: usize, seen: &Mutex<Seen>) {
    let mut local = Seen::default();
    for i in 0u64.. {
        let r = match (t, i % 16) {
            // Two writers on their own keys, each key written once.
            (0 | 1, _) => {
                let k = format!("w{t}-{i:06}").into_bytes();
                let v = format!("{i}-").repeat(1 + (i % 30) as usize).into_bytes();
                let r = db.put(&k, &v);
                if r.is_ok() {
                    local.acked.insert(k, v);
                }
                r
            }
            (2, n) if n % 2 == 0 => db.get(format!("w0-{:06}", i / 2).as_bytes()).map(drop),
            (2, _) => db.scan(b"w1-", Some(b"w2"), 50).map(drop),
            (_, 0) => db.compact(),
            (_, n) if n % 4 == 0 => db.settle(),
            (_, _) => db.sync(),
        };
        match r {
            Ok(()) => {}
            Err(Error::Closed) => break,
            Err(e) => {
                local.bad.push(format!("thread {t} op {i}: {e}"));
                break;
            }
        }
    }
    *seen.lock().unwrap() = local;
}

/// `close()` while four threads put, get, scan, sync, settle and compact: once it returns the
/// directory stays still and its lock is free, every other thread saw only `Ok` or `Closed`,
/// and the next open holds every acknowledged write. Two `close()` calls race each other:
/// both return only once the store is closed.
#[test]
fn close_is_a_barrier_for_calls_in_flight_on_other_threads() {
    for round in 0..50u64 {
        let policy = POLICIES[round as usize % 2];
        let o = small(policy);
        let dir = tempfile::tempdir().unwrap();
        let db = LsmEngine::open(dir.path(), &o).unwrap();
        for i in 0..800 {
            apply(&db, i).unwrap();
        }
        let seen: Vec<Mutex<Seen>> = (0..4).map(|_| Mutex::default()).collect();
        let check = Mutex::new(());
        std::thread::scope(|s| {
            for (t, seen) in seen.iter().enumerate() {
                let db = &db;
                s.spawn(move || worker(db, t, seen));
            }
            std::thread::sleep(Duration::from_millis(2 + round % 10));
            // Two closers: each, as soon as its close() returns, finds the lock free and
            // takes a picture of the directory.
            let closers: Vec<_> = (0..2)
                .map(|_| {
                    let (db, dir, check) = (&db, dir.path(), &check);
                    s.spawn(move || {
                        db.close().unwrap();
                        let _one_at_a_time = check.lock().unwrap();
                        (lock_is_free(dir), snapshot(dir))
                    })
                })
                .collect();
            let seen: Vec<_> = closers.into_iter().map(|c| c.join().unwrap()).collect();
            std::thread::sleep(Duration::from_millis(200));
            let after = snapshot(dir.path());
            for (free, before) in seen {
                assert!(
                    free,
                    "round {round}: close() returned with the lock still held"
                );
                assert!(
                    before == after,
                    "round {round}: the directory changed after close() returned:\n{before:?}\n{after:?}"
                );
            }
        });
        let db = LsmEngine::open(dir.path(), &o)
            .unwrap_or_else(|e| panic!("round {round}: reopen: {e}"));
        for (t, seen) in seen.iter().enumerate() {
            let seen = seen.lock().unwrap();
            assert!(seen.bad.is_empty(), "round {round}: {:?}", seen.bad);
            for (k, v) in &seen.acked {
                let got = db.get(k).unwrap();
                assert!(
                    got.as_ref() == Some(v),
                    "round {round}: thread {t}'s acknowledged {} is {got:?} after reopen",
                    String::from_utf8_lossy(k)
                );
            }
        }
        db.close().unwrap();
    }
}
