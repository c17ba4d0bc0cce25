//! The runner end to end on the memory engine: results are complete and consistent, the
//! same seed gives the same operation stream, result files round-trip.

use std::sync::atomic::AtomicBool;

use engines::{EngineKind, Options};
use workloads::presets::preset;
use workloads::result::PhaseKind;
use workloads::runner::{run, EngineUnderTest, RunConfig};
use workloads::spec::{OpKind, OpMix, WorkloadSpec};

fn quiet(_: &workloads::runner::Progress) {}

#[test]
fn memory_run_is_complete() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("ycsb-a").unwrap();
    spec.record_count = 2000;
    spec.operation_count = 4000;
    spec.threads = 2;
    spec.warmup_ops = 100;
    let cfg = RunConfig {
        dir: None,
        temp_parent: None,
        cold_cache: false,
        stop: &stop,
        progress: &quiet,
        calibration: None,
    };
    let eut = EngineUnderTest::builtin(EngineKind::Memory, Options::default());
    let r = run(&spec, &eut, &cfg).unwrap();
    assert!(!r.partial, "{:?}", r.partial_reason);
    let load = r.phase(PhaseKind::Load).unwrap();
    assert_eq!(load.operations, 2000);
    assert_eq!(load.amplification.live_keys, Some(2000));
    let run_phase = r.phase(PhaseKind::Run).unwrap();
    assert_eq!(run_phase.operations, 4000);
    assert_eq!(run_phase.errors, 0);
    let all = run_phase.latency_of(None).unwrap();
    assert_eq!(all.summary.count, 4000);
    let reads = run_phase.latency_of(Some(OpKind::Read)).unwrap();
    let updates = run_phase.latency_of(Some(OpKind::Update)).unwrap();
    assert_eq!(reads.summary.count + updates.summary.count, 4000);
    assert_eq!(reads.misses, 0, "every read hits a loaded key");
    assert!(!reads.histogram.spectrum.is_empty() && !reads.histogram.hdr_v2_base64.is_empty());
    // User bytes written: every update writes its record back whole (YCSB's 10 fields of 100
    // bytes serialised: 1,140 bytes) plus its key ("user" + digits).
    let values = updates.summary.count * 1140;
    assert_eq!(updates.misses, 0);
    let written = run_phase.amplification.user_bytes_written;
    assert!(
        written > values + 5 * updates.summary.count
            && written < values + 25 * updates.summary.count
    );
    assert_eq!(run_phase.op_stream_digests.len(), 2);
    assert!(run_phase.throughput.ops_per_sec > 0.0);
    assert!(run_phase.cpu.user_secs + run_phase.cpu.system_secs > 0.0);
    assert!(run_phase.peak_rss_bytes > 0);

    // The file round-trips.
    let out = tempfile::tempdir().unwrap();
    let path = workloads::output::write_result(out.path(), &r).unwrap();
    // Exact, floats included (serde_json's float_roundtrip).
    let back = workloads::output::read_result(&path).unwrap();
    assert!(back == r, "result file does not round-trip");
    let csv = workloads::output::csv_summary(&[r]);
    assert_eq!(
        csv.lines().count(),
        1 + 2 + 3,
        "header, load (all, insert), run (all, read, update)"
    );
}

mod common;

fn cfg<'a>(stop: &'a AtomicBool) -> RunConfig<'a> {
    RunConfig {
        dir: None,
        temp_parent: None,
        cold_cache: false,
        stop,
        progress: &quiet,
        calibration: None,
    }
}

/// The same spec and seed give the same operation stream, per thread, on two different
/// engines (the digests of every operation issued in each phase are equal); another seed
/// gives another stream.
#[test]
fn same_seed_same_operations_on_two_engines() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("ycsb-d").unwrap();
    spec.record_count = 1000;
    spec.operation_count = 3000;
    spec.threads = 3;
    let a = run(
        &spec,
        &EngineUnderTest::builtin(EngineKind::Memory, Options::default()),
        &cfg(&stop),
    )
    .unwrap();
    let b = run(&spec, &common::log_engine(), &cfg(&stop)).unwrap();
    for kind in [PhaseKind::Load, PhaseKind::Run] {
        let (pa, pb) = (a.phase(kind).unwrap(), b.phase(kind).unwrap());
        assert_eq!(pa.op_stream_digests.len(), 3);
        assert_eq!(pa.op_stream_digests, pb.op_stream_digests, "{kind:?}");
        assert_eq!(pa.operations, pb.operations);
    }
    // The file engine's (pretend) compactions are marked on the timeline.
    let pb = b.phase(PhaseKind::Run).unwrap();
    let before = b.phase(PhaseKind::Load).unwrap().engine_stats.compactions;
    let marked: u64 = pb.throughput.events.iter().map(|e| e.count).sum();
    assert!(marked > 0 && marked == pb.engine_stats.compactions - before);
    assert_eq!(
        marked,
        pb.throughput
            .timeline
            .iter()
            .map(|t| t.compactions)
            .sum::<u64>()
    );
    // Equal streams on equal data give equal answers.
    let (ra, rb) = (
        a.phase(PhaseKind::Run).unwrap(),
        b.phase(PhaseKind::Run).unwrap(),
    );
    assert_eq!(
        ra.amplification.user_bytes_written,
        rb.amplification.user_bytes_written
    );
    // Reads never miss a key another thread has not inserted yet (ycsb-d reads the latest).
    for r in [ra, rb] {
        let reads = r.latency_of(Some(OpKind::Read)).unwrap();
        assert_eq!((reads.misses, reads.hits), (0, reads.summary.count));
    }
    spec.seed += 1;
    let c = run(
        &spec,
        &EngineUnderTest::builtin(EngineKind::Memory, Options::default()),
        &cfg(&stop),
    )
    .unwrap();
    assert_ne!(
        c.phase(PhaseKind::Run).unwrap().op_stream_digests,
        ra.op_stream_digests
    );
}

/// An engine that stalls once for 100 ms. Open loop at 1000 ops/s: the ~100 operations
/// intended during the stall start late and their latency (from the intended start) shows
/// it, so p90 is above 30 ms. Closed loop: only the one stalled operation is slow, and p95
/// stays far below 30 ms: the stall is hidden (coordinated omission).
#[test]
fn open_loop_records_a_stall_that_closed_loop_hides() {
    let stop = AtomicBool::new(false);
    let stall = std::time::Duration::from_millis(100);
    let mut spec = preset("ycsb-c").unwrap();
    spec.record_count = 100;
    spec.operation_count = 500;
    spec.threads = 1;
    // Call 200 = the 100th run-phase operation (100 loads come first).
    let engine = || common::sleepy_engine(200, stall);

    spec.target_rate = 1000.0;
    let open = run(&spec, &engine(), &cfg(&stop)).unwrap();
    let p = open.phase(PhaseKind::Run).unwrap();
    assert!(p.open_loop);
    let all = p.latency_of(None).unwrap();
    assert!(
        all.summary.max_ns >= 100_000_000,
        "max {}",
        all.summary.max_ns
    );
    assert!(
        all.summary.p90_ns > 30_000_000,
        "open-loop p90 {} ns",
        all.summary.p90_ns
    );
    // The per-interval percentiles of the timeline show it too.
    assert!(p.throughput.timeline.iter().any(|t| t.p99_ns >= 30_000_000));
    let service = all.service.unwrap();
    assert!(
        service.p90_ns < 30_000_000,
        "service time alone hides it: {}",
        service.p90_ns
    );

    spec.target_rate = 0.0;
    let closed = run(&spec, &engine(), &cfg(&stop)).unwrap();
    let p = closed.phase(PhaseKind::Run).unwrap();
    assert!(!p.open_loop);
    let all = p.latency_of(None).unwrap();
    assert!(all.summary.max_ns >= 100_000_000);
    assert!(p.throughput.timeline.iter().all(|t| t.p99_ns < 30_000_000));
    assert!(
        all.summary.p90_ns < 30_000_000,
        "closed-loop p90 {} ns",
        all.summary.p90_ns
    );
}

/// Setting the stop flag (what Ctrl-C does) ends the run early with a partial result.
#[test]
fn stop_flag_gives_partial_result() {
    let stop = AtomicBool::new(true);
    let mut spec = preset("read-heavy").unwrap();
    spec.record_count = 1000;
    let r = run(
        &spec,
        &EngineUnderTest::builtin(EngineKind::Memory, Options::default()),
        &cfg(&stop),
    )
    .unwrap();
    assert!(r.partial);
    assert_eq!(
        r.partial_reason.as_deref(),
        Some(workloads::runner::INTERRUPTED)
    );
    assert_eq!(
        r.phases.len(),
        1,
        "the run phase does not start after an interrupted load"
    );
}

/// Engines that do not open are an error, not a result.
#[test]
fn engine_that_fails_to_open_is_an_error() {
    let stop = AtomicBool::new(false);
    let spec = preset("read-heavy").unwrap();
    let eut = EngineUnderTest {
        open: Box::new(|_, _| Err(engines::Error::InvalidInput("not built yet".into()))),
        ..EngineUnderTest::builtin(EngineKind::Memory, Options::default())
    };
    let e = run(&spec, &eut, &cfg(&stop)).unwrap_err().to_string();
    assert!(e.contains("not built yet"), "{e}");
}

/// A cold-cache run on an engine with files syncs and drops its files from the page cache
/// between load and run, and says so in the result.
#[test]
fn cold_cache_is_recorded() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("readrandom").unwrap();
    spec.record_count = 2000;
    spec.operation_count = 1000;
    let mut c = cfg(&stop);
    c.cold_cache = true;
    let r = run(&spec, &common::log_engine(), &c).unwrap();
    assert!(r.cold_cache, "{:?}", r.notes);
    assert_eq!(
        r.phase(PhaseKind::Run)
            .unwrap()
            .latency_of(Some(OpKind::Read))
            .unwrap()
            .misses,
        0
    );
}

/// A duration-bound run stops near its deadline and reports a timeline point per second.
#[test]
fn duration_bound_run_has_a_timeline() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("ycsb-b").unwrap();
    spec.record_count = 1000;
    spec.operation_count = 0;
    spec.duration_secs = 2.2;
    spec.target_rate = 2000.0;
    let r = run(
        &spec,
        &EngineUnderTest::builtin(EngineKind::Memory, Options::default()),
        &cfg(&stop),
    )
    .unwrap();
    let p = r.phase(PhaseKind::Run).unwrap();
    assert!(
        p.elapsed_secs >= 2.1 && p.elapsed_secs < 4.0,
        "{}",
        p.elapsed_secs
    );
    let t = &p.throughput.timeline;
    assert_eq!(t.len(), 3, "points at 1 s, 2 s and the end");
    assert_eq!(t.iter().map(|x| x.ops).sum::<u64>(), p.operations);
    // Open loop at 2000/s: the first second holds about 2000 operations.
    // (A closed loop would do hundreds of thousands; the bounds leave room for a busy machine.)
    assert!((1000..=2600).contains(&t[0].ops), "{}", t[0].ops);
}

/// An engine that panics during warm-up or during the measured part ends the phase with a
/// partial result naming the panic: no hang at the barrier, no crash of the runner.
#[test]
fn engine_panic_gives_partial_result() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("ycsb-c").unwrap();
    spec.record_count = 100;
    spec.operation_count = 10_000;
    spec.warmup_ops = 100;
    spec.threads = 2;
    // 30: both threads panic in warm-up (50 gets each); 500: in the measured part.
    for after in [30, 500] {
        let r = run(&spec, &common::panicky_engine(after), &cfg(&stop)).unwrap();
        assert!(r.partial, "{after}");
        let reason = r.partial_reason.clone().unwrap();
        assert!(
            reason.contains("panicked") && reason.contains("deliberate"),
            "{reason}"
        );
        let p = r.phase(PhaseKind::Run).unwrap();
        assert!(
            p.operations <= after.saturating_sub(100),
            "{after}: {}",
            p.operations
        );
    }
}

/// Failed operations are counted (in the operations and the latencies), sampled and noted;
/// they do not stop the run.
#[test]
fn failed_operations_are_counted_and_noted() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("filluniquerandom").unwrap();
    spec.operation_count = 1000;
    let r = run(&spec, &common::flaky_engine(10), &cfg(&stop)).unwrap();
    assert!(!r.partial);
    let p = r.phase(PhaseKind::Run).unwrap();
    assert_eq!((p.operations, p.errors), (1000, 100));
    assert_eq!(p.latency_of(None).unwrap().summary.count, 1000);
    assert_eq!(
        p.error_samples,
        ["insert: I/O error: no space left on device (test)"]
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n == "run: 100 of 1000 operations failed; see error_samples"),
        "{:?}",
        r.notes
    );
    assert_eq!(p.amplification.live_keys, Some(900));
}

/// The time limit bounds the warm-up too: a warm-up of 10^11 operations with a limit of half
/// a second ends at the limit, and the result says that nothing was measured.
#[test]
fn the_time_limit_bounds_the_warm_up() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("read-heavy").unwrap();
    spec.record_count = 100;
    spec.operation_count = 0;
    spec.duration_secs = 0.5;
    spec.warmup_ops = 100_000_000_000;
    let r = run(
        &spec,
        &EngineUnderTest::builtin(EngineKind::Memory, Options::default()),
        &cfg(&stop),
    )
    .unwrap();
    assert!(r.partial);
    let why = r.partial_reason.as_deref().unwrap();
    assert!(
        why.starts_with("the time limit of 0.5 s was reached during the warm-up, after "),
        "{why}"
    );
    assert_eq!(r.phase(PhaseKind::Run).unwrap().operations, 0);
}

/// A load that reaches its time cap ends the run there: partial, the reason names the cap
/// and the records loaded, and there is no run phase. (The null engine spins 20 µs per
/// insert, so 10^6 records would take 20 s; the cap is a quarter of a second.)
#[test]
fn the_load_time_cap_ends_the_run() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("read-heavy").unwrap();
    spec.record_count = 1_000_000;
    spec.operation_count = 1000;
    spec.load_duration_secs = 0.25;
    let mut options = Options::default();
    options.null.spin_ns = 20_000;
    let r = run(
        &spec,
        &EngineUnderTest::builtin(EngineKind::Null, options),
        &cfg(&stop),
    )
    .unwrap();
    assert!(r.partial);
    let why = r.partial_reason.as_deref().unwrap();
    assert!(
        why.starts_with("load time cap of 0.25 s reached after ")
            && why.ends_with(" of 1000000 records: no run phase"),
        "{why}"
    );
    let loaded = r.phase(PhaseKind::Load).unwrap().operations;
    assert!(loaded > 0 && loaded < 1_000_000, "{loaded}");
    assert!(r.phase(PhaseKind::Run).is_none());
}

/// Open loop with two threads at 4 operations per second: each thread's requests are due
/// every half second, and the second thread's are offset by half an interval, so the four
/// requests reach the engine a quarter of a second apart (YCSB staggers its threads' first
/// operations too), never two at once.
#[test]
fn open_loop_threads_are_staggered() {
    let stop = AtomicBool::new(false);
    let spec = WorkloadSpec {
        record_count: 100,
        operation_count: 4,
        threads: 2,
        target_rate: 4.0,
        mix: OpMix {
            read: 1.0,
            ..OpMix::default()
        },
        ..WorkloadSpec::default()
    };
    let (eut, calls) = common::counting_engine();
    let r = run(&spec, &eut, &cfg(&stop)).unwrap();
    assert_eq!(r.phase(PhaseKind::Run).unwrap().operations, 4);
    let mut times = calls.lock().unwrap()[1].get_times.clone();
    times.sort();
    assert_eq!(times.len(), 4);
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        // A quarter of a second by the plan; in lockstep two of the gaps would be about 0.
        assert!(gap.as_millis() >= 125, "requests {gap:?} apart: {times:?}");
    }
}

/// An engine that stalls for 2 s at the 201st operation of a 1 s open-loop run at 1,000
/// operations per second: the 799 operations that fell due during the stall, before the time
/// limit, were never issued, yet they are requests the engine did not serve. They are in the
/// latency figures (each waited at least 1.2 s), counted in a note, and the note on the rate
/// says that the engine kept up with a fraction of the target.
#[test]
fn operations_due_before_the_time_limit_are_recorded_though_never_issued() {
    let stop = AtomicBool::new(false);
    let mut spec = WorkloadSpec {
        record_count: 100,
        operation_count: 0,
        duration_secs: 1.0,
        threads: 1,
        target_rate: 1000.0,
        mix: OpMix {
            read: 1.0,
            ..OpMix::default()
        },
        ..WorkloadSpec::default()
    };
    // Call 300 = run-phase operation 200 (the 100 loads come first), intended at 0.2 s.
    let engine = common::sleepy_engine(300, std::time::Duration::from_secs(2));
    let r = run(&spec, &engine, &cfg(&stop)).unwrap();
    let p = r.phase(PhaseKind::Run).unwrap();
    assert!(p.open_loop);
    assert_eq!(p.operations, 201, "{:?}", r.notes);
    let all = p.latency_of(None).unwrap();
    // 1,000 due in 1 s: 201 issued and 799 overdue (the count of due ones may round up by one).
    assert!(
        (1000..=1001).contains(&all.summary.count),
        "{} recorded",
        all.summary.count
    );
    assert_eq!(
        p.latency_of(Some(OpKind::Read)).unwrap().summary.count,
        all.summary.count
    );
    assert!(
        all.summary.p50_ns >= 1_000_000_000,
        "p50 {}",
        all.summary.p50_ns
    );
    let overdue = all.summary.count - 201;
    // 201 served over the phase's time, of 1,000 per second.
    let rate_note = format!(
        "open loop: the engine kept up with {:.0}% of the target rate",
        100.0 * 201.0 / p.elapsed_secs / 1000.0
    );
    assert!(
        r.notes.iter().any(|n| n.contains(&format!(
            "open loop: {overdue} operations fell due before the time limit"
        ))),
        "{:?}",
        r.notes
    );
    assert!(
        r.notes.iter().any(|n| n.contains(&rate_note)),
        "{:?}",
        r.notes
    );

    // Without the stall, nothing is overdue and the target is met: no such notes.
    spec.duration_secs = 0.5;
    let r = run(
        &spec,
        &EngineUnderTest::builtin(EngineKind::Memory, Options::default()),
        &cfg(&stop),
    )
    .unwrap();
    assert!(
        !r.notes.iter().any(|n| n.contains("fell due")),
        "{:?}",
        r.notes
    );
}
