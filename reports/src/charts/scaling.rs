//! Scaling: figures against record count (log scales), for the workloads that ran at several
//! record counts (the main job's size sweep, or `compare --records N` runs reported
//! together): get and scan latency, throughput, write amplification of loading the records
//! and of the run, space amplification, engine memory, and a B-tree's height.

use workloads::result::{PhaseKind, RunResult};
use workloads::spec::OpKind;

use super::plot::{lines, Axis, Line};
use super::{tick, tick_us};
use crate::html::{bytes, escape, Page};
use crate::model::{has_files, main_phase, size_of, Model, Workload};

/// A figure of a result, for one chart.
type Get = fn(&RunResult) -> Option<f64>;

/// Median latency of `op` in the main phase, µs.
fn p50_us(r: &RunResult, op: OpKind) -> Option<f64> {
    let l = main_phase(r)?.latency_of(Some(op))?;
    (l.summary.count > 0).then(|| l.summary.p50_ns as f64 / 1e3)
}

/// Names under which engines report their tree's height (`EngineStats::extra`).
pub const HEIGHT_KEYS: [&str; 3] = ["tree_height", "redb_tree_height", "lmdb_depth"];

/// One chart: title, y-axis description, whether the figure needs files, the figure, and
/// its tick format.
struct Figure {
    name: &'static str,
    desc: &'static str,
    files_only: bool,
    get: Get,
    fmt: fn(f64) -> String,
}

fn figures() -> [Figure; 8] {
    [
        Figure {
            name: "get latency (p50)",
            desc: "median get latency (log)",
            files_only: false,
            get: |r| p50_us(r, OpKind::Read),
            fmt: tick_us,
        },
        Figure {
            name: "scan latency (p50)",
            desc: "median scan latency (log)",
            files_only: false,
            get: |r| p50_us(r, OpKind::Scan),
            fmt: tick_us,
        },
        Figure {
            name: "throughput",
            desc: "operations per second (log)",
            files_only: false,
            get: |r| Some(main_phase(r)?.throughput.ops_per_sec),
            fmt: tick,
        },
        Figure {
            name: "write amplification of loading the records",
            desc: "bytes written per user byte, load phase, settled (log)",
            files_only: true,
            get: |r| r.phase(PhaseKind::Load)?.amplification.write_amp(),
            fmt: tick,
        },
        Figure {
            name: "write amplification of the run",
            desc: "bytes written per user byte, run phase, settled (log)",
            files_only: true,
            get: |r| main_phase(r)?.amplification.write_amp(),
            fmt: tick,
        },
        Figure {
            name: "space amplification",
            desc: "allocated bytes per live byte (log)",
            files_only: true,
            get: |r| main_phase(r)?.amplification.space_amp,
            fmt: tick,
        },
        Figure {
            name: "engine memory",
            desc: "bytes the engine holds in indexes and caches (log)",
            files_only: false,
            get: |r| Some(main_phase(r)?.engine_stats.memory_bytes as f64).filter(|m| *m > 0.0),
            fmt: bytes,
        },
        Figure {
            name: "tree height",
            desc: "levels of the B-tree (log)",
            files_only: true,
            get: |r| {
                let extra = &main_phase(r)?.engine_stats.extra;
                HEIGHT_KEYS.iter().find_map(|k| extra.get(*k).copied())
            },
            fmt: tick,
        },
    ]
}

pub fn write(page: &mut Page, model: &Model) {
    page.section_start("scaling", "Scaling with record count", "scaling");
    let scaled: Vec<&Workload> = model
        .workloads
        .iter()
        .filter(|w| w.record_counts.len() > 1)
        .collect();
    if scaled.is_empty() {
        page.push_str("<p class=\"note\">No workload ran at more than one record count, so there is nothing to scale over. The main job (<code>kvbench compare</code> with no workloads or sizes) runs a size sweep; or run the same workload with several <code>--records</code> values into one directory and report it.</p>");
    } else {
        page.push_str("<p class=\"note\">Each point is one run at that record count (records loaded, or operations for a workload that starts empty). An ordered index keeps get and scan latency nearly flat as the store grows tenfold (a B-tree's height grows by a level at most); a hash index's scans read every key; an LSM tree's write amplification grows with its levels; a hash index's memory grows with its keys.</p>");
    }
    for w in scaled {
        page.push_str(&format!(
            "<h3>{}</h3><div class=\"charts\">",
            escape(&w.name)
        ));
        for f in figures() {
            let mut series: Vec<Line> = Vec::new();
            for s in &w.series {
                if f.files_only && !has_files(s.result) {
                    continue;
                }
                let Some(v) = (f.get)(s.result).filter(|v| v.is_finite() && *v > 0.0) else {
                    continue;
                };
                let pt = (size_of(s.result) as f64, v);
                match series.iter_mut().find(|l| l.label == s.label) {
                    Some(l) => l.points.push(pt),
                    None => series.push(Line {
                        label: s.label.clone(),
                        colour: model.colour_index(&s.engine),
                        points: vec![pt],
                        markers: vec![],
                    }),
                }
            }
            for l in &mut series {
                l.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            series.retain(|l| l.points.len() > 1);
            if series.is_empty() {
                continue;
            }
            let fmt = f.fmt;
            page.push_str(&lines(
                &format!("{}: {} by record count", w.name, f.name),
                &Axis {
                    desc: "records loaded (log)",
                    log: true,
                    from_zero: false,
                    fmt: &tick,
                },
                &Axis {
                    desc: f.desc,
                    log: true,
                    from_zero: false,
                    fmt: &fmt,
                },
                &series,
            ));
        }
        page.push_str("</div>");
    }
    page.section_end();
}
