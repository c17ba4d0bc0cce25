//! The named workloads `kvbench workloads` lists: three trade-off workloads, YCSB's core
//! workloads A to F as YCSB's core-workload files and CoreWorkload's defaults make them
//! (records of 10 fields of 100 bytes, updates of one field, YCSB's value bytes), and
//! db_bench's benchmarks as `db_bench_tool.cc` runs them (16-byte keys of the big-endian
//! record number, 100-byte values that compress to half, `fillrandom` drawing `rand % num`,
//! `readseq` one iterator walk). Sizes here are defaults; the CLI's `--records`, `--ops`,
//! `--duration` and `--scale` override them. What still differs from the tool a workload is
//! named after is listed by [`crate::fidelity`].

use crate::spec::{
    Fields, Fill, InsertOrder, KeyDistribution, KeyFormat, KeySpec, OpMix, ScanLength,
    ScanLengthDistribution, SizeSpec, ValueContent, WorkloadSpec, ZIPFIAN_CONSTANT,
};

/// A named workload.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    /// One line for `kvbench workloads`.
    pub summary: &'static str,
    build: fn() -> WorkloadSpec,
}

impl Preset {
    /// The preset's spec (default sizes).
    pub fn spec(&self) -> WorkloadSpec {
        let mut s = (self.build)();
        s.name = self.name.to_string();
        s.description = self.summary.to_string();
        s
    }
}

const ZIPF: KeyDistribution = KeyDistribution::ScrambledZipfian {
    constant: ZIPFIAN_CONSTANT,
};

fn mix(read: f64, update: f64, insert: f64, rmw: f64, scan: f64, delete: f64) -> OpMix {
    OpMix {
        read,
        update,
        insert,
        read_modify_write: rmw,
        scan,
        delete,
    }
}

/// Trade-off workloads: 100-byte values, YCSB keys.
fn tradeoff(m: OpMix) -> WorkloadSpec {
    WorkloadSpec {
        record_count: 100_000,
        operation_count: 100_000,
        mix: m,
        distribution: ZIPF,
        value_size: SizeSpec::Fixed { bytes: 100 },
        ..WorkloadSpec::default()
    }
}

/// YCSB core workloads: records of 10 fields of 100 bytes (CoreWorkload's defaults), hashed
/// keys, YCSB's value bytes.
fn ycsb(m: OpMix, dist: KeyDistribution) -> WorkloadSpec {
    WorkloadSpec {
        record_count: 100_000,
        operation_count: 100_000,
        mix: m,
        distribution: dist,
        value_size: SizeSpec::Fixed { bytes: 100 },
        fields: Some(Fields::default()),
        values: ValueContent::YcsbText,
        ..WorkloadSpec::default()
    }
}

/// db_bench's `--compression_ratio` default.
pub const DB_BENCH_COMPRESSION_RATIO: f64 = 0.5;

/// db_bench benchmarks: keys of the big-endian record number padded to 16 bytes, 100-byte
/// values compressible to half. A store for the read benchmarks is loaded with every key of
/// `0..num` once in random order (`filluniquerandom`).
fn db_bench(records: u64, m: OpMix, dist: KeyDistribution, fill: Fill) -> WorkloadSpec {
    WorkloadSpec {
        record_count: records,
        operation_count: 100_000,
        mix: m,
        distribution: dist,
        key: KeySpec {
            size: Some(SizeSpec::Fixed { bytes: 16 }),
            format: KeyFormat::DbBench,
            ..KeySpec::default()
        },
        value_size: SizeSpec::Fixed { bytes: 100 },
        insert_order: InsertOrder::Ordered,
        fill,
        values: ValueContent::Compressible {
            ratio: DB_BENCH_COMPRESSION_RATIO,
        },
        ..WorkloadSpec::default()
    }
}

fn scans(max: u32, dist: ScanLengthDistribution) -> ScanLength {
    ScanLength {
        min: 1,
        max,
        distribution: dist,
    }
}

/// Every preset, in listing order.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "read-heavy",
        summary: "95% reads, 5% updates, zipfian keys (YCSB B shape, 100-byte values)",
        build: || tradeoff(mix(0.95, 0.05, 0.0, 0.0, 0.0, 0.0)),
    },
    Preset {
        name: "write-heavy",
        summary: "90% writes (45% updates, 45% inserts of new keys), 10% reads, zipfian keys",
        build: || tradeoff(mix(0.10, 0.45, 0.45, 0.0, 0.0, 0.0)),
    },
    Preset {
        name: "range-scan",
        summary: "95% scans of 1 to 100 keys (uniform), 5% inserts, zipfian start keys",
        build: || WorkloadSpec {
            scan_length: scans(100, ScanLengthDistribution::Uniform),
            ..tradeoff(mix(0.0, 0.0, 0.05, 0.0, 0.95, 0.0))
        },
    },
    Preset {
        name: "ycsb-a",
        summary: "YCSB A, update heavy: 50% reads, 50% updates, zipfian",
        build: || ycsb(mix(0.5, 0.5, 0.0, 0.0, 0.0, 0.0), ZIPF),
    },
    Preset {
        name: "ycsb-b",
        summary: "YCSB B, read mostly: 95% reads, 5% updates, zipfian",
        build: || ycsb(mix(0.95, 0.05, 0.0, 0.0, 0.0, 0.0), ZIPF),
    },
    Preset {
        name: "ycsb-c",
        summary: "YCSB C, read only: 100% reads, zipfian",
        build: || ycsb(mix(1.0, 0.0, 0.0, 0.0, 0.0, 0.0), ZIPF),
    },
    Preset {
        name: "ycsb-d",
        summary: "YCSB D, read latest: 95% reads, 5% inserts, latest",
        build: || {
            ycsb(
                mix(0.95, 0.0, 0.05, 0.0, 0.0, 0.0),
                KeyDistribution::Latest {
                    constant: ZIPFIAN_CONSTANT,
                },
            )
        },
    },
    Preset {
        name: "ycsb-e",
        summary: "YCSB E, short ranges: 95% scans of 1 to 100 keys (uniform), 5% inserts, zipfian",
        build: || WorkloadSpec {
            scan_length: scans(100, ScanLengthDistribution::Uniform),
            ..ycsb(mix(0.0, 0.0, 0.05, 0.0, 0.95, 0.0), ZIPF)
        },
    },
    Preset {
        name: "ycsb-f",
        summary: "YCSB F, read-modify-write: 50% reads, 50% read-modify-writes, zipfian",
        build: || ycsb(mix(0.5, 0.0, 0.0, 0.5, 0.0, 0.0), ZIPF),
    },
    Preset {
        name: "fillseq",
        summary: "db_bench fillseq: write keys 0..num in ascending order into an empty store",
        build: || db_bench(0, mix(0.0, 0.0, 1.0, 0.0, 0.0, 0.0), KeyDistribution::Uniform, Fill::New),
    },
    Preset {
        name: "fillrandom",
        summary: "db_bench fillrandom: write keys rand % num (with repeats) into an empty store",
        build: || db_bench(0, mix(0.0, 0.0, 1.0, 0.0, 0.0, 0.0), KeyDistribution::Uniform, Fill::Random),
    },
    Preset {
        name: "filluniquerandom",
        summary: "db_bench filluniquerandom: write every key of 0..num once, in random order, into an empty store",
        build: || db_bench(0, mix(0.0, 0.0, 1.0, 0.0, 0.0, 0.0), KeyDistribution::Uniform, Fill::Shuffled),
    },
    Preset {
        name: "overwrite",
        summary: "db_bench overwrite: overwrite keys rand % num of a filled store",
        build: || db_bench(100_000, mix(0.0, 1.0, 0.0, 0.0, 0.0, 0.0), KeyDistribution::Uniform, Fill::Shuffled),
    },
    Preset {
        name: "readrandom",
        summary: "db_bench readrandom: point reads of keys rand % num of a filled store",
        build: || db_bench(100_000, mix(1.0, 0.0, 0.0, 0.0, 0.0, 0.0), KeyDistribution::Uniform, Fill::Shuffled),
    },
    Preset {
        name: "readseq",
        summary: "db_bench readseq: one iterator walk over every key of a filled store, per thread",
        build: || WorkloadSpec {
            operation_count: 1,
            scan_length: ScanLength {
                min: 1,
                max: 1,
                distribution: ScanLengthDistribution::Walk,
            },
            ..db_bench(100_000, mix(0.0, 0.0, 0.0, 0.0, 1.0, 0.0), KeyDistribution::Uniform, Fill::Shuffled)
        },
    },
    Preset {
        name: "seekrandom",
        summary: "db_bench seekrandom: seek to a key rand % num (a scan of 1 key)",
        build: || WorkloadSpec {
            scan_length: ScanLength {
                min: 1,
                max: 1,
                distribution: ScanLengthDistribution::Fixed,
            },
            ..db_bench(100_000, mix(0.0, 0.0, 0.0, 0.0, 1.0, 0.0), KeyDistribution::Uniform, Fill::Shuffled)
        },
    },
    Preset {
        name: "deleterandom",
        summary: "db_bench deleterandom: delete keys rand % num of a filled store",
        build: || db_bench(100_000, mix(0.0, 0.0, 0.0, 0.0, 0.0, 1.0), KeyDistribution::Uniform, Fill::Shuffled),
    },
];

/// The preset called `name`, or an error listing the valid names.
pub fn preset(name: &str) -> Result<WorkloadSpec, String> {
    PRESETS
        .iter()
        .find(|p| p.name == name)
        .map(Preset::spec)
        .ok_or_else(|| {
            let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
            format!(
                "unknown workload '{name}': valid workloads are {}",
                names.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_named() {
        for p in PRESETS {
            let s = p.spec();
            s.validate().unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!(s.name, p.name);
        }
        assert!(preset("nope").unwrap_err().contains("ycsb-a"));
        let w = preset("write-heavy").unwrap();
        assert_eq!((w.mix.update, w.mix.insert, w.mix.read), (0.45, 0.45, 0.10));
        assert_eq!(preset("ycsb-e").unwrap().scan_length.max, 100);
    }

    /// db_bench's benchmarks use its keys and values; YCSB's its records.
    #[test]
    fn tools_formats() {
        for p in PRESETS {
            let s = p.spec();
            let db_bench = p.summary.starts_with("db_bench");
            assert_eq!(s.key.format == KeyFormat::DbBench, db_bench, "{}", p.name);
            assert_eq!(
                s.fields.is_some(),
                p.name.starts_with("ycsb-"),
                "{}",
                p.name
            );
            if db_bench {
                assert_eq!(
                    s.values,
                    ValueContent::Compressible {
                        ratio: DB_BENCH_COMPRESSION_RATIO
                    }
                );
            }
        }
        assert_eq!(preset("fillrandom").unwrap().fill, Fill::Random);
        assert_eq!(preset("filluniquerandom").unwrap().fill, Fill::Shuffled);
        assert!(preset("readseq").unwrap().is_walk());
    }
}
