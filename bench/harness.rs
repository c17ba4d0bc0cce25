//! The harness's own cost per operation: criterion times the runner's measured phase on the
//! `null` engine (no work, fixed answers), one thread, read-heavy (zipfian reads and
//! updates), so the time per iteration is what the harness adds to every operation of every
//! engine: drawing the operation, building its key, two clock reads, recording the latency.
//!
//! Target on the 2-core development machine: at most 60 ns per operation (the null engine
//! at 15 M operations per second or more). `cargo bench --bench harness`.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use engines::{EngineKind, Options};
use workloads::result::PhaseKind;
use workloads::runner::{run, EngineUnderTest, RunConfig};

fn harness(c: &mut Criterion) {
    let eut = EngineUnderTest::builtin(EngineKind::Null, Options::default());
    let stop = AtomicBool::new(false);
    let mut g = c.benchmark_group("harness");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    for name in ["read-heavy", "write-heavy"] {
        let mut spec = workloads::presets::preset(name).expect("preset");
        spec.record_count = 1000;
        spec.threads = 1;
        g.bench_function(format!("null/{name}"), |b| {
            b.iter_custom(|iters| {
                spec.operation_count = iters.max(1);
                let cfg = RunConfig {
                    dir: None,
                    temp_parent: None,
                    cold_cache: false,
                    stop: &stop,
                    progress: &|_| {},
                    calibration: None,
                };
                let r = run(&spec, &eut, &cfg).expect("a run on the null engine");
                let p = r.phase(PhaseKind::Run).expect("a run phase");
                // The phase's own clock: the workers' span over `iters` operations.
                Duration::from_secs_f64(p.elapsed_secs)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, harness);
criterion_main!(benches);
