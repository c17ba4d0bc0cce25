//! The summary table printed at the end of `run` and `compare`: one line per (engine,
//! workload), the repetitions of one folded into their median and 95% interval.

use workloads::result::{Calibration, PhaseKind, RunResult};
use workloads::spread::{group_repetitions, Repeated, Spread};

fn us(ns: f64) -> String {
    let v = ns / 1000.0;
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

/// `median±x%` with several repetitions, the plain figure with one.
fn spread(s: Option<&Spread>, fmt: fn(f64) -> String) -> String {
    match s {
        Some(s) if s.n > 1 => format!("{}±{:.0}%", fmt(s.median), 100.0 * s.relative_half_width()),
        Some(s) => fmt(s.median),
        None => "-".into(),
    }
}

/// One line per run phase of each result (repetitions folded).
pub fn print(results: &[RunResult], calibration: Option<&Calibration>) {
    let groups = group_repetitions(results);
    let repeated = groups.iter().any(|g| g.runs.len() > 1);
    let w = if repeated { 11 } else { 8 };
    println!(
        "{:<8} {:<12} {:>9} {:>w$} {:>7} {:>w$} {:>7} {:>8} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>10} {:>6} {:>6} {:>7}  notes",
        "engine",
        "workload",
        "ops",
        "ops/s",
        "p50 us",
        "p99 us",
        "p99.9",
        "max us",
        "WA",
        "WA win",
        "WA sys",
        "WA dev",
        "RA B/op",
        "RA dev",
        "dev rd/op",
        "SA",
        "SA app",
        "RSS MiB",
    );
    for g in &groups {
        line(g, calibration, w);
    }
    if repeated {
        println!(
            "ops/s and p99: median of the repetitions ± half the 95% interval (Student's t below six repetitions), as a share of the median"
        );
    }
}

fn line(g: &Repeated<'_>, calibration: Option<&Calibration>, w: usize) {
    let r = g.representative();
    let Some(p) = r.phase(PhaseKind::Run) else {
        println!(
            "{:<8} {:<12} (no run phase: {})",
            r.engine.name,
            r.spec.name,
            r.partial_reason.as_deref().unwrap_or("?")
        );
        return;
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
    let win = a.in_window.as_ref();
    let mut notes = Vec::new();
    let partial = g.runs.iter().filter(|r| r.partial).count();
    if partial > 0 {
        let why = r
            .partial_reason
            .as_deref()
            .or_else(|| g.runs.iter().find_map(|r| r.partial_reason.as_deref()))
            .unwrap_or("stopped");
        notes.push(if g.runs.len() > 1 {
            format!("PARTIAL {partial} of {}: {why}", g.runs.len())
        } else {
            format!("PARTIAL: {why}")
        });
    }
    if a.not_steady && r.engine.persistent {
        notes.push("not steady".into());
    }
    if p.errors > 0 {
        notes.push(format!("{} errors", p.errors));
    }
    if a.write_amp_mismatch {
        notes.push("WA figures disagree".into());
    }
    if r.cold_cache {
        notes.push("cold".into());
    }
    if let Some(c) = &r.memory_cap {
        notes.push(format!("capped at {} MiB", c.limit_bytes >> 20));
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
    println!(
        "{:<8} {:<12} {:>9} {:>w$} {:>7} {:>w$} {:>7} {:>8} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7} {:>10} {:>6} {:>6} {:>7}  {}",
        r.engine.name,
        r.spec.name,
        p.operations,
        spread(g.throughput.as_ref(), rate),
        us(s.p50_ns as f64),
        spread(g.p99_ns.as_ref(), us),
        us(s.p999_ns as f64),
        us(s.max_ns as f64),
        files(amp(a.write_amp_engine)),
        files(amp(win.and_then(|w| w.write_amp_engine))),
        files(amp(a.write_amp_proc)),
        files(amp(a.write_amp_device)),
        files(
            a.read_amp_bytes_per_read
                .map_or("-".into(), |x| format!("{x:.0}"))
        ),
        files(
            a.device_read_bytes_per_read
                .map_or("-".into(), |x| format!("{x:.0}"))
        ),
        files(device_reads(p)),
        amp(a.space_amp),
        amp(a.space_amp_apparent),
        format!("{:.0}", p.peak_rss_bytes as f64 / (1 << 20) as f64),
        notes.join(", ")
    );
}

/// Device reads per get (`1.02/get`), per scan (`/scan`) where gets or scans are nearly all
/// of the phase, else per operation (`/op`), where the run counted them.
fn device_reads(p: &workloads::result::PhaseResult) -> String {
    use workloads::OpKind;
    [
        (Some(OpKind::Read), "get"),
        (Some(OpKind::Scan), "scan"),
        (None, "op"),
    ]
    .into_iter()
    .find_map(|(op, name)| match p.device_reads_per(op)? {
        (Some(reads), _) => Some(format!("{reads:.2}/{name}")),
        (None, _) => None,
    })
    .unwrap_or_else(|| "-".into())
}
