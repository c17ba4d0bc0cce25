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
    /// Upper bound on the load phase in seconds; 0 = none. A load that reaches it ends the
    /// run there: the result is partial and has no run phase.
    #[serde(default)]
    pub load_duration_secs: f64,
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
    /// Which record each insert writes, and the order of the load (db_bench's fill modes).
    #[serde(default)]
    pub fill: Fill,
    /// db_bench's `--num` for a fill of an empty store: the key space `fillrandom` and
    /// `filluniquerandom` write into; 0 = the operation count (db_bench's default).
    #[serde(default)]
    pub fill_keys: u64,
    /// YCSB `insertstart`: the first record the load inserts (and the run chooses from).
    #[serde(default)]
    pub insert_start: u64,
    /// YCSB `insertcount`: how many records the load inserts from `insert_start`; `None` =
    /// `record_count - insert_start`.
    #[serde(default)]
    pub insert_count: Option<u64>,
    /// YCSB's records of named fields, stored serialised as YCSB's key-value bindings store
    /// them; `None`: each record is one value of `value_size` bytes.
    #[serde(default)]
    pub fields: Option<Fields>,
    /// What the bytes of values look like, which decides how well they compress.
    #[serde(default)]
    pub values: ValueContent,
}

/// Which record each insert writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// The load inserts its records in order, each run-phase insert the next new record
    /// (YCSB's load and inserts; db_bench's `fillseq`).
    #[default]
    New,
    /// Every record of the key space once, in a random order (db_bench's
    /// `filluniquerandom`); the load of a store for db_bench's read benchmarks.
    Shuffled,
    /// Records drawn uniformly from the key space, with repeats: `rand % num` (db_bench's
    /// `fillrandom`).
    Random,
}

/// A record of YCSB's: `count` fields named `name_prefix` + 0, 1, ..., each of a length drawn
/// from the spec's `value_size` (`fieldlength`, with `minfieldlength` as the minimum of a
/// range). Stored as YCSB's key-value bindings (RocksDB, LevelDB) serialise it: for each field
/// a 4-byte big-endian name length, the name, a 4-byte big-endian value length, the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fields {
    /// YCSB `fieldcount`.
    pub count: u32,
    /// How field lengths are drawn between `value_size`'s minimum and maximum (YCSB
    /// `fieldlengthdistribution`).
    pub lengths: FieldLengths,
    /// YCSB `fieldnameprefix`.
    pub name_prefix: String,
    /// YCSB `readallfields`: a read wants every field (true) or one (false). A key-value
    /// binding reads the whole record either way; only what the client keeps differs.
    pub read_all: bool,
    /// YCSB `writeallfields`: an update (and the write of a read-modify-write) writes every
    /// field anew (true), or changes one field (false), which a key-value binding does by
    /// reading the record, changing the field and writing the record back.
    pub write_all: bool,
}

impl Default for Fields {
    /// YCSB's defaults: 10 fields, constant lengths, `field0`.., all read, one written.
    fn default() -> Self {
        Fields {
            count: 10,
            lengths: FieldLengths::Constant,
            name_prefix: "field".into(),
            read_all: true,
            write_all: false,
        }
    }
}

/// YCSB's `fieldlengthdistribution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldLengths {
    /// Every field `value_size` bytes (a fixed size).
    Constant,
    /// Uniform over `value_size`'s range.
    Uniform,
    /// Zipfian over `value_size`'s range: short fields are the most common.
    Zipfian,
}

/// The bytes of values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValueContent {
    /// Uniformly random bytes: incompressible.
    #[default]
    Random,
    /// YCSB's `RandomByteIterator`: printable characters, six from each 32-bit random number
    /// (they compress somewhat).
    YcsbText,
    /// db_bench's: 100-byte pieces, each `ratio` x 100 random printable characters repeated
    /// to fill it, so that a value compresses to about `ratio` of its size
    /// (`--compression_ratio`, 0.5 by default).
    Compressible { ratio: f64 },
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
    /// whose prefix and digits are longer keep their length, so keys stay unique. For
    /// db_bench keys: the key size (16 when unset).
    pub size: Option<SizeSpec>,
    /// YCSB's keys (`prefix` and decimal digits) or db_bench's.
    #[serde(default)]
    pub format: KeyFormat,
}

/// How a record number becomes a key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// YCSB: `prefix` + the (possibly hashed) record number in decimal, zero-padded.
    #[default]
    Ycsb,
    /// db_bench: the record number as 8 big-endian bytes (its low `size` bytes when the key is
    /// shorter), padded with `'0'` to the key size.
    DbBench,
}

/// db_bench's default `--key_size`.
pub const DB_BENCH_KEY_SIZE: u32 = 16;

impl Default for KeySpec {
    fn default() -> Self {
        KeySpec {
            prefix: "user".into(),
            padding: 1,
            size: None,
            format: KeyFormat::Ycsb,
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
    /// db_bench's `readseq`: one iterator walk from the first key over every loaded record
    /// (one scan as long as the store; keys must be in insert order).
    Walk,
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
            load_duration_secs: 0.0,
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
            fill: Fill::New,
            fill_keys: 0,
            insert_start: 0,
            insert_count: None,
            fields: None,
            values: ValueContent::Random,
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
        if !(0.0..=MAX_DURATION_SECS).contains(&self.load_duration_secs) {
            return Err(format!(
                "load duration {} s: must be 0 to {MAX_DURATION_SECS} seconds (a week)",
                self.load_duration_secs
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
        match self.key.format {
            KeyFormat::Ycsb => {
                if self.key.prefix.len() + self.key.padding as usize > engines::MAX_KEY_LEN - 20 {
                    return Err("key prefix and padding leave no room for the record number".into());
                }
            }
            KeyFormat::DbBench => self.check_db_bench_keys()?,
        }
        let s = self.scan_length;
        if s.distribution == ScanLengthDistribution::Walk {
            if self.insert_order != InsertOrder::Ordered {
                return Err("a walk over the store (readseq) needs keys in insert order (insertorder=ordered): it starts at the first record's key".into());
            }
        } else if s.min == 0 || s.min > s.max || s.max > 1_000_000 {
            return Err(format!(
                "scan length {}..={}: must satisfy 1 <= min <= max <= 1000000",
                s.min, s.max
            ));
        }
        self.check_loaded_range()?;
        self.check_fill()?;
        if let Some(f) = &self.fields {
            self.check_fields(f)?;
        }
        if let ValueContent::Compressible { ratio } = self.values {
            if !(ratio > 0.0 && ratio <= 1.0) {
                return Err(format!(
                    "compression ratio {ratio}: must be above 0 and at most 1"
                ));
            }
        }
        Ok(())
    }

    /// The records the load inserts: `(first, count)` (YCSB `insertstart`, `insertcount`).
    pub fn loaded(&self) -> (u64, u64) {
        let count = self
            .insert_count
            .unwrap_or_else(|| self.record_count.saturating_sub(self.insert_start));
        (self.insert_start, count)
    }

    /// The key space of a db_bench fill (`--num`): `fill_keys`, or the operation count.
    pub fn fill_num(&self) -> u64 {
        if self.fill_keys > 0 {
            self.fill_keys
        } else {
            self.operation_count
        }
    }

    /// True for db_bench's `readseq`: each operation is a walk over the whole store.
    pub fn is_walk(&self) -> bool {
        self.scan_length.distribution == ScanLengthDistribution::Walk
    }

    /// True for a fill: the run phase only inserts.
    pub fn is_fill(&self) -> bool {
        self.mix.insert >= 1.0
    }

    fn check_loaded_range(&self) -> Result<(), String> {
        let (start, count) = self.loaded();
        match start.checked_add(count) {
            Some(end) if end <= self.record_count => Ok(()),
            _ => Err(format!(
                "insertstart {start} + insertcount {count} is beyond recordcount {}: the records this instance loads must lie in the key space",
                self.record_count
            )),
        }
    }

    fn check_fill(&self) -> Result<(), String> {
        if self.fill == Fill::New || self.mix.insert == 0.0 {
            return Ok(());
        }
        if !self.is_fill() {
            return Err(format!(
                "a {} fill writes only: its inserts draw from a key space, which other operations cannot follow (insert proportion {})",
                match self.fill {
                    Fill::Random => "random",
                    _ => "shuffled",
                },
                self.mix.insert
            ));
        }
        if self.fill_num() == 0 {
            return Err("a fill bounded by time needs its key space (db_bench's --num): give the record count".into());
        }
        Ok(())
    }

    fn check_db_bench_keys(&self) -> Result<(), String> {
        let size = match self.key.size {
            None => DB_BENCH_KEY_SIZE,
            Some(SizeSpec::Fixed { bytes }) => bytes,
            Some(SizeSpec::Uniform { .. }) => {
                return Err("db_bench keys have one size: give the key size as one number".into())
            }
        };
        if size < 8 {
            // The key holds the record number's low `size` bytes: more records would repeat keys.
            let records = self
                .record_count
                .saturating_add(self.fill_num())
                .saturating_add(self.operation_count);
            if records > 1u64 << (8 * size) {
                return Err(format!(
                    "key size {size}: db_bench keys of {size} bytes tell apart {} records, fewer than this workload may write",
                    1u64 << (8 * size)
                ));
            }
        }
        Ok(())
    }

    fn check_fields(&self, f: &Fields) -> Result<(), String> {
        if f.count == 0 || f.count > 1 << 16 {
            return Err(format!("field count {}: must be 1 to 65536", f.count));
        }
        if f.name_prefix.len() > 100 {
            return Err("field name prefix: at most 100 bytes".into());
        }
        if f.lengths == FieldLengths::Constant && self.value_size.min() != self.value_size.max() {
            return Err("constant field lengths need one field length, not a range".into());
        }
        // Each field: 4 + name + 4 + value bytes.
        let name = f.name_prefix.len() as u64 + 5;
        let record = f.count as u64 * (8 + name + self.value_size.max() as u64);
        if record > engines::MAX_VALUE_LEN as u64 {
            return Err(format!(
                "records of {} fields of up to {} bytes take up to {record} bytes serialised, above the {} byte value limit",
                f.count,
                self.value_size.max(),
                engines::MAX_VALUE_LEN
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
