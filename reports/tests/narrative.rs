//! The "what this shows" rules, on runner-made results with chosen figures changed: the
//! leader and the factor come from the numbers, equal figures are called alike, and
//! implausible rates and stalls are pointed out.

mod common;

use common::{fixtures, relabel};
use reports::model::Model;
use reports::narrative::sentences;
use workloads::result::{PhaseKind, RunResult};

fn ycsb_a_3000() -> RunResult {
    fixtures()
        .iter()
        .find(|r| {
            r.spec.name == "ycsb-a" && r.spec.record_count == 3000 && r.engine.name == "memory"
        })
        .unwrap()
        .clone()
}

fn run_mut(r: &mut RunResult) -> &mut workloads::result::PhaseResult {
    r.phases
        .iter_mut()
        .find(|p| p.phase == PhaseKind::Run)
        .unwrap()
}

/// The runner-made result shown as a home-built B-tree (a contestant, not the reference).
fn contestant() -> RunResult {
    relabel(&ycsb_a_3000(), "btree", "B-tree")
}

fn text(results: &[RunResult]) -> String {
    let m = Model::new(results);
    sentences(&m.workloads[0]).join(" ")
}

#[test]
fn names_the_leader_and_the_factor() {
    let a = contestant();
    let mut b = relabel(&a, "fast", "LSM");
    let base = a.phase(PhaseKind::Run).unwrap().throughput.ops_per_sec;
    run_mut(&mut b).throughput.ops_per_sec = base * 3.0;
    let t = text(&[a, b]);
    assert!(t.contains("fast (production) led throughput"), "{t}");
    assert!(t.contains("3.00× that of btree"), "{t}");
    assert!(
        t.contains("in one run each"),
        "single runs are not tested: {t}"
    );
}

#[test]
fn the_memory_engine_is_the_floor_never_the_leader() {
    let memory = ycsb_a_3000();
    let base = memory.phase(PhaseKind::Run).unwrap().throughput.ops_per_sec;
    let mut slow = relabel(&memory, "btree", "B-tree");
    run_mut(&mut slow).throughput.ops_per_sec = base / 10.0;
    let mut slower = relabel(&memory, "sqlite", "B-tree");
    run_mut(&mut slower).throughput.ops_per_sec = base / 20.0;
    let t = text(&[memory, slow, slower]);
    assert!(
        t.starts_with("memory (reference) keeps its data in memory"),
        "{t}"
    );
    assert!(t.contains("the floor of an engine's cost"), "{t}");
    assert!(
        !t.contains("memory led") && !t.contains("that of memory"),
        "{t}"
    );
    assert!(t.contains("btree led throughput"), "{t}");
    assert!(t.contains("that of sqlite (production)"), "{t}");
}

#[test]
fn equal_figures_are_alike() {
    let mut a = contestant();
    // Shown as an engine with files, so that amplification applies.
    a.engine.persistent = true;
    run_mut(&mut a).amplification.write_amp_engine = Some(1.5);
    let b = relabel(&a, "twin", "LSM");
    let t = text(&[a, b]);
    assert!(t.contains("about the same rate"), "{t}");
    assert!(t.contains("Write amplification was alike"), "{t}");
    assert!(!t.contains("stalled"), "{t}");
}

#[test]
fn a_single_engine_is_not_compared() {
    let t = text(&[contestant(), ycsb_a_3000()]);
    assert!(t.contains("Only btree ran this workload"), "{t}");
    let t = text(&[ycsb_a_3000()]);
    assert!(!t.contains("led") && !t.contains("Only"), "{t}");
}

#[test]
fn an_impossible_rate_is_pointed_out() {
    let mut a = contestant();
    // The runner's own figure is set to half the bound, so this test does not depend on how
    // well the runner timed a run this short.
    let pa = run_mut(&mut a);
    pa.throughput.ops_per_sec = 0.5 * 1e9 / pa.latency_of(None).unwrap().summary.mean_ns;
    let mut b = relabel(&a, "odd", "LSM");
    let p = run_mut(&mut b);
    let mean = p.latency_of(None).unwrap().summary.mean_ns;
    // Ten times what one worker with this mean latency can do.
    p.throughput.ops_per_sec = 10.0 * 1e9 / mean;
    let t = text(&[a.clone(), b]);
    assert!(t.contains("Check odd"), "{t}");
    let ok = text(&[a.clone(), relabel(&a, "ok", "LSM")]);
    assert!(!ok.contains("Check"), "{ok}");
}

#[test]
fn a_stall_is_pointed_out() {
    let a = contestant();
    let mut b = relabel(&a, "stally", "LSM");
    let p = run_mut(&mut b);
    let first = p.throughput.timeline[0].clone();
    p.throughput.timeline = (1..=6)
        .map(|i| {
            let mut t = first.clone();
            t.t_secs = i as f64;
            t.ops_per_sec = if i == 3 { 10.0 } else { 1000.0 };
            t
        })
        .collect();
    let t = text(&[a, b]);
    assert!(
        t.contains("stally (production) stalled: at 3.00 s its rate fell to 10.0 ops/s"),
        "{t}"
    );
}

#[test]
fn amplification_is_not_compared_for_engines_without_files() {
    let a = contestant();
    let b = relabel(&a, "twin", "LSM");
    let t = text(&[a, b]);
    assert!(!t.contains("amplification"), "{t}");
}

#[test]
fn failed_operations_are_reported() {
    let a = contestant();
    let mut b = relabel(&a, "flaky", "LSM");
    let p = run_mut(&mut b);
    p.errors = 7;
    p.error_samples = vec!["I/O error: <disk> gone".into()];
    let t = text(&[a, b]);
    assert!(
        t.contains("flaky at size 3000: 7 of 2000 operations failed"),
        "{t}"
    );
    assert!(t.contains("&lt;disk&gt; gone"), "escaped: {t}");
}

#[test]
fn a_run_short_of_steady_state_is_pointed_out() {
    let mut a = contestant();
    a.engine.persistent = true;
    let amp = &mut run_mut(&mut a).amplification;
    amp.not_steady = true;
    amp.write_buffer_bytes = 64 << 20;
    amp.write_amp_engine = Some(1.0);
    amp.in_window = Some(workloads::result::InWindow {
        write_amp_engine: Some(0.0),
        ..Default::default()
    });
    let b = relabel(&a, "other", "LSM");
    let t = text(&[a, b]);
    assert!(t.contains("btree had not reached a steady state"), "{t}");
    assert!(
        t.contains("1.00 settled, 0 inside the latency window"),
        "{t}"
    );
}
