//! Failed writes under concurrent writers. Four writers overwrite their own keys with rising
//! versions, two readers check that no value they have seen goes backwards, a third thread
//! runs `compact()` (and, in `none` mode, `sync()`), and at a random moment the I/O layer
//! starts failing: every fsync (in `sync` and `group` modes) or every write past a small
//! budget (a full disk, in `none` mode). Then:
//! * no reader ever sees a key's version fall or a seen key vanish (a failed write changes
//!   nothing a reader has seen);
//! * after a failed fsync the instance refuses writes, even once fsyncs work again;
//! * the store reopens and holds, per key, at least the newest version that was durable
//!   (acknowledged in `sync` mode, covered by a successful `sync()` otherwise), and only
//!   values that were written.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use super::{temp_dir, Kit};
use crate::io::{clear_faults, inject_fault, Fault};
use crate::Durability;

const WRITERS: usize = 4;
const KEYS_EACH: u64 = 24;
/// Environment variable with the number of rounds per mode (default 3).
pub const ROUNDS_ENV: &str = "KVBENCH_FAULT_ROUNDS";

fn key(t: usize, k: u64) -> Vec<u8> {
    format!("f{t}-{k:03}").into_bytes()
}

fn value(t: usize, k: u64, version: u64) -> Vec<u8> {
    let mut v = format!("f{t}-{k:03}:{version:010}:").into_bytes();
    v.resize(40 + (version as usize * 31) % 700, b'x');
    v
}

/// The version a value holds, if it is one this test wrote for `key`.
fn version_of(key: &[u8], v: &[u8]) -> Option<u64> {
    let rest = v.strip_prefix(key)?.strip_prefix(b":")?;
    let version: u64 = std::str::from_utf8(rest.get(..10)?).ok()?.parse().ok()?;
    let (t, k) = std::str::from_utf8(key).ok()?[1..].split_once('-')?;
    (value(t.parse().ok()?, k.parse().ok()?, version) == v).then_some(version)
}

/// Per writer: the newest acknowledged version of each of its keys (0: none), and the key it
/// wrote last (which readers favour: a rolled-back write is most likely seen there).
struct Acked(Vec<Vec<AtomicU64>>, Vec<AtomicU64>);

impl Acked {
    fn new() -> Self {
        Acked(
            (0..WRITERS)
                .map(|_| (0..KEYS_EACH).map(|_| AtomicU64::new(0)).collect())
                .collect(),
            (0..WRITERS).map(|_| AtomicU64::new(0)).collect(),
        )
    }

    fn snapshot(&self) -> Vec<Vec<u64>> {
        self.0
            .iter()
            .map(|w| w.iter().map(|a| a.load(Relaxed)).collect())
            .collect()
    }
}

fn one_round(kit: &Kit, mode: Durability, seed: u64) {
    let ctx = format!("{} (failed writes, {mode} mode, seed {seed})", kit.name);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = temp_dir();
    let mut options = kit.options.clone();
    options.durability = mode;
    let db = kit.open_with(dir.path(), &options);
    let acked = Acked::new();
    let durable = Mutex::new(acked.snapshot());
    let stop = AtomicBool::new(false);
    let violations = Mutex::new(Vec::<String>::new());
    let fail_after = Duration::from_millis(rng.gen_range(2..40));
    let fault = match mode {
        Durability::None => Fault::DiskFullAfter(rng.gen_range(0..20_000)),
        _ => Fault::FailSync,
    };
    let errors_seen = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..WRITERS {
            let (db, acked, stop, errors_seen) = (&*db, &acked, &stop, &errors_seen);
            s.spawn(move || {
                let mut version = 0;
                while !stop.load(Relaxed) {
                    version += 1;
                    let k = version % KEYS_EACH;
                    match db.put(&key(t, k), &value(t, k, version)) {
                        Ok(()) => {
                            acked.0[t][k as usize].store(version, Relaxed);
                            acked.1[t].store(k, Relaxed);
                        }
                        Err(_) => {
                            errors_seen.fetch_add(1, Relaxed);
                            return;
                        }
                    }
                }
            });
        }
        for r in 0..2u64 {
            let (db, stop, violations, acked) = (&*db, &stop, &violations, &acked);
            s.spawn(move || {
                let mut seen: HashMap<Vec<u8>, u64> = HashMap::new();
                let mut n = r;
                while !stop.load(Relaxed) {
                    n = n
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let t = (n >> 33) as usize % WRITERS;
                    let k = match n >> 62 {
                        0 | 1 => acked.1[t].load(Relaxed),
                        _ => (n >> 20) % KEYS_EACH,
                    };
                    let k = key(t, k);
                    let Ok(got) = db.get(&k) else { continue };
                    let before = seen.get(&k).copied();
                    let now = match &got {
                        None => None,
                        Some(v) => match version_of(&k, v) {
                            Some(ver) => Some(ver),
                            None => {
                                violations.lock().unwrap().push(format!(
                                    "{}: a value that was never written",
                                    String::from_utf8_lossy(&k)
                                ));
                                return;
                            }
                        },
                    };
                    match (before, now) {
                        (Some(b), None) => violations.lock().unwrap().push(format!(
                            "{}: version {b} was read, then the key was gone",
                            String::from_utf8_lossy(&k)
                        )),
                        (Some(b), Some(v)) if v < b => violations.lock().unwrap().push(format!(
                            "{}: version {b} was read, then version {v}",
                            String::from_utf8_lossy(&k)
                        )),
                        (_, Some(v)) => {
                            seen.insert(k, v);
                        }
                        _ => {}
                    }
                }
            });
        }
        {
            let (db, stop, acked, durable) = (&*db, &stop, &acked, &durable);
            s.spawn(move || {
                let mut n = 0u64;
                while !stop.load(Relaxed) {
                    n += 1;
                    if mode == Durability::None {
                        let before = acked.snapshot();
                        if db.sync().is_ok() {
                            *durable.lock().unwrap() = before;
                        }
                    }
                    if n % 8 == 0 {
                        let _ = db.compact();
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        }
        std::thread::sleep(fail_after);
        inject_fault(dir.path(), fault);
        let started = Instant::now();
        while errors_seen.load(Relaxed) < WRITERS as u64
            && started.elapsed() < Duration::from_secs(3)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(5));
        stop.store(true, Relaxed);
    });
    let mut violations = violations.into_inner().unwrap();
    violations.sort();
    violations.dedup();
    let n = violations.len();
    violations.truncate(5);
    assert!(
        n == 0,
        "{ctx}: {n} violations, e.g. {}",
        violations.join("; ")
    );
    assert!(
        errors_seen.load(Relaxed) > 0,
        "{ctx}: no write failed although the I/O layer failed"
    );
    clear_faults(dir.path());
    if fault == Fault::FailSync {
        let r = db.put(b"~after", b"fsync works again");
        assert!(
            r.is_err(),
            "{ctx}: after a failed fsync the instance took a write again"
        );
    }
    let _ = db.close();
    drop(db);

    let must = match mode {
        Durability::Sync => acked.snapshot(),
        _ => durable.into_inner().unwrap(),
    };
    let db = kit.open(dir.path());
    for (t, keys) in must.iter().enumerate() {
        for (k, &want) in keys.iter().enumerate() {
            let kb = key(t, k as u64);
            let got = db
                .get(&kb)
                .unwrap_or_else(|e| panic!("{ctx}: reopened get: {e}"));
            let have = match got {
                None => 0,
                Some(v) => version_of(&kb, &v).unwrap_or_else(|| {
                    panic!(
                        "{ctx}: {} holds a value never written",
                        String::from_utf8_lossy(&kb)
                    )
                }),
            };
            assert!(
                have >= want,
                "{ctx}: {} reopened at version {have}, but version {want} was durable",
                String::from_utf8_lossy(&kb)
            );
        }
    }
    db.close().unwrap();
}

/// Failed fsyncs (`sync`, `group`) and a full disk (`none`) under concurrent writers.
pub fn under_concurrent_writers(kit: &Kit) {
    let rounds: u64 = std::env::var(ROUNDS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for round in 0..rounds {
        for mode in [Durability::Sync, Durability::Group, Durability::None] {
            one_round(kit, mode, 0xfa11 + round);
        }
    }
    eprintln!(
        "{}: {rounds} rounds of failed writes under {WRITERS} writers passed in each mode",
        kit.name
    );
}
