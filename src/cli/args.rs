//! Flags shared by `run` and `compare`, and how they change a workload spec.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use engines::Durability;
use workloads::spec::{SizeSpec, ValueContent, WorkloadSpec};

use super::CliResult;

/// Size shortcuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scale {
    /// 10,000 records, 50,000 operations: seconds per run.
    Small,
    /// 100,000 records, 300,000 operations (time cap 30 s): the default of `compare`.
    Medium,
    /// 1,000,000 records, 2,000,000 operations (time cap 300 s).
    Large,
}

impl Scale {
    /// (records, operations, time cap in seconds; 0 = none)
    fn sizes(self) -> (u64, u64, f64) {
        match self {
            Scale::Small => (10_000, 50_000, 0.0),
            Scale::Medium => (100_000, 300_000, 30.0),
            Scale::Large => (1_000_000, 2_000_000, 300.0),
        }
    }
}

/// Most repetitions `--repeat` takes.
const MAX_REPEAT: u32 = 100;

/// Flags that size and shape a workload.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Size shortcut; --records, --ops and --duration override its parts.
    #[arg(long, value_enum)]
    pub scale: Option<Scale>,
    /// Records inserted by the load phase (db_bench's fills start empty: for them, the key
    /// space `--num`).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count)]
    pub records: Option<u64>,
    /// Operations of the run phase (0 = bounded by --duration only).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count)]
    pub ops: Option<u64>,
    /// With --ops: a safety cap on the run phase, seconds (reaching it marks the result
    /// partial); alone: the run phase's length (compare then sets the count by a pilot). The
    /// warm-up counts against it.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true, value_parser = seconds)]
    pub duration: Option<f64>,
    /// Runs of each (engine, workload), interleaved across engines; the table and report
    /// show the median and its 95% interval.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = repeats)]
    pub repeat: Option<u32>,
    /// Unmeasured run-phase operations before measuring.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = count)]
    pub warmup: Option<u64>,
    /// Worker threads.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = threads)]
    pub threads: Option<u32>,
    /// Target operations per second (open loop; 0 = as fast as possible).
    #[arg(long, value_name = "OPS", allow_negative_numbers = true, value_parser = rate)]
    pub rate: Option<f64>,
    /// Durability mode: none, sync or group.
    #[arg(long, value_name = "MODE")]
    pub durability: Option<String>,
    /// Seed of every random choice.
    #[arg(long, allow_negative_numbers = true, value_parser = count)]
    pub seed: Option<u64>,
    /// Value size in bytes: N, or MIN..MAX for a uniform range (YCSB's workloads: the size
    /// of each field).
    #[arg(long, value_name = "BYTES")]
    pub value_size: Option<String>,
    /// Key size in bytes: N, or MIN..MAX (YCSB keys: the minimum; db_bench keys: the size).
    #[arg(long, value_name = "BYTES")]
    pub key_size: Option<String>,
    /// Values compressible to this share of their size, as db_bench's `--compression_ratio`
    /// makes them (db_bench's workloads: 0.5); 1 = random bytes, incompressible.
    #[arg(long, value_name = "R", allow_negative_numbers = true, value_parser = ratio)]
    pub compression_ratio: Option<f64>,
}

/// Flags of where things go.
#[derive(Debug, Clone, Args)]
pub struct PlaceArgs {
    /// Directory for result files.
    #[arg(long, default_value = "kvbench-results", value_name = "DIR")]
    pub out: PathBuf,
    /// Data directory to use and keep (default: a fresh temporary directory, removed after).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Drop the engine's files from the page cache between load and run.
    #[arg(long)]
    pub cold_cache: bool,
    /// Calibration file to embed (default: OUT/calibration.json when it exists).
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// An engine setting by its path in the options a result records, e.g.
    /// `lsm.compaction=tiered` or `bitcask.max_segment_bytes=16777216` (repeatable).
    #[arg(long = "engine-option", value_name = "KEY=VALUE")]
    pub engine_options: Vec<String>,
    /// Run each run's process in a memory cgroup of this size (page cache included), e.g.
    /// 64MiB, 256M or plain bytes; the engines' caches are sized within it (README, "The
    /// I/O-bound regime"). Needs root and a cgroup memory controller.
    #[arg(long, value_name = "BYTES")]
    pub memory_limit: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Engine to run (see `kvbench engines`).
    #[arg(long, short)]
    pub engine: String,
    /// Named workload (see `kvbench workloads`).
    #[arg(long, short, conflicts_with = "workload_file")]
    pub workload: Option<String>,
    /// A YCSB core-workload property file.
    #[arg(long, value_name = "FILE")]
    pub workload_file: Option<PathBuf>,
    /// Override a YCSB property, as YCSB's -p (repeatable).
    #[arg(short = 'p', value_name = "KEY=VALUE")]
    pub props: Vec<String>,
    /// Print how the workload, as the other flags configure it, differs from the tool it is
    /// named after (YCSB, db_bench), one line each, and exit without running. Every result
    /// carries the same list in its `fidelity` field.
    #[arg(long)]
    pub fidelity: bool,
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub place: PlaceArgs,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Engines, comma-separated, or `all` (the default): every engine this build has.
    #[arg(long, value_delimiter = ',')]
    pub engines: Vec<String>,
    /// Workloads, comma-separated (default: read-heavy,write-heavy,range-scan).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// The I/O-bound preset: a store several times a memory limit (default 96 MiB, or
    /// --memory-limit), each workload run capped and again in memory.
    #[arg(long)]
    pub io_bound: bool,
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub place: PlaceArgs,
}

/// Most worker threads (`WorkloadSpec::validate` agrees).
const MAX_THREADS: u32 = 1024;

/// Longest `--duration`: a week.
const MAX_DURATION_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// A whole number of 0 or more (counts and the seed).
fn count(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| format!("must be a whole number from 0 to {}", u64::MAX))
}

fn threads(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from 1 to {MAX_THREADS}")),
    }
}

fn repeats(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_REPEAT).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from 1 to {MAX_REPEAT}")),
    }
}

fn rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err(
            "must be 0 (as fast as possible) or a positive number of operations per second".into(),
        ),
    }
}

fn ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1.0 => Ok(r),
        _ => Err("must be a number above 0 and at most 1".into()),
    }
}

fn seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(d) if (0.0..=MAX_DURATION_SECS).contains(&d) => Ok(d),
        _ => Err(format!(
            "must be a number of seconds from 0 to {MAX_DURATION_SECS} (a week)"
        )),
    }
}

fn parse_size(flag: &str, text: &str) -> CliResult<SizeSpec> {
    let num = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("--{flag} '{text}': expected N or MIN..MAX in bytes"))
    };
    match text.split_once("..") {
        Some((lo, hi)) => Ok(SizeSpec::Uniform {
            min: num(lo)?,
            max: num(hi)?,
        }),
        None => Ok(SizeSpec::Fixed { bytes: num(text)? }),
    }
}

impl SpecArgs {
    /// Runs per (engine, workload).
    pub fn repeat(&self) -> u32 {
        self.repeat.unwrap_or(1).max(1)
    }

    /// Applies the flags to `spec` (scale first, then the explicit flags) and validates.
    pub fn apply(&self, spec: &mut WorkloadSpec) -> CliResult<()> {
        // db_bench's fills start from an empty store: for them the record count is the key
        // space (`--num`), and, without --ops, the number of writes too.
        let fill = spec.record_count == 0 && spec.is_fill();
        if let Some(scale) = self.scale {
            let (records, ops, duration) = scale.sizes();
            if !fill {
                spec.record_count = records;
            }
            spec.operation_count = ops;
            spec.duration_secs = duration;
        }
        if let Some(n) = self.records {
            if fill {
                spec.fill_keys = n;
                if self.ops.is_none() && self.duration.is_none() {
                    spec.operation_count = n;
                }
            } else {
                spec.record_count = n;
            }
        }
        if let Some(n) = self.ops {
            spec.operation_count = n;
            if self.duration.is_none() && self.scale.is_some() {
                spec.duration_secs = 0.0;
            }
        }
        if let Some(d) = self.duration {
            spec.duration_secs = d;
            if self.ops.is_none() && d > 0.0 {
                spec.operation_count = 0;
            }
        }
        if let Some(n) = self.warmup {
            spec.warmup_ops = n;
        }
        if let Some(n) = self.threads {
            spec.threads = n;
        }
        // db_bench's readseq: each thread walks the store once, unless told how many walks.
        if spec.is_walk() && self.ops.is_none() && spec.operation_count > 0 {
            spec.operation_count = spec.threads as u64;
        }
        if let Some(r) = self.compression_ratio {
            spec.values = if r >= 1.0 {
                ValueContent::Random
            } else {
                ValueContent::Compressible { ratio: r }
            };
        }
        if let Some(r) = self.rate {
            spec.target_rate = r;
        }
        if let Some(d) = &self.durability {
            spec.durability = d.parse::<Durability>().map_err(|e| e.to_string())?;
        }
        if let Some(s) = self.seed {
            spec.seed = s;
        }
        if let Some(v) = &self.value_size {
            spec.value_size = parse_size("value-size", v)?;
        }
        if let Some(k) = &self.key_size {
            spec.key.size = Some(parse_size("key-size", k)?);
        }
        spec.validate()
            .map_err(|e| format!("workload {}: {e}", spec.name))
    }
}
