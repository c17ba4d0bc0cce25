//! Memory-capped runs (`--memory-limit`): for every persistent engine, a store larger than
//! the cap (about three times for all but fjall) is read back from the device (device reads per get above zero), the group's
//! peak memory stays within the limit, and the group is gone after the run; where no group
//! can be made, the run fails at once with a one-line error.
//!
//! The runs need root and a cgroup memory controller. Without root they are skipped with a
//! line on stderr; as root, a missing controller fails them.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use workloads::result::PhaseKind;
use workloads::OpKind;

/// The cap of the capped runs: the store (150,000 records of 1000-byte values, about 150 MB)
/// is three times as large. At 32 MiB the debug builds of btree, redb and fjall, whose own
/// caches get a quarter of it, left the page cache too little room: the OOM killer ended
/// their runs, or redb's load crawled at a few operations a second (btree's scans also
/// filled its pool past its bound then; they no longer do).
const LIMIT: u64 = 48 << 20;
/// redb's load slows as its tree outgrows its cache and its page-cache room: at 48 MiB it
/// went from 9,000 to 3,000 inserts a second over the last 30,000 records and, once in a
/// test run, crawled past five minutes (every miss reads ahead 8 MB on this disk and the
/// pages go before they are used). At 96 MiB it loads in about 8 s, with a store (about
/// 280 MB allocated) still near three times the cap.
const REDB_LIMIT: u64 = 96 << 20;
/// fjall's process holds far more than its caches: about 100 MiB of anonymous memory with
/// 300 MB loaded, 4 MiB of memtables and an 8 MiB block cache (debug build, uncapped), and
/// it was OOM-killed at 48 and 80 MiB here. At 128 MiB its gets still read the device.
const FJALL_LIMIT: u64 = 128 << 20;
const RECORDS: &str = "recordcount=150000";
/// A capped run that takes longer than this is killed and fails the test (the debug builds
/// take seconds; CI must not wait on a run that thrashes).
const WATCHDOG: Duration = Duration::from_secs(300);

/// The capped runs take turns: run side by side on two cores, each slows the others' device
/// reads and writeback, and a run near its cap then thrashes.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn kvbench(args: &[&str], env: &[(&str, &str)]) -> (Output, u32) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kvbench"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kvbench");
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let start = Instant::now();
            // SIGINT first (kvbench stops its run's child and removes the run's group),
            // SIGKILL if that did not end it within half a minute; each is sent once, so a
            // pid reaped and reused meanwhile is not signalled again and again.
            let mut due = [
                (WATCHDOG, libc::SIGINT),
                (WATCHDOG + Duration::from_secs(30), libc::SIGKILL),
            ]
            .into_iter()
            .peekable();
            let mut fired = false;
            while !done.load(Ordering::Relaxed) {
                if let Some((_, signal)) = due.next_if(|(at, _)| start.elapsed() > *at) {
                    fired = true;
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(pid as i32, signal) };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            fired
        })
    };
    let out = child.wait_with_output().expect("wait for kvbench");
    done.store(true, Ordering::Relaxed);
    assert!(
        !watchdog.join().unwrap(),
        "kvbench {args:?} ran longer than {WATCHDOG:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out, pid)
}

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn ycsb_c() -> String {
    format!("{}/workloads/ycsb/workloadc", env!("CARGO_MANIFEST_DIR"))
}

/// Every directory under the cgroup mounts named for a kvbench process `pid`.
fn groups_of(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("kvbench-{pid}-");
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                found.push(e.path());
            }
            // Groups are made under kvbench's own group or at a hierarchy's root: a few
            // levels deep at most.
            if e.path().components().count() < 8 {
                stack.push(e.path());
            }
        }
    }
    found
}

/// 150,000 records of 1000-byte values (three times the cap) inserted in key order (so the
/// load reads nothing back), then 3,000 uniform gets.
fn capped_run(engine: &str) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let limit = match engine {
        "redb" => REDB_LIMIT,
        "fjall" => FJALL_LIMIT,
        _ => LIMIT,
    };
    let limit_arg = limit.to_string();
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().to_str().unwrap();
    let file = ycsb_c();
    let args = [
        "run",
        "--engine",
        engine,
        "--workload-file",
        &file,
        "-p",
        RECORDS,
        "-p",
        "operationcount=3000",
        "-p",
        "insertorder=ordered",
        "-p",
        "requestdistribution=uniform",
        "--memory-limit",
        &limit_arg,
        "--out",
        out_s,
    ];
    let (o, pid) = kvbench(&args, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    if !root() && err.contains("no usable memory cgroup") {
        eprintln!("skipped: not root, and no memory cgroup could be made: {err}");
        return;
    }
    assert!(o.status.success(), "{engine}: {err}");
    assert!(
        groups_of(pid).is_empty(),
        "{engine}: the run's cgroup was left behind: {:?}",
        groups_of(pid)
    );
    let (results, bad) = workloads::output::read_results(out.path()).unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(results.len(), 1);
    let r = &results[0].1;
    let cap = r.memory_cap.as_ref().expect("the result records the cap");
    assert_eq!(cap.limit_bytes, limit);
    assert!(matches!(cap.cgroup_version, 1 | 2));
    let peak = cap.peak_bytes.expect("the group's peak memory");
    assert!(
        peak > 0 && peak <= limit,
        "{engine}: peak {peak} of a {limit} limit"
    );
    assert_eq!(cap.oom_kills, Some(0), "{engine}");
    let run = r.phase(PhaseKind::Run).unwrap();
    let dev = run.device_reads.expect("the run phase's device reads");
    assert!(dev.reads > 0 && dev.bytes > 0, "{engine}: {dev:?}");
    let (per_get, bytes_per_get) = run.device_reads_per(Some(OpKind::Read)).unwrap();
    assert!(per_get.unwrap() > 0.0 && bytes_per_get > 0.0, "{engine}");
    // The engine's read cache was sized within the cap (bitcask and LMDB have none).
    let options = &r.engine.options;
    match engine {
        "lsm" => assert!(options.lsm.block_cache_bytes <= limit / 4),
        "btree" => assert!(options.btree.buffer_pool_bytes <= limit / 4),
        // With its read-ahead on, a get read about 8 MB here (the disk's read-ahead).
        "lmdb" => assert!(
            options.production.no_read_ahead && bytes_per_get < 1e6,
            "lmdb: {bytes_per_get} bytes per get"
        ),
        _ => {}
    }
    for (name, bytes) in &cap.cache_bytes {
        assert!(*bytes <= limit / 4, "{engine}: {name} = {bytes}");
    }
    eprintln!(
        "{engine}: {:.2} device reads and {:.0} bytes per get, peak {} MiB",
        per_get.unwrap(),
        bytes_per_get,
        peak >> 20
    );
}

macro_rules! capped {
    ($($(#[$m:meta])* $name:ident: $engine:literal),* $(,)?) => {
        $(
            $(#[$m])*
            #[test]
            fn $name() {
                capped_run($engine);
            }
        )*
    };
}

capped! {
    bitcask_gets_read_the_device: "bitcask",
    lsm_gets_read_the_device: "lsm",
    btree_gets_read_the_device: "btree",
    #[cfg(any(feature = "redb", feature = "production"))]
    redb_gets_read_the_device: "redb",
    #[cfg(any(feature = "fjall", feature = "production"))]
    fjall_gets_read_the_device: "fjall",
    #[cfg(any(feature = "lmdb", feature = "production"))]
    lmdb_gets_read_the_device: "lmdb",
    #[cfg(any(feature = "rocksdb", feature = "production"))]
    rocksdb_gets_read_the_device: "rocksdb",
    #[cfg(any(feature = "sqlite", feature = "production"))]
    sqlite_gets_read_the_device: "sqlite",
}

#[test]
fn no_cgroup_is_a_one_line_error_and_no_uncapped_run() {
    let out = tempfile::tempdir().unwrap();
    let nowhere = out.path().join("no-such-dir");
    let args = [
        "run",
        "--engine",
        "lsm",
        "-w",
        "read-heavy",
        "--scale",
        "small",
        "--memory-limit",
        "64M",
        "--out",
        out.path().to_str().unwrap(),
    ];
    let (o, _) = kvbench(&args, &[("KVBENCH_CGROUP_ROOT", nowhere.to_str().unwrap())]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("no usable memory cgroup") && err.contains("no-such-dir"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(out.path())
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".json")),
        "no result was written"
    );
    // A bad size is a one-line error too.
    let (o, _) = kvbench(
        &[
            "run",
            "--engine",
            "lsm",
            "-w",
            "read-heavy",
            "--memory-limit",
            "lots",
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--memory-limit 'lots'"),
        "{err}"
    );
}
