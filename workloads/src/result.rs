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

/// Version of this schema, stored in every result file.
pub const SCHEMA_VERSION: u32 = 1;

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
    /// True when the engine's files were dropped from the page cache between load and run.
    pub cold_cache: bool,
    /// True when the run did not finish (interrupted by Ctrl-C, or an engine error); the
    /// figures cover what ran, see `partial_reason`.
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
    /// Measured wall time (warm-up excluded), seconds.
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
    /// CPU time of the process during the phase.
    pub cpu: CpuUsage,
    /// Peak resident set size of the process at the end of the phase, bytes (`ru_maxrss`).
    pub peak_rss_bytes: u64,
    /// Engine statistics at the end of the phase (cumulative since open, incl. `extra`).
    pub engine_stats: EngineStats,
    /// The engine's I/O counters over the phase alone.
    pub engine_io: IoSnapshot,
    /// The kernel's `/proc/self/io` counters over the phase, when readable.
    #[serde(default)]
    pub proc_io: Option<ProcIo>,
    /// Per thread: an FNV-1a digest of the operations issued (type, key, length), so two
    /// results can show they ran the same operation stream.
    #[serde(default)]
    pub op_stream_digests: Vec<u64>,
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

/// Amplification figures of a phase (design.md, "Words").
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
    /// Bytes the process passed to write-like syscalls (`/proc/self/io` wchar).
    #[serde(default)]
    pub proc_wchar: Option<u64>,
    /// Bytes the process caused to be sent to the storage layer (`write_bytes`), where the
    /// kernel reports it (not on tmpfs; delayed by writeback).
    #[serde(default)]
    pub proc_write_bytes: Option<u64>,
    /// `engine_bytes_written / user_bytes_written`.
    #[serde(default)]
    pub write_amp_engine: Option<f64>,
    /// `proc_wchar / user_bytes_written`.
    #[serde(default)]
    pub write_amp_proc: Option<f64>,
    /// `proc_write_bytes / user_bytes_written` (device-level, includes file-system overhead).
    #[serde(default)]
    pub write_amp_device: Option<f64>,
    /// True when the engine and `/proc/self/io` write figures differ by more than 10% (and by
    /// more than 64 KiB, the harness's own output); `notes` then explains.
    #[serde(default)]
    pub write_amp_mismatch: bool,
    /// `engine_bytes_read / logical_reads`: bytes read from files per logical read.
    #[serde(default)]
    pub read_amp_bytes_per_read: Option<f64>,
    /// `engine_bytes_read / user_bytes_read`.
    #[serde(default)]
    pub read_amp: Option<f64>,
    /// Bytes of the data directory at the end of the phase (`dir_size`).
    pub disk_bytes: u64,
    /// Key + value bytes of the live data at the end of the phase (by a full scan).
    #[serde(default)]
    pub live_bytes: Option<u64>,
    /// Live keys at the end of the phase (by the same scan).
    #[serde(default)]
    pub live_keys: Option<u64>,
    /// `disk_bytes / live_bytes` (absent for engines without files).
    #[serde(default)]
    pub space_amp: Option<f64>,
}

impl Amplification {
    /// Write amplification by the engine's own count where our counters see its I/O, by the
    /// kernel's (`/proc/self/io` wchar) otherwise (the production engines).
    pub fn write_amp(&self) -> Option<f64> {
        self.write_amp_engine.or(self.write_amp_proc)
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
    /// Operations per second of the `memory` engine, one thread, read-heavy: the harness's
    /// floor (no engine here can be faster through this harness).
    pub memory_engine_ops_per_sec: f64,
    /// Harness overhead per operation: `1e9 / memory_engine_ops_per_sec`, ns.
    pub harness_ns_per_op: f64,
}

impl RunResult {
    /// The phase of `kind`, if it ran.
    pub fn phase(&self, kind: PhaseKind) -> Option<&PhaseResult> {
        self.phases.iter().find(|p| p.phase == kind)
    }
}

impl PhaseResult {
    /// Latency of `op` (`None` = all types), if it ran.
    pub fn latency_of(&self, op: Option<OpKind>) -> Option<&OpLatency> {
        self.latency.iter().find(|l| l.op == op)
    }
}

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
                ..Amplification::default()
            },
            cpu: CpuUsage {
                user_secs: 0.5,
                system_secs: 0.25,
                user_ns_per_op: 5e7,
                system_ns_per_op: 2.5e7,
            },
            peak_rss_bytes: 1 << 20,
            engine_stats: stats,
            engine_io: IoSnapshot::default(),
            proc_io: Some(ProcIo {
                wchar: 7,
                ..ProcIo::default()
            }),
            op_stream_digests: vec![1, 2],
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
        }
    }

    #[test]
    fn json_round_trip() {
        let r = sample();
        let text = serde_json::to_string_pretty(&r).unwrap();
        let back: RunResult = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        assert!(text.contains("\"schema_version\": 1"));
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
    fn optional_fields_may_be_missing() {
        let mut v: serde_json::Value = serde_json::to_value(sample()).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("calibration");
        obj.remove("notes");
        obj.remove("partial_reason");
        let back: RunResult = serde_json::from_value(v).unwrap();
        assert!(back.calibration.is_none() && back.notes.is_empty());
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
