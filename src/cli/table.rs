//! The summary table printed at the end of `run` and `compare`.

use workloads::result::{Calibration, PhaseKind, RunResult};

fn us(ns: u64) -> String {
    let v = ns as f64 / 1000.0;
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn amp(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.2}"))
}

fn rate(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else {
        format!("{v:.0}")
    }
}

/// One line per run phase of each result.
pub fn print(results: &[RunResult], calibration: Option<&Calibration>) {
    println!(
        "{:<8} {:<12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6} {:>6} {:>8} {:>6}  notes",
        "engine",
        "workload",
        "ops",
        "ops/s",
        "p50 us",
        "p99 us",
        "p99.9",
        "max us",
        "WA",
        "WA os",
        "RA B/op",
        "SA"
    );
    for r in results {
        let Some(p) = r.phase(PhaseKind::Run) else {
            println!(
                "{:<8} {:<12} (no run phase: {})",
                r.engine.name,
                r.spec.name,
                r.partial_reason.as_deref().unwrap_or("?")
            );
            continue;
        };
        let s = p.latency_of(None).map(|l| l.summary).unwrap_or_default();
        // Amplification means nothing for an engine without files: show "-".
        let files = |v: String| {
            if r.engine.persistent {
                v
            } else {
                "-".to_string()
            }
        };
        let a = &p.amplification;
        let mut notes = Vec::new();
        if r.partial {
            notes.push("PARTIAL".to_string());
        }
        if p.errors > 0 {
            notes.push(format!("{} errors", p.errors));
        }
        if a.write_amp_mismatch {
            notes.push("WA figures disagree".into());
        }
        if let Some(c) = calibration.filter(|c| c.fsync_latency.p50_ns > 0) {
            if r.durability == engines::Durability::Sync && r.engine.persistent {
                // One fsync per write at the device's median fsync latency; group commit
                // can beat it with several writers.
                let fsync_rate = 1e9 / c.fsync_latency.p50_ns as f64;
                notes.push(format!(
                    "{:.0}% of one-fsync-per-op rate",
                    100.0 * p.throughput.ops_per_sec / fsync_rate
                ));
            }
        }
        if let Some(c) = calibration.filter(|c| c.memory_engine_ops_per_sec > 0.0) {
            // Share of the harness floor: the memory engine's rate on one thread.
            notes.push(format!(
                "{:.0}% of floor",
                100.0 * p.throughput.ops_per_sec / c.memory_engine_ops_per_sec
            ));
        }
        println!(
            "{:<8} {:<12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6} {:>6} {:>8} {:>6}  {}",
            r.engine.name,
            r.spec.name,
            p.operations,
            rate(p.throughput.ops_per_sec),
            us(s.p50_ns),
            us(s.p99_ns),
            us(s.p999_ns),
            us(s.max_ns),
            files(amp(a.write_amp_engine)),
            files(amp(a.write_amp_proc)),
            files(
                a.read_amp_bytes_per_read
                    .map_or("-".into(), |x| format!("{x:.0}"))
            ),
            amp(a.space_amp),
            notes.join(", ")
        );
    }
}
