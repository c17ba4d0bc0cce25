//! Scaling: throughput and write amplification against record count (log scale), for the
//! workloads that ran at several record counts.

use super::plot::{lines, Axis, Line};
use super::tick;
use crate::html::{escape, Page};
use crate::model::{has_files, main_phase, size_of, Model, Workload};
use workloads::result::Amplification;

pub fn write(page: &mut Page, model: &Model) {
    page.section_start("scaling", "Scaling with record count", "scaling");
    let scaled: Vec<&Workload> = model
        .workloads
        .iter()
        .filter(|w| w.record_counts.len() > 1)
        .collect();
    if scaled.is_empty() {
        page.push_str("<p class=\"note\">No workload ran at more than one record count, so there is nothing to scale over. Run the same workload with several <code>--records</code> values to fill this section.</p>");
    }
    type Get = fn(&Amplification, f64) -> Option<f64>;
    let figures: [(&str, &str, Get); 2] = [
        ("throughput", "operations per second", |_, t| Some(t)),
        (
            "write amplification",
            "bytes written (engine count, else the kernel's) / user bytes",
            |a, _| a.write_amp(),
        ),
    ];
    for w in scaled {
        page.push_str(&format!(
            "<h3>{}</h3><div class=\"charts\">",
            escape(&w.name)
        ));
        for (name, desc, get) in figures {
            let mut series: Vec<Line> = Vec::new();
            for s in &w.series {
                let Some(p) = main_phase(s.result) else {
                    continue;
                };
                let figure = get(&p.amplification, p.throughput.ops_per_sec);
                let is_amp = name != "throughput";
                let Some(v) = figure.filter(|_| !is_amp || has_files(s.result)) else {
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
            if !series.iter().any(|l| l.points.len() > 1) {
                page.push_str(&format!(
                    "<p class=\"note\">{}: no engine has {name} figures at two or more sizes.</p>",
                    escape(&w.name)
                ));
                continue;
            }
            page.push_str(&lines(
                &format!("{}: {name} by record count", w.name),
                &Axis {
                    desc: "records loaded, or operations if it starts empty (log)",
                    log: true,
                    from_zero: false,
                    fmt: &tick,
                },
                &Axis {
                    desc,
                    log: true,
                    from_zero: false,
                    fmt: &tick,
                },
                &series,
            ));
        }
        page.push_str("</div>");
    }
    page.section_end();
}
