//! Charts of one workload: throughput bars, latency percentile spectrum, throughput over time
//! with the engines' compactions marked, and p99 latency per interval (stalls show in both).

use workloads::result::PhaseKind;

use super::plot::{bars, lines, Axis, Bar, Line};
use super::{spectrum_tick, spectrum_x, tick, tick_us};
use crate::html::Page;
use crate::model::{main_phase, Model, Workload};

pub fn write(page: &mut Page, model: &Model, w: &Workload) {
    let top = w.record_counts.last().copied().unwrap_or(0);
    let suffix = if w.record_counts.len() > 1 {
        format!(" (size {top})")
    } else {
        String::new()
    };
    page.push_str("<h3>Charts</h3><div class=\"charts\">");
    let items: Vec<Bar> = w
        .main_series()
        .filter_map(|s| {
            Some(Bar {
                label: s.label.clone(),
                colour: model.colour_index(&s.engine),
                value: s.ops_per_sec()?,
            })
        })
        .collect();
    page.push_str(&bars(
        &format!("{}: throughput{suffix}", w.name),
        "operations per second",
        &items,
        &|v| tick(*v),
    ));

    let spectrum: Vec<Line> = w
        .main_series()
        .filter_map(|s| {
            let lat = main_phase(s.result)?.latency_of(None)?;
            let points = lat
                .histogram
                .spectrum
                .iter()
                .filter_map(|p| Some((spectrum_x(p.percentile)?, p.value_ns as f64 / 1e3)))
                .collect();
            Some(Line {
                label: s.label.clone(),
                colour: model.colour_index(&s.engine),
                points,
                markers: vec![],
            })
        })
        .collect();
    page.push_str(&lines(
        &format!("{}: latency by percentile, all operations{suffix}", w.name),
        &Axis {
            desc: "percentile (log scale of 1/(1-p))",
            log: false,
            from_zero: true,
            fmt: &spectrum_tick,
        },
        &Axis {
            desc: "latency (log scale)",
            log: true,
            from_zero: false,
            fmt: &tick_us,
        },
        &spectrum,
    ));

    let timeline: Vec<Line> = w
        .main_series()
        .filter_map(|s| {
            let p = s
                .result
                .phase(PhaseKind::Run)
                .or_else(|| main_phase(s.result))?;
            let points: Vec<(f64, f64)> = p
                .throughput
                .timeline
                .iter()
                .map(|t| (t.t_secs, t.ops_per_sec))
                .collect();
            // Mark each compaction on the line at the interval it finished in.
            let markers = p
                .throughput
                .events
                .iter()
                .filter_map(|e| {
                    let at = p
                        .throughput
                        .timeline
                        .iter()
                        .find(|t| t.t_secs >= e.t_secs)?;
                    Some((e.t_secs, at.ops_per_sec))
                })
                .collect();
            Some(Line {
                label: s.label.clone(),
                colour: model.colour_index(&s.engine),
                points,
                markers,
            })
        })
        .collect();
    page.push_str(&lines(
        &format!(
            "{}: throughput over time (▲ = compaction/merge){suffix}",
            w.name
        ),
        &Axis {
            desc: "seconds into the run phase",
            log: false,
            from_zero: true,
            fmt: &tick,
        },
        &Axis {
            desc: "operations per second",
            log: false,
            from_zero: true,
            fmt: &tick,
        },
        &timeline,
    ));
    let p99: Vec<Line> = w
        .main_series()
        .filter_map(|s| {
            let p = s
                .result
                .phase(PhaseKind::Run)
                .or_else(|| main_phase(s.result))?;
            let points = p
                .throughput
                .timeline
                .iter()
                .filter(|t| t.p99_ns > 0)
                .map(|t| (t.t_secs, t.p99_ns as f64 / 1e3))
                .collect();
            Some(Line {
                label: s.label.clone(),
                colour: model.colour_index(&s.engine),
                points,
                markers: vec![],
            })
        })
        .collect();
    page.push_str(&lines(
        &format!("{}: p99 latency per second{suffix}", w.name),
        &Axis {
            desc: "seconds into the run phase",
            log: false,
            from_zero: true,
            fmt: &tick,
        },
        &Axis {
            desc: "p99 latency in the interval (log scale)",
            log: true,
            from_zero: false,
            fmt: &tick_us,
        },
        &p99,
    ));
    page.push_str("</div>");
}
