//! The overview at the top: one row per workload, one column per engine, throughput and p99
//! latency at the workload's largest size, the fastest contestant of each row marked (the
//! in-memory reference is the floor, never marked).

use std::fmt::Write as _;

use crate::html::{escape, finite, nanos, num, Page};
use crate::model::{main_phase, role, Model};

pub fn write(page: &mut Page, model: &Model) {
    if model.workloads.is_empty() {
        return;
    }
    page.section_start("overview", "Overview", "overview");
    let b = page.buf();
    b.push_str("<div class=\"scroll\"><table class=\"sortable overview\"><thead><tr><th class=\"l\">workload</th>");
    for e in &model.engines {
        let _ = write!(b, "<th>{}{}</th>", model.swatch(e), escape(e));
    }
    b.push_str("</tr></thead><tbody>");
    for w in &model.workloads {
        // Per engine, its first series at the largest size, and whether it is a contestant
        // (the reference is the floor, never marked fastest).
        let cells: Vec<Option<(f64, Option<u64>, bool)>> = model
            .engines
            .iter()
            .map(|e| {
                let s = w.main_series().find(|s| &s.engine == e)?;
                main_phase(s.result)?;
                let tp = finite(s.ops_per_sec()?)?;
                let p99 = s.p99().map(|v| v as u64);
                Some((tp, p99, role(e) != "reference"))
            })
            .collect();
        let contestants = || cells.iter().flatten().filter(|c| c.2);
        let present = contestants().count();
        let best = contestants().map(|c| c.0).fold(f64::NEG_INFINITY, f64::max);
        let _ = write!(b, "<tr><td class=\"l\">{}</td>", escape(&w.name));
        for c in &cells {
            match c {
                Some((tp, p99, contestant)) => {
                    let class = if *contestant && present > 1 && *tp == best {
                        " class=\"best\""
                    } else {
                        ""
                    };
                    let _ = write!(
                        b,
                        "<td{class} data-v=\"{tp}\">{} ops/s<br><span class=\"note\">p99 {}</span></td>",
                        num(*tp),
                        p99.map_or("–".into(), |v| nanos(v as f64))
                    );
                }
                None => b.push_str("<td>–</td>"),
            }
        }
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table></div><p class=\"note\">Throughput of the measured phase and p99 latency over all operations (medians where runs were repeated), at each workload's largest size; ★ marks the highest throughput of the row among the contestants (not the memory reference), which is a difference only where the intervals in the workload's table do not overlap. Details per workload below.</p>");
    page.section_end();
}
