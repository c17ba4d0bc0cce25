//! What the page is drawn from: results grouped by workload, one series per engine (the
//! repetitions of one run folded into one series, with the median and 95% interval of its
//! throughput and p99), and each engine's colour (Okabe-Ito, colour-blind safe), fixed by
//! name so it is the same in every chart.

use std::collections::BTreeMap;

use workloads::result::RunResult;
use workloads::spread::{group_repetitions, Spread};

use crate::html::escape;

/// Okabe-Ito palette.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (0x00, 0x72, 0xB2),
    (0xE6, 0x9F, 0x00),
    (0x00, 0x9E, 0x73),
    (0xD5, 0x5E, 0x00),
    (0xCC, 0x79, 0xA7),
    (0x56, 0xB4, 0xE9),
    (0xF0, 0xE4, 0x42),
    (0x00, 0x00, 0x00),
];

/// Engines in colour order; others follow in name order.
const KNOWN: [&str; 8] = [
    "bitcask", "lsm", "btree", "memory", "rocksdb", "sled", "redb", "lmdb",
];

/// Engines written in this project; any other engine is a production engine.
pub const HOME_ENGINES: [&str; 4] = ["memory", "bitcask", "lsm", "btree"];

/// The phase a result is judged by: `run`, or `load` when the run phase did nothing.
pub use workloads::spread::main_phase;

/// Amplification applies to engines that keep files; an in-memory engine writes and reads
/// none, so its figures would be zero or undefined and are shown as absent.
pub fn has_files(r: &RunResult) -> bool {
    r.engine.persistent
}

/// The data size a result ran at, for grouping and scaling: the records loaded, or for a
/// workload that starts empty (db_bench's fill phases) the operations it ran.
pub fn size_of(r: &RunResult) -> u64 {
    if r.spec.record_count > 0 {
        r.spec.record_count
    } else {
        r.spec.operation_count
    }
}

/// One line of a workload: a result (the repetition nearest the median throughput, when
/// repeated) and the label it is shown under.
pub struct Series<'a> {
    pub label: String,
    pub engine: String,
    pub result: &'a RunResult,
    /// Every repetition (just `result` when not repeated).
    pub runs: Vec<&'a RunResult>,
    /// Throughput and p99 (all operations, ns) of the main phase over the repetitions.
    pub throughput: Option<Spread>,
    pub p99_ns: Option<Spread>,
}

impl Series<'_> {
    /// Throughput to show: the median over the repetitions.
    pub fn ops_per_sec(&self) -> Option<f64> {
        self.throughput.map(|s| s.median)
    }

    /// p99 over all operations to show, ns: the median over the repetitions.
    pub fn p99(&self) -> Option<f64> {
        self.p99_ns.map(|s| s.median)
    }

    /// True when the series has more than one repetition (so an interval).
    pub fn repeated(&self) -> bool {
        self.runs.len() > 1
    }
}

/// Every result of one workload (by spec name).
pub struct Workload<'a> {
    pub name: String,
    /// All results, ordered by engine colour then record count.
    pub series: Vec<Series<'a>>,
    /// Data sizes present ([`size_of`]), ascending.
    pub record_counts: Vec<u64>,
}

impl Workload<'_> {
    /// The results at the largest record count: what the per-workload charts draw.
    pub fn main_series(&self) -> impl Iterator<Item = &Series<'_>> {
        let top = self.record_counts.last().copied().unwrap_or(0);
        self.series.iter().filter(move |s| size_of(s.result) == top)
    }
}

pub struct Model<'a> {
    pub results: &'a [RunResult],
    /// Engine names in colour order.
    pub engines: Vec<String>,
    pub workloads: Vec<Workload<'a>>,
}

impl<'a> Model<'a> {
    pub fn new(results: &'a [RunResult]) -> Model<'a> {
        let mut engines: Vec<String> = results.iter().map(|r| r.engine.name.clone()).collect();
        engines.sort_by_key(|e| {
            (
                KNOWN.iter().position(|k| k == e).unwrap_or(KNOWN.len()),
                e.clone(),
            )
        });
        engines.dedup();

        let mut by_name: BTreeMap<&str, Vec<&RunResult>> = BTreeMap::new();
        for r in results {
            by_name.entry(r.spec.name.as_str()).or_default().push(r);
        }
        let rank = |e: &str| engines.iter().position(|x| x == e).unwrap_or(usize::MAX);
        let workloads = by_name
            .into_iter()
            .map(|(name, mut rs)| {
                rs.sort_by_key(|r| (rank(&r.engine.name), size_of(r)));
                let mut record_counts: Vec<u64> = rs.iter().map(|r| size_of(r)).collect();
                record_counts.sort_unstable();
                record_counts.dedup();
                let series = label_series(&rs);
                Workload {
                    name: name.to_string(),
                    series,
                    record_counts,
                }
            })
            .collect();
        Model {
            results,
            engines,
            workloads,
        }
    }

    /// Index of `engine`'s colour in [`PALETTE`].
    pub fn colour_index(&self, engine: &str) -> usize {
        self.engines.iter().position(|e| e == engine).unwrap_or(0) % PALETTE.len()
    }

    pub fn colour(&self, engine: &str) -> (u8, u8, u8) {
        PALETTE[self.colour_index(engine)]
    }

    /// `#rrggbb` of `engine`.
    pub fn hex(&self, engine: &str) -> String {
        let (r, g, b) = self.colour(engine);
        format!("#{r:02X}{g:02X}{b:02X}")
    }

    /// A small coloured square for legends in text.
    pub fn swatch(&self, engine: &str) -> String {
        format!(
            "<span class=\"swatch\" style=\"background:{}\" title=\"{}\"></span>",
            self.hex(engine),
            escape(engine)
        )
    }
}

/// Labels are engine names; results that would share a label (same engine and record count)
/// get their durability mode and threads added, then a number. Repetitions of one run are
/// one series.
fn label_series<'a>(all: &[&'a RunResult]) -> Vec<Series<'a>> {
    let key = |r: &RunResult| (r.engine.name.clone(), size_of(r));
    let groups = group_repetitions(all.iter().copied());
    let rs: Vec<&RunResult> = groups.iter().map(|g| g.representative()).collect();
    let mut out: Vec<Series<'a>> = Vec::with_capacity(groups.len());
    for (g, r) in groups.into_iter().zip(rs.iter().copied()) {
        let same = rs.iter().filter(|o| key(o) == key(r)).count();
        let mut label = r.engine.name.clone();
        if same > 1 {
            label = format!(
                "{} ({}, {} thr)",
                r.engine.name,
                durability_name(r),
                r.spec.threads
            );
        }
        let base = label.clone();
        let mut n = 2;
        while out
            .iter()
            .any(|s| s.label == label && size_of(s.result) == size_of(r))
        {
            label = format!("{base} #{n}");
            n += 1;
        }
        out.push(Series {
            label,
            engine: r.engine.name.clone(),
            result: r,
            runs: g.runs,
            throughput: g.throughput,
            p99_ns: g.p99_ns,
        });
    }
    out
}

/// `none`, `sync` or `group`, as the result file spells it.
pub fn durability_name(r: &RunResult) -> String {
    serde_json::to_value(r.durability)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", r.durability))
}
