//! Damage to a closed store: bytes flipped and files truncated at many offsets of every file.
//! After each, the store is reopened and every key read: each result must be right or an error
//! (`Corruption` or `Io`; `Incompatible` for the marker file), never a panic or a wrong value.
//!
//! "Right" allows the recovery rule of logs: damage in the last record of a log may be taken
//! for a torn tail and cost that one write, so a byte flip may leave the state after all
//! writes or all but the last. A truncation may leave the state after any prefix of the
//! writes (a log cut short), but never a state no prefix had.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};

use super::history::{self, Model};
use super::{temp_dir, Kit};
use crate::store_dir::{LOCK, MARKER};
use crate::Error;

const WRITES: u64 = 1500;
const MAX_TRIALS: usize = 360;

struct Pristine {
    dir: tempfile::TempDir,
    files: Vec<(PathBuf, Vec<u8>)>,
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else if p.file_name().is_some_and(|n| n != LOCK) {
            out.push(p);
        }
    }
}

fn build(kit: &Kit) -> Pristine {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    for i in 0..WRITES {
        history::apply(&*db, i).unwrap();
        if i == WRITES / 2 {
            db.compact().unwrap();
        }
    }
    db.sync().unwrap();
    db.close().unwrap();
    let mut paths = Vec::new();
    files_under(dir.path(), &mut paths);
    paths.sort();
    let files = paths
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    Pristine { dir, files }
}

fn restore(p: &Pristine) {
    let mut now = Vec::new();
    files_under(p.dir.path(), &mut now);
    for f in now {
        std::fs::remove_file(f).unwrap();
    }
    for (path, bytes) in &p.files {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// Opens the damaged store and checks every read; `Err` describes a violation.
fn check(kit: &Kit, p: &Pristine, file: &Path, lo: u64) -> Result<(), String> {
    let is_marker = file.file_name().is_some_and(|n| n == MARKER);
    let allowed = |e: &Error| e.is_damage() || (is_marker && matches!(e, Error::Incompatible(_)));
    let db = match kit.try_open(p.dir.path(), &kit.options) {
        Ok(db) => db,
        Err(e) if allowed(&e) => return Ok(()),
        Err(e) => return Err(format!("open failed with an unexpected error: {e}")),
    };
    let seen = history::observe(&*db, allowed)?;
    history::find_prefix(&Model::default(), &seen, lo, WRITES)?;
    match db.scan(b"", None, usize::MAX) {
        Ok(all) => {
            let mut scanned: history::Observed = history::all_keys().map(|k| (k, None)).collect();
            for (k, v) in all {
                if scanned.insert(k.clone(), Some(v)).is_none() {
                    return Err(format!(
                        "scan returned a key never written: {:?}",
                        String::from_utf8_lossy(&k)
                    ));
                }
            }
            history::find_prefix(&Model::default(), &scanned, lo, WRITES)
                .map_err(|e| format!("full scan: {e}"))?;
        }
        Err(e) if allowed(&e) => {}
        Err(e) => return Err(format!("scan failed with an unexpected error: {e}")),
    }
    let _ = db.close();
    Ok(())
}

fn run(
    kit: &Kit,
    what: &str,
    lo: u64,
    damage: impl Fn(&mut Vec<u8>, &mut rand::rngs::StdRng) -> Vec<(usize, Box<dyn Fn(&mut Vec<u8>)>)>,
) {
    let p = build(kit);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let per_file = (MAX_TRIALS / p.files.len().max(1)).max(4);
    let mut trials = 0;
    let mut failures = Vec::new();
    for (idx, (path, bytes)) in p.files.iter().enumerate() {
        let mut plan = damage(&mut bytes.clone(), &mut rng);
        if plan.len() > per_file {
            // Keep the structured offsets at both ends and a spread between.
            let step = plan.len() as f64 / per_file as f64;
            plan = plan
                .into_iter()
                .enumerate()
                .filter(|(i, _)| (*i as f64 % step) < 1.0)
                .map(|(_, x)| x)
                .collect();
        }
        for (offset, apply) in plan {
            restore(&p);
            let mut damaged = bytes.clone();
            apply(&mut damaged);
            std::fs::write(path, &damaged).unwrap();
            trials += 1;
            let label = format!(
                "{} {what} at {offset} of {} ({} bytes)",
                kit.name,
                path.file_name().unwrap().to_string_lossy(),
                bytes.len()
            );
            let r =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(kit, &p, path, lo)));
            match r {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("{label}: {e}")),
                Err(_) => failures.push(format!("{label}: PANIC")),
            }
        }
        let _ = idx;
    }
    restore(&p);
    assert!(
        failures.is_empty(),
        "{} of {trials} damaged stores misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{}: {trials} {what} trials over {} files passed",
        kit.name,
        p.files.len()
    );
}

fn offsets(len: usize, rng: &mut rand::rngs::StdRng) -> Vec<usize> {
    let mut at: Vec<usize> = [
        0, 1, 3, 4, 8, 11, 12, 13, 16, 20, 24, 32, 64, 4095, 4096, 4100, 8192,
    ]
    .into_iter()
    .chain((1..24).map(|i| len * i / 24))
    .chain((1..=8).map(|i| len.saturating_sub(i)))
    .chain((0..8).map(|_| rng.gen_range(0..len.max(1))))
    .filter(|&o| o < len)
    .collect();
    at.sort_unstable();
    at.dedup();
    at
}

/// One byte flipped at a time, at structured and random offsets of every file.
pub fn byte_flips(kit: &Kit) {
    run(kit, "byte flip", WRITES - 1, |bytes, rng| {
        offsets(bytes.len(), rng)
            .into_iter()
            .map(|o| {
                let mask = 1u8 << rng.gen_range(0..8);
                (
                    o,
                    Box::new(move |b: &mut Vec<u8>| b[o] ^= mask) as Box<dyn Fn(&mut Vec<u8>)>,
                )
            })
            .collect()
    });
}

/// Each file cut short at structured and random lengths.
pub fn truncations(kit: &Kit) {
    run(kit, "truncation", 0, |bytes, rng| {
        let mut lens = offsets(bytes.len(), rng);
        lens.retain(|&l| l < bytes.len());
        lens.into_iter()
            .map(|l| {
                (
                    l,
                    Box::new(move |b: &mut Vec<u8>| b.truncate(l)) as Box<dyn Fn(&mut Vec<u8>)>,
                )
            })
            .collect()
    });
}
