//! The durability contract where a SIGKILL does not reach: `close()` racing other threads, a
//! power cut that tears the unsynced tail of the log, a write that fails under concurrent
//! writers, and `settle()`.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use engines::io::{clear_faults, inject_fault, Fault};
use engines::{Durability, Engine, Error, Options};
use rand::{Rng, SeedableRng};

fn small() -> Options {
    super::btree_kit().options
}

fn open(dir: &Path, o: &Options) -> Box<dyn Engine> {
    super::btree_kit().try_open(dir, o).unwrap()
}

/// Name, length and a hash of the contents of every file of the store but the lock.
fn files(dir: &Path) -> Vec<(String, u64, u64)> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "LOCK" {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap_or_default();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        out.push((name, bytes.len() as u64, h.finish()));
    }
    out.sort();
    out
}

/// Copies the store's files (not the lock) to a new directory, as a crash would leave them.
fn copy_store(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), to.path().join(e.file_name())).unwrap();
        }
    }
    to
}

/// What an instance has written and fsynced, by its own I/O counters.
fn written(db: &dyn Engine) -> (u64, u64, u64, u64) {
    let io = db.stats().io;
    (
        io.bytes_written,
        io.write_calls,
        io.fsyncs,
        io.files_created + io.files_removed,
    )
}

/// Ok, or `Closed` (the caller stops); anything else fails the test.
fn ok_or_closed<T>(r: engines::Result<T>, what: &str) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(Error::Closed) => None,
        Err(e) => panic!("{what} racing close(): {e}"),
    }
}

/// A put in flight when `close()` begins finishes, checkpoint included, before `close()`
/// returns: a new instance opened at once in the same process, which writes and syncs,
/// never sees the old one touch the files, and every write either instance acknowledged
/// is there on the next open.
#[test]
fn close_waits_for_puts_in_flight() {
    let mut o = small();
    // A checkpoint after every put, so in-flight puts are often in one.
    o.btree.checkpoint_wal_bytes = 1;
    // In `sync` mode a put waits for an fsync between its change and its checkpoint,
    // and close() commits and fsyncs too.
    o.durability = Durability::Sync;
    o.btree.commit_bytes = 64;
    for trial in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let db: Arc<dyn Engine> = open(dir.path(), &o).into();
        let done = Arc::new(AtomicU64::new(0));
        let writers: Vec<_> = (0..3u8)
            .map(|t| {
                let (db, done) = (db.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut n = 0u32;
                    while ok_or_closed(db.put(format!("t{t}-{n:06}").as_bytes(), &[t; 200]), "put")
                        .is_some()
                    {
                        n += 1;
                        done.fetch_add(1, Relaxed);
                    }
                    n
                })
            })
            .collect();
        while done.load(Relaxed) < 5 + trial / 4 {
            std::thread::yield_now();
        }
        db.close().unwrap();
        let at_close = written(&*db);
        let new = open(dir.path(), &o);
        new.put(b"new-owner", b"synced").unwrap();
        new.sync().unwrap();
        let before = files(dir.path());
        let acked: Vec<u32> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            written(&*db),
            at_close,
            "trial {trial}: the closed instance wrote after close() returned"
        );
        assert_eq!(files(dir.path()), before, "trial {trial}: files changed");
        drop(db);
        new.close().unwrap();
        let db = open(dir.path(), &o);
        assert_eq!(
            db.get(b"new-owner").unwrap().as_deref(),
            Some(&b"synced"[..]),
            "trial {trial}: the new owner's synced write is lost"
        );
        for (t, &n) in acked.iter().enumerate() {
            for i in 0..n {
                assert!(
                    db.get(format!("t{t}-{i:06}").as_bytes()).unwrap().is_some(),
                    "trial {trial}: acknowledged write t{t}-{i:06} lost"
                );
            }
        }
        db.close().unwrap();
    }
}

/// `close()` while threads put, get, scan, sync and compact, in every durability mode:
/// they see only Ok or `Closed`; once `close()` returns the files do not change for
/// 200 ms; the next open holds every acknowledged write. 50 rounds.
#[test]
fn close_while_every_call_runs() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    for round in 0..50u32 {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.durability = [Durability::None, Durability::Group, Durability::Sync][round as usize % 3];
        o.group_commit.interval = Duration::from_millis(2);
        o.btree.checkpoint_wal_bytes = 64 * 1024;
        let db: Arc<dyn Engine> = open(dir.path(), &o).into();
        let puts = |t: u32, db: Arc<dyn Engine>| {
            std::thread::spawn(move || {
                let mut acked = vec![];
                for i in 0u32.. {
                    let k = format!("t{t}-{i:06}").into_bytes();
                    if ok_or_closed(db.put(&k, &[t as u8; 150]), "put").is_none() {
                        break;
                    }
                    acked.push(k);
                    if t == 1 && i % 20 == 0 && ok_or_closed(db.sync(), "sync").is_none() {
                        break;
                    }
                    if t == 2 && i % 50 == 0 && ok_or_closed(db.compact(), "compact").is_none() {
                        break;
                    }
                }
                acked
            })
        };
        let writers = vec![
            puts(0, db.clone()),
            puts(1, db.clone()),
            puts(2, db.clone()),
        ];
        let reader = {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0u32.. {
                    let k = format!("t0-{:06}", i % 500);
                    if ok_or_closed(db.get(k.as_bytes()), "get").is_none()
                        || ok_or_closed(db.scan(b"t1", Some(b"t2"), 20), "scan").is_none()
                    {
                        break;
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_micros(rng.gen_range(500..8000)));
        db.close().unwrap();
        let (before, at_close) = (files(dir.path()), written(&*db));
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            written(&*db),
            at_close,
            "round {round}: the instance wrote after close() returned"
        );
        assert_eq!(
            files(dir.path()),
            before,
            "round {round}: the files changed after close() returned"
        );
        let acked: Vec<Vec<u8>> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        reader.join().unwrap();
        drop(db);
        let db = open(dir.path(), &o);
        for k in &acked {
            assert!(
                db.get(k).unwrap().is_some(),
                "round {round}: acknowledged write {} lost",
                String::from_utf8_lossy(k)
            );
        }
        db.close().unwrap();
    }
}

/// Two `close()` calls at once: each returns only when the store is closed: the instance
/// writes nothing after either returns (the first writes out and fsyncs a megabyte of
/// gathered records), and the directory lock is free.
#[test]
fn a_second_close_waits_for_the_first() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.btree.commit_bytes = 1 << 30;
        o.btree.max_dirty_pages = 1 << 20;
        let db: Arc<dyn Engine> = open(dir.path(), &o).into();
        for i in 0..3000u32 {
            db.put(format!("k{i:06}").as_bytes(), &[1u8; 300]).unwrap();
        }
        let start = Arc::new(Barrier::new(2));
        let closers: Vec<_> = (0..2)
            .map(|_| {
                let (db, start) = (db.clone(), start.clone());
                let lock = dir.path().join("LOCK");
                std::thread::spawn(move || {
                    start.wait();
                    let r = db.close();
                    assert!(matches!(r, Ok(()) | Err(Error::Closed)), "close: {r:?}");
                    let at_return = written(&*db);
                    assert!(
                        lock_is_free(&lock),
                        "round {round}: the store is still locked"
                    );
                    at_return
                })
            })
            .collect();
        let seen: Vec<_> = closers.into_iter().map(|c| c.join().unwrap()).collect();
        let end = written(&*db);
        assert!(
            seen.iter().all(|&w| w == end),
            "round {round}: a close() returned before the instance stopped writing: {seen:?}, then {end:?}"
        );
    }
}

/// True once the store's directory lock can be taken. A process another test thread forks
/// holds a copy of every descriptor until it execs, the lock's included, so a held lock is
/// tried again for a while (as `store_dir::claim` does).
fn lock_is_free(lock: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(lock).unwrap();
    let t = std::time::Instant::now();
    // SAFETY: flock on a descriptor we own; it is released when `f` is closed.
    while unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        if t.elapsed() > Duration::from_secs(2) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

fn key(i: u32) -> Vec<u8> {
    format!("k{i:05}").into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    vec![i as u8; 300]
}

/// Opens a copy of a store written by [`power_cut_damage_past_the_synced_length_is_a_torn_tail`]
/// and returns how many of its writes (a prefix) it holds.
fn prefix_held(dir: &Path, o: &Options, written: u32) -> engines::Result<u32> {
    let db = super::btree_kit().try_open(dir, o)?;
    let mut n = 0;
    while n < written && db.get(&key(n))?.is_some() {
        assert_eq!(db.get(&key(n))?, Some(value(n)), "write {n}");
        n += 1;
    }
    for i in n..written {
        assert_eq!(db.get(&key(i))?, None, "write {i} is there but {n} is not");
    }
    db.put(b"~probe", b"after the cut")?;
    db.close()?;
    let db = super::btree_kit().try_open(dir, o)?;
    assert_eq!(db.get(b"~probe")?.as_deref(), Some(&b"after the cut"[..]));
    db.close()?;
    Ok(n)
}

/// After a power cut the unsynced tail of the WAL may come back with a hole (a 4 KiB block
/// of zeros, with good frames behind it) or a torn 512-byte sector inside the last
/// commit: the store opens with every synced write and a prefix of the rest. Damage to
/// the synced part is `Corruption`.
#[test]
fn power_cut_damage_past_the_synced_length_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small();
    // Records reach the log file every few writes, unsynced; no checkpoint runs.
    o.btree.commit_bytes = 1024;
    o.btree.checkpoint_wal_bytes = 1 << 40; // the largest allowed: checkpoints only when asked
    o.btree.max_dirty_pages = 1 << 20;
    let db = open(dir.path(), &o);
    for i in 0..200 {
        db.put(&key(i), &value(i)).unwrap();
    }
    db.sync().unwrap();
    let wal = dir.path().join("btree.wal.1");
    let synced = std::fs::metadata(&wal).unwrap().len();
    for i in 200..600 {
        db.put(&key(i), &value(i)).unwrap();
    }
    // The files as they are while the engine is open: the commits after the sync are
    // written but not synced.
    let image = copy_store(dir.path());
    let len = std::fs::metadata(image.path().join("btree.wal.1"))
        .unwrap()
        .len();
    assert!(
        len > synced.next_multiple_of(4096) + 8 * 4096,
        "WAL {len} bytes, synced {synced}"
    );
    let damaged = |at: u64, bytes: &[u8]| {
        let copy = copy_store(image.path());
        let path = copy.path().join("btree.wal.1");
        let mut wal = std::fs::read(&path).unwrap();
        wal[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
        std::fs::write(&path, wal).unwrap();
        copy
    };
    // A block of zeros two blocks past the synced length, good frames behind it.
    let hole = synced.next_multiple_of(4096) + 2 * 4096;
    let copy = damaged(hole, &[0u8; 4096]);
    let n = prefix_held(copy.path(), &o, 600)
        .unwrap_or_else(|e| panic!("open after a zeroed block past the synced length: {e}"));
    assert!((200..600).contains(&n), "{n} writes held");
    // A torn sector inside the last commit.
    let sector = (len - 512) / 512 * 512;
    let copy = damaged(sector, &[0x5a; 512]);
    let n = prefix_held(copy.path(), &o, 600)
        .unwrap_or_else(|e| panic!("open after a torn sector in the last commit: {e}"));
    assert!((200..600).contains(&n), "{n} writes held");
    // Damage inside the synced part is corruption, never a silent loss.
    for at in [synced / 2, synced - 100] {
        let copy = damaged(at, &[0xa5; 8]);
        match prefix_held(copy.path(), &o, 600) {
            Err(Error::Corruption { .. }) => {}
            other => panic!("damage at {at} inside synced data ({synced} bytes): {other:?}"),
        }
    }
    db.close().unwrap();
}

/// Writer threads each own some keys and check every put they make reads back; once each
/// has written a little, a fault is injected; each writer stops at its first error.
fn writers_until_a_fault(db: &Arc<dyn Engine>, fault: impl FnOnce()) -> Vec<BTreeMap<u32, u32>> {
    let injected = Arc::new(AtomicBool::new(false));
    let progress: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());
    let writers: Vec<_> = (0..4u32)
        .map(|t| {
            let (db, injected, progress) = (db.clone(), injected.clone(), progress.clone());
            std::thread::spawn(move || {
                let mut acked = BTreeMap::new();
                let mut after_fault = 0;
                for v in 1u32.. {
                    let k = t + 4 * (v * 7919 % 100);
                    let val = format!("{k}:{v}").into_bytes();
                    match db.put(&key(k), &val) {
                        Ok(()) => {
                            acked.insert(k, v);
                            assert_eq!(db.get(&key(k)).unwrap(), Some(val));
                            progress[t as usize].fetch_add(1, Relaxed);
                        }
                        Err(Error::Poisoned(_) | Error::Io(_)) => break,
                        Err(e) => panic!("writer {t}: {e}"),
                    }
                    if injected.load(Relaxed) {
                        after_fault += 1;
                        assert!(
                            after_fault < 100_000,
                            "writer {t}: no error after the fault"
                        );
                    }
                }
                acked
            })
        })
        .collect();
    let t = std::time::Instant::now();
    while progress.iter().any(|p| p.load(Relaxed) < 50) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "writers made no progress"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    fault();
    injected.store(true, Relaxed);
    writers.into_iter().map(|w| w.join().unwrap()).collect()
}

/// A failed write (a full disk or a failed fsync, under four writers, in `none` and
/// `group` modes) poisons the instance and changes nothing readers have seen: every key
/// reads back as its last acknowledged put. The store reopens with every write synced
/// before the fault, each key at a version that was written.
#[test]
fn failed_writes_change_nothing_readers_have_seen() {
    for (mode, disk_full) in [
        (Durability::None, true),
        (Durability::None, false),
        (Durability::Group, true),
        (Durability::Group, false),
    ] {
        let ctx = format!(
            "{mode} mode, {}",
            if disk_full {
                "disk full"
            } else {
                "failed fsync"
            }
        );
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.durability = mode;
        o.group_commit.interval = Duration::from_millis(5);
        o.btree.commit_bytes = 2048;
        let db: Arc<dyn Engine> = open(dir.path(), &o).into();
        for k in 0..400 {
            db.put(&key(k), format!("{k}:0").as_bytes()).unwrap();
        }
        db.sync().unwrap();
        let d = dir.path().to_path_buf();
        let acked = writers_until_a_fault(&db, || {
            if disk_full {
                inject_fault(&d, Fault::DiskFullAfter(40_000));
            } else {
                inject_fault(&d, Fault::FailSync);
                // A sync finding everything durable already (after a checkpoint) needs no
                // fsync; the writers soon give the next one something to do.
                let t = std::time::Instant::now();
                while db.sync().is_ok() {
                    assert!(
                        t.elapsed() < Duration::from_secs(10),
                        "{ctx}: sync never failed"
                    );
                }
            }
        });
        clear_faults(dir.path());
        assert!(
            matches!(db.put(b"~after", b"x"), Err(Error::Poisoned(_))),
            "{ctx}: the instance takes writes after a failed write"
        );
        for (t, acked) in acked.iter().enumerate() {
            assert!(!acked.is_empty(), "{ctx}: writer {t} never wrote");
            for (&k, &v) in acked {
                assert_eq!(
                    db.get(&key(k)).unwrap(),
                    Some(format!("{k}:{v}").into_bytes()),
                    "{ctx}: key {k} no longer reads as its last acknowledged put"
                );
            }
        }
        let _ = db.close();
        drop(db);
        let db = open(dir.path(), &o);
        for (t, acked) in acked.iter().enumerate() {
            for k in (0..400).filter(|k| k % 4 == t as u32) {
                let got = db.get(&key(k)).unwrap().expect("synced before the fault");
                let got = String::from_utf8(got).unwrap();
                let v: u32 = got.split(':').nth(1).unwrap().parse().unwrap();
                assert!(
                    got == format!("{k}:{v}") && v <= acked.get(&k).copied().unwrap_or(0).max(v),
                    "{ctx}: key {k} reads {got} after reopen"
                );
            }
        }
        db.put(b"~probe", b"reopened").unwrap();
        db.close().unwrap();
    }
}

/// In `sync` mode a write whose fsync fails cannot be taken back (it may be on disk): it
/// fails, later writes are refused, and so are reads, so no reader sees a write that may be
/// gone after a reopen. The reopened store holds every acknowledged write.
#[test]
fn sync_mode_failed_fsync_refuses_reads_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small();
    o.durability = Durability::Sync;
    let db = open(dir.path(), &o);
    for i in 0..50 {
        db.put(&key(i), &value(i)).unwrap();
    }
    inject_fault(dir.path(), Fault::FailSync);
    assert!(db.put(&key(50), &value(50)).is_err());
    clear_faults(dir.path());
    assert!(matches!(db.get(&key(50)), Err(Error::Poisoned(_))));
    assert!(matches!(db.get(&key(1)), Err(Error::Poisoned(_))));
    assert!(matches!(db.scan(b"", None, 10), Err(Error::Poisoned(_))));
    assert!(matches!(db.put(&key(51), b"x"), Err(Error::Poisoned(_))));
    let _ = db.close();
    drop(db);
    let db = open(dir.path(), &o);
    for i in 0..50 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i)));
    }
    db.close().unwrap();
}

/// `settle()` writes every dirty page out (a checkpoint), makes every write durable, and
/// leaves an engine that writes nothing while idle, in every durability mode.
#[test]
fn settle_writes_everything_out_then_idles() {
    for mode in [Durability::None, Durability::Group, Durability::Sync] {
        let dir = tempfile::tempdir().unwrap();
        let mut o = small();
        o.durability = mode;
        o.group_commit.interval = Duration::from_millis(2);
        o.btree.checkpoint_wal_bytes = 1 << 40; // the largest allowed: checkpoints only when asked
        let db = open(dir.path(), &o);
        let n = if mode == Durability::Sync { 500 } else { 3000 };
        for i in 0..n {
            db.put(&key(i), &value(i)).unwrap();
        }
        let s = db.stats();
        assert!(
            s.write_buffer_bytes >= 8 * 4096,
            "{mode}: write_buffer_bytes {}",
            s.write_buffer_bytes
        );
        let checkpoints = s.compactions;
        db.settle().unwrap();
        let s = db.stats();
        assert!(
            s.compactions > checkpoints,
            "{mode}: settle() did not checkpoint"
        );
        assert_eq!(s.extra["dirty_pages"], 0.0, "{mode}");
        let still = files(dir.path());
        std::thread::sleep(Duration::from_millis(100));
        let later = db.stats();
        assert_eq!(
            later.io.bytes_written, s.io.bytes_written,
            "{mode}: writes while idle"
        );
        assert_eq!(later.io.fsyncs, s.io.fsyncs, "{mode}: fsyncs while idle");
        assert_eq!(files(dir.path()), still, "{mode}");
        // The files as they are now hold every write.
        let copy = copy_store(dir.path());
        let c = open(copy.path(), &o);
        for i in 0..n {
            assert_eq!(c.get(&key(i)).unwrap(), Some(value(i)), "{mode}");
        }
        c.close().unwrap();
        db.close().unwrap();
    }
}
