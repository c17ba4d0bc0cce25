//! Fixture results for the report's tests, made by the runner (never written by hand): the
//! memory engine on a few workloads at two record counts, one timed run for the timeline,
//! and relabelled copies to stand for other engines (one with markup in its name).

#![allow(dead_code)]

use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use engines::{Durability, EngineKind, Options};
use workloads::presets::preset;
use workloads::result::RunResult;
use workloads::runner::{run, EngineUnderTest, Progress, RunConfig};

pub const EVIL: &str = "<script>alert(\"x\")</script>";

fn quiet(_: &Progress) {}

/// Runs `name` on the memory engine with `records` records and `ops` operations (or for
/// `secs` seconds when `secs > 0`).
pub fn run_memory(name: &str, records: u64, ops: u64, secs: f64) -> RunResult {
    let stop = AtomicBool::new(false);
    let mut spec = preset(name).expect("preset");
    spec.record_count = records;
    spec.operation_count = ops;
    spec.duration_secs = secs;
    spec.warmup_ops = 0;
    spec.threads = 1;
    spec.durability = Durability::None;
    let cfg = RunConfig {
        dir: None,
        temp_parent: None,
        cold_cache: false,
        stop: &stop,
        progress: &quiet,
        calibration: None,
    };
    let eut = EngineUnderTest::builtin(EngineKind::Memory, Options::default());
    run(&spec, &eut, &cfg).expect("runner")
}

/// A runner-made result shown under another engine name and family.
pub fn relabel(r: &RunResult, engine: &str, family: &str) -> RunResult {
    let mut r = r.clone();
    r.engine.name = engine.into();
    r.engine.family = family.into();
    let safe: String = engine.chars().filter(char::is_ascii_alphanumeric).collect();
    r.run_id = format!("{safe}-{}", r.run_id);
    r
}

/// The fixture set (made once per test binary).
pub fn fixtures() -> &'static [RunResult] {
    static F: OnceLock<Vec<RunResult>> = OnceLock::new();
    F.get_or_init(|| {
        let mut v = Vec::new();
        for records in [300, 3000] {
            v.push(run_memory("ycsb-a", records, 2000, 0.0));
            v.push(run_memory("ycsb-b", records, 2000, 0.0));
        }
        // A timed run, so the timeline has more than one point.
        v.push(run_memory("ycsb-c", 1000, 0, 1.3));
        // Stand-ins for other engines: a "production" engine of the memory engine's family
        // (for the home-vs-production section), and one whose name is markup.
        let a = v[2].clone();
        v.push(relabel(&a, "fakeprod", &a.engine.family.clone()));
        v.push(relabel(&v[3].clone(), EVIL, "LSM"));
        v
    })
}
