//! "Capped and in memory": each result run under a memory cap (`--memory-limit`, `compare
//! --io-bound`) beside the result of the same engine on the same workload (same spec name
//! and record count) run without one. One table per workload: throughput, p99, device reads
//! and bytes per get or per scan, write amplification, and the group's peak memory.

use workloads::result::{PhaseResult, RunResult};
use workloads::spread::{group_repetitions, main_phase};
use workloads::OpKind;

use crate::html::{bytes, escape, nanos, num, Page};
use crate::model::{size_of, Model};

/// A capped result and its in-memory twin, if one was run.
struct Pair<'a> {
    capped: &'a RunResult,
    in_memory: Option<&'a RunResult>,
}

/// The pairs of `results`, by workload name in first-seen order (repetitions folded into the
/// run nearest their median).
fn pairs(results: &[RunResult]) -> Vec<(String, Vec<Pair<'_>>)> {
    let reps: Vec<&RunResult> = group_repetitions(results.iter())
        .iter()
        .map(|g| g.representative())
        .collect();
    let mut out: Vec<(String, Vec<Pair<'_>>)> = Vec::new();
    for &r in reps.iter().filter(|r| r.memory_cap.is_some()) {
        let twin = reps.iter().copied().find(|o| {
            o.memory_cap.is_none()
                && o.engine.name == r.engine.name
                && o.spec.name == r.spec.name
                && size_of(o) == size_of(r)
        });
        let pair = Pair {
            capped: r,
            in_memory: twin,
        };
        match out.iter_mut().find(|(w, _)| *w == r.spec.name) {
            Some((_, v)) => v.push(pair),
            None => out.push((r.spec.name.clone(), vec![pair])),
        }
    }
    out
}

/// Device reads and bytes per get, per scan, or else per operation, of a phase:
/// `(label, reads, bytes)`.
fn per_op(p: &PhaseResult) -> Option<(&'static str, Option<f64>, f64)> {
    [
        (Some(OpKind::Read), "get"),
        (Some(OpKind::Scan), "scan"),
        (None, "op"),
    ]
    .into_iter()
    .find_map(|(op, name)| p.device_reads_per(op).map(|(r, b)| (name, r, b)))
}

fn cell(v: Option<String>) -> String {
    format!("<td>{}</td>", v.unwrap_or_else(|| "–".into()))
}

/// Writes the section when any result ran under a cap.
pub fn write(page: &mut Page, model: &Model<'_>) {
    let all = pairs(model.results);
    if all.is_empty() {
        return;
    }
    page.section_start("io-bound", "Capped and in memory", "io-bound");
    page.push_str(
        "<p>Each row is one engine on one workload run twice: in a memory cgroup that holds \
         resident memory and page cache together to the limit (the store is several times \
         larger, so reads go to the device), and without a limit (the store in the page \
         cache). Device reads per get (or per scan) are every read request of the run \
         phase's window that reached the device, those caused by writes and compactions \
         included, divided by the gets (or scans) where they are at least 90% of the \
         operations, else by every operation (<code>/op</code>); a request may span \
         several pages (read-ahead). The engines' caches were sized within the limit by one rule per \
         family (README, \"The I/O-bound regime\").</p>",
    );
    for (workload, rows) in &all {
        page.push_str(&format!(
            "<h3>{}</h3><table class=\"sortable\"><tr><th class=\"l\">engine</th>\
             <th>limit</th><th>peak</th><th>ops/s capped</th><th>ops/s in memory</th>\
             <th>p99 capped</th><th>p99 in memory</th><th>device reads per op capped</th>\
             <th>device bytes per op capped</th><th>device bytes per op in memory</th>\
             <th>WA capped</th><th>WA in memory</th></tr>",
            escape(workload)
        ));
        for p in rows {
            let cap = p.capped.memory_cap.as_ref();
            let c = main_phase(p.capped);
            let m = p.in_memory.and_then(main_phase);
            // A run its time cap ended is marked: its figures cover fewer operations.
            let ops = |x: Option<&PhaseResult>, r: Option<&RunResult>| {
                x.map(|x| {
                    let partial = if r.is_some_and(|r| r.partial) {
                        " (partial)"
                    } else {
                        ""
                    };
                    format!("{}{partial}", num(x.throughput.ops_per_sec))
                })
            };
            let p99 = |x: Option<&PhaseResult>| {
                x.and_then(|x| x.latency_of(None))
                    .map(|l| nanos(l.summary.p99_ns as f64))
            };
            let dev = |x: Option<&PhaseResult>| x.and_then(per_op);
            let wa = |x: Option<&PhaseResult>| {
                x.and_then(|x| x.amplification.write_amp())
                    .map(|w| format!("{w:.2}"))
            };
            let (c_dev, m_dev) = (dev(c), dev(m));
            page.push_str(&format!(
                "<tr><td class=\"l\">{}{}</td>{}{}{}{}{}{}{}{}{}{}{}</tr>",
                model.swatch(&p.capped.engine.name),
                escape(&p.capped.engine.name),
                cell(cap.map(|c| bytes(c.limit_bytes as f64))),
                cell(cap.and_then(|c| c.peak_bytes).map(|b| bytes(b as f64))),
                cell(ops(c, Some(p.capped))),
                cell(ops(m, p.in_memory)),
                cell(p99(c)),
                cell(p99(m)),
                cell(c_dev.and_then(|(n, r, _)| r.map(|r| format!("{} /{n}", num(r))))),
                cell(c_dev.map(|(n, _, b)| format!("{} /{n}", bytes(b)))),
                cell(m_dev.map(|(n, _, b)| format!("{} /{n}", bytes(b)))),
                cell(wa(c)),
                cell(wa(m)),
            ));
        }
        page.push_str("</table>");
        let missing: Vec<&str> = rows
            .iter()
            .filter(|p| p.in_memory.is_none())
            .map(|p| p.capped.engine.name.as_str())
            .collect();
        if !missing.is_empty() {
            page.push_str(&format!(
                "<p class=\"note\">No in-memory run of the same workload for: {}.</p>",
                escape(&missing.join(", "))
            ));
        }
    }
    page.section_end();
}
