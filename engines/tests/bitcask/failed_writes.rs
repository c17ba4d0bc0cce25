//! Failed writes under concurrent writers: one fsync that fails while segments roll over, and
//! one append cut short by a full disk. The instance must refuse what it cannot promise, its
//! readers must never see a value go backwards, and the store must reopen with every
//! acknowledged write.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;

use engines::io::{clear_faults, inject_fault, Fault};

use super::*;

const WRITERS: u32 = 8;
/// The fault is armed once this many puts were acknowledged.
const ARM_AFTER: u32 = 300;
/// Attempts each writer still makes after the first error anyone saw.
const ATTEMPTS_AFTER: u32 = 60;

fn wkey(t: u32, i: u32) -> Vec<u8> {
    format!("w{t}-{i:06}").into_bytes()
}

/// Mostly small values; writers with an even number write a large one every third put, so a
/// write cut short can leave more bytes behind than a later small record covers.
fn wvalue(t: u32, i: u32) -> Vec<u8> {
    let len = if t % 2 == 0 && i % 3 == 0 {
        20_000 + (i * 3737 % 40_000)
    } else {
        20 + (i * 13 % 180)
    } as usize;
    let mut v = format!("{t}:{i}:").into_bytes();
    v.resize(len, b'a' + (i % 26) as u8);
    v
}

fn last_key(t: u32) -> Vec<u8> {
    format!("last{t}").into_bytes()
}

#[derive(Default)]
struct Outcome {
    /// Puts that returned Ok.
    acked: Vec<(Vec<u8>, Vec<u8>)>,
    /// Puts that returned an error (they may or may not have reached the file).
    failed: Vec<(Vec<u8>, Vec<u8>)>,
    /// Per writer, the highest `i` whose `last{t}` update was acknowledged.
    last: Vec<Option<u32>>,
    errors_seen: u32,
    /// Errors that must never happen here (corruption, a panic, a read error).
    violations: Vec<String>,
}

/// Runs `WRITERS` writers (each on its own keys, each put followed by an update of its
/// `last{t}` key) and a reader that checks `last{t}` never goes backwards. Once `ARM_AFTER`
/// puts were acknowledged, `fault` is injected; the first writer to see an error clears it, so
/// that writers already queued behind the failing one would find a working disk.
fn writers_through_a_fault(db: &dyn Engine, dir: &Path, fault: Fault) -> Outcome {
    let acked_count = AtomicU32::new(0);
    let first_error = AtomicBool::new(false);
    let writers_done = AtomicU32::new(0);
    let out = Mutex::new(Outcome {
        last: vec![None; WRITERS as usize],
        ..Outcome::default()
    });
    std::thread::scope(|s| {
        for t in 0..WRITERS {
            let (acked_count, first_error, writers_done, out) =
                (&acked_count, &first_error, &writers_done, &out);
            s.spawn(move || {
                let mut after = 0;
                let note_error = |e: Error, out: &Mutex<Outcome>| {
                    let mut o = out.lock().unwrap();
                    o.errors_seen += 1;
                    if !matches!(e, Error::Poisoned(_) | Error::Io(_)) {
                        o.violations
                            .push(format!("writer {t}: unexpected error {e}"));
                    }
                    drop(o);
                    if !first_error.swap(true, Ordering::SeqCst) {
                        clear_faults(dir);
                    }
                };
                for i in 0..20_000 {
                    if first_error.load(Ordering::SeqCst) {
                        after += 1;
                        if after > ATTEMPTS_AFTER {
                            break;
                        }
                    }
                    let (k, v) = (wkey(t, i), wvalue(t, i));
                    match db.put(&k, &v) {
                        Ok(()) => {
                            out.lock().unwrap().acked.push((k, v));
                            if acked_count.fetch_add(1, Ordering::SeqCst) + 1 == ARM_AFTER {
                                inject_fault(dir, fault);
                            }
                        }
                        Err(e) => {
                            out.lock().unwrap().failed.push((k, v));
                            note_error(e, out);
                            continue;
                        }
                    }
                    match db.put(&last_key(t), &i.to_be_bytes()) {
                        Ok(()) => out.lock().unwrap().last[t as usize] = Some(i),
                        Err(e) => note_error(e, out),
                    }
                }
                writers_done.fetch_add(1, Ordering::SeqCst);
            });
        }
        // The reader: `last{t}` only ever moves forward, and the put it names is readable,
        // until the poisoned instance refuses reads.
        let (writers_done, out) = (&writers_done, &out);
        s.spawn(move || {
            let mut seen: Vec<Option<u32>> = vec![None; WRITERS as usize];
            let violation = |msg: String| out.lock().unwrap().violations.push(msg);
            while writers_done.load(Ordering::SeqCst) < WRITERS {
                for t in 0..WRITERS {
                    let now = match db.get(&last_key(t)) {
                        Ok(Some(v)) => match <[u8; 4]>::try_from(&v[..]) {
                            Ok(b) => Some(u32::from_be_bytes(b)),
                            Err(_) => return violation(format!("last{t} holds {v:?}")),
                        },
                        Ok(None) => None,
                        Err(Error::Poisoned(_)) => return,
                        Err(e) => return violation(format!("reader: get last{t}: {e}")),
                    };
                    if now < seen[t as usize] {
                        return violation(format!(
                            "last{t} went backwards: {:?} after {:?}",
                            now, seen[t as usize]
                        ));
                    }
                    seen[t as usize] = now;
                    if let Some(i) = now {
                        match db.get(&wkey(t, i)) {
                            Ok(Some(v)) if v == wvalue(t, i) => {}
                            Err(Error::Poisoned(_)) => return,
                            other => {
                                return violation(format!(
                                    "w{t}-{i} named by last{t} reads {:?}",
                                    other.map(|v| v.map(|v| v.len()))
                                ))
                            }
                        }
                    }
                }
            }
        });
    });
    clear_faults(dir);
    out.into_inner().unwrap()
}

/// Reopens the store and checks every acknowledged put (and that failed puts left either
/// nothing or their own value).
fn check_reopened(dir: &Path, o: &Options, out: &Outcome) -> Result<(), String> {
    let db = engines::open(EngineKind::Bitcask, dir, o).map_err(|e| format!("reopen: {e}"))?;
    for (k, v) in &out.acked {
        let got = db.get(k).map_err(|e| format!("get: {e}"))?;
        if got.as_ref() != Some(v) {
            return Err(format!(
                "acknowledged put of {} reads {:?} after reopen",
                String::from_utf8_lossy(k),
                got.map(|g| g.len())
            ));
        }
    }
    for (k, v) in &out.failed {
        let got = db.get(k).map_err(|e| format!("get: {e}"))?;
        if got.as_ref().is_some_and(|g| g != v) {
            return Err(format!(
                "failed put of {} reads a different value",
                String::from_utf8_lossy(k)
            ));
        }
    }
    for (t, want) in out.last.iter().enumerate() {
        let got = db
            .get(&last_key(t as u32))
            .map_err(|e| format!("get: {e}"))?
            .map(|v| u32::from_be_bytes(v[..4].try_into().unwrap()));
        if got < *want {
            return Err(format!(
                "last{t} is {got:?} after reopen, {want:?} was acked"
            ));
        }
    }
    db.put(b"probe", b"after reopen")
        .map_err(|e| format!("put after reopen: {e}"))?;
    db.close().map_err(|e| format!("close after reopen: {e}"))
}

fn run_trials(what: &str, trials: u32, setup: impl Fn(u32) -> (Options, Fault)) {
    let mut bad = Vec::new();
    for trial in 0..trials {
        let dir = kit_dir();
        let (o, fault) = setup(trial);
        let db = open(dir.path(), &o);
        let out = writers_through_a_fault(&*db, dir.path(), fault);
        let _ = db.close();
        drop(db);
        if out.errors_seen == 0 {
            bad.push(format!(
                "trial {trial}: the fault never surfaced as an error"
            ));
        }
        bad.extend(out.violations.iter().map(|v| format!("trial {trial}: {v}")));
        if let Err(e) = check_reopened(dir.path(), &o, &out) {
            bad.push(format!("trial {trial} ({} acked): {e}", out.acked.len()));
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} problems in {trials} trials:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn a_failed_fsync_during_rollover_under_concurrent_writers_loses_nothing() {
    run_trials("one failed fsync, 4 KiB segments", 20, |trial| {
        let mut o = quiet(4096);
        o.bitcask.hint_files = false; // the only fsyncs are the rollovers' (and sync mode's)
        o.durability = if trial % 4 == 3 {
            Durability::Sync
        } else {
            Durability::None
        };
        (o, Fault::FailSync)
    });
}

#[test]
fn a_partial_append_on_a_full_disk_is_never_overwritten_or_followed() {
    run_trials("a full disk, 16 KiB segments", 20, |trial| {
        let mut o = quiet(16 << 10);
        o.bitcask.hint_files = false;
        // The budget runs out at a different byte of the stream in each trial.
        (
            o,
            Fault::DiskFullAfter(700 + u64::from(trial) * 1931 % 9000),
        )
    });
}

/// One writer, step by step: the record cut short by the full disk is cut back, the next put
/// (with room again) lands where it began, and both sides of it survive a reopen.
#[test]
fn a_put_cut_short_by_a_full_disk_is_undone_alone() {
    let dir = kit_dir();
    let o = quiet(1 << 20);
    let db = open(dir.path(), &o);
    db.put(b"before", b"the fault").unwrap();
    let active = dir.path().join(names(dir.path(), ".data").pop().unwrap());
    let len = std::fs::metadata(&active).unwrap().len();
    inject_fault(dir.path(), Fault::DiskFullAfter(100));
    let r = db.put(b"cut", &vec![b'x'; 1000]);
    clear_faults(dir.path());
    assert!(matches!(&r, Err(Error::Io(_))), "{r:?}");
    assert_eq!(
        std::fs::metadata(&active).unwrap().len(),
        len,
        "the partial record was not cut back"
    );
    assert_eq!(db.get(b"cut").unwrap(), None);
    db.put(b"after", b"room again")
        .expect("a write failed on a full disk and cut back leaves the instance writable");
    db.close().unwrap();
    let db = open(dir.path(), &o);
    assert_eq!(
        db.get(b"before").unwrap().as_deref(),
        Some(&b"the fault"[..])
    );
    assert_eq!(db.get(b"cut").unwrap(), None);
    assert_eq!(
        db.get(b"after").unwrap().as_deref(),
        Some(&b"room again"[..])
    );
    db.close().unwrap();
}
