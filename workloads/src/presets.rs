//! The named workloads `kvbench workloads` lists: three trade-off workloads, YCSB's core
//! workloads A to F with YCSB's own proportions and distributions, and db_bench-style
//! phases. Sizes here are defaults; the CLI's `--records`, `--ops`, `--duration` and
//! `--scale` override them.

use crate::spec::{
    InsertOrder, KeyDistribution, KeySpec, OpMix, ScanLength, ScanLengthDistribution, SizeSpec,
    WorkloadSpec, ZIPFIAN_CONSTANT,
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

/// YCSB core workloads: 1000-byte values (10 fields of 100 bytes), hashed keys.
fn ycsb(m: OpMix, dist: KeyDistribution) -> WorkloadSpec {
    WorkloadSpec {
        record_count: 100_000,
        operation_count: 100_000,
        mix: m,
        distribution: dist,
        value_size: SizeSpec::Fixed { bytes: 1000 },
        ..WorkloadSpec::default()
    }
}

/// db_bench phases: 16-byte keys, 100-byte values.
fn db_bench(records: u64, m: OpMix, dist: KeyDistribution, order: InsertOrder) -> WorkloadSpec {
    WorkloadSpec {
        record_count: records,
        operation_count: 100_000,
        mix: m,
        distribution: dist,
        key: KeySpec {
            size: Some(SizeSpec::Fixed { bytes: 16 }),
            ..KeySpec::default()
        },
        value_size: SizeSpec::Fixed { bytes: 100 },
        insert_order: order,
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
        summary: "db_bench fillseq: insert keys in ascending order into an empty store",
        build: || {
            db_bench(
                0,
                mix(0.0, 0.0, 1.0, 0.0, 0.0, 0.0),
                KeyDistribution::Uniform,
                InsertOrder::Ordered,
            )
        },
    },
    Preset {
        name: "fillrandom",
        summary: "db_bench fillrandom: insert keys in random (hashed) order into an empty store",
        build: || {
            db_bench(
                0,
                mix(0.0, 0.0, 1.0, 0.0, 0.0, 0.0),
                KeyDistribution::Uniform,
                InsertOrder::Hashed,
            )
        },
    },
    Preset {
        name: "overwrite",
        summary: "db_bench overwrite: overwrite random existing keys (uniform)",
        build: || {
            db_bench(
                100_000,
                mix(0.0, 1.0, 0.0, 0.0, 0.0, 0.0),
                KeyDistribution::Uniform,
                InsertOrder::Hashed,
            )
        },
    },
    Preset {
        name: "readrandom",
        summary: "db_bench readrandom: point reads of random existing keys (uniform)",
        build: || {
            db_bench(
                100_000,
                mix(1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
                KeyDistribution::Uniform,
                InsertOrder::Hashed,
            )
        },
    },
    Preset {
        name: "readseq",
        summary: "db_bench readseq: point reads of every key in key order (ordered keys)",
        build: || {
            db_bench(
                100_000,
                mix(1.0, 0.0, 0.0, 0.0, 0.0, 0.0),
                KeyDistribution::Sequential,
                InsertOrder::Ordered,
            )
        },
    },
    Preset {
        name: "seekrandom",
        summary: "db_bench seekrandom: seek to a random key (a scan of 1 key)",
        build: || WorkloadSpec {
            scan_length: ScanLength {
                min: 1,
                max: 1,
                distribution: ScanLengthDistribution::Fixed,
            },
            ..db_bench(
                100_000,
                mix(0.0, 0.0, 0.0, 0.0, 1.0, 0.0),
                KeyDistribution::Uniform,
                InsertOrder::Hashed,
            )
        },
    },
    Preset {
        name: "deleterandom",
        summary: "db_bench deleterandom: delete random existing keys (uniform)",
        build: || {
            db_bench(
                100_000,
                mix(0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
                KeyDistribution::Uniform,
                InsertOrder::Hashed,
            )
        },
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
}
