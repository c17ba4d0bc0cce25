//! `kvbench calibrate`: device and harness limits, printed and saved as
//! `OUT/calibration.json`, which later runs embed in their results.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use workloads::calibrate::{calibrate, CalibrateConfig};

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
    let f = &c.fsync_latency;
    println!(
        "device under {} ({} on {})",
        dir.display(),
        c.environment.filesystem,
        c.environment.device
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
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let path = a.out.join("calibration.json");
    let text = serde_json::to_string_pretty(&c).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}
