//! The workload spec: everything that decides which operations a run issues. The run phase's
//! operation stream is a pure function of a spec (its `seed` included) and the thread number,
//! so two engines given one spec see the same operations in the same order per thread.

use engines::Durability;
use serde::{Deserialize, Serialize};

/// One benchmark workload: a load phase that inserts `record_count` records, then a run
/// phase of `operation_count` operations (or `duration_secs` seconds) drawn from `mix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    /// Short name (a preset name, or the YCSB file's stem).
    pub name: String,
    /// One line on what the workload does.
    #[serde(default)]
    pub description: String,
    /// Records inserted by the load phase (YCSB `recordcount`); 0 skips the load phase.
    pub record_count: u64,
    /// Operations of the run phase, over all threads (YCSB `operationcount`); 0 = no count
    /// limit (then `duration_secs` must be set).
    pub operation_count: u64,
    /// Upper bound on the run phase's measured time in seconds; 0 = no time limit.
    #[serde(default)]
    pub duration_secs: f64,
    /// Run-phase operations issued (from the same stream) before measuring starts, over all
    /// threads. They are not part of any metric.
    #[serde(default)]
    pub warmup_ops: u64,
    /// Proportions of each operation type in the run phase; they sum to 1.
    pub mix: OpMix,
    /// How the run phase chooses existing keys (YCSB `requestdistribution`).
    pub distribution: KeyDistribution,
    /// Key layout: `prefix` + the record number in decimal, zero-padded.
    pub key: KeySpec,
    /// Value length in bytes (YCSB: `fieldcount` x `fieldlength`).
    pub value_size: SizeSpec,
    /// Items per scan (YCSB `minscanlength`/`maxscanlength`/`scanlengthdistribution`).
    pub scan_length: ScanLength,
    /// Whether record numbers are hashed before they become keys (YCSB `insertorder`).
    pub insert_order: InsertOrder,
    /// Worker threads in both phases.
    pub threads: u32,
    /// Target operations per second over all threads in the run phase; 0 = as fast as
    /// possible (closed loop). Above 0 the runner is open loop: latency counts from each
    /// operation's intended start time.
    #[serde(default)]
    pub target_rate: f64,
    /// Durability mode the engine is opened with.
    pub durability: Durability,
    /// Seed of every random choice of the workload.
    pub seed: u64,
}

/// Proportions of operation types in the run phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OpMix {
    /// Point reads of an existing key.
    pub read: f64,
    /// Overwrites of an existing key with a new value.
    pub update: f64,
    /// Inserts of a new key (the key space grows).
    pub insert: f64,
    /// A read of an existing key followed by a write of the same key.
    pub read_modify_write: f64,
    /// Range reads starting at an existing key.
    pub scan: f64,
    /// Deletes of an existing key.
    pub delete: f64,
}

impl OpMix {
    /// The proportions in `OpKind::ALL` order.
    pub fn weights(&self) -> [f64; 6] {
        [
            self.read,
            self.update,
            self.insert,
            self.read_modify_write,
            self.scan,
            self.delete,
        ]
    }

    pub fn sum(&self) -> f64 {
        self.weights().iter().sum()
    }

    /// True when the run phase writes (so `sync` mode fsyncs in it).
    pub fn writes(&self) -> bool {
        self.update + self.insert + self.read_modify_write + self.delete > 0.0
    }
}

/// The operation types of the run phase (plus the load phase's inserts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Read,
    Update,
    Insert,
    ReadModifyWrite,
    Scan,
    Delete,
}

impl OpKind {
    pub const ALL: [OpKind; 6] = [
        OpKind::Read,
        OpKind::Update,
        OpKind::Insert,
        OpKind::ReadModifyWrite,
        OpKind::Scan,
        OpKind::Delete,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Update => "update",
            OpKind::Insert => "insert",
            OpKind::ReadModifyWrite => "read_modify_write",
            OpKind::Scan => "scan",
            OpKind::Delete => "delete",
        }
    }

    /// Position in `ALL`.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How existing keys are chosen. Record numbers run from 0 to the current key count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyDistribution {
    /// Every existing record equally likely (loaded and inserted so far; YCSB draws from
    /// the loaded records only).
    Uniform,
    /// Gray et al.'s zipfian over the record numbers: record 0 is the most popular.
    Zipfian { constant: f64 },
    /// YCSB's `zipfian`: a zipfian over 10^10 items hashed into the key space, so popular
    /// keys are scattered.
    ScrambledZipfian { constant: f64 },
    /// Zipfian over recency: the most recently inserted records are the most popular.
    Latest { constant: f64 },
    /// Record numbers in order, each thread from its own starting point, wrapping around.
    Sequential,
    /// `hot_op_fraction` of operations go to the first `hot_data_fraction` of the records.
    Hotspot {
        hot_data_fraction: f64,
        hot_op_fraction: f64,
    },
}

/// Longest run phase, seconds (a week).
pub const MAX_DURATION_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// Longest an open-loop run bounded by its operation count alone may be planned to take.
pub const MAX_UNBOUNDED_SECS: f64 = 24.0 * 3600.0;

/// YCSB's default zipfian constant.
pub const ZIPFIAN_CONSTANT: f64 = 0.99;

/// Key layout: `prefix` followed by the (possibly hashed) record number in decimal,
/// zero-padded to `padding` digits, then zero-padded further to reach `size` bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeySpec {
    /// Bytes before the number (YCSB: `user`).
    pub prefix: String,
    /// Minimum digits of the number (YCSB `zeropadding`, default 1).
    pub padding: u32,
    /// Minimum total key length in bytes, per record (fixed or a deterministic range); keys
    /// whose prefix and digits are longer keep their length, so keys stay unique.
    pub size: Option<SizeSpec>,
}

impl Default for KeySpec {
    fn default() -> Self {
        KeySpec {
            prefix: "user".into(),
            padding: 1,
            size: None,
        }
    }
}

/// A length in bytes: fixed, or uniform in an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SizeSpec {
    Fixed { bytes: u32 },
    Uniform { min: u32, max: u32 },
}

impl SizeSpec {
    pub fn max(self) -> u32 {
        match self {
            SizeSpec::Fixed { bytes } => bytes,
            SizeSpec::Uniform { max, .. } => max,
        }
    }

    pub fn min(self) -> u32 {
        match self {
            SizeSpec::Fixed { bytes } => bytes,
            SizeSpec::Uniform { min, .. } => min,
        }
    }
}

/// Items per scan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScanLength {
    /// Shortest scan (YCSB `minscanlength`, default 1).
    pub min: u32,
    /// Longest scan (YCSB `maxscanlength`, default 1000).
    pub max: u32,
    pub distribution: ScanLengthDistribution,
}

impl Default for ScanLength {
    fn default() -> Self {
        ScanLength {
            min: 1,
            max: 1000,
            distribution: ScanLengthDistribution::Uniform,
        }
    }
}

/// How the scan length is drawn between `min` and `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanLengthDistribution {
    /// Always `max`.
    Fixed,
    Uniform,
    /// Zipfian (constant 0.99): short scans are the most common.
    Zipfian,
}

/// Whether keys are inserted in record-number order or scattered by a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsertOrder {
    /// Record number hashed with 64-bit FNV-1a (YCSB's default).
    Hashed,
    /// Record number as is: keys arrive in ascending order (with equal digit counts).
    Ordered,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            name: "custom".into(),
            description: String::new(),
            record_count: 1000,
            operation_count: 1000,
            duration_secs: 0.0,
            warmup_ops: 0,
            mix: OpMix {
                read: 0.95,
                update: 0.05,
                ..OpMix::default()
            },
            distribution: KeyDistribution::ScrambledZipfian {
                constant: ZIPFIAN_CONSTANT,
            },
            key: KeySpec::default(),
            value_size: SizeSpec::Fixed { bytes: 1000 },
            scan_length: ScanLength::default(),
            insert_order: InsertOrder::Hashed,
            threads: 1,
            target_rate: 0.0,
            durability: Durability::None,
            seed: 42,
        }
    }
}

impl WorkloadSpec {
    /// Checks that the spec can be run; the error names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        let m = self.mix;
        for (name, w) in OpKind::ALL.iter().map(|k| k.name()).zip(m.weights()) {
            if !(0.0..=1.0).contains(&w) {
                return Err(format!("proportion of {name} is {w}: must be in 0..=1"));
            }
        }
        if (m.sum() - 1.0).abs() > 1e-6 {
            return Err(format!(
                "operation proportions sum to {}, not 1 (read {}, update {}, insert {}, read-modify-write {}, scan {}, delete {})",
                m.sum(), m.read, m.update, m.insert, m.read_modify_write, m.scan, m.delete
            ));
        }
        if self.operation_count == 0 && self.duration_secs <= 0.0 {
            return Err("the run phase needs an operation count or a duration".into());
        }
        if !(0.0..=MAX_DURATION_SECS).contains(&self.duration_secs) {
            return Err(format!(
                "duration {} s: must be 0 to {MAX_DURATION_SECS} seconds (a week)",
                self.duration_secs
            ));
        }
        if self.threads == 0 || self.threads > 1024 {
            return Err(format!("threads = {}: must be 1 to 1024", self.threads));
        }
        if !self.target_rate.is_finite() || self.target_rate < 0.0 {
            return Err(format!(
                "target rate {} must be 0 or positive",
                self.target_rate
            ));
        }
        // An open-loop run bounded by count alone lasts count / rate: one that would outlast
        // a day is a mistake (a rate per millisecond taken for one per second, say).
        if self.target_rate > 0.0 && !self.timed() {
            let secs = self.operation_count as f64 / self.target_rate;
            if secs > MAX_UNBOUNDED_SECS {
                return Err(format!(
                    "{} operations at a target rate of {} ops/s would take {:.0} s ({:.1} hours), longer than the {} hours a run without a duration may take: raise the rate or give a duration",
                    self.operation_count,
                    self.target_rate,
                    secs,
                    secs / 3600.0,
                    MAX_UNBOUNDED_SECS / 3600.0
                ));
            }
        }
        let needs_keys = m.read + m.update + m.read_modify_write + m.scan + m.delete > 0.0;
        if needs_keys && self.record_count == 0 && m.insert == 0.0 {
            return Err("the run phase reads or changes existing keys but record_count is 0 and nothing is inserted".into());
        }
        match self.distribution {
            KeyDistribution::Zipfian { constant }
            | KeyDistribution::ScrambledZipfian { constant }
            | KeyDistribution::Latest { constant } => {
                if !(constant > 0.0 && constant < 1.0) {
                    return Err(format!(
                        "zipfian constant {constant}: must be in (0, 1) (Gray et al.'s generator)"
                    ));
                }
            }
            KeyDistribution::Hotspot {
                hot_data_fraction: d,
                hot_op_fraction: o,
            } => {
                if !(0.0..=1.0).contains(&d) || !(0.0..=1.0).contains(&o) {
                    return Err(format!(
                        "hotspot fractions must be in 0..=1 (data {d}, operations {o})"
                    ));
                }
            }
            KeyDistribution::Uniform | KeyDistribution::Sequential => {}
        }
        check_size(
            "value size",
            self.value_size,
            engines::MAX_VALUE_LEN as u64,
            0,
        )?;
        if let Some(size) = self.key.size {
            check_size("key size", size, engines::MAX_KEY_LEN as u64, 1)?;
        }
        if self.key.prefix.len() + self.key.padding as usize > engines::MAX_KEY_LEN - 20 {
            return Err("key prefix and padding leave no room for the record number".into());
        }
        let s = self.scan_length;
        if s.min == 0 || s.min > s.max || s.max > 1_000_000 {
            return Err(format!(
                "scan length {}..={}: must satisfy 1 <= min <= max <= 1000000",
                s.min, s.max
            ));
        }
        Ok(())
    }

    /// True when the run phase is bounded by time rather than (only) by count.
    pub fn timed(&self) -> bool {
        self.duration_secs > 0.0
    }
}

fn check_size(what: &str, s: SizeSpec, max: u64, min: u64) -> Result<(), String> {
    let (lo, hi) = (s.min() as u64, s.max() as u64);
    if lo > hi || hi > max || lo < min {
        return Err(format!(
            "{what} {lo}..={hi}: must satisfy {min} <= min <= max <= {max}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_bad_mix_is_named() {
        let s = WorkloadSpec::default();
        s.validate().unwrap();
        let mut bad = s.clone();
        bad.mix.read = 0.5;
        let e = bad.validate().unwrap_err();
        assert!(e.contains("sum to 0.55"), "{e}");
        let mut bad = s;
        bad.threads = 0;
        assert!(bad.validate().unwrap_err().contains("threads"));
    }

    #[test]
    fn spec_json_round_trip() {
        let s = WorkloadSpec {
            distribution: KeyDistribution::Hotspot {
                hot_data_fraction: 0.2,
                hot_op_fraction: 0.8,
            },
            value_size: SizeSpec::Uniform { min: 10, max: 20 },
            ..WorkloadSpec::default()
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<WorkloadSpec>(&text).unwrap(), s);
    }
}
