//! `kvbench calibrate`: device and harness limits, printed and saved as
//! `OUT/calibration.json`, which later runs embed in their results. The main job runs a
//! quick calibration first ([`super::main_job`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use workloads::calibrate::{calibrate, CalibrateConfig};
use workloads::result::Calibration;

use super::CliResult;

#[derive(Debug, Clone, Args)]
pub struct CalibrateArgs {
    /// Directory on the device to measure (default: the system's temporary directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Where calibration.json goes.
    #[arg(long, default_value = "kvbench-results", value_name = "DIR")]
    pub out: PathBuf,
    /// Size of the sequential-write and random-read file, MiB.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub size_mib: u64,
    /// Operations of the null-engine and memory-engine runs that measure the harness floor.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub harness_ops: u64,
}

pub fn cmd_calibrate(a: CalibrateArgs) -> CliResult<ExitCode> {
    let dir = a.dir.clone().unwrap_or_else(std::env::temp_dir);
    let cfg = CalibrateConfig {
        file_mib: a.size_mib.max(1),
        read_time: Duration::from_secs(3),
        harness_ops: a.harness_ops.max(1),
        ..CalibrateConfig::default()
    };
    let c = calibrate(&dir, &cfg, &|step| eprintln!("calibrate: {step}"))
        .map_err(|e| format!("calibration in {} failed: {e}", dir.display()))?;
    print(&c);
    let path = save(&c, &a.out)?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Prints a calibration, a few lines.
pub fn print(c: &Calibration) {
    let f = &c.fsync_latency;
    println!(
        "device under {} ({} on {})",
        c.environment.data_dir, c.environment.filesystem, c.environment.device
    );
    println!(
        "  fsync (4 KiB + fdatasync): p50 {:.0} us, p99 {:.0} us, max {:.0} us",
        f.p50_ns as f64 / 1e3,
        f.p99_ns as f64 / 1e3,
        f.max_ns as f64 / 1e3
    );
    println!(
        "  sequential write:          {:.0} MiB/s",
        c.seq_write_bytes_per_sec / (1 << 20) as f64
    );
    println!(
        "  random 4 KiB reads, cold:  {:.0} /s",
        c.random_read_4k_per_sec
    );
    println!(
        "harness floor: null engine {:.0} ops/s on one thread = {:.0} ns per operation (one clock read: {:.0} ns)",
        c.null_engine_ops_per_sec, c.harness_ns_per_op, c.clock_ns
    );
    println!(
        "memory engine: {:.0} ops/s on one thread; the harness is {:.0}% of its time per operation",
        c.memory_engine_ops_per_sec,
        100.0 * c.harness_share_of_memory
    );
}

/// Writes `calibration.json` into `out`; returns its path.
pub fn save(c: &Calibration, out: &Path) -> CliResult<PathBuf> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let path = out.join("calibration.json");
    let text = serde_json::to_string_pretty(c).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
