//! What a workload named after YCSB or db_bench does differently from the tool, one line per
//! deliberate difference, so that a result (and the report) says it where a user of the tool
//! would otherwise assume the tool's behaviour. Everything not listed is meant to be as the
//! tool does it: YCSB's keys, FNV hashing, zero padding, insert orders, proportions,
//! request distributions (the scrambled zipfian over 10^10 items, `latest` from the newest
//! acknowledged insert of all threads, `uniform` and `hotspot` over the loaded records), scan
//! lengths, records of fields and updates of one field; db_bench's keys, value bytes,
//! `fillrandom`/`filluniquerandom`/`fillseq` orders and `readseq`'s iterator walk.

use crate::spec::{
    Fields, Fill, KeyDistribution, KeyFormat, ScanLengthDistribution, ValueContent, WorkloadSpec,
};

/// The tool a workload follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Ycsb,
    DbBench,
    /// kvbench's own workloads (YCSB's keys and key choice, plain values).
    Own,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Ycsb => "YCSB",
            Tool::DbBench => "db_bench",
            Tool::Own => "no tool (kvbench's own workload)",
        }
    }
}

/// The tool `spec` follows: db_bench's keys make a db_bench workload, YCSB's records a YCSB
/// one.
pub fn tool(spec: &WorkloadSpec) -> Tool {
    if spec.key.format == KeyFormat::DbBench {
        Tool::DbBench
    } else if spec.fields.is_some() {
        Tool::Ycsb
    } else {
        Tool::Own
    }
}

/// The deliberate differences of `spec` from its tool, one line each.
pub fn differences(spec: &WorkloadSpec) -> Vec<String> {
    match tool(spec) {
        Tool::Ycsb => ycsb(spec, spec.fields.as_ref().expect("YCSB records have fields")),
        Tool::DbBench => db_bench(spec),
        Tool::Own => vec![format!(
            "kvbench's own workload: YCSB's keys and key choice, one value of {} per record, no fields",
            values(spec.values)
        )],
    }
}

fn values(v: ValueContent) -> String {
    match v {
        ValueContent::Random => "random bytes (incompressible)".into(),
        ValueContent::YcsbText => "YCSB's random characters".into(),
        ValueContent::Compressible { ratio } => {
            format!("db_bench's pieces compressible to {ratio} of their size")
        }
    }
}

fn ycsb(spec: &WorkloadSpec, f: &Fields) -> Vec<String> {
    let mut out = Vec::new();
    let name_len = f.name_prefix.len() + 1;
    let bytes = f.count as u64 * (8 + name_len as u64 + spec.value_size.max() as u64);
    out.push(format!(
        "records are stored as YCSB's key-value bindings (RocksDB, LevelDB) serialise them: {} fields of up to {} bytes, {} bytes per record with names and lengths, fields in number order (the bindings follow their hash map's order)",
        f.count,
        spec.value_size.max(),
        bytes
    ));
    if spec.values == ValueContent::YcsbText {
        out.push("field bytes are YCSB's random characters, cut from 4 MiB made once per run (YCSB draws new ones for every write)".into());
    } else {
        out.push(format!(
            "field bytes are {}, not YCSB's random characters",
            values(spec.values)
        ));
    }
    let updates = spec.mix.update > 0.0;
    let rmw = spec.mix.read_modify_write > 0.0;
    if updates && f.write_all {
        out.push("writeallfields=true: an update puts the whole new record without reading it (YCSB's RocksDB binding reads it first anyway)".into());
    }
    if rmw {
        out.push(if f.write_all {
            "read-modify-write: one get, then a put of the whole new record (YCSB's RocksDB binding gets the record again inside its update)".into()
        } else {
            "read-modify-write: one get, then a put of the record with one field changed (YCSB's RocksDB binding gets the record again inside its update)".into()
        });
    }
    if !f.read_all && (spec.mix.read + spec.mix.scan + spec.mix.read_modify_write) > 0.0 {
        out.push("readallfields=false: reads fetch the whole record, as a key-value binding does; only the field kept differs".into());
    }
    if spec.distribution == KeyDistribution::Sequential && spec.threads > 1 {
        out.push("sequential: each thread walks its own share of the loaded records from its own starting point (YCSB's threads share one counter)".into());
    }
    let grows = spec.mix.insert > 0.0;
    if grows && matches!(spec.distribution, KeyDistribution::Latest { .. }) {
        out.push("latest: Gray's eta is recomputed as inserts add records (YCSB keeps its first record count's, a difference under 0.1%)".into());
    }
    if grows
        && spec.timed()
        && spec.operation_count == 0
        && matches!(spec.distribution, KeyDistribution::ScrambledZipfian { .. })
    {
        out.push("zipfian bounded by time alone: no inserts are expected when sizing its key space (YCSB sizes it from operationcount)".into());
    }
    if spec.target_rate > 0.0 && spec.threads > 1 {
        out.push("target rate: the threads' first operations are spread evenly over one interval (YCSB delays each by a random part of it)".into());
    }
    out
}

fn db_bench(spec: &WorkloadSpec) -> Vec<String> {
    let mut out = Vec::new();
    if spec.record_count > 0 {
        out.push(format!(
            "the store is first filled with every key of 0..{} once, in random order (db_bench's filluniquerandom); db_bench's read benchmarks run on whatever an earlier benchmark left",
            spec.record_count
        ));
    }
    match spec.values {
        ValueContent::Compressible { ratio } => out.push(format!(
            "value bytes: db_bench's 100-byte pieces compressible to {ratio} from a 1 MiB buffer, made from kvbench's seed (db_bench's from Random(301))"
        )),
        v => out.push(format!("value bytes: {}, not db_bench's compressible pieces", values(v))),
    }
    if spec.is_walk() {
        out.push("readseq: an operation is one walk over the store, one scan call returning every record (db_bench counts each entry as an operation: its ops/s is the scanned items per second)".into());
    }
    if spec.scan_length.distribution == ScanLengthDistribution::Fixed
        && spec.scan_length.max == 1
        && spec.mix.scan > 0.0
    {
        out.push("seekrandom: a seek is a scan of one record (db_bench's --seek_nexts=0 reads the entry it lands on)".into());
    }
    if spec.threads > 1 && spec.is_fill() {
        out.push(match spec.fill {
            Fill::New => "fillseq with several threads: the threads write one ascending sequence between them (each of db_bench's threads writes all of 0..num)".into(),
            _ => "fill with several threads: the threads share the writes and the key space (each of db_bench's threads makes num writes of its own)".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::{preset, PRESETS};

    #[test]
    fn every_preset_states_its_tool_and_differences() {
        for p in PRESETS {
            let s = p.spec();
            let lines = differences(&s);
            assert!(!lines.is_empty(), "{}", p.name);
            assert!(lines.iter().all(|l| !l.contains('\n')), "{}", p.name);
        }
        let a = differences(&preset("ycsb-a").unwrap());
        assert!(a[0].contains("1140 bytes per record"), "{a:?}");
        let f = differences(&preset("ycsb-f").unwrap());
        assert!(
            f.iter().any(|l| l.starts_with("read-modify-write")),
            "{f:?}"
        );
        assert!(differences(&preset("readseq").unwrap())
            .iter()
            .any(|l| l.starts_with("readseq")));
        assert_eq!(tool(&preset("read-heavy").unwrap()), Tool::Own);
    }
}
