//! `kvbench calibrate`: the limits of the device under the data directory and of the
//! harness itself, so results can be read as a share of what is possible here:
//!
//! * fsync latency: a 4 KiB `pwrite` then `fdatasync`, repeated;
//! * sequential write bandwidth: 1 MiB writes, then one fsync, counted in the time;
//! * random 4 KiB reads per second from that file after dropping it from the page cache
//!   (`posix_fadvise(DONTNEED)`), so they reach the device;
//! * the harness floor: the `null` engine's operation rate through the runner (one thread,
//!   read-heavy; the engine does no work), whose inverse is the harness's own cost per
//!   operation, and the cost of one clock read;
//! * the `memory` engine's rate on the same work, and the harness's share of its time per
//!   operation.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use engines::{EngineKind, Options};

use crate::generator::Rng;
use crate::result::{Calibration, PhaseKind, SCHEMA_VERSION};
use crate::runner::{self, EngineUnderTest, RunConfig};

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct CalibrateConfig {
    /// Size of the sequential-write file, MiB (also the random-read file).
    pub file_mib: u64,
    /// fsyncs to time.
    pub fsyncs: u32,
    /// Upper bound on the random-read test's time.
    pub read_time: Duration,
    /// Operations of the null-engine and memory-engine runs.
    pub harness_ops: u64,
}

impl Default for CalibrateConfig {
    fn default() -> Self {
        CalibrateConfig {
            file_mib: 256,
            fsyncs: 200,
            read_time: Duration::from_secs(3),
            harness_ops: 1_000_000,
        }
    }
}

/// Measures the device under `dir` (files are made in a temporary directory inside it and
/// removed) and the harness; `say` gets a line per step.
pub fn calibrate(dir: &Path, cfg: &CalibrateConfig, say: &dyn Fn(&str)) -> io::Result<Calibration> {
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::Builder::new()
        .prefix("kvbench-calibrate-")
        .tempdir_in(dir)?;
    let path = tmp.path().join("probe");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;

    say("fsync latency (4 KiB write + fdatasync)");
    let block = vec![0xA5u8; 4096];
    let mut h = runner::new_histogram();
    for i in 0..cfg.fsyncs.max(1) {
        let t = Instant::now();
        file.write_all_at(&block, i as u64 * 4096)?;
        file.sync_data()?;
        h.saturating_record((t.elapsed().as_nanos() as u64).max(1));
    }
    let fsync_latency = runner::summary(&h);

    say("sequential write bandwidth (1 MiB writes + fsync)");
    let chunk: Vec<u8> = {
        let mut rng = Rng::new(1, 1);
        (0..1 << 20).map(|_| rng.next_u64() as u8).collect()
    };
    let total = cfg.file_mib.max(1) << 20;
    let t = Instant::now();
    let mut off = 0;
    while off < total {
        file.write_all_at(&chunk, off)?;
        off += chunk.len() as u64;
    }
    file.sync_all()?;
    let seq_write_bytes_per_sec = total as f64 / t.elapsed().as_secs_f64();

    say("random 4 KiB reads, cold cache");
    // SAFETY: valid descriptor; fadvise touches no memory of ours.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    let blocks = total / 4096;
    // Visit blocks in a random permutation (i -> a*i + b mod blocks, a coprime to blocks),
    // so no block is read twice and every read misses the cache.
    let mut rng = Rng::new(2, 2);
    let mut a = rng.below(blocks.max(2)) | 1;
    while gcd(a, blocks) != 1 {
        a += 2;
    }
    let b = rng.below(blocks.max(1));
    let mut buf = vec![0u8; 4096];
    let (t, mut reads) = (Instant::now(), 0u64);
    while t.elapsed() < cfg.read_time && reads < blocks {
        let block = ((a as u128 * reads as u128 + b as u128) % blocks as u128) as u64;
        file.read_exact_at(&mut buf, block * 4096)?;
        reads += 1;
    }
    let random_read_4k_per_sec = reads as f64 / t.elapsed().as_secs_f64();
    drop(file);

    say("harness floor (null engine, 1 thread, read-heavy), then the memory engine");
    let rate = |kind: EngineKind| -> io::Result<f64> {
        let mut spec = crate::presets::preset("read-heavy").map_err(io::Error::other)?;
        spec.record_count = 100_000;
        spec.operation_count = cfg.harness_ops.max(1);
        spec.threads = 1;
        let stop = AtomicBool::new(false);
        let r = runner::run(
            &spec,
            &EngineUnderTest::builtin(kind, Options::default()),
            &RunConfig {
                dir: None,
                temp_parent: Some(tmp.path().to_path_buf()),
                cold_cache: false,
                stop: &stop,
                progress: &|_| {},
                calibration: None,
            },
        )
        .map_err(io::Error::other)?;
        Ok(r.phase(PhaseKind::Run)
            .map_or(0.0, |p| p.throughput.ops_per_sec))
    };
    let null_engine_ops_per_sec = rate(EngineKind::Null)?;
    let memory_engine_ops_per_sec = rate(EngineKind::Memory)?;
    let per_op = |rate: f64| if rate > 0.0 { 1e9 / rate } else { 0.0 };
    let harness_ns_per_op = per_op(null_engine_ops_per_sec);
    let memory_ns = per_op(memory_engine_ops_per_sec);

    Ok(Calibration {
        schema_version: SCHEMA_VERSION,
        environment: crate::environment::capture(dir),
        fsync_latency,
        seq_write_bytes_per_sec,
        random_read_4k_per_sec,
        memory_engine_ops_per_sec,
        harness_ns_per_op,
        null_engine_ops_per_sec,
        clock_ns: clock_cost(),
        harness_share_of_memory: if memory_ns > 0.0 {
            harness_ns_per_op / memory_ns
        } else {
            0.0
        },
    })
}

/// Cost of one read of the workers' clock ([`runner::Clock`]), ns: the median of 21 rounds
/// of 100,000 reads.
pub fn clock_cost() -> f64 {
    const READS: u64 = 100_000;
    let clock = runner::Clock::get();
    let mut rounds: Vec<f64> = (0..21)
        .map(|_| {
            let t = clock.now();
            let mut last = t;
            for _ in 0..READS {
                last = std::hint::black_box(clock.now());
            }
            clock.ns(last - t) as f64 / READS as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_calibration_measures_everything() {
        let d = tempfile::tempdir().unwrap();
        let cfg = CalibrateConfig {
            file_mib: 4,
            fsyncs: 5,
            read_time: Duration::from_millis(100),
            harness_ops: 20_000,
        };
        let c = calibrate(d.path(), &cfg, &|_| {}).unwrap();
        assert_eq!(c.fsync_latency.count, 5);
        assert!(c.seq_write_bytes_per_sec > 0.0);
        assert!(c.random_read_4k_per_sec > 0.0);
        assert!(c.memory_engine_ops_per_sec > 0.0 && c.null_engine_ops_per_sec > 0.0);
        assert!((c.harness_ns_per_op * c.null_engine_ops_per_sec - 1e9).abs() < 1.0);
        assert!(c.clock_ns > 0.0);
        assert!(c.harness_share_of_memory > 0.0);
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            0,
            "probe files removed"
        );
    }
}
