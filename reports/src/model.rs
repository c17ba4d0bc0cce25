//! What the page is drawn from: results grouped by workload, one series per engine (the
//! repetitions of one run folded into one series, with the median and 95% interval of its
//! throughput and p99), and each engine's colour: one hue family per design family (oranges
//! for log+hash, blues for LSM, greens for B-trees, greys for the in-memory reference), a
//! shade (and a line style and marker, see [`variant`]) per engine within it, fixed by name
//! so an engine has the same colour in every chart and every report.

use std::collections::BTreeMap;

use workloads::result::RunResult;
use workloads::spread::{group_repetitions, Spread};

use crate::html::escape;

/// The colours, in blocks of one design family each (see [`FAMILIES`]).
pub const PALETTE: [(u8, u8, u8); 20] = [
    // log+hash: oranges and browns
    (0xD5, 0x5E, 0x00),
    (0xE6, 0x9F, 0x00),
    (0x8C, 0x51, 0x0A),
    (0xF4, 0xA5, 0x82),
    // LSM: blues
    (0x00, 0x72, 0xB2),
    (0x56, 0xB4, 0xE9),
    (0x08, 0x30, 0x6B),
    (0x6A, 0x51, 0xA3),
    // B-tree: greens
    (0x00, 0x9E, 0x73),
    (0x1B, 0x78, 0x37),
    (0x7F, 0xBC, 0x41),
    (0x01, 0x66, 0x5E),
    (0xA6, 0xD9, 0x6A),
    // reference: greys
    (0x66, 0x66, 0x66),
    (0xAA, 0xAA, 0xAA),
    (0x22, 0x22, 0x22),
    // any other family: purples and pinks
    (0xCC, 0x79, 0xA7),
    (0x76, 0x2A, 0x83),
    (0xC5, 0x1B, 0x7D),
    (0x99, 0x70, 0xAB),
];

/// Each design family's block of [`PALETTE`]: (family as results name it, first slot, slots).
pub const FAMILIES: [(&str, usize, usize); 5] = [
    ("log+hash", 0, 4),
    ("LSM", 4, 4),
    ("B-tree", 8, 5),
    ("reference", 13, 3),
    ("", 16, 4),
];

/// Engines with a fixed slot of [`PALETTE`]: the home-built design of each family first (its
/// family's main hue), then the production engines.
const KNOWN: [(&str, usize); 10] = [
    ("bitcask", 0),
    ("lsm", 4),
    ("fjall", 5),
    ("rocksdb", 6),
    ("btree", 8),
    ("lmdb", 9),
    ("redb", 10),
    ("sqlite", 11),
    ("memory", 13),
    ("null", 14),
];

/// Engines written in this project; any other engine is a production engine.
pub const HOME_ENGINES: [&str; 4] = ["memory", "bitcask", "lsm", "btree"];

/// Engines that are references, not contestants: `memory` (a `BTreeMap`, no files: what an
/// engine costs at the least through this harness) and `null` (the harness alone).
pub const REFERENCE_ENGINES: [&str; 2] = ["memory", "null"];

/// `home-built`, `production` or `reference` (for text that names an engine's role).
pub fn role(engine: &str) -> &'static str {
    if REFERENCE_ENGINES.contains(&engine) {
        "reference"
    } else if HOME_ENGINES.contains(&engine) {
        "home-built"
    } else {
        "production"
    }
}

/// The block of [`FAMILIES`] a family name belongs to.
fn block(family: &str) -> (usize, usize) {
    FAMILIES
        .iter()
        .find(|(f, _, _)| *f == family)
        .or(FAMILIES.last())
        .map_or((16, 4), |&(_, start, n)| (start, n))
}

/// The position of a palette slot within its family's block: 0 for the family's main
/// engine. Line charts draw variant 0 solid, the others dashed or dotted, with a marker shape
/// of their own.
pub fn variant(slot: usize) -> usize {
    FAMILIES
        .iter()
        .find(|(_, start, n)| (*start..start + n).contains(&slot))
        .map_or(0, |(_, start, _)| slot - start)
}

/// Palette slots of the engines of `results`: known engines their fixed slot, the others the
/// free slots of their family's block in name order (wrapping when the block is full).
fn assign_slots(results: &[RunResult]) -> BTreeMap<String, usize> {
    let mut family: BTreeMap<String, String> = BTreeMap::new();
    for r in results {
        family
            .entry(r.engine.name.clone())
            .or_insert_with(|| r.engine.family.clone());
    }
    let mut slots: BTreeMap<String, usize> = BTreeMap::new();
    for (name, slot) in KNOWN {
        if family.contains_key(name) {
            slots.insert(name.to_string(), slot);
        }
    }
    for (name, fam) in &family {
        if slots.contains_key(name) {
            continue;
        }
        let (start, n) = block(fam);
        let taken = |s: usize| slots.values().any(|v| *v == s);
        let used = slots
            .values()
            .filter(|v| (start..start + n).contains(v))
            .count();
        let slot = (start..start + n)
            .find(|s| !taken(*s))
            .unwrap_or(start + used % n);
        slots.insert(name.clone(), slot);
    }
    slots
}

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
    /// Engine names in colour order (by design family, the home-built engine first).
    pub engines: Vec<String>,
    pub workloads: Vec<Workload<'a>>,
    slots: BTreeMap<String, usize>,
}

impl<'a> Model<'a> {
    pub fn new(results: &'a [RunResult]) -> Model<'a> {
        let slots = assign_slots(results);
        let mut engines: Vec<String> = slots.keys().cloned().collect();
        engines.sort_by_key(|e| (slots.get(e).copied().unwrap_or(usize::MAX), e.clone()));

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
            slots,
        }
    }

    /// Index of `engine`'s colour in [`PALETTE`] (its slot; see [`variant`] for its style).
    pub fn colour_index(&self, engine: &str) -> usize {
        self.slots.get(engine).copied().unwrap_or(PALETTE.len() - 1) % PALETTE.len()
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
    // A run under a memory cap is named as such: it sits beside the same run in memory.
    let name = |r: &RunResult| match &r.memory_cap {
        Some(c) => format!("{} capped {} MiB", r.engine.name, c.limit_bytes >> 20),
        None => r.engine.name.clone(),
    };
    let key = |r: &RunResult| (name(r), size_of(r));
    let groups = group_repetitions(all.iter().copied());
    let rs: Vec<&RunResult> = groups.iter().map(|g| g.representative()).collect();
    let mut out: Vec<Series<'a>> = Vec::with_capacity(groups.len());
    for (g, r) in groups.into_iter().zip(rs.iter().copied()) {
        let same = rs.iter().filter(|o| key(o) == key(r)).count();
        let mut label = name(r);
        if same > 1 {
            label = format!("{label} ({}, {} thr)", durability_name(r), r.spec.threads);
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
