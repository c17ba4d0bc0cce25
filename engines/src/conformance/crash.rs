//! Crash safety by SIGKILL and by power cut. The parent re-runs the test binary as a child
//! (`crash_child`), which opens the store and applies the kit's deterministic write stream,
//! reporting on its stdout pipe:
//! * `DONE n`: writes `0..n` have returned;
//! * `ACK n`: writes `0..n` are durable (after each write in `sync` mode, after an explicit
//!   `sync()` every 17 writes in `none` and `group` modes, and after each `settle()`).
//!
//! At a random moment the parent ends the child: with SIGKILL ([`Crash::Kill`]: the page
//! cache keeps every written byte), or by writing `CUT` to its stdin ([`Crash::PowerCut`]:
//! the child, whose I/O layer tracks what each fsync made durable, cuts the power of its
//! store with [`crate::io::power::cut`], so unsynced blocks come back zeroed, old or torn in
//! random order and un-fsynced names are undone, and then kills itself). The parent reopens
//! the store and checks that it holds exactly the state after some prefix `n` of the writes,
//! with `n` at least the last `ACK` and at most one past the last line seen: no acknowledged
//! write lost, no value that was never written, no mix of old and new. It then checks the
//! store takes writes, closes it, and starts the next child from `n`. Every 250 writes the
//! child calls `compact()` and every 100 `settle()`, so crashes also land in the middle of
//! merges, flushes and checkpoints. In a power cut the store directory itself is created by
//! the engine inside the armed tree, so its own directory entry is put to the test too.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
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
/// Set for a power-cut child: the armed root and the damage seed, as `root:seed`.
const POWER_ENV: &str = "KVBENCH_KIT_CHILD_POWER";
/// Writes between explicit `sync()` calls in `none` and `group` modes: a power-cut child
/// syncs less often, so that its unsynced tails are longer.
const SYNC_EVERY: u64 = 17;
const SYNC_EVERY_POWER: u64 = 61;
/// How a power-cut child's stderr line with the damage done starts.
const CUT_TAG: &str = "power cut: ";

/// How the parent ends a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// SIGKILL: the process dies, the page cache keeps what it wrote.
    Kill,
    /// A simulated power cut: only what fsyncs made durable is sure to survive.
    PowerCut,
}

/// In a power-cut child: arms the I/O layer's tracking of `root` and waits on stdin for the
/// parent's `CUT`, then cuts the power and kills the process.
fn arm_power_cut(spec: &str) {
    let (root, seed) = spec.rsplit_once(':').expect("root:seed");
    let root = Path::new(root).to_path_buf();
    let seed: u64 = seed.parse().expect("seed");
    crate::io::power::arm(&root, seed).expect("arming the power-cut tracker");
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        match crate::io::power::cut(&root) {
            Ok(report) => eprintln!("{CUT_TAG}{}", report.to_words()),
            Err(e) => eprintln!("power cut failed: {e}"),
        }
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, so this does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    });
}

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
    let sync_every = match std::env::var(POWER_ENV) {
        Ok(spec) => {
            arm_power_cut(&spec);
            SYNC_EVERY_POWER
        }
        Err(_) => SYNC_EVERY,
    };
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
            if n % sync_every == 0 {
                db.sync().unwrap_or_else(|e| fail("sync", e));
                println!("ACK {n}");
            }
        }
        if n % 250 == 0 {
            db.compact().unwrap_or_else(|e| fail("compact", e));
        }
        if n % 100 == 50 {
            db.settle().unwrap_or_else(|e| fail("settle", e));
            println!("ACK {n}");
        }
    }
}

/// The parent side: `kit.crash_cycles` kill-and-recover cycles in durability `mode`.
pub fn cycles(kit: &Kit, child_test: &str, mode: Durability) {
    run_cycles(kit, child_test, Crash::Kill, &[mode], kit.crash_cycles);
}

/// The parent side of power cuts: `kit.power_cycles` cut-and-recover cycles, the durability
/// mode rotating through sync, none and group.
pub fn power_cycles(kit: &Kit, child_test: &str) {
    let modes = [Durability::Sync, Durability::None, Durability::Group];
    run_cycles(kit, child_test, Crash::PowerCut, &modes, kit.power_cycles);
}

fn run_cycles(kit: &Kit, child_test: &str, crash: Crash, modes: &[Durability], cycles: usize) {
    let seed: u64 = std::env::var("KVBENCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let root = temp_dir();
    // A power cut may undo the creation of the store directory itself, so the engine
    // creates it inside the armed tree.
    let store = match crash {
        Crash::Kill => root.path().to_path_buf(),
        Crash::PowerCut => root.path().join("store"),
    };
    let dir = store.as_path();
    let exe = std::env::current_exe().unwrap();
    let mut model = Model::default();
    let mut lost_unsynced = 0u64;
    let mut damage = crate::io::power::CutReport::default();
    for cycle in 0..cycles {
        let mode = modes[cycle % modes.len()];
        let what = match crash {
            Crash::Kill => "SIGKILL",
            Crash::PowerCut => "power cut",
        };
        let ctx = format!(
            "{} ({what}, {mode} mode, cycle {cycle}, KVBENCH_CRASH_SEED={seed})",
            kit.name
        );
        let stderr_path = root.path().with_extension(format!("child-{cycle}.stderr"));
        let mut command = Command::new(&exe);
        if crash == Crash::PowerCut {
            let damage_seed: u64 = rng.gen();
            command.env(
                POWER_ENV,
                format!("{}:{damage_seed}", root.path().display()),
            );
        }
        let mut child = command
            .args([
                child_test,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, dir)
            .env(START_ENV, model.applied.to_string())
            .env(MODE_ENV, mode.as_str())
            .stdin(Stdio::piped())
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
        let mut stdin = child.stdin.take().unwrap();
        let status = match crash {
            Crash::Kill => {
                let _ = child.kill();
                child.wait().unwrap()
            }
            Crash::PowerCut => {
                // The child may have ended on its own (an error); the write then fails.
                let _ = stdin.write_all(b"CUT\n").and_then(|_| stdin.flush());
                wait_or_kill(&mut child, Duration::from_secs(60), &ctx)
            }
        };
        drop(stdin);
        reader.join().unwrap();
        while let Ok(line) = rx.try_recv() {
            note(&line, &mut ready);
        }
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        if let Some(words) = stderr.lines().find_map(|l| l.strip_prefix(CUT_TAG)) {
            damage.add(&crate::io::power::CutReport::parse(words));
        }
        let _ = std::fs::remove_file(&stderr_path);
        if status.code().is_some() {
            // Killed children have no exit code; the child only ends by itself on an error
            // (or when the test filter matched no test: the suite's module path is wrong).
            panic!("{ctx}: the child exited with {status} before it was killed (ready: {ready}):\n{stderr}");
        }

        let db = kit
            .try_open(dir, &options(kit, Durability::None))
            .unwrap_or_else(|e| {
                panic!(
                    "{ctx}: reopening after the crash: {e} (the store is kept in {})",
                    keep(root.path())
                )
            });
        let seen = history::observe(&*db, |_| false).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let n = history::find_prefix(&model, &seen, last_ack, last_seen + 1).unwrap_or_else(|e| {
            panic!(
                "{ctx}: {e} (last ACK {last_ack}, last line {last_seen}; the store is kept in {})",
                keep(root.path())
            )
        });
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
    let modes: Vec<&str> = modes.iter().map(|m| m.as_str()).collect();
    let (what, damage) = match crash {
        Crash::Kill => ("SIGKILL", String::new()),
        Crash::PowerCut => ("power-cut", format!("; damage done: {}", damage.to_words())),
    };
    eprintln!(
        "{}: {cycles} {what} cycles in {} mode passed; {} writes applied, {lost_unsynced} returned-but-unsynced writes lost{damage} (seed {seed})",
        kit.name,
        modes.join("/"),
        model.applied
    );
}

/// Copies a failed test's directory (with the power-cut trace, when one was asked for with
/// `KVBENCH_POWER_TRACE`) to a directory that outlives the test, and names it.
fn keep(root: &Path) -> String {
    fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let p = e?.path();
            let dest = to.join(p.file_name().unwrap_or_default());
            if p.is_dir() {
                copy(&p, &dest)?;
            } else {
                std::fs::copy(&p, &dest)?;
            }
        }
        Ok(())
    }
    let to = std::env::temp_dir().join(format!(
        "kvbench-kit-failure-{}",
        root.file_name().unwrap_or_default().to_string_lossy()
    ));
    match copy(root, &to) {
        Ok(()) => to.display().to_string(),
        Err(e) => format!("nowhere: copying it failed: {e}"),
    }
}

/// Waits for a child that is about to kill itself; kills it (and fails) if it does not.
fn wait_or_kill(
    child: &mut std::process::Child,
    patience: Duration,
    ctx: &str,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > patience {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{ctx}: the child did not end within {patience:?} of the power cut");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
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
