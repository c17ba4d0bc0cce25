//! `close()` is a barrier. While four threads put, get, scan, `sync()` and `compact()`, one
//! or two other threads call `close()`. Each `close()` that returns must leave the store at
//! rest: the directory's files (names, sizes, contents) do not change afterwards, not while
//! the workers run into the closed engine, not over a wait, not when the engine is dropped.
//! The workers see only `Ok` or `Error::Closed` (never another error or a panic), the store
//! reopens at once (the lock is free) and holds every put that returned `Ok`; a put that
//! failed is absent or holds its own value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use super::{temp_dir, Kit};
use crate::{Engine, Error};

const WORKERS: usize = 4;
/// Environment variable with the number of rounds (default 30).
pub const ROUNDS_ENV: &str = "KVBENCH_CLOSE_ROUNDS";

fn key(t: usize, i: usize) -> Vec<u8> {
    format!("w{t}-{i:06}").into_bytes()
}

fn value(t: usize, i: usize) -> Vec<u8> {
    let mut v = format!("w{t}-{i:06}=").into_bytes();
    v.resize(24 + (i * 37) % 400, b'a' + (i % 26) as u8);
    v
}

/// Names, sizes and a checksum of the content of every file under `dir`.
pub(crate) fn dir_state(dir: &Path) -> BTreeMap<PathBuf, (u64, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.insert(p, (bytes.len() as u64, crc32c::crc32c(&bytes)));
            }
        }
    }
    out
}

/// One worker: a mix of operations until the engine reports `Closed`. Returns the indexes of
/// its acknowledged puts, of its failed puts, and any error that is not `Closed`.
fn work(db: &dyn Engine, t: usize, ops: &AtomicUsize) -> (Vec<usize>, Vec<usize>, Vec<String>) {
    let (mut acked, mut failed, mut wrong) = (Vec::new(), Vec::new(), Vec::new());
    let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
    for i in 0.. {
        let r = match rng.gen_range(0..100) {
            0..=54 => {
                let r = db.put(&key(t, i), &value(t, i));
                match r {
                    Ok(()) => acked.push(i),
                    Err(_) => failed.push(i),
                }
                r
            }
            55..=79 => db.get(&key(9, rng.gen_range(0..200))).map(drop),
            80..=91 => db.scan(&key(9, rng.gen_range(0..200)), None, 20).map(drop),
            92..=97 => db.sync(),
            _ => db.compact(),
        };
        ops.fetch_add(1, Relaxed);
        match r {
            Ok(()) => {}
            Err(Error::Closed) => break,
            Err(e) => {
                wrong.push(format!("worker {t}, operation {i}: {e}"));
                break;
            }
        }
    }
    (acked, failed, wrong)
}

pub fn close_during_work(kit: &Kit) {
    let rounds: usize = std::env::var(ROUNDS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xc105e);
    for round in 0..rounds {
        let ctx = format!("{} (close race, round {round})", kit.name);
        let dir = temp_dir();
        let db = kit.open(dir.path());
        for i in 0..200 {
            db.put(&key(9, i), &value(9, i)).unwrap();
        }
        let closers = if round % 3 == 0 { 2 } else { 1 };
        let close_after = rng.gen_range(0..600);
        let ops = AtomicUsize::new(0);
        let after_close: Mutex<Vec<BTreeMap<PathBuf, (u64, u32)>>> = Mutex::new(Vec::new());
        let (mut acked, mut failed, mut wrong) = (Vec::new(), Vec::new(), Vec::new());
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..WORKERS)
                .map(|t| {
                    let (db, ops) = (&*db, &ops);
                    s.spawn(move || work(db, t, ops))
                })
                .collect();
            let patience = std::time::Instant::now();
            while ops.load(Relaxed) < close_after && patience.elapsed() < Duration::from_secs(2) {
                std::thread::yield_now();
            }
            let closing: Vec<_> = (0..closers)
                .map(|_| {
                    let (db, after_close, dir) = (&*db, &after_close, dir.path());
                    s.spawn(move || {
                        let r = db.close();
                        after_close.lock().unwrap().push(dir_state(dir));
                        r
                    })
                })
                .collect();
            for (n, c) in closing.into_iter().enumerate() {
                match c.join().unwrap() {
                    Ok(()) | Err(Error::Closed) => {}
                    Err(e) => wrong.push(format!("close #{n} failed: {e}")),
                }
            }
            for (t, w) in workers.into_iter().enumerate() {
                let (a, f, e) = w.join().unwrap();
                acked.extend(a.into_iter().map(|i| (t, i)));
                failed.extend(f.into_iter().map(|i| (t, i)));
                wrong.extend(e);
            }
        });
        assert!(wrong.is_empty(), "{ctx}: {}", wrong.join("; "));
        std::thread::sleep(Duration::from_millis(100));
        let at_rest = dir_state(dir.path());
        drop(db);
        let dropped = dir_state(dir.path());
        if kit.persistent {
            for (n, seen) in after_close.lock().unwrap().iter().enumerate() {
                assert!(
                    *seen == at_rest,
                    "{ctx}: the directory changed after close() #{n} returned ({})",
                    describe(seen, &at_rest)
                );
            }
            assert!(
                dropped == at_rest,
                "{ctx}: dropping the closed engine changed the directory ({})",
                describe(&at_rest, &dropped)
            );
        }
        let db = kit.open(dir.path());
        if kit.persistent {
            for &(t, i) in &acked {
                let got = db.get(&key(t, i)).unwrap();
                assert!(
                    got.as_deref() == Some(&value(t, i)[..]),
                    "{ctx}: acknowledged put w{t}-{i:06} reads back as {:?}",
                    got.map(|v| v.len())
                );
            }
            for &(t, i) in &failed {
                let got = db.get(&key(t, i)).unwrap();
                assert!(
                    got.is_none() || got.as_deref() == Some(&value(t, i)[..]),
                    "{ctx}: a failed put w{t}-{i:06} left a value that was never written"
                );
            }
        }
        db.close().unwrap();
    }
    eprintln!("{}: {rounds} close-race rounds passed", kit.name);
}

fn describe(a: &BTreeMap<PathBuf, (u64, u32)>, b: &BTreeMap<PathBuf, (u64, u32)>) -> String {
    let mut diffs: Vec<String> = Vec::new();
    for (p, x) in a {
        match b.get(p) {
            None => diffs.push(format!("{} removed", p.display())),
            Some(y) if y != x => diffs.push(format!("{} {} -> {} bytes", p.display(), x.0, y.0)),
            _ => {}
        }
    }
    for p in b.keys().filter(|p| !a.contains_key(*p)) {
        diffs.push(format!("{} created", p.display()));
    }
    diffs.truncate(4);
    diffs.join(", ")
}
