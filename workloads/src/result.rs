//! The result file: one JSON document per run (`kvbench run` writes one per engine and
//! workload). The report crate reads only these types. The schema is versioned by
//! [`SCHEMA_VERSION`]; later versions only add fields, each with `#[serde(default)]`, so an
//! old file still reads.
//!
//! Units: durations of single operations are integer nanoseconds (`*_ns`), phase lengths and
//! CPU times are seconds as `f64` (`*_secs`), sizes are bytes, rates are per second.

use std::collections::BTreeMap;

use engines::{Durability, EngineStats, IoSnapshot, Options};
use serde::{Deserialize, Serialize};

use crate::spec::{OpKind, WorkloadSpec};

/// Version of this schema, stored in every result file. Version 2: amplification is settled
/// (the engine is brought to rest inside the window) with the in-window figures beside it,
/// device and syscall bytes are told apart, space amplification is of allocated blocks, and
/// results carry their repetition and cold-cache check.
pub const SCHEMA_VERSION: u32 = 2;

/// Everything one run of one workload on one engine measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Version of kvbench that wrote the file.
    pub kvbench_version: String,
    /// Unique id of the run: `<engine>-<workload>-<UTC time>`; also the file's stem.
    pub run_id: String,
    /// The workload exactly as run (after presets, YCSB files, overrides and size flags).
    pub spec: WorkloadSpec,
    /// The engine and the options it was opened with.
    pub engine: EngineInfo,
    /// Durability mode the engine ran under (same as `spec.durability`, repeated so a reader
    /// need not dig).
    pub durability: Durability,
    /// True when the engine was closed, its files dropped from the page cache (checked) and
    /// the engine reopened between load and run.
    pub cold_cache: bool,
    /// What the cold-cache step found, when one was asked for.
    #[serde(default)]
    pub cold_cache_check: Option<ColdCache>,
    /// This run's place among repetitions of the same (engine, workload), when repeated.
    #[serde(default)]
    pub repetition: Option<Repetition>,
    /// True when the run did not finish (interrupted by Ctrl-C, an engine error, or its
    /// time cap reached before its operation count); the figures cover what ran, see
    /// `partial_reason`.
    pub partial: bool,
    /// Why the run is partial, when it is.
    #[serde(default)]
    pub partial_reason: Option<String>,
    /// The machine, build and time of the run.
    pub environment: Environment,
    /// The measured phases in order: `load` (absent when `record_count` is 0), then `run`.
    pub phases: Vec<PhaseResult>,
    /// Device and harness limits measured by `kvbench calibrate` on this machine, when a
    /// calibration was available; results can be shown as a share of them.
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// Warnings a reader must see next to the figures (e.g. write-amplification figures that
    /// disagree, engine errors during the run).
    #[serde(default)]
    pub notes: Vec<String>,
    /// How the workload differs from the tool it is named after (YCSB, db_bench), one line
    /// per deliberate difference (`workloads::fidelity`).
    #[serde(default)]
    pub fidelity: Vec<String>,
    /// The memory cap the run's process ran under (`--memory-limit`), when there was one.
    #[serde(default)]
    pub memory_cap: Option<MemoryCap>,
}

/// A run under a memory cgroup: resident memory and page cache together held to `limit_bytes`,
/// so a store larger than that is read from the device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryCap {
    /// The group's limit, bytes (v1 `memory.limit_in_bytes`, v2 `memory.max`).
    pub limit_bytes: u64,
    /// 1 or 2.
    pub cgroup_version: u8,
    /// Highest memory use of the group over the run, bytes (v1 `memory.max_usage_in_bytes`,
    /// v2 `memory.peak`), when the kernel reports it.
    pub peak_bytes: Option<u64>,
    /// Processes the kernel killed for lack of memory in the group.
    pub oom_kills: Option<u64>,
    /// The engine's own caches as sized within the limit, by option name (e.g.
    /// `lsm.block_cache_bytes`); the rest of the limit is left to the page cache.
    pub cache_bytes: BTreeMap<String, u64>,
    /// Device reads of the whole run (load, run and the engine's open and close), from the
    /// group's I/O counters, when readable.
    pub device_reads: Option<DeviceReadCount>,
}

/// Read requests and bytes that reached the block device (a cgroup's I/O counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceReadCount {
    pub reads: u64,
    pub bytes: u64,
}

/// The cold-cache step between load and run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ColdCache {
    /// Bytes of the engine's files (apparent size).
    pub file_bytes: u64,
    /// Bytes of them still in the page cache after the drop (`mincore`).
    pub cached_bytes_after_drop: u64,
    /// True when at most 1% of the files stayed cached.
    pub dropped: bool,
    /// Time the engine took to open again, seconds.
    pub reopen_secs: f64,
}

/// A run's place among the repetitions of one (engine, workload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repetition {
    /// Shared by the repetitions of one (engine, workload) in one invocation.
    pub group: String,
    /// 1-based.
    pub index: u32,
    pub count: u32,
}

/// The engine under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineInfo {
    /// `EngineKind::name()`, e.g. `lsm`.
    pub name: String,
    /// Design family for grouping, e.g. `LSM` (`Family`'s display form).
    pub family: String,
    /// One line on the engine's design.
    pub description: String,
    /// True when the engine keeps its data in files.
    pub persistent: bool,
    /// True when the engine's I/O counters see its file I/O (false for the production
    /// engines: their amplification comes from `/proc/self/io` only).
    #[serde(default = "yes")]
    pub counts_io: bool,
    /// The options the engine was opened with.
    pub options: Options,
}

fn yes() -> bool {
    true
}

/// Where and how the run happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Logical CPUs available to the process.
    pub cores: u32,
    /// Total memory of the machine in bytes (`/proc/meminfo` MemTotal).
    pub memory_bytes: u64,
    /// Kernel name and release (`uname -sr`).
    pub kernel: String,
    /// Host name.
    pub hostname: String,
    /// The data directory of the run.
    pub data_dir: String,
    /// File system type of the data directory (from `/proc/mounts`), e.g. `ext4`, `tmpfs`.
    pub filesystem: String,
    /// Device or source mounted there, e.g. `/dev/nvme0n1p2`, `overlay`.
    pub device: String,
    /// `release` or `debug` (debug builds are not comparable with release builds).
    pub build_profile: String,
    /// `rustc --version` of the compiler that built kvbench.
    pub rustc_version: String,
    /// Git commit kvbench was built from (`unknown` outside a git checkout), with `-dirty`
    /// when the tree had changes.
    pub git_commit: String,
    /// Start of the run, RFC 3339 UTC.
    pub started_at: String,
    /// Start of the run, seconds since the Unix epoch.
    pub started_unix: u64,
}

/// Which phase a [`PhaseResult`] measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// Inserting `record_count` records.
    Load,
    /// The operation mix.
    Run,
}

/// The figures of one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    pub phase: PhaseKind,
    /// Measured wall time, seconds: from the earliest worker's start to the latest worker's
    /// end, as the workers took them (warm-up excluded).
    pub elapsed_secs: f64,
    /// Wall time of the warm-up before measuring, seconds (0 when there was none).
    pub warmup_secs: f64,
    /// Worker threads.
    pub threads: u32,
    /// Target rate in operations per second (0 = closed loop).
    pub target_rate: f64,
    /// True when latency is taken from each operation's intended start time (open loop).
    pub open_loop: bool,
    /// Operations completed (successfully or not) in the measured part.
    pub operations: u64,
    /// Operations that returned an error (counted in `operations` and in the latencies).
    pub errors: u64,
    /// The first few distinct error messages, for the reader.
    #[serde(default)]
    pub error_samples: Vec<String>,
    /// Throughput overall and per second.
    pub throughput: Throughput,
    /// Latency per operation type (only the types that ran), plus `all` types together.
    pub latency: Vec<OpLatency>,
    /// Write, read and space amplification of the phase.
    pub amplification: Amplification,
    /// CPU time of the process over the phase's window (from the start barrier until the
    /// engine was at rest again).
    pub cpu: CpuUsage,
    /// Peak resident set size of the process at the end of the phase, bytes (`ru_maxrss`);
    /// the process runs this one (engine, workload) only.
    pub peak_rss_bytes: u64,
    /// Bytes the harness held for operations and keys generated ahead of the clock (part of
    /// `peak_rss_bytes`; the same for every engine on the same workload).
    #[serde(default)]
    pub generated_ahead_bytes: u64,
    /// Time the engine took to come to rest at the end of the phase (inside the I/O window,
    /// outside the latency clock), seconds.
    #[serde(default)]
    pub settle_secs: Option<f64>,
    /// Engine statistics at the end of the phase (cumulative since open, incl. `extra`).
    pub engine_stats: EngineStats,
    /// The engine's I/O counters over the phase's window (settled).
    pub engine_io: IoSnapshot,
    /// The kernel's `/proc/self/io` counters over the phase's window (settled), when readable.
    #[serde(default)]
    pub proc_io: Option<ProcIo>,
    /// Per thread: an FNV-1a digest of the operations issued, warm-up included (type,
    /// record, lengths), so two results can show they ran the same operation stream.
    #[serde(default)]
    pub op_stream_digests: Vec<u64>,
    /// Device reads over the phase's window (settled), from the run's own cgroup; present in
    /// memory-capped runs only.
    #[serde(default)]
    pub device_reads: Option<DeviceReadCount>,
}

/// Operations per second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Operations / elapsed seconds over the measured phase.
    pub ops_per_sec: f64,
    /// One point per second of the measured phase (the last may cover less than a second).
    pub timeline: Vec<TimelinePoint>,
    /// Engine events seen during the phase (compactions, merges), for marking the timeline.
    pub events: Vec<EngineEvent>,
}

/// One interval of the throughput timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// End of the interval, seconds since the start of the measured phase.
    pub t_secs: f64,
    /// Length of the interval, seconds (1 except for the last).
    pub interval_secs: f64,
    /// Operations completed in the interval.
    pub ops: u64,
    /// `ops / interval_secs`.
    pub ops_per_sec: f64,
    /// Largest latency of an operation completed in the interval, ns.
    pub max_latency_ns: u64,
    /// Latency percentiles of the operations completed in the interval, ns, from coarse
    /// log buckets (each value is its bucket's upper end: at most 12.5% above the exact
    /// value). 0 when the interval had no operations.
    #[serde(default)]
    pub p50_ns: u64,
    #[serde(default)]
    pub p99_ns: u64,
    #[serde(default)]
    pub p999_ns: u64,
    /// Bytes the engine wrote in the interval (its I/O counters).
    pub engine_bytes_written: u64,
    /// Compactions / merges the engine completed in the interval.
    pub compactions: u64,
    /// Engine's files on disk at the end of the interval, bytes.
    pub disk_bytes: u64,
}

/// Something the engine did that a reader should see on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineEvent {
    /// Seconds since the start of the measured phase (end of the interval it was seen in).
    pub t_secs: f64,
    /// `compaction` (also merges and checkpoints: whatever the engine counts in
    /// `EngineStats::compactions`).
    pub kind: String,
    /// How many completed in the interval.
    pub count: u64,
    /// Bytes they wrote (from `EngineStats::compaction_bytes_written`).
    pub bytes_written: u64,
}

/// Latency of one operation type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpLatency {
    /// Operation type, or `None` for all types together (shown as `all`).
    pub op: Option<OpKind>,
    /// Latency as the caller sees it: from the intended start in open loop, from the actual
    /// start in closed loop.
    pub summary: LatencySummary,
    pub histogram: Histogram,
    /// In open loop: the service time alone (from the actual start), to compare with
    /// `summary` and see queueing. `None` in closed loop, where they are the same.
    #[serde(default)]
    pub service: Option<LatencySummary>,
    /// Reads (and read-modify-writes) that found their key, and those that did not;
    /// scans: items returned in total. Zero where it does not apply.
    #[serde(default)]
    pub hits: u64,
    #[serde(default)]
    pub misses: u64,
}

impl OpLatency {
    /// `read`, `update`, ... or `all`.
    pub fn label(&self) -> &'static str {
        self.op.map_or("all", OpKind::name)
    }
}

/// Summary statistics of a latency histogram, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ns: f64,
    pub stdev_ns: f64,
    pub min_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

/// A latency histogram in two redrawable forms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Significant decimal digits the HDR histogram kept (values are exact to that many).
    pub significant_figures: u8,
    /// The percentile spectrum: cumulative points (value, percentile, count at or below),
    /// ticking finer towards the tail, ready to draw on a log-percentile axis.
    pub spectrum: Vec<PercentilePoint>,
    /// The full HDR histogram in HdrHistogram's V2 serialisation, base64-encoded (values in
    /// ns), for exact merging or re-analysis with any HdrHistogram library.
    pub hdr_v2_base64: String,
}

/// One point of the percentile spectrum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    /// Percentile, 0..=100.
    pub percentile: f64,
    /// Latency at that percentile, ns.
    pub value_ns: u64,
    /// Operations with latency at or below `value_ns`.
    pub count: u64,
}

/// Amplification figures of a phase (design.md, "Words"). Byte counts are over the phase's
/// window: from the barrier after warm-up until the engine was brought to rest after the
/// last operation (`settled`); `in_window` holds the same figures before that rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Amplification {
    /// Key + value bytes of every put and key bytes of every delete the phase issued.
    pub user_bytes_written: u64,
    /// Key + value bytes returned by reads and scans.
    pub user_bytes_read: u64,
    /// Logical reads: gets (incl. the read of a read-modify-write) and scans.
    pub logical_reads: u64,
    /// Bytes the engine wrote to its files (its I/O counters).
    pub engine_bytes_written: u64,
    /// Bytes the engine read from its files (its I/O counters).
    pub engine_bytes_read: u64,
    /// Syscall bytes written: what the process passed to write-like calls
    /// (`/proc/self/io` wchar).
    #[serde(default)]
    pub proc_wchar: Option<u64>,
    /// The kernel's `write_bytes`: page-sized writes the process caused towards the device
    /// (counted when a page is first dirtied; not on tmpfs).
    #[serde(default)]
    pub proc_write_bytes: Option<u64>,
    /// Syscall bytes read: what read-like calls returned (`rchar`).
    #[serde(default)]
    pub proc_rchar: Option<u64>,
    /// Device bytes read: what the process caused to be read from the device (`read_bytes`,
    /// page faults of mapped files included).
    #[serde(default)]
    pub proc_read_bytes: Option<u64>,
    /// Device bytes written: `write_bytes` less `cancelled_write_bytes` (pages of files
    /// deleted or truncated before they were written back), after `syncfs`.
    #[serde(default)]
    pub device_bytes_written: Option<u64>,
    /// `engine_bytes_written / user_bytes_written`.
    #[serde(default)]
    pub write_amp_engine: Option<f64>,
    /// Syscall write amplification: `proc_wchar / user_bytes_written`.
    #[serde(default)]
    pub write_amp_proc: Option<f64>,
    /// Device write amplification: `device_bytes_written / user_bytes_written` (includes
    /// file-system page rounding; overwrites of a still-dirty page count once).
    #[serde(default)]
    pub write_amp_device: Option<f64>,
    /// True when the engine and syscall write figures differ by more than 10% (and by more
    /// than 64 KiB, the harness's own output); `notes` then explains.
    #[serde(default)]
    pub write_amp_mismatch: bool,
    /// `engine_bytes_read / logical_reads`: bytes read from files per logical read.
    #[serde(default)]
    pub read_amp_bytes_per_read: Option<f64>,
    /// `engine_bytes_read / user_bytes_read`.
    #[serde(default)]
    pub read_amp: Option<f64>,
    /// `proc_read_bytes / logical_reads`: device bytes read per logical read.
    #[serde(default)]
    pub device_read_bytes_per_read: Option<f64>,
    /// Apparent size of the data directory's files at the end of the phase (`st_size`).
    pub disk_bytes: u64,
    /// Blocks allocated to them (`st_blocks` x 512): what they take on the device.
    #[serde(default)]
    pub allocated_bytes: Option<u64>,
    /// Key + value bytes of the live data at the end of the phase (by a full scan).
    #[serde(default)]
    pub live_bytes: Option<u64>,
    /// Live keys at the end of the phase (by the same scan).
    #[serde(default)]
    pub live_keys: Option<u64>,
    /// `allocated_bytes / live_bytes` (absent for engines without files; before schema 2,
    /// apparent size).
    #[serde(default)]
    pub space_amp: Option<f64>,
    /// `disk_bytes / live_bytes`: the apparent-size figure, beside it.
    #[serde(default)]
    pub space_amp_apparent: Option<f64>,
    /// True when the engine was brought to rest inside the window, so the figures above
    /// include the writes it deferred.
    #[serde(default)]
    pub settled: bool,
    /// The figures as they stood when the latency clock stopped, before the rest.
    #[serde(default)]
    pub in_window: Option<InWindow>,
    /// Bytes the engine said it may hold in memory before writing them
    /// (`EngineStats::write_buffer_bytes`).
    #[serde(default)]
    pub write_buffer_bytes: u64,
    /// True when the phase wrote less than four times `write_buffer_bytes`: it has not
    /// reached a steady state (the buffer, not the design, decided much of what was written).
    #[serde(default)]
    pub not_steady: bool,
}

/// Write figures when the latency clock stopped, before the engine was brought to rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InWindow {
    pub engine_bytes_written: u64,
    pub proc_wchar: Option<u64>,
    pub device_bytes_written: Option<u64>,
    pub write_amp_engine: Option<f64>,
    pub write_amp_proc: Option<f64>,
    pub write_amp_device: Option<f64>,
}

impl Amplification {
    /// The write amplification to show: the engine's own count where our counters see its
    /// I/O, else the device's, else the syscall count (settled in each case).
    pub fn write_amp(&self) -> Option<f64> {
        self.write_amp_engine
            .or(self.write_amp_device)
            .or(self.write_amp_proc)
    }

    /// [`Amplification::write_amp`] before the engine was brought to rest.
    pub fn write_amp_in_window(&self) -> Option<f64> {
        let w = self.in_window.as_ref()?;
        w.write_amp_engine
            .or(w.write_amp_device)
            .or(w.write_amp_proc)
    }
}

/// CPU time of the process (all threads) during a phase, from `getrusage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    pub user_secs: f64,
    pub system_secs: f64,
    /// User CPU per operation, ns.
    pub user_ns_per_op: f64,
    /// System CPU per operation, ns.
    pub system_ns_per_op: f64,
}

/// The kernel's I/O accounting for the process over a phase (`/proc/self/io` deltas).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcIo {
    /// Bytes passed to read-like syscalls.
    pub rchar: u64,
    /// Bytes passed to write-like syscalls.
    pub wchar: u64,
    /// Read syscalls.
    pub syscr: u64,
    /// Write syscalls.
    pub syscw: u64,
    /// Bytes fetched from the storage layer.
    pub read_bytes: u64,
    /// Bytes sent to the storage layer.
    pub write_bytes: u64,
    /// Bytes whose writeback was cancelled (truncated or deleted before writeback).
    pub cancelled_write_bytes: u64,
}

/// The limits of the device and of the harness (`kvbench calibrate`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// [`SCHEMA_VERSION`] of the writer (calibrations are stored as their own files too).
    pub schema_version: u32,
    /// The machine and directory measured.
    pub environment: Environment,
    /// Latency of a 4 KiB write followed by `fdatasync`, ns.
    pub fsync_latency: LatencySummary,
    /// Sequential write bandwidth including a final fsync, bytes per second.
    pub seq_write_bytes_per_sec: f64,
    /// Random 4 KiB reads per second from a file dropped from the page cache.
    pub random_read_4k_per_sec: f64,
    /// Operations per second of the `memory` engine (a `BTreeMap`), one thread, read-heavy.
    pub memory_engine_ops_per_sec: f64,
    /// The harness's own cost per operation, ns: `1e9 / null_engine_ops_per_sec` (before
    /// schema 2: of the memory engine).
    pub harness_ns_per_op: f64,
    /// Operations per second of the `null` engine (no work, fixed answers), one thread,
    /// read-heavy: the harness's floor; no engine can be faster through this harness.
    #[serde(default)]
    pub null_engine_ops_per_sec: f64,
    /// Cost of one read of the workers' clock (the CPU's time-stamp counter where usable,
    /// else `Instant::now`), ns; the harness reads it twice per operation.
    #[serde(default)]
    pub clock_ns: f64,
    /// The harness's share of the memory engine's time per operation (one thread).
    #[serde(default)]
    pub harness_share_of_memory: f64,
}

impl RunResult {
    /// The phase of `kind`, if it ran.
    pub fn phase(&self, kind: PhaseKind) -> Option<&PhaseResult> {
        self.phases.iter().find(|p| p.phase == kind)
    }
}

impl PhaseResult {
    /// Device reads and bytes of the phase per operation of `op` (`Read` = gets, `Scan` =
    /// scans; `None` = every operation): every device read of the window (those caused by
    /// writes and compactions included) divided by the operations of `op`. Per get or per
    /// scan only where `op` is at least [`DEVICE_READS_OP_SHARE`] of the phase's operations
    /// (elsewhere the reads of the other operations would be billed to it); the read count
    /// only where the cgroup counted it. Bytes fall back to `read_bytes` of `/proc/self/io`
    /// for a run without a cgroup.
    pub fn device_reads_per(&self, op: Option<OpKind>) -> Option<(Option<f64>, f64)> {
        let count = |k: Option<OpKind>| self.latency_of(k).map_or(0, |l| l.summary.count);
        let n = count(op);
        let enough = match op {
            None => true,
            Some(OpKind::Read | OpKind::Scan) => {
                n as f64 >= DEVICE_READS_OP_SHARE * count(None) as f64
            }
            Some(_) => false,
        };
        if n == 0 || !enough {
            return None;
        }
        let n = n as f64;
        match self.device_reads {
            Some(d) => Some((Some(d.reads as f64 / n), d.bytes as f64 / n)),
            None => Some((None, self.amplification.proc_read_bytes? as f64 / n)),
        }
    }

    /// Latency of `op` (`None` = all types), if it ran.
    pub fn latency_of(&self, op: Option<OpKind>) -> Option<&OpLatency> {
        self.latency.iter().find(|l| l.op == op)
    }
}

/// Share of a phase's operations that gets (or scans) must make up for its device reads to
/// be given per get (or per scan).
pub const DEVICE_READS_OP_SHARE: f64 = 0.9;

/// Engine-specific figures by name, as found in `EngineStats::extra`.
pub type Extra = BTreeMap<String, f64>;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> RunResult {
        let summary = LatencySummary {
            count: 10,
            mean_ns: 1500.5,
            stdev_ns: 10.0,
            min_ns: 900,
            p50_ns: 1400,
            p90_ns: 2000,
            p99_ns: 3000,
            p999_ns: 3100,
            max_ns: 3200,
        };
        let mut stats = EngineStats::default();
        stats.extra.insert("tree_height".into(), 3.0);
        let phase = PhaseResult {
            phase: PhaseKind::Run,
            elapsed_secs: 2.5,
            warmup_secs: 0.0,
            threads: 2,
            target_rate: 1000.0,
            open_loop: true,
            operations: 10,
            errors: 0,
            error_samples: vec![],
            throughput: Throughput {
                ops_per_sec: 4.0,
                timeline: vec![TimelinePoint {
                    t_secs: 1.0,
                    interval_secs: 1.0,
                    ops: 4,
                    ops_per_sec: 4.0,
                    max_latency_ns: 3200,
                    p50_ns: 1400,
                    p99_ns: 3000,
                    p999_ns: 3100,
                    engine_bytes_written: 100,
                    compactions: 1,
                    disk_bytes: 4096,
                }],
                events: vec![EngineEvent {
                    t_secs: 1.0,
                    kind: "compaction".into(),
                    count: 1,
                    bytes_written: 50,
                }],
            },
            latency: vec![OpLatency {
                op: Some(OpKind::Read),
                summary,
                histogram: Histogram {
                    significant_figures: 3,
                    spectrum: vec![PercentilePoint {
                        percentile: 50.0,
                        value_ns: 1400,
                        count: 5,
                    }],
                    hdr_v2_base64: "HISTFAAAAB".into(),
                },
                service: Some(summary),
                hits: 9,
                misses: 1,
            }],
            amplification: Amplification {
                user_bytes_written: 1000,
                write_amp_engine: Some(1.5),
                space_amp: Some(1.2),
                settled: true,
                in_window: Some(InWindow {
                    engine_bytes_written: 500,
                    write_amp_engine: Some(0.5),
                    ..InWindow::default()
                }),
                ..Amplification::default()
            },
            cpu: CpuUsage {
                user_secs: 0.5,
                system_secs: 0.25,
                user_ns_per_op: 5e7,
                system_ns_per_op: 2.5e7,
            },
            peak_rss_bytes: 1 << 20,
            generated_ahead_bytes: 4096,
            settle_secs: Some(0.25),
            engine_stats: stats,
            engine_io: IoSnapshot::default(),
            proc_io: Some(ProcIo {
                wchar: 7,
                ..ProcIo::default()
            }),
            op_stream_digests: vec![1, 2],
            device_reads: Some(DeviceReadCount {
                reads: 4,
                bytes: 16384,
            }),
        };
        RunResult {
            schema_version: SCHEMA_VERSION,
            kvbench_version: "0.1.0".into(),
            run_id: "memory-ycsb-a-20260101T000000Z".into(),
            spec: WorkloadSpec::default(),
            engine: EngineInfo {
                name: "memory".into(),
                family: "reference".into(),
                description: "model".into(),
                persistent: false,
                counts_io: true,
                options: Options::default(),
            },
            durability: Durability::Sync,
            cold_cache: true,
            cold_cache_check: Some(ColdCache {
                file_bytes: 1 << 20,
                cached_bytes_after_drop: 4096,
                dropped: true,
                reopen_secs: 0.5,
            }),
            repetition: Some(Repetition {
                group: "memory-ycsb-a-20260101T000000Z".into(),
                index: 2,
                count: 3,
            }),
            partial: true,
            partial_reason: Some("interrupted".into()),
            environment: Environment {
                cpu_model: "cpu".into(),
                cores: 2,
                ..Environment::default()
            },
            phases: vec![phase],
            calibration: Some(Calibration {
                schema_version: SCHEMA_VERSION,
                fsync_latency: summary,
                seq_write_bytes_per_sec: 1e9,
                ..Calibration::default()
            }),
            notes: vec!["a note".into()],
            fidelity: vec!["a difference".into()],
            memory_cap: Some(MemoryCap {
                limit_bytes: 32 << 20,
                cgroup_version: 1,
                peak_bytes: Some(30 << 20),
                oom_kills: Some(0),
                cache_bytes: [("lsm.block_cache_bytes".to_string(), 6 << 20)].into(),
                device_reads: None,
            }),
        }
    }

    #[test]
    fn json_round_trip() {
        let r = sample();
        let text = serde_json::to_string_pretty(&r).unwrap();
        let back: RunResult = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        assert!(text.contains("\"schema_version\": 2"));
        assert!(
            text.contains("\"op\": \"read\""),
            "op kinds are snake_case names"
        );
        assert_eq!(
            back.phase(PhaseKind::Run).unwrap().latency[0].label(),
            "read"
        );
        assert!(back.phase(PhaseKind::Load).is_none());
    }

    #[test]
    fn device_reads_per_get_and_scan() {
        let mut r = sample();
        let p = &mut r.phases[0];
        // 10 gets (all the phase's operations), 4 device reads of 16 KiB in all.
        let mut all = p.latency[0].clone();
        all.op = None;
        p.latency.push(all);
        let get = Some(OpKind::Read);
        assert_eq!(p.device_reads_per(get), Some((Some(0.4), 1638.4)));
        assert_eq!(p.device_reads_per(None), Some((Some(0.4), 1638.4)));
        assert_eq!(p.device_reads_per(Some(OpKind::Scan)), None, "no scans ran");
        assert_eq!(p.device_reads_per(Some(OpKind::Update)), None);
        // 10 gets of 12 operations: below 90%, so the reads are not billed to gets.
        p.latency.last_mut().unwrap().summary.count = 12;
        assert_eq!(p.device_reads_per(get), None, "gets are not 90% of the ops");
        let per_op = p.device_reads_per(None).unwrap();
        assert!((per_op.0.unwrap() - 4.0 / 12.0).abs() < 1e-9);
        p.latency.last_mut().unwrap().summary.count = 10;
        p.device_reads = None;
        assert_eq!(p.device_reads_per(get), None, "no read_bytes either");
        p.amplification.proc_read_bytes = Some(8192);
        assert_eq!(p.device_reads_per(get), Some((None, 819.2)));
    }

    #[test]
    fn optional_fields_may_be_missing() {
        let mut v: serde_json::Value = serde_json::to_value(sample()).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("calibration");
        obj.remove("notes");
        obj.remove("fidelity");
        obj.remove("partial_reason");
        obj.remove("cold_cache_check");
        obj.remove("repetition");
        obj.remove("memory_cap");
        v["phases"][0]
            .as_object_mut()
            .unwrap()
            .remove("device_reads");
        let amp = v["phases"][0]["amplification"].as_object_mut().unwrap();
        for name in ["in_window", "settled", "allocated_bytes", "not_steady"] {
            amp.remove(name);
        }
        let back: RunResult = serde_json::from_value(v).unwrap();
        assert!(back.calibration.is_none() && back.notes.is_empty() && back.fidelity.is_empty());
        assert!(back.repetition.is_none() && back.memory_cap.is_none());
        assert!(back.phases[0].device_reads.is_none());
        let a = &back.phases[0].amplification;
        assert!(a.in_window.is_none() && !a.settled && !a.not_steady);
    }

    /// The field names the report reads are part of the schema: renaming one breaks old
    /// files. This pins them (adding fields is fine).
    #[test]
    fn field_names_are_stable() {
        let v = serde_json::to_value(sample()).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        for name in [
            "schema_version",
            "kvbench_version",
            "run_id",
            "spec",
            "engine",
            "durability",
            "cold_cache",
            "partial",
            "partial_reason",
            "environment",
            "phases",
            "calibration",
            "notes",
        ] {
            assert!(keys(&v).contains(&name.to_string()), "{name}");
        }
        let phase = &v["phases"][0];
        for name in [
            "phase",
            "elapsed_secs",
            "warmup_secs",
            "threads",
            "target_rate",
            "open_loop",
            "operations",
            "errors",
            "error_samples",
            "throughput",
            "latency",
            "amplification",
            "cpu",
            "peak_rss_bytes",
            "engine_stats",
            "engine_io",
            "proc_io",
            "op_stream_digests",
        ] {
            assert!(keys(phase).contains(&name.to_string()), "phase.{name}");
        }
        let lat = &phase["latency"][0];
        assert_eq!(
            keys(&lat["summary"]),
            [
                "count", "max_ns", "mean_ns", "min_ns", "p50_ns", "p90_ns", "p999_ns", "p99_ns",
                "stdev_ns"
            ]
        );
        assert_eq!(
            keys(&lat["histogram"]),
            ["hdr_v2_base64", "significant_figures", "spectrum"]
        );
        for name in [
            "write_amp_engine",
            "write_amp_proc",
            "write_amp_mismatch",
            "read_amp",
            "read_amp_bytes_per_read",
            "space_amp",
            "user_bytes_written",
            "disk_bytes",
            "live_bytes",
        ] {
            assert!(
                keys(&phase["amplification"]).contains(&name.to_string()),
                "amplification.{name}"
            );
        }
        assert_eq!(
            keys(&phase["throughput"]),
            ["events", "ops_per_sec", "timeline"]
        );
    }
}
