//! The textbook's claims, checked against a run's numbers. Each claim of the course material
//! the suite is built on is turned into checks (one per engine pair, engine or measurement
//! the results hold), each check into an outcome by a fixed rule, and the outcomes into a
//! verdict:
//!
//! * **holds**: at least one check supports the claim and none contradicts it;
//! * **does not hold**: at least one check contradicts it (the checks say which pairs do and
//!   which do not);
//! * **undecided**: every check was undecided (95% intervals overlap, one run each, a figure
//!   from a run not yet in a steady state);
//! * **not measured**: the results hold nothing the claim can be checked on.
//!
//! Speed comparisons use throughput medians with their 95% intervals over repetitions, and a
//! difference counts only when the intervals do not overlap (single runs are undecided);
//! counts of bytes (write and space amplification, memory) are nearly deterministic, so a
//! single run decides. Every sentence is made from the figures here: no figure is typed.

use std::collections::BTreeMap;

use workloads::main_job::{SpaceReclaim, SWEEP};
use workloads::result::{PhaseKind, PhaseResult, RunResult};
use workloads::spec::OpKind;
use workloads::spread::{group_repetitions, main_phase, Spread};

use crate::html::{nanos, num};
use crate::model::{size_of, HOME_ENGINES};

/// What a check found.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Supports,
    Contradicts,
    /// Neither, and why (e.g. "intervals overlap").
    Undecided(String),
}

/// One comparison or measurement behind a claim.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What was compared, e.g. `write-heavy, 50000 records: lsm vs btree`.
    pub what: String,
    /// The figures, e.g. `lsm 242k ops/s (95% 200k–280k) vs btree 54k ops/s (...)`.
    pub figures: String,
    pub outcome: Outcome,
}

/// A claim's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Holds,
    DoesNotHold,
    Undecided(String),
    NotMeasured,
}

impl Verdict {
    /// `holds`, `does not hold`, `undecided: intervals overlap`, `not measured`.
    pub fn text(&self) -> String {
        match self {
            Verdict::Holds => "holds".into(),
            Verdict::DoesNotHold => "does not hold".into(),
            Verdict::Undecided(why) => format!("undecided: {why}"),
            Verdict::NotMeasured => "not measured".into(),
        }
    }

    /// A CSS class for the verdict.
    pub fn class(&self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "fails",
            Verdict::Undecided(_) => "undecided",
            Verdict::NotMeasured => "unmeasured",
        }
    }
}

/// A claim with its verdict and the checks it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub number: u8,
    pub statement: &'static str,
    /// The rule that turns figures into an outcome, in a sentence.
    pub rule: &'static str,
    pub verdict: Verdict,
    /// Engines and sizes the verdict rests on (or what would be needed, when not measured).
    pub rests_on: String,
    pub checks: Vec<Check>,
}

/// The verdict of a set of checks (see the module comment).
pub fn verdict(checks: &[Check]) -> Verdict {
    let supports = checks
        .iter()
        .filter(|c| c.outcome == Outcome::Supports)
        .count();
    let contradicts = checks
        .iter()
        .filter(|c| c.outcome == Outcome::Contradicts)
        .count();
    if checks.is_empty() {
        Verdict::NotMeasured
    } else if contradicts > 0 {
        Verdict::DoesNotHold
    } else if supports > 0 {
        Verdict::Holds
    } else {
        let mut why: Vec<String> = checks
            .iter()
            .filter_map(|c| match &c.outcome {
                Outcome::Undecided(w) => Some(w.clone()),
                _ => None,
            })
            .collect();
        why.sort();
        why.dedup();
        Verdict::Undecided(why.join("; "))
    }
}

/// Every claim, checked against `results` and the space-reclaim measurements.
pub fn check_all(results: &[RunResult], reclaims: &[SpaceReclaim]) -> Vec<Claim> {
    let groups = Groups::new(results);
    vec![
        claim1(&groups),
        claim2(&groups),
        claim3(&groups),
        claim4(&groups),
        claim5(&groups),
        claim6(&groups),
        claim7(reclaims),
        claim8(results),
    ]
}

/// The claims as plain text for the CLI: one line per claim, its checks indented below.
pub fn text(claims: &[Claim]) -> String {
    let mut out = String::from("The textbook's claims, checked against this run:\n");
    for c in claims {
        let verdict = match &c.verdict {
            Verdict::Undecided(why) => format!("UNDECIDED ({why})"),
            v => v.text().to_uppercase(),
        };
        out.push_str(&format!("{}. {}: {verdict}\n", c.number, c.statement));
        if !c.rests_on.is_empty() {
            out.push_str(&format!("   rests on: {}\n", c.rests_on));
        }
        for k in &c.checks {
            let mark = match &k.outcome {
                Outcome::Supports => "supports".to_string(),
                Outcome::Contradicts => "contradicts".to_string(),
                Outcome::Undecided(why) => format!("undecided: {why}"),
            };
            out.push_str(&format!("   - [{mark}] {}: {}\n", k.what, k.figures));
        }
    }
    out
}

/// One (engine, workload, size) with its repetitions folded.
struct Group<'a> {
    engine: String,
    family: String,
    workload: String,
    size: u64,
    runs: Vec<&'a RunResult>,
    throughput: Option<Spread>,
}

impl Group<'_> {
    fn rep(&self) -> &RunResult {
        self.runs[0]
    }

    /// The main phase of each repetition.
    fn phases(&self) -> impl Iterator<Item = &PhaseResult> {
        self.runs.iter().filter_map(|r| main_phase(r))
    }

    fn production(&self) -> bool {
        !HOME_ENGINES.contains(&self.engine.as_str())
    }
}

struct Groups<'a> {
    all: Vec<Group<'a>>,
}

impl<'a> Groups<'a> {
    /// The in-memory results (a capped run is another regime: claim 8 reads those).
    fn new(results: &'a [RunResult]) -> Groups<'a> {
        let all = group_repetitions(results.iter().filter(|r| r.memory_cap.is_none()))
            .into_iter()
            .map(|g| {
                let r = g.representative();
                Group {
                    engine: r.engine.name.clone(),
                    family: r.engine.family.clone(),
                    workload: r.spec.name.clone(),
                    size: size_of(r),
                    runs: g.runs,
                    throughput: g.throughput,
                }
            })
            .collect();
        Groups { all }
    }

    /// Groups of `workload` by size, ascending.
    fn by_size(&self, workload: &str) -> BTreeMap<u64, Vec<&Group<'a>>> {
        let mut m: BTreeMap<u64, Vec<&Group>> = BTreeMap::new();
        for g in self.all.iter().filter(|g| g.workload == workload) {
            m.entry(g.size).or_default().push(g);
        }
        m
    }

    /// `engine`'s groups of `workload`, ascending by size.
    fn sweep(&self, workload: &str, engine: &str) -> Vec<&Group<'a>> {
        let mut v: Vec<&Group> = self
            .all
            .iter()
            .filter(|g| g.workload == workload && g.engine == engine)
            .collect();
        v.sort_by_key(|g| g.size);
        v
    }
}

fn rate(s: &Spread) -> String {
    if s.n > 1 {
        // A throughput is never negative: a t-interval of three scattered runs can reach
        // below zero, and is shown from 0.
        format!(
            "{} ops/s (95% {}–{}, {} runs)",
            num(s.median),
            num(s.low.max(0.0)),
            num(s.high),
            s.n
        )
    } else {
        format!("{} ops/s (one run)", num(s.median))
    }
}

/// `a` faster than `b` by throughput: supports, contradicts, or undecided.
fn faster(a: &Group, b: &Group) -> Option<Check> {
    let (sa, sb) = (a.throughput?, b.throughput?);
    let outcome = if sa.n < 2 || sb.n < 2 {
        Outcome::Undecided("one run each, no interval".into())
    } else if !sa.apart(&sb) {
        Outcome::Undecided("intervals overlap".into())
    } else if sa.median > sb.median {
        Outcome::Supports
    } else {
        Outcome::Contradicts
    };
    let ratio = if sb.median > 0.0 {
        format!(" ({}×)", num(sa.median / sb.median))
    } else {
        String::new()
    };
    Some(Check {
        what: format!(
            "{}, {} records: {} vs {}",
            a.workload, a.size, a.engine, b.engine
        ),
        figures: format!(
            "{} {} vs {} {}{ratio}",
            a.engine,
            rate(&sa),
            b.engine,
            rate(&sb)
        ),
        outcome,
    })
}

/// Pairs of (first family, second family) engines on the same workload and size: the
/// home-built pair (`home_a` vs `home_b`) and every production engine of one family against
/// every production engine of the other.
fn family_pairs(
    groups: &Groups,
    workloads: &[&str],
    (fam_a, home_a): (&str, &str),
    (fam_b, home_b): (&str, &str),
) -> (Vec<Check>, String) {
    let mut checks = Vec::new();
    let mut rests: Vec<String> = Vec::new();
    for w in workloads {
        for (size, gs) in groups.by_size(w) {
            let home = |name: &str| gs.iter().find(|g| g.engine == name).copied();
            let mut used: Vec<&str> = Vec::new();
            if let (Some(a), Some(b)) = (home(home_a), home(home_b)) {
                checks.extend(faster(a, b));
                used.extend([home_a, home_b]);
            }
            let prod = |fam: &str| -> Vec<&Group> {
                gs.iter()
                    .filter(|g| g.production() && g.family == fam)
                    .copied()
                    .collect()
            };
            for a in prod(fam_a) {
                for b in prod(fam_b) {
                    checks.extend(faster(a, b));
                    used.extend([a.engine.as_str(), b.engine.as_str()]);
                }
            }
            used.sort();
            used.dedup();
            if !used.is_empty() {
                rests.push(format!("{w} at {size} records ({})", used.join(", ")));
            }
        }
    }
    (checks, rests.join("; "))
}

fn claim(
    number: u8,
    statement: &'static str,
    rule: &'static str,
    checks: Vec<Check>,
    rests_on: String,
    needs: &str,
) -> Claim {
    let verdict = verdict(&checks);
    Claim {
        number,
        statement,
        rule,
        rests_on: if checks.is_empty() {
            format!("nothing in these results: needs {needs}")
        } else {
            rests_on
        },
        verdict,
        checks,
    }
}

fn claim1(groups: &Groups) -> Claim {
    let (checks, rests) = family_pairs(
        groups,
        &["write-heavy", "fillrandom"],
        ("LSM", "lsm"),
        ("B-tree", "btree"),
    );
    claim(
        1,
        "an LSM tree takes writes faster than a B-tree",
        "throughput on write-heavy and fillrandom: lsm vs btree, and each production LSM engine vs each production B-tree engine, at the same size; a difference counts when the 95% intervals of the repetitions do not overlap",
        checks,
        rests,
        "write-heavy or fillrandom on an LSM and a B-tree engine",
    )
}

fn claim2(groups: &Groups) -> Claim {
    let (checks, rests) = family_pairs(
        groups,
        &["read-heavy", "ycsb-c", "readrandom", "range-scan", "ycsb-e"],
        ("B-tree", "btree"),
        ("LSM", "lsm"),
    );
    claim(
        2,
        "a B-tree serves point reads and range scans faster than an LSM tree",
        "throughput on read-heavy (point reads) and range-scan (scans): btree vs lsm, and each production B-tree engine vs each production LSM engine, at the same size; a difference counts when the 95% intervals do not overlap",
        checks,
        rests,
        "read-heavy or range-scan on a B-tree and an LSM engine",
    )
}

/// Settled write amplification of a phase: the engine's own count where our counters see its
/// I/O, else the device's.
fn write_amp(p: &PhaseResult) -> Option<f64> {
    p.amplification.write_amp()
}

const STEADY_NOTE: &str = "not in a steady state (wrote less than four times its write buffer)";

fn claim3(groups: &Groups) -> Claim {
    const AT_LEAST: f64 = 3.0;
    let mut checks = Vec::new();
    let mut rests = Vec::new();
    let mut look = |g: &Group, phase: PhaseKind, label: &str| {
        let phases: Vec<&PhaseResult> = g.runs.iter().filter_map(|r| r.phase(phase)).collect();
        let vals: Vec<f64> = phases.iter().filter_map(|p| write_amp(p)).collect();
        let Some(s) = Spread::of(&vals) else { return };
        let steady = !phases.iter().any(|p| p.amplification.not_steady);
        let outcome = if !steady {
            Outcome::Undecided(STEADY_NOTE.into())
        } else if s.n > 1 && s.low < AT_LEAST && s.high >= AT_LEAST {
            Outcome::Undecided("the interval of the repetitions straddles 3".into())
        } else if s.median >= AT_LEAST {
            Outcome::Supports
        } else {
            Outcome::Contradicts
        };
        let how = if g.rep().engine.counts_io {
            "engine count"
        } else {
            "device bytes"
        };
        checks.push(Check {
            what: format!("{}, {label}, {} records: {}", g.workload, g.size, g.engine),
            figures: format!(
                "write amplification {} (settled, {how}{})",
                num(s.median),
                if s.n > 1 {
                    format!(
                        ", median of {} runs, 95% {}–{}",
                        s.n,
                        num(s.low),
                        num(s.high)
                    )
                } else {
                    String::new()
                }
            ),
            outcome,
        });
        rests.push(format!("{} {label} at {} records", g.engine, g.size));
    };
    for g in groups.all.iter().filter(|g| g.family == "LSM") {
        match g.workload.as_str() {
            "write-heavy" | "fillrandom" | "overwrite" => look(g, PhaseKind::Run, "run phase"),
            _ => {}
        }
    }
    // The sweep's load phase at its largest size: inserts of every record.
    if let Some((_, gs)) = groups.by_size(SWEEP).into_iter().next_back() {
        for g in gs.into_iter().filter(|g| g.family == "LSM") {
            look(g, PhaseKind::Load, "loading");
        }
    }
    claim(
        3,
        "LSM compaction writes every byte several times (write amplification of at least 3)",
        "settled write amplification of each LSM engine (bytes written to its files, or to the device for the production engines, per user byte) on write-heavy and on loading the sweep's largest store: at least 3 supports; a run not in a steady state is undecided",
        checks,
        rests.join("; "),
        "write-heavy, fillrandom or the size sweep on an LSM engine",
    )
}

/// The slope of `ln y` against `ln x` between the first and last point: 1 is linear growth,
/// 0 none.
fn log_slope(points: &[(f64, f64)]) -> Option<f64> {
    let (&(x0, y0), &(x1, y1)) = (points.first()?, points.last()?);
    (x0 > 0.0 && x1 > x0 && y0 > 0.0 && y1 > 0.0).then(|| (y1 / y0).ln() / (x1 / x0).ln())
}

/// p50 latency of `op` in the main phase, ns.
fn p50(g: &Group, op: OpKind) -> Option<f64> {
    let p = g.phases().next()?;
    let l = p.latency_of(Some(op))?;
    (l.summary.count > 0).then_some(l.summary.p50_ns as f64)
}

fn points_text(points: &[(f64, f64)], fmt: fn(f64) -> String) -> String {
    points
        .iter()
        .map(|(n, v)| format!("{} at {}", fmt(*v), num(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn claim4(groups: &Groups) -> Claim {
    const GROWS: f64 = 0.5;
    let mut checks = Vec::new();
    let mut rests = String::new();
    let sweep = |engine: &str| -> Vec<(f64, f64)> {
        groups
            .sweep(SWEEP, engine)
            .iter()
            .filter_map(|g| Some((g.size as f64, p50(g, OpKind::Scan)?)))
            .collect()
    };
    let bitcask = sweep("bitcask");
    if let (true, Some(slope)) = (bitcask.len() >= 2, log_slope(&bitcask)) {
        let ordered: Vec<String> = ["lsm", "btree"]
            .iter()
            .filter_map(|e| Some(format!("{e} {}", num(log_slope(&sweep(e))?))))
            .collect();
        checks.push(Check {
            what: format!("{SWEEP}: bitcask's scan p50 against record count"),
            figures: format!(
                "{}; grows as n^{}{}",
                points_text(&bitcask, nanos),
                num(slope),
                if ordered.is_empty() {
                    String::new()
                } else {
                    format!(" (ordered indexes: {})", ordered.join(", "))
                }
            ),
            outcome: if slope >= GROWS {
                Outcome::Supports
            } else {
                Outcome::Contradicts
            },
        });
        rests = format!("bitcask on {SWEEP} at {} record counts", bitcask.len());
    }
    claim(
        4,
        "a hash index cannot serve range scans efficiently: bitcask's scan cost grows with the number of keys",
        "bitcask's median scan latency at the sweep's sizes grows at least as the square root of the record count (log-log slope 0.5 or more; an ordered index stays near 0)",
        checks,
        rests,
        "the size sweep (scans at two or more record counts) on bitcask",
    )
}

fn claim5(groups: &Groups) -> Claim {
    let mut checks = Vec::new();
    let mut rests = String::new();
    let points: Vec<(f64, f64)> = groups
        .sweep(SWEEP, "bitcask")
        .iter()
        .filter_map(|g| {
            let p = g.phases().next()?;
            let keys = p
                .engine_stats
                .live_keys
                .or(p.amplification.live_keys)
                .filter(|k| *k > 0)?;
            Some((keys as f64, p.engine_stats.memory_bytes as f64))
        })
        .filter(|(_, m)| *m > 0.0)
        .collect();
    if let (true, Some(slope)) = (points.len() >= 2, log_slope(&points)) {
        let per_key: Vec<String> = points
            .iter()
            .map(|(k, m)| format!("{} B per key at {} keys", num(m / k), num(*k)))
            .collect();
        checks.push(Check {
            what: "bitcask's keydir (engine memory) against live keys".into(),
            figures: format!(
                "{}; memory grows as keys^{}",
                per_key.join(", "),
                num(slope)
            ),
            outcome: if (0.8..=1.25).contains(&slope) {
                Outcome::Supports
            } else {
                Outcome::Contradicts
            },
        });
        rests = format!("bitcask on {SWEEP} at {} key counts", points.len());
    }
    claim(
        5,
        "the bitcask keydir must hold every key in memory: bytes per key, growing linearly with the keys",
        "bitcask's engine memory against its live keys at the sweep's sizes grows linearly (log-log slope 0.8 to 1.25, so bytes per key stay about constant)",
        checks,
        rests,
        "the size sweep on bitcask",
    )
}

fn claim6(groups: &Groups) -> Claim {
    const HEIGHTS: [(&str, &str); 3] = [
        ("btree", "tree_height"),
        ("redb", "redb_tree_height"),
        ("lmdb", "lmdb_depth"),
    ];
    const LINEAR_GET: f64 = 0.5;
    let mut checks = Vec::new();
    let mut rests = Vec::new();
    for (engine, key) in HEIGHTS {
        let gs = groups.sweep(SWEEP, engine);
        let heights: Vec<(f64, f64)> = gs
            .iter()
            .filter_map(|g| {
                let h = *g.phases().next()?.engine_stats.extra.get(key)?;
                Some((g.size as f64, h))
            })
            .collect();
        if heights.len() < 2 {
            continue;
        }
        let gets: Vec<(f64, f64)> = gs
            .iter()
            .filter_map(|g| Some((g.size as f64, p50(g, OpKind::Read)?)))
            .collect();
        let (n0, h0) = heights[0];
        let (n1, h1) = heights[heights.len() - 1];
        let decades = (n1 / n0).log10().ceil();
        let never_shrinks = heights.windows(2).all(|w| w[1].1 >= w[0].1);
        let log_height = never_shrinks && h1 - h0 <= decades;
        let get_slope = log_slope(&gets);
        let outcome = match get_slope {
            Some(s) if log_height && s < LINEAR_GET => Outcome::Supports,
            _ if !log_height => Outcome::Contradicts,
            Some(_) => Outcome::Contradicts,
            None => Outcome::Undecided("no get latency at two sizes".into()),
        };
        checks.push(Check {
            what: format!("{SWEEP}: {engine}'s tree height and get p50 against record count"),
            figures: format!(
                "height {}; get p50 {}{}",
                points_text(&heights, |h| format!("{h:.0}")),
                points_text(&gets, nanos),
                get_slope.map_or(String::new(), |s| format!(" (grows as n^{})", num(s)))
            ),
            outcome,
        });
        rests.push(format!("{engine} at {} sizes", heights.len()));
    }
    claim(
        6,
        "a B-tree lookup costs O(log n) pages: tree height and get latency grow with log n",
        "at the sweep's sizes each B-tree's height never shrinks and grows by at most one level per tenfold records, and its median get latency grows far slower than the record count (log-log slope below 0.5)",
        checks,
        rests.join("; "),
        "the size sweep on btree (or redb, LMDB)",
    )
}

fn claim7(reclaims: &[SpaceReclaim]) -> Claim {
    const RECLAIMED: f64 = 0.9;
    let mut checks = Vec::new();
    let mut rests = Vec::new();
    for r in reclaims {
        let (Some(before), Some(after)) = (r.before.space_amp, r.after.space_amp) else {
            continue;
        };
        checks.push(Check {
            what: format!(
                "{}: {} keys, each overwritten {} times, then compact()",
                r.engine, r.plan.records, r.plan.overwrite_passes
            ),
            figures: format!(
                "space amplification {} before, {} after ({} allocated before, {} after; compact() took {} s)",
                num(before),
                num(after),
                crate::html::bytes(r.before.allocated_bytes as f64),
                crate::html::bytes(r.after.allocated_bytes as f64),
                num(r.compact_secs)
            ),
            outcome: if after <= RECLAIMED * before {
                Outcome::Supports
            } else {
                Outcome::Contradicts
            },
        });
        rests.push(format!("{} at {} keys", r.engine, r.plan.records));
    }
    claim(
        7,
        "compaction and merge reclaim space",
        "space amplification (allocated bytes per live byte) after compact() is at most 90% of what it was before, on a store whose keys were each overwritten several times",
        checks,
        rests.join("; "),
        "the main job's space-reclaim measurement (bitcask and lsm)",
    )
}

/// Point-read workloads whose gets are nearly all of the run phase.
const GET_WORKLOADS: [&str; 4] = ["read-heavy", "ycsb-c", "readrandom", "ycsb-b"];

fn claim8(results: &[RunResult]) -> Claim {
    // A get reads one block or page when the index is in memory (bitcask's keydir, a
    // B-tree's inner nodes, an LSM's fence keys and bloom filters); two or more per get means
    // the design's promise is not kept at this size of cache.
    const ONE: f64 = 1.5;
    const MORE: f64 = 2.0;
    let mut checks = Vec::new();
    let mut rests = Vec::new();
    let capped = group_repetitions(results.iter().filter(|r| r.memory_cap.is_some()));
    for g in &capped {
        let r = g.representative();
        let base = r.spec.name.trim_end_matches("-io");
        if !GET_WORKLOADS.contains(&base) {
            continue;
        }
        let Some((Some(reads), bytes)) =
            main_phase(r).and_then(|p| p.device_reads_per(Some(OpKind::Read)))
        else {
            continue;
        };
        let limit = r.memory_cap.as_ref().map_or(0, |c| c.limit_bytes);
        let outcome = if reads <= 0.0 {
            Outcome::Undecided("no device reads: the store fits in the cap".into())
        } else if reads <= ONE {
            Outcome::Supports
        } else if reads > MORE {
            Outcome::Contradicts
        } else {
            Outcome::Undecided(format!("between {ONE} and {MORE} reads per get"))
        };
        checks.push(Check {
            what: format!(
                "{}, {} records under {} MiB: {}",
                r.spec.name,
                num(size_of(r) as f64),
                limit >> 20,
                r.engine.name
            ),
            figures: format!(
                "{} device reads and {} bytes per get",
                num(reads),
                num(bytes)
            ),
            outcome,
        });
        rests.push(format!("{} on {}", r.engine.name, r.spec.name));
    }
    claim(
        8,
        "with the data on the device, a get costs about one device read: bitcask's keydir, a B-tree's inner nodes and an LSM tree's bloom filters keep the rest in memory",
        "device reads per get (every read request of the capped run phase divided by its gets) on a point-read workload under a memory cap: at most 1.5 supports, more than 2 contradicts",
        checks,
        rests.join("; "),
        "a point-read workload run under --memory-limit (compare --io-bound)",
    )
}
