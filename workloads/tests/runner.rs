//! The runner end to end on the memory engine: results are complete and consistent, the
//! same seed gives the same operation stream, result files round-trip.

use std::sync::atomic::AtomicBool;

use engines::{EngineKind, Options};
use workloads::presets::preset;
use workloads::result::PhaseKind;
use workloads::runner::{run, EngineUnderTest, RunConfig};
use workloads::spec::OpKind;

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
    // User bytes written: every update's value plus its key ("user" + digits).
    let values = updates.summary.count * spec.value_size.max() as u64;
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
