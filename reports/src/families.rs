//! Each home-built engine beside the production engine of its design family (log+hash, LSM,
//! B-tree), workload by workload.

use std::fmt::Write as _;

use crate::charts::plot::{bars, Bar};
use crate::charts::tick;
use crate::html::{escape, finite, nanos, num, Page};
use crate::model::{has_files, main_phase, Model, Series, HOME_ENGINES};

fn figures(s: &Series) -> (f64, f64, Option<f64>) {
    let p = main_phase(s.result);
    (
        s.ops_per_sec().unwrap_or(f64::NAN),
        s.p99().unwrap_or(f64::NAN),
        p.and_then(|p| p.amplification.write_amp())
            .filter(|_| has_files(s.result)),
    )
}

pub fn write(page: &mut Page, model: &Model) {
    page.section_start("families", "Home-built vs production engines", "families");
    let mut rows = String::new();
    let mut charts = String::new();
    for w in &model.workloads {
        let series: Vec<&Series> = w.main_series().collect();
        // The engines of this workload that are part of a pair, home-built first.
        let mut paired: Vec<&Series> = Vec::new();
        for home in series
            .iter()
            .filter(|s| HOME_ENGINES.contains(&s.engine.as_str()))
        {
            for prod in series.iter().filter(|s| {
                !HOME_ENGINES.contains(&s.engine.as_str())
                    && s.result.engine.family == home.result.engine.family
            }) {
                for s in [*home, *prod] {
                    if !paired.iter().any(|p| p.label == s.label) {
                        paired.push(s);
                    }
                }
                let (ht, hp, hw) = figures(home);
                let (pt, pp, pw) = figures(prod);
                let ratio = if pt > 0.0 { finite(ht / pt) } else { None };
                let _ = write!(
                    rows,
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}{}</td><td class=\"l\">{}{}</td><td data-v=\"{ht}\">{}</td><td data-v=\"{pt}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&w.name),
                    escape(&home.result.engine.family),
                    model.swatch(&home.engine),
                    escape(&home.label),
                    model.swatch(&prod.engine),
                    escape(&prod.label),
                    num(ht),
                    num(pt),
                    ratio.map_or("–".into(), |r| format!("{}×", num(r))),
                    nanos(hp),
                    nanos(pp),
                    hw.map_or("–".into(), num),
                    pw.map_or("–".into(), num),
                );
            }
        }
        if !paired.is_empty() {
            let items: Vec<Bar> = paired
                .iter()
                .map(|s| Bar {
                    label: format!("{} ({})", s.label, s.result.engine.family),
                    colour: model.colour_index(&s.engine),
                    value: figures(s).0,
                })
                .collect();
            charts.push_str(&bars(
                &format!("{}: home-built and production throughput", w.name),
                "operations per second",
                &items,
                &|v| tick(*v),
            ));
        }
    }
    if rows.is_empty() {
        page.push_str("<p class=\"note\">No production engine ran beside a home-built engine of the same family in these results (families: log+hash, LSM, B-tree). Build kvbench with a production engine's feature and run it on the same workloads to fill this section.</p>");
    } else {
        page.push_str("<div class=\"scroll\"><table class=\"sortable families\"><thead><tr><th class=\"l\">workload</th><th class=\"l\">family</th><th class=\"l\">home-built</th><th class=\"l\">production</th><th>home ops/s</th><th>production ops/s</th><th>home / production</th><th>home p99</th><th>production p99</th><th>home write amp (engine, settled)</th><th>production write amp (device, settled)</th></tr></thead><tbody>");
        page.push_str(&rows);
        page.push_str("</tbody></table></div><p class=\"note\">Home-built write amplification is the engine's own count of bytes written to its files; the production engines' is the kernel's count of bytes that reached the device (<code>write_bytes</code> less cancelled writes, after syncfs), since their I/O bypasses our counters. Both are settled: the engine was brought to rest (memtables flushed, commits made durable, compactions finished) inside the window, so writes it deferred are counted. Throughput and p99 are medians where the runs were repeated.</p><div class=\"charts\">");
        page.push_str(&charts);
        page.push_str("</div>");
    }
    page.section_end();
}
