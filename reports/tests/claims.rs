//! The claims' rules on synthetic results whose answer is known by construction: a runner-made
//! result with its figures set (throughput of each repetition, write amplification, scan and
//! get latency, keydir memory, tree height, space before and after compaction), and for each
//! claim a case per verdict it can reach.

mod common;

use engines::Options;
use reports::claims::{check_all, text, Claim, Outcome, Verdict};
use workloads::main_job::{ReclaimPlan, Space, SpaceReclaim, SWEEP};
use workloads::result::{PhaseKind, PhaseResult, Repetition, RunResult};
use workloads::spec::OpKind;

/// The runner's result for the memory engine, shared by every case.
fn base() -> &'static RunResult {
    &common::fixtures()[0]
}

/// One result of `engine` (of `family`) on `workload` at `records` records.
fn one(engine: &str, family: &str, workload: &str, records: u64) -> RunResult {
    let mut r = common::relabel(base(), engine, family);
    r.spec.name = workload.into();
    r.spec.record_count = records;
    r.run_id = format!("{}-{workload}-{records}", r.run_id);
    r
}

fn run_phase(r: &mut RunResult) -> &mut PhaseResult {
    r.phases
        .iter_mut()
        .find(|p| p.phase == PhaseKind::Run)
        .expect("a run phase")
}

/// Repetitions of `engine` on `workload` at `records`, with these throughputs.
fn reps(engine: &str, family: &str, workload: &str, records: u64, rates: &[f64]) -> Vec<RunResult> {
    rates
        .iter()
        .enumerate()
        .map(|(i, &rate)| {
            let mut r = one(engine, family, workload, records);
            r.run_id = format!("{}-r{i}", r.run_id);
            r.repetition = Some(Repetition {
                group: format!("{engine}-{workload}-{records}"),
                index: i as u32 + 1,
                count: rates.len() as u32,
            });
            run_phase(&mut r).throughput.ops_per_sec = rate;
            r
        })
        .collect()
}

/// Sets the median latency of `op` in the run phase (adding that operation type if the run
/// had none).
fn set_p50(r: &mut RunResult, op: OpKind, ns: u64) {
    let p = run_phase(r);
    if p.latency_of(Some(op)).is_none() {
        let mut l = p.latency[0].clone();
        l.op = Some(op);
        p.latency.push(l);
    }
    let l = p.latency.iter_mut().find(|l| l.op == Some(op)).unwrap();
    l.summary.count = 1000;
    l.summary.p50_ns = ns;
}

fn claim(results: &[RunResult], reclaims: &[SpaceReclaim], n: u8) -> Claim {
    let c = check_all(results, reclaims)
        .into_iter()
        .find(|c| c.number == n)
        .unwrap();
    // Every verdict comes with what it rests on, and every check with its figures.
    assert!(!c.rests_on.is_empty(), "claim {n}: rests on");
    assert!(c.checks.iter().all(|k| !k.figures.is_empty()));
    c
}

const APART_FAST: [f64; 3] = [200.0, 201.0, 202.0];
const APART_SLOW: [f64; 3] = [100.0, 101.0, 102.0];

#[test]
fn every_claim_is_not_measured_without_its_figures() {
    // The memory engine alone on ycsb workloads: nothing any claim can rest on.
    let claims = check_all(common::fixtures(), &[]);
    assert_eq!(claims.len(), 8);
    assert_eq!(
        claims.iter().map(|c| c.number).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7, 8]
    );
    for c in &claims {
        assert_eq!(c.verdict, Verdict::NotMeasured, "claim {}", c.number);
        assert!(c.rests_on.starts_with("nothing in these results: needs"));
    }
    assert!(text(&claims).contains("NOT MEASURED"));
}

#[test]
fn lsm_writes_faster_by_intervals_that_do_not_overlap() {
    // Holds: lsm and fjall both ahead of btree and lmdb, with intervals apart.
    let held = [
        reps("lsm", "LSM", "write-heavy", 5000, &APART_FAST),
        reps("btree", "B-tree", "write-heavy", 5000, &APART_SLOW),
        reps("fjall", "LSM", "write-heavy", 5000, &APART_FAST),
        reps("lmdb", "B-tree", "write-heavy", 5000, &APART_SLOW),
    ]
    .concat();
    let c = claim(&held, &[], 1);
    assert_eq!(c.verdict, Verdict::Holds);
    assert_eq!(c.checks.len(), 2, "lsm vs btree, fjall vs lmdb");
    assert!(c
        .rests_on
        .contains("write-heavy at 5000 records (btree, fjall, lmdb, lsm)"));
    assert!(
        c.checks[0].figures.contains("201 ops/s"),
        "{:?}",
        c.checks[0]
    );
    // The home-built engines are paired with each other, never with a production engine.
    assert!(!c.checks.iter().any(|k| k.what.contains("lsm vs lmdb")));

    // Does not hold: one pair the other way round is enough.
    let against = [
        reps("lsm", "LSM", "write-heavy", 5000, &APART_SLOW),
        reps("btree", "B-tree", "write-heavy", 5000, &APART_FAST),
        reps("fjall", "LSM", "write-heavy", 5000, &APART_FAST),
        reps("lmdb", "B-tree", "write-heavy", 5000, &APART_SLOW),
    ]
    .concat();
    let c = claim(&against, &[], 1);
    assert_eq!(c.verdict, Verdict::DoesNotHold);
    assert_eq!(c.checks[0].outcome, Outcome::Contradicts);
    assert_eq!(c.checks[1].outcome, Outcome::Supports);

    // Undecided: the intervals overlap.
    let close = [
        reps("lsm", "LSM", "write-heavy", 5000, &[110.0, 160.0, 210.0]),
        reps(
            "btree",
            "B-tree",
            "write-heavy",
            5000,
            &[100.0, 150.0, 200.0],
        ),
    ]
    .concat();
    let c = claim(&close, &[], 1);
    assert_eq!(c.verdict, Verdict::Undecided("intervals overlap".into()));
    assert_eq!(c.verdict.text(), "undecided: intervals overlap");

    // Undecided: one run each has no interval, however large the difference.
    let single = [
        reps("lsm", "LSM", "write-heavy", 5000, &[1000.0]),
        reps("btree", "B-tree", "write-heavy", 5000, &[10.0]),
    ]
    .concat();
    let c = claim(&single, &[], 1);
    assert!(matches!(c.verdict, Verdict::Undecided(ref w) if w.contains("one run")));

    // Not measured: an LSM engine alone, or the engines at different sizes.
    let alone = reps("lsm", "LSM", "write-heavy", 5000, &APART_FAST);
    assert_eq!(claim(&alone, &[], 1).verdict, Verdict::NotMeasured);
    let apart_sizes = [
        reps("lsm", "LSM", "write-heavy", 5000, &APART_FAST),
        reps("btree", "B-tree", "write-heavy", 50000, &APART_SLOW),
    ]
    .concat();
    assert_eq!(claim(&apart_sizes, &[], 1).verdict, Verdict::NotMeasured);
}

#[test]
fn btree_reads_and_scans_faster() {
    let held = [
        reps("btree", "B-tree", "read-heavy", 5000, &APART_FAST),
        reps("lsm", "LSM", "read-heavy", 5000, &APART_SLOW),
        reps("btree", "B-tree", "range-scan", 5000, &APART_FAST),
        reps("lsm", "LSM", "range-scan", 5000, &APART_SLOW),
    ]
    .concat();
    let c = claim(&held, &[], 2);
    assert_eq!(c.verdict, Verdict::Holds);
    assert_eq!(c.checks.len(), 2);
    // Scans slower on the B-tree: the claim (reads and scans) does not hold.
    let mixed = [
        reps("btree", "B-tree", "read-heavy", 5000, &APART_FAST),
        reps("lsm", "LSM", "read-heavy", 5000, &APART_SLOW),
        reps("btree", "B-tree", "range-scan", 5000, &APART_SLOW),
        reps("lsm", "LSM", "range-scan", 5000, &APART_FAST),
    ]
    .concat();
    assert_eq!(claim(&mixed, &[], 2).verdict, Verdict::DoesNotHold);
}

/// An LSM result on `workload` with settled write amplification `wa` in its run phase.
fn with_wa(engine: &str, wa: f64, steady: bool) -> RunResult {
    let mut r = one(engine, "LSM", "write-heavy", 5000);
    let a = &mut run_phase(&mut r).amplification;
    a.write_amp_engine = Some(wa);
    a.not_steady = !steady;
    r
}

#[test]
fn lsm_write_amplification_of_at_least_three() {
    let c = claim(&[with_wa("lsm", 5.2, true)], &[], 3);
    assert_eq!(c.verdict, Verdict::Holds);
    assert!(
        c.checks[0].figures.contains("write amplification 5.20"),
        "{:?}",
        c.checks[0]
    );
    assert!(c.rests_on.contains("lsm run phase at 5000 records"));
    let c = claim(
        &[with_wa("lsm", 5.2, true), with_wa("fjall", 1.4, true)],
        &[],
        3,
    );
    assert_eq!(c.verdict, Verdict::DoesNotHold);
    // A run that wrote less than four times its write buffer decides nothing.
    let c = claim(&[with_wa("lsm", 1.1, false)], &[], 3);
    assert!(matches!(c.verdict, Verdict::Undecided(ref w) if w.contains("steady")));
    // B-tree write amplification is not the claim's business.
    let mut b = with_wa("btree", 9.0, true);
    b.engine.family = "B-tree".into();
    assert_eq!(claim(&[b], &[], 3).verdict, Verdict::NotMeasured);
}

/// `engine` on the size sweep at each of `sizes`, shaped by `set`.
fn sweep(
    engine: &str,
    family: &str,
    sizes: &[u64],
    set: impl Fn(&mut RunResult, u64),
) -> Vec<RunResult> {
    sizes
        .iter()
        .map(|&n| {
            let mut r = one(engine, family, SWEEP, n);
            set(&mut r, n);
            r
        })
        .collect()
}

const SIZES: [u64; 3] = [10_000, 100_000, 1_000_000];

#[test]
fn bitcask_scans_grow_with_the_keys() {
    // A scan that reads every key: 10 ns per key.
    let grows = sweep("bitcask", "log+hash", &SIZES, |r, n| {
        set_p50(r, OpKind::Scan, 10 * n)
    });
    let c = claim(&grows, &[], 4);
    assert_eq!(c.verdict, Verdict::Holds);
    assert!(
        c.checks[0].figures.contains("grows as n^1.00"),
        "{:?}",
        c.checks[0]
    );
    // Flat scan cost: the claim does not hold.
    let flat = sweep("bitcask", "log+hash", &SIZES, |r, _| {
        set_p50(r, OpKind::Scan, 20_000)
    });
    assert_eq!(claim(&flat, &[], 4).verdict, Verdict::DoesNotHold);
    // One size: nothing to grow over.
    let lone = sweep("bitcask", "log+hash", &SIZES[..1], |r, n| {
        set_p50(r, OpKind::Scan, 10 * n)
    });
    assert_eq!(claim(&lone, &[], 4).verdict, Verdict::NotMeasured);
}

#[test]
fn the_keydir_grows_linearly_with_the_keys() {
    let linear = sweep("bitcask", "log+hash", &SIZES, |r, n| {
        let s = &mut run_phase(r).engine_stats;
        s.live_keys = Some(n);
        s.memory_bytes = 64 * n + 4096;
    });
    let c = claim(&linear, &[], 5);
    assert_eq!(c.verdict, Verdict::Holds);
    assert!(
        c.checks[0]
            .figures
            .contains("64.0 B per key at 1.00 M keys"),
        "{:?}",
        c.checks[0]
    );
    let constant = sweep("bitcask", "log+hash", &SIZES, |r, n| {
        let s = &mut run_phase(r).engine_stats;
        s.live_keys = Some(n);
        s.memory_bytes = 1 << 20;
    });
    assert_eq!(claim(&constant, &[], 5).verdict, Verdict::DoesNotHold);
}

#[test]
fn btree_lookups_cost_log_n() {
    let log_n = sweep("btree", "B-tree", &SIZES, |r, n| {
        let h = (n as f64).log10() - 2.0; // 2, 3, 4 levels
        run_phase(r)
            .engine_stats
            .extra
            .insert("tree_height".into(), h);
        set_p50(r, OpKind::Read, 1000 + 100 * h as u64);
    });
    let c = claim(&log_n, &[], 6);
    assert_eq!(c.verdict, Verdict::Holds, "{:?}", c.checks);
    // A height that grows with n itself (a list, not a tree).
    let linear = sweep("btree", "B-tree", &SIZES, |r, n| {
        let h = n as f64 / 1000.0;
        run_phase(r)
            .engine_stats
            .extra
            .insert("tree_height".into(), h);
        set_p50(r, OpKind::Read, n);
    });
    assert_eq!(claim(&linear, &[], 6).verdict, Verdict::DoesNotHold);
    // No height reported: nothing to rest on.
    let none = sweep("btree", "B-tree", &SIZES, |r, n| {
        set_p50(r, OpKind::Read, n)
    });
    assert_eq!(claim(&none, &[], 6).verdict, Verdict::NotMeasured);
}

fn reclaim(engine: &str, before: f64, after: f64) -> SpaceReclaim {
    let space = |amp: f64| Space {
        allocated_bytes: (amp * 1e6) as u64,
        apparent_bytes: (amp * 1e6) as u64,
        files: 3,
        space_amp: Some(amp),
    };
    SpaceReclaim {
        engine: engine.into(),
        family: "LSM".into(),
        options: Options::default(),
        plan: ReclaimPlan {
            records: 1000,
            overwrite_passes: 3,
            value_bytes: 100,
        },
        live_bytes: 1_000_000,
        live_keys: 1000,
        before: space(before),
        after: space(after),
        compact_secs: 0.5,
    }
}

#[test]
fn compaction_reclaims_space() {
    let c = claim(
        &[],
        &[reclaim("lsm", 4.0, 1.2), reclaim("bitcask", 3.5, 1.1)],
        7,
    );
    assert_eq!(c.verdict, Verdict::Holds);
    assert!(
        c.checks[0].figures.contains("4.00 before, 1.20 after"),
        "{:?}",
        c.checks[0]
    );
    let c = claim(
        &[],
        &[reclaim("lsm", 4.0, 1.2), reclaim("bitcask", 3.5, 3.4)],
        7,
    );
    assert_eq!(c.verdict, Verdict::DoesNotHold);
    assert_eq!(claim(&[], &[], 7).verdict, Verdict::NotMeasured);
}
