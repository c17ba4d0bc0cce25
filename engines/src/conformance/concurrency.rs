//! Several writer threads on disjoint keys with readers running at the same time.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{temp_dir, Kit};

const WRITERS: usize = 4;
const KEYS_EACH: usize = 1500;

fn key(t: usize, i: usize) -> Vec<u8> {
    format!("t{t}-{i:05}").into_bytes()
}

/// A value names its key and version, so a reader can tell a torn or foreign value.
fn value(t: usize, i: usize, version: usize) -> Vec<u8> {
    format!("t{t}-{i:05}:v{version}:{}", "p".repeat(i % 40)).into_bytes()
}

pub fn writers_and_readers(kit: &Kit) {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|t| {
                let db = &db;
                s.spawn(move || {
                    for i in 0..KEYS_EACH {
                        db.put(&key(t, i), &value(t, i, 1)).unwrap();
                    }
                    for i in (0..KEYS_EACH).step_by(2) {
                        db.put(&key(t, i), &value(t, i, 2)).unwrap();
                    }
                    for i in (0..KEYS_EACH).step_by(5) {
                        db.delete(&key(t, i)).unwrap();
                    }
                })
            })
            .collect();
        for r in 0..2 {
            let (db, done) = (&db, &done);
            s.spawn(move || {
                let mut n = 0usize;
                while !done.load(Ordering::Relaxed) || n < 200 {
                    let (t, i) = ((n + r) % WRITERS, (n * 7919) % KEYS_EACH);
                    if let Some(v) = db.get(&key(t, i)).unwrap() {
                        let prefix = format!("t{t}-{i:05}:v");
                        assert!(
                            v.starts_with(prefix.as_bytes()),
                            "foreign value for {t}/{i}"
                        );
                    }
                    if n % 50 == 0 {
                        for (k, v) in db.scan(&key(t, i), None, 20).unwrap() {
                            assert!(v.starts_with(&k), "scan paired a key with another's value");
                        }
                    }
                    n += 1;
                }
            });
        }
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    let mut live = 0;
    for t in 0..WRITERS {
        for i in 0..KEYS_EACH {
            let want = match (i % 5 == 0, i % 2 == 0) {
                (true, _) => None,
                (false, true) => Some(value(t, i, 2)),
                (false, false) => Some(value(t, i, 1)),
            };
            live += want.is_some() as usize;
            assert_eq!(db.get(&key(t, i)).unwrap(), want, "key t{t}-{i:05}");
        }
    }
    assert_eq!(db.scan(b"", None, usize::MAX).unwrap().len(), live);
    db.close().unwrap();
}
