//! Crash safety by SIGKILL. The parent re-runs the test binary as a child (`crash_child`),
//! which opens the store and applies the kit's deterministic write stream, reporting on its
//! stdout pipe:
//! * `DONE n`: writes `0..n` have returned;
//! * `ACK n`: writes `0..n` are durable (after each write in `sync` mode, after an explicit
//!   `sync()` every 17 writes in `none` and `group` modes).
//!
//! The parent kills the child at a random moment, reopens the store and checks that it holds
//! exactly the state after some prefix `n` of the writes, with `n` at least the last `ACK`
//! and at most one past the last line seen: no acknowledged write lost, no value that was never
//! written, no mix of old and new. It then checks the store takes writes, closes it, and starts
//! the next child from `n`. Every 250 writes the child calls `compact()`, so crashes also land
//! in the middle of merges, flushes and checkpoints.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use super::history::{self, Model};
use super::{temp_dir, Kit};
use crate::{Durability, Engine};

const DIR_ENV: &str = "KVBENCH_KIT_CHILD_DIR";
const START_ENV: &str = "KVBENCH_KIT_CHILD_START";
const MODE_ENV: &str = "KVBENCH_KIT_CHILD_MODE";
const SYNC_EVERY: u64 = 17;

fn options(kit: &Kit, mode: Durability) -> crate::Options {
    let mut o = kit.options.clone();
    o.durability = mode;
    o.group_commit.interval = Duration::from_millis(2);
    o
}

/// The child side. Does nothing unless the parent set the environment.
pub fn child(kit: &Kit) {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let mode: Durability = std::env::var(MODE_ENV).unwrap().parse().unwrap();
    let fail = |what: &str, e: crate::Error| -> ! {
        eprintln!("crash child: {what}: {e}");
        std::process::exit(3)
    };
    let db = kit
        .try_open(dir.as_ref(), &options(kit, mode))
        .unwrap_or_else(|e| fail("open", e));
    println!("READY");
    for i in start.. {
        history::apply(&*db, i).unwrap_or_else(|e| fail("write", e));
        let n = i + 1;
        if mode == Durability::Sync {
            println!("ACK {n}");
        } else {
            println!("DONE {n}");
            if n % SYNC_EVERY == 0 {
                db.sync().unwrap_or_else(|e| fail("sync", e));
                println!("ACK {n}");
            }
        }
        if n % 250 == 0 {
            db.compact().unwrap_or_else(|e| fail("compact", e));
        }
    }
}

/// The parent side: `kit.crash_cycles` kill-and-recover cycles in durability `mode`.
pub fn cycles(kit: &Kit, child_test: &str, mode: Durability) {
    let seed: u64 = std::env::var("KVBENCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = temp_dir();
    let exe = std::env::current_exe().unwrap();
    let mut model = Model::default();
    let mut lost_unsynced = 0u64;
    for cycle in 0..kit.crash_cycles {
        let ctx = format!(
            "{} ({mode} mode, cycle {cycle}, KVBENCH_CRASH_SEED={seed})",
            kit.name
        );
        let stderr_path = dir.path().with_extension(format!("child-{cycle}.stderr"));
        let mut child = Command::new(&exe)
            .args([
                child_test,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, dir.path())
            .env(START_ENV, model.applied.to_string())
            .env(MODE_ENV, mode.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{ctx}: spawning the child: {e}"));
        let (tx, rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut last_ack, mut last_seen, mut ready) = (model.applied, model.applied, false);
        let mut note = |line: &str, ready: &mut bool| {
            let (tag, n) = line.split_once(' ').unwrap_or((line, ""));
            match (tag, n.parse::<u64>()) {
                ("ACK", Ok(n)) => {
                    last_ack = last_ack.max(n);
                    last_seen = last_seen.max(n);
                }
                ("DONE", Ok(n)) => last_seen = last_seen.max(n),
                ("READY", _) => *ready = true,
                _ => {}
            }
        };
        // Kill after a random number of lines (sometimes during start-up), plus a random delay.
        let target = match rng.gen_range(0..10) {
            0 => 0,
            _ => rng.gen_range(1..400),
        };
        let mut lines = 0;
        while lines < target {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    note(&line, &mut ready);
                    lines += 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("{ctx}: the child stalled for 60 s"),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..2000)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        reader.join().unwrap();
        while let Ok(line) = rx.try_recv() {
            note(&line, &mut ready);
        }
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let _ = std::fs::remove_file(&stderr_path);
        if status.code().is_some() {
            // Killed children have no exit code; the child only ends by itself on an error
            // (or when the test filter matched no test: the suite's module path is wrong).
            panic!("{ctx}: the child exited with {status} before it was killed (ready: {ready}):\n{stderr}");
        }

        let db = kit
            .try_open(dir.path(), &options(kit, Durability::None))
            .unwrap_or_else(|e| panic!("{ctx}: reopening after the crash: {e}"));
        let seen = history::observe(&*db, |_| false).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let n = history::find_prefix(&model, &seen, last_ack, last_seen + 1)
            .unwrap_or_else(|e| panic!("{ctx}: {e} (last ACK {last_ack}, last line {last_seen})"));
        check_scan(&*db, &seen, &ctx);
        db.put(b"~probe", b"after crash")
            .unwrap_or_else(|e| panic!("{ctx}: write after recovery: {e}"));
        assert_eq!(
            db.get(b"~probe").unwrap().as_deref(),
            Some(&b"after crash"[..]),
            "{ctx}"
        );
        db.delete(b"~probe").unwrap();
        db.close()
            .unwrap_or_else(|e| panic!("{ctx}: close after recovery: {e}"));
        lost_unsynced += last_seen.saturating_sub(n);
        model.advance_to(n);
    }
    eprintln!(
        "{}: {} SIGKILL cycles in {mode} mode passed; {} writes applied, {lost_unsynced} returned-but-unsynced writes lost (seed {seed})",
        kit.name, kit.crash_cycles, model.applied
    );
}

/// A full scan agrees with the point reads.
fn check_scan(db: &dyn Engine, seen: &history::Observed, ctx: &str) {
    let scanned = db
        .scan(b"", None, usize::MAX)
        .unwrap_or_else(|e| panic!("{ctx}: scan: {e}"));
    let mut want: Vec<(&Vec<u8>, &Vec<u8>)> = seen
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
    want.sort();
    let got: Vec<(&Vec<u8>, &Vec<u8>)> = scanned.iter().map(|(k, v)| (k, v)).collect();
    assert!(got == want, "{ctx}: a full scan disagrees with point reads");
}
