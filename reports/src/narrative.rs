//! "What this shows": a paragraph per workload written from the numbers by fixed rules
//! (who led throughput and by what factor, lowest tail latency, amplification leaders,
//! runs not yet in a steady state, stalls seen on the timeline). No figure here is typed by
//! hand. The comparisons are between contestants: the in-memory reference (`memory`) is
//! stated first as the floor of an engine's cost through this harness, never as a leader,
//! and production engines are named as such. A difference in throughput or p99 is called only when the 95% intervals of the
//! repetitions do not overlap; single runs have no interval, and the text says the
//! difference is untested.

use std::fmt::Write as _;

use workloads::spread::Spread;

use crate::html::{escape, finite, nanos, num, Page};
use crate::model::{has_files, main_phase, role, Model, Series, Workload};

/// A series and its figure.
type Pick<'b, 'a> = (&'b Series<'a>, f64);

/// The series with the highest (or lowest) finite figure, and the one at the other end.
fn extremes<'a, 'b>(
    series: &'b [&'b Series<'a>],
    get: impl Fn(&Series) -> Option<f64>,
    higher_better: bool,
) -> Option<(Pick<'b, 'a>, Pick<'b, 'a>)> {
    let mut vals: Vec<(&Series, f64)> = series
        .iter()
        .filter_map(|s| Some((*s, get(s).and_then(finite)?)))
        .collect();
    if vals.len() < 2 {
        return None;
    }
    vals.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (lo, hi) = (vals[0], vals[vals.len() - 1]);
    Some(if higher_better { (hi, lo) } else { (lo, hi) })
}

/// True when two figures are within 5% of each other (or both zero).
fn alike(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.05 * a.abs().max(b.abs())
}

/// How far apart two figures are: `3.20× that of`.
fn ratio(a: f64, b: f64) -> String {
    if a > 0.0 && b > 0.0 {
        format!("{}× that of", num((a / b).max(b / a)))
    } else {
        "not comparable with".into()
    }
}

/// The sentences for `w`.
pub fn sentences(w: &Workload) -> Vec<String> {
    let mut out = comparisons(w);
    // Every result of the workload (all record counts) is checked for an implausible rate.
    out.extend(w.series.iter().filter_map(impossible_rate));
    for s in &w.series {
        if let Some(p) = main_phase(s.result).filter(|p| p.errors > 0) {
            out.push(format!(
                "{} at size {}: {} of {} operations failed (counted in the latencies){}.",
                escape(&s.label),
                crate::model::size_of(s.result),
                p.errors,
                p.operations,
                p.error_samples
                    .first()
                    .map(|e| format!(", e.g. “{}”", escape(e)))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

/// A series' label for the text, with its role when it is not home-built:
/// `lmdb (production)`, `memory (reference)`.
pub fn who(s: &Series) -> String {
    match role(&s.engine) {
        "home-built" => escape(&s.label),
        r => format!("{} ({r})", escape(&s.label)),
    }
}

/// The comparisons between contestants at the largest record count, and stalls.
fn comparisons(w: &Workload) -> Vec<String> {
    let all: Vec<&Series> = w.main_series().collect();
    let (references, series): (Vec<&Series>, Vec<&Series>) =
        all.iter().partition(|s| role(&s.engine) == "reference");
    let mut out = Vec::new();
    for r in &references {
        out.push(format!(
            "{} keeps its data in memory, with no files and no durability, at {} ops/s: the floor of an engine's cost through this harness, not a contestant.",
            who(r),
            num(r.ops_per_sec().unwrap_or(f64::NAN))
        ));
    }
    if series.len() < 2 {
        if let Some(s) = series.first() {
            let t = s.ops_per_sec().unwrap_or(f64::NAN);
            out.push(format!(
                "Only {} ran this workload ({} ops/s) beside the reference, so there is no contestant to compare it with.",
                who(s),
                num(t)
            ));
        }
        out.extend(series.iter().chain(&references).flat_map(|s| notes(s)));
        return out;
    }
    let tput = |s: &Series| s.ops_per_sec();
    if let Some(((b, bv), (l, lv))) = extremes(&series, tput, true) {
        out.push(match verdict(b.throughput, l.throughput) {
            Verdict::Apart => format!(
                "{} led throughput at {} ops/s, {} {} ({} ops/s); medians of repeated runs whose 95% intervals ({} and {}) do not overlap.",
                who(b),
                num(bv),
                ratio(bv, lv),
                who(l),
                num(lv),
                interval(b.throughput, num),
                interval(l.throughput, num)
            ),
            Verdict::Overlap => format!(
                "Throughput medians ranged from {} ({}) to {} ops/s ({}), but the 95% intervals of the fastest and the slowest overlap ({} and {}): no difference is called.",
                num(lv),
                who(l),
                num(bv),
                who(b),
                interval(l.throughput, num),
                interval(b.throughput, num)
            ),
            Verdict::Single if alike(bv, lv) => format!(
                "All engines ran at about the same rate ({} to {} ops/s).",
                num(lv),
                num(bv)
            ),
            Verdict::Single => format!(
                "{} led throughput at {} ops/s, {} {} ({} ops/s), in one run each: the run-to-run spread is unknown, so the difference is not tested (--repeat 3 measures it).",
                who(b),
                num(bv),
                ratio(bv, lv),
                who(l),
                num(lv)
            ),
        });
    }
    let p99 = |s: &Series| s.p99();
    if let Some(((b, bv), (l, lv))) = extremes(&series, p99, false) {
        out.push(match verdict(b.p99_ns, l.p99_ns) {
            Verdict::Overlap => format!(
                "Their p99 latencies over all operations ranged from {} to {}, with overlapping 95% intervals: no difference is called.",
                nanos(bv),
                nanos(lv)
            ),
            Verdict::Single if alike(bv, lv) => format!(
                "Their p99 latencies over all operations were alike ({} to {}).",
                nanos(bv),
                nanos(lv)
            ),
            v => format!(
                "{} had the lowest p99 latency over all operations ({}); {} had the highest ({}, {}×){}.",
                who(b),
                nanos(bv),
                who(l),
                nanos(lv),
                if bv > 0.0 { num(lv / bv) } else { "n/a".into() },
                if v == Verdict::Apart {
                    "; their 95% intervals do not overlap"
                } else {
                    ", in one run each (not tested against run-to-run spread)"
                }
            ),
        });
    }
    // Engine-counted figures only: the kernel's count for an engine doing its own I/O can
    // be near zero while the engine holds unsynced commits in memory (redb in `none`).
    let wamp = |s: &Series| {
        main_phase(s.result)?
            .amplification
            .write_amp_engine
            .filter(|_| has_files(s.result))
    };
    if let Some(((b, bv), (l, lv))) = extremes(&series, wamp, false) {
        out.push(if alike(bv, lv) {
            format!("Write amplification was alike across engines ({}).", num(bv))
        } else {
            format!(
                "Of the engines whose writes kvbench counts itself, {} wrote the fewest bytes per user byte (write amplification {}); {} wrote the most ({}).",
                who(b),
                num(bv),
                who(l),
                num(lv)
            )
        });
    }
    let samp = |s: &Series| {
        main_phase(s.result)?
            .amplification
            .space_amp
            .filter(|_| has_files(s.result))
    };
    if let Some(((b, bv), (l, lv))) = extremes(&series, samp, false) {
        out.push(if alike(bv, lv) {
            format!(
                "Space amplification was alike across engines ({}).",
                num(bv)
            )
        } else {
            format!(
                "{} used the least disk per live byte (space amplification {}), {} the most ({}).",
                who(b),
                num(bv),
                who(l),
                num(lv)
            )
        });
    }
    let device = |s: &Series| {
        main_phase(s.result)?
            .amplification
            .write_amp_device
            .filter(|_| has_files(s.result))
    };
    if let Some(((b, bv), (l, lv))) = extremes(&series, device, false) {
        if !alike(bv, lv) {
            out.push(format!(
                "By the device's count (bytes that reached the disk, production engines included), {} wrote the fewest bytes per user byte ({}) and {} the most ({}).",
                who(b),
                num(bv),
                who(l),
                num(lv)
            ));
        }
    }
    out.extend(all.iter().flat_map(|s| notes(s)));
    out
}

/// Sentences about one series: not steady, stalled, partial.
fn notes(s: &Series) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(a) = main_phase(s.result)
        .map(|p| &p.amplification)
        .filter(|a| a.not_steady && has_files(s.result))
    {
        out.push(format!(
            "{} had not reached a steady state: it wrote {} of user data, less than four times the {} it may hold in memory before writing{}.",
            who(s),
            crate::html::bytes(a.user_bytes_written as f64),
            crate::html::bytes(a.write_buffer_bytes as f64),
            match (a.write_amp_engine.or(a.write_amp_device), a.write_amp_in_window()) {
                (Some(settled), Some(window)) => format!(
                    " (write amplification {} settled, {} inside the latency window)",
                    num(settled),
                    num(window)
                ),
                _ => String::new(),
            }
        ));
    }
    if let Some(sentence) = stall(s) {
        out.push(sentence);
    }
    if s.result.partial {
        out.push(format!(
            "{}'s run is partial ({}): its figures cover only what ran.",
            who(s),
            escape(
                s.result
                    .partial_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            )
        ));
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Both repeated, intervals apart: a difference.
    Apart,
    /// Both repeated, intervals overlap: no difference.
    Overlap,
    /// At least one side ran once: untested.
    Single,
}

fn verdict(a: Option<Spread>, b: Option<Spread>) -> Verdict {
    match (a, b) {
        (Some(a), Some(b)) if a.n > 1 && b.n > 1 => {
            if a.apart(&b) {
                Verdict::Apart
            } else {
                Verdict::Overlap
            }
        }
        _ => Verdict::Single,
    }
}

/// `low–high` of a spread's 95% interval.
fn interval(s: Option<Spread>, fmt: fn(f64) -> String) -> String {
    s.map_or("–".into(), |s| format!("{}–{}", fmt(s.low), fmt(s.high)))
}

/// A stall: an interval (not the last, which may be short) below half the phase's median
/// rate, with the compactions seen.
fn stall(s: &Series) -> Option<String> {
    let p = main_phase(s.result)?;
    let tl = &p.throughput.timeline;
    if tl.len() < 3 {
        return None;
    }
    let full = &tl[..tl.len() - 1];
    let mut rates: Vec<f64> = full
        .iter()
        .map(|t| t.ops_per_sec)
        .filter(|v| v.is_finite())
        .collect();
    if rates.is_empty() {
        return None;
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let worst = full
        .iter()
        .filter(|t| t.ops_per_sec.is_finite())
        .min_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec))?;
    let compactions: u64 = p.throughput.events.iter().map(|e| e.count).sum();
    (median > 0.0 && worst.ops_per_sec < 0.5 * median).then(|| {
        format!(
            "{} stalled: at {} s its rate fell to {} ops/s against a median of {} ops/s ({} compactions/merges in the phase).",
            who(s),
            num(worst.t_secs),
            num(worst.ops_per_sec),
            num(median),
            compactions
        )
    })
}

/// Little's law for a closed loop: `threads` workers cannot complete more than
/// `threads / mean latency` operations a second. A rate far above that means the phase's
/// elapsed time is wrong, and the reader must be told.
fn impossible_rate(s: &Series) -> Option<String> {
    let p = main_phase(s.result)?;
    let mean_ns = p.latency_of(None)?.summary.mean_ns;
    if p.open_loop || mean_ns.is_nan() || mean_ns <= 0.0 || p.threads == 0 {
        return None;
    }
    let bound = p.threads as f64 * 1e9 / mean_ns;
    (p.throughput.ops_per_sec > 2.0 * bound).then(|| {
        format!(
            "Check {} at {} records: its throughput ({} ops/s) is more than {} workers with a mean latency of {} can complete ({} ops/s), so its measured elapsed time ({} s) looks too short.",
            escape(&s.label),
            s.result.spec.record_count,
            num(p.throughput.ops_per_sec),
            p.threads,
            nanos(mean_ns),
            num(bound),
            num(p.elapsed_secs)
        )
    })
}

pub fn write(page: &mut Page, _model: &Model, w: &Workload) {
    let s = sentences(w);
    let b = page.buf();
    b.push_str("<div class=\"narrative\"><b>What this shows.</b> ");
    if s.is_empty() {
        b.push_str("No figures to compare.");
    }
    for x in s {
        let _ = write!(b, "{x} ");
    }
    b.push_str("</div>");
}
