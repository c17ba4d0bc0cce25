//! The summary table of a workload: one row per series (the repetitions of a run folded into
//! one row: throughput and p99 are their medians, with the 95% interval in the text), the
//! best value of each column marked. Each figure cell carries its exact value in `data-v`
//! (what the sorting script and the tests read); the text is the same value rounded for
//! reading.

use std::fmt::Write as _;

use workloads::result::{PhaseKind, PhaseResult, RunResult};
use workloads::spec::OpKind;

use crate::html::{bytes, escape, finite, nanos, num, Page};
use crate::model::{
    durability_name, has_files, main_phase, role, size_of, Model, Series, Workload,
};

/// Which way is better for a column.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One figure column.
pub struct Column {
    pub title: String,
    pub better: Better,
    pub format: fn(f64) -> String,
    pub values: Vec<Option<f64>>,
}

impl Column {
    fn new(
        title: impl Into<String>,
        better: Better,
        format: fn(f64) -> String,
        rows: &[&RunResult],
        get: impl Fn(&RunResult, &PhaseResult) -> Option<f64>,
    ) -> Column {
        let values = rows
            .iter()
            .map(|r| main_phase(r).and_then(|p| get(r, p)).and_then(finite))
            .collect();
        Column {
            title: title.into(),
            better,
            format,
            values,
        }
    }

    /// A column of per-series figures (medians over repetitions).
    fn of_series(
        title: impl Into<String>,
        better: Better,
        format: fn(f64) -> String,
        series: &[&Series],
        get: impl Fn(&Series) -> Option<f64>,
    ) -> Column {
        let values = series.iter().map(|s| get(s).and_then(finite)).collect();
        Column {
            title: title.into(),
            better,
            format,
            values,
        }
    }

    /// The best value among the rows `in_group` says to compare, when at least two of them
    /// have one.
    pub fn best(&self, in_group: impl Fn(usize) -> bool) -> Option<f64> {
        let present: Vec<f64> = self
            .values
            .iter()
            .enumerate()
            .filter(|(i, _)| in_group(*i))
            .filter_map(|(_, v)| *v)
            .collect();
        if present.len() < 2 {
            return None;
        }
        let pick = |a: f64, b: f64| match self.better {
            Better::Higher => a.max(b),
            Better::Lower => a.min(b),
        };
        present.into_iter().reduce(pick)
    }
}

fn ops_label(op: Option<OpKind>) -> &'static str {
    op.map_or("all", OpKind::name)
}

/// The figure columns of the summary table for `series`.
pub fn columns(series: &[&Series]) -> Vec<Column> {
    use Better::*;
    let rows: Vec<&RunResult> = series.iter().map(|s| s.result).collect();
    let rows = &rows[..];
    let mut cols = vec![Column::of_series(
        "throughput (ops/s)",
        Higher,
        num,
        series,
        |s| s.ops_per_sec(),
    )];
    // Operation types present in any row: `all` first, then in OpKind order.
    let mut ops: Vec<Option<OpKind>> = vec![None];
    for k in OpKind::ALL {
        if rows
            .iter()
            .any(|r| main_phase(r).is_some_and(|p| p.latency_of(Some(k)).is_some()))
        {
            ops.push(Some(k));
        }
    }
    for op in ops {
        let name = ops_label(op);
        type Pick = fn(&workloads::result::LatencySummary) -> u64;
        let picks: [(&str, Pick); 4] = [
            ("p50", |s| s.p50_ns),
            ("p99", |s| s.p99_ns),
            ("p99.9", |s| s.p999_ns),
            ("max", |s| s.max_ns),
        ];
        for (q, pick) in picks {
            if op.is_none() && q == "p99" {
                cols.push(Column::of_series("all p99", Lower, nanos, series, |s| {
                    s.p99()
                }));
                continue;
            }
            cols.push(Column::new(
                format!("{name} {q}"),
                Lower,
                nanos,
                rows,
                move |_, p| {
                    p.latency_of(op)
                        .filter(|l| l.summary.count > 0)
                        .map(|l| pick(&l.summary) as f64)
                },
            ));
        }
    }
    type Amp = fn(&workloads::result::Amplification) -> Option<f64>;
    let amps: [(&str, Amp); 9] = [
        ("write amp settled (engine)", |a| a.write_amp_engine),
        ("write amp in window (engine)", |a| {
            a.in_window.as_ref().and_then(|w| w.write_amp_engine)
        }),
        ("write amp (syscall)", |a| a.write_amp_proc),
        ("write amp (device)", |a| a.write_amp_device),
        ("write amp in window (device)", |a| {
            a.in_window.as_ref().and_then(|w| w.write_amp_device)
        }),
        ("read amp (B/read)", |a| a.read_amp_bytes_per_read),
        ("device reads (B/read)", |a| a.device_read_bytes_per_read),
        ("space amp (allocated)", |a| a.space_amp),
        ("space amp (apparent)", |a| a.space_amp_apparent),
    ];
    for (title, get) in amps {
        cols.push(Column::new(title, Lower, num, rows, move |r, p| {
            get(&p.amplification).filter(|_| has_files(r))
        }));
    }
    cols.push(Column::new(
        "disk (allocated)",
        Lower,
        bytes,
        rows,
        |r, p| {
            p.amplification
                .allocated_bytes
                .filter(|_| r.engine.persistent)
                .map(|b| b as f64)
        },
    ));
    cols.push(Column::new(
        "disk (apparent)",
        Lower,
        bytes,
        rows,
        |r, p| {
            r.engine
                .persistent
                .then_some(p.amplification.disk_bytes as f64)
        },
    ));
    cols.push(Column::new("peak RSS", Lower, bytes, rows, |_, p| {
        Some(p.peak_rss_bytes as f64)
    }));
    cols.push(Column::new("engine memory", Lower, bytes, rows, |_, p| {
        Some(p.engine_stats.memory_bytes as f64)
    }));
    cols.push(Column::new(
        "CPU/op (user+sys)",
        Lower,
        nanos,
        rows,
        |_, p| Some(p.cpu.user_ns_per_op + p.cpu.system_ns_per_op),
    ));
    cols
}

/// Writes the summary table and the engines' own figures for `w`.
pub fn write(page: &mut Page, model: &Model, w: &Workload) {
    let series: Vec<&Series> = w.series.iter().collect();
    let rows: Vec<&RunResult> = w.series.iter().map(|s| s.result).collect();
    let cols = columns(&series);
    let b = page.buf();
    b.push_str(
        "<h3>Summary</h3><div class=\"scroll\"><table class=\"sortable summary\"><thead><tr>",
    );
    b.push_str("<th class=\"l\">engine</th><th>records</th><th>threads</th><th class=\"l\">durability</th><th>operations</th>");
    for c in &cols {
        let _ = write!(b, "<th>{}</th>", escape(&c.title));
    }
    b.push_str("</tr></thead><tbody>");
    for (i, s) in w.series.iter().enumerate() {
        let r = s.result;
        // Rows are compared with rows of the same record count only, and the reference
        // (the floor, not a contestant) is never marked best.
        let contestant = role(&s.engine) != "reference";
        let same =
            |j: usize| size_of(rows[j]) == size_of(r) && role(&w.series[j].engine) != "reference";
        let bests: Vec<Option<f64>> = cols.iter().map(|c| c.best(same)).collect();
        let ops = main_phase(r).map_or(0, |p| p.operations);
        let mut flags = String::from(match (r.partial, main_phase(r).map(|p| p.phase)) {
            (true, Some(PhaseKind::Load)) => " <b>(partial; load phase)</b>",
            (true, _) => " <b>(partial)</b>",
            (false, Some(PhaseKind::Load)) => " (load phase)",
            _ => "",
        });
        if r.engine.persistent && main_phase(r).is_some_and(|p| p.amplification.not_steady) {
            flags.push_str(" <b>(not steady)</b>");
        }
        if s.repeated() {
            let _ = write!(flags, " ({} runs)", s.runs.len());
        }
        let _ = write!(
            b,
            "<tr><td class=\"l\">{}{}{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td class=\"l\">{}</td><td data-v=\"{ops}\">{ops}</td>",
            model.swatch(&s.engine),
            escape(&s.label),
            flags,
            r.spec.record_count,
            r.spec.record_count,
            r.spec.threads,
            r.spec.threads,
            escape(&durability_name(r)),
        );
        for (c, best) in cols.iter().zip(&bests) {
            match c.values[i] {
                Some(v) => {
                    let class = if contestant && *best == Some(v) {
                        " class=\"best\""
                    } else {
                        ""
                    };
                    // A repeated series shows the 95% interval of its median.
                    let spread = match c.title.as_str() {
                        "throughput (ops/s)" => s.throughput,
                        "all p99" => s.p99_ns,
                        _ => None,
                    };
                    let interval = match spread {
                        Some(sp) if sp.n > 1 => format!(
                            "<br><span class=\"note\">95%: {}–{}</span>",
                            (c.format)(sp.low),
                            (c.format)(sp.high)
                        ),
                        _ => String::new(),
                    };
                    let _ = write!(
                        b,
                        "<td{class} data-v=\"{v}\">{}{interval}</td>",
                        (c.format)(v)
                    );
                }
                None => b.push_str("<td>–</td>"),
            }
        }
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table></div><p class=\"note\">★ marks the best value of each column (highest throughput, lowest of everything else) among the contestants (the memory reference is the floor, not one of them) of the same size (records loaded, or operations for a workload that starts empty) that have it; with repetitions a ★ only says which median is best, see the 95% intervals before calling a difference. – means the figure does not apply (e.g. no files) or was not measured. Latency columns are per operation type; CPU/op is the run's process CPU time per operation. Write amp settled (engine): every byte the engine wrote to its files (WAL, logs, tables, pages, compactions), including what it wrote when brought to rest after the last operation, / user bytes written; in window: before that rest; syscall: bytes the process handed to write calls (<code>wchar</code>); device: bytes that reached the device (<code>write_bytes</code> less cancelled writes, after syncfs). Read amp: bytes the engine read from its files per logical read; device reads: bytes read from the device per logical read. Space amp: allocated blocks / live bytes, apparent size beside it. (not steady): the phase wrote less than four times what the engine may buffer. Peak RSS is the run's own process (see Methodology).</p>");
    write_extra(page, model, w);
}

/// The engines' own statistics (`EngineStats::extra`), beside ours.
fn write_extra(page: &mut Page, model: &Model, w: &Workload) {
    let mut keys: Vec<&String> = w
        .series
        .iter()
        .filter_map(|s| main_phase(s.result))
        .flat_map(|p| p.engine_stats.extra.keys())
        .collect();
    keys.sort();
    keys.dedup();
    let b = page.buf();
    if keys.is_empty() {
        b.push_str("<p class=\"note\">No engine reported figures of its own (<code>EngineStats::extra</code>) for this workload.</p>");
        return;
    }
    b.push_str("<h3>The engines' own figures</h3><p class=\"note\">As each engine reports them (its own definitions, e.g. RocksDB's compaction W-Amp), at the end of the phase; compare with our columns above.</p><div class=\"scroll\"><table class=\"sortable extra\"><thead><tr><th class=\"l\">engine</th>");
    for k in &keys {
        let _ = write!(b, "<th>{}</th>", escape(k));
    }
    b.push_str("</tr></thead><tbody>");
    for s in &w.series {
        let Some(p) = main_phase(s.result) else {
            continue;
        };
        if p.engine_stats.extra.is_empty() {
            continue;
        }
        let _ = write!(
            b,
            "<tr><td class=\"l\">{}{}</td>",
            model.swatch(&s.engine),
            escape(&s.label)
        );
        for k in &keys {
            match p.engine_stats.extra.get(*k).copied().and_then(finite) {
                Some(v) => {
                    let _ = write!(b, "<td data-v=\"{v}\">{}</td>", num(v));
                }
                None => b.push_str("<td>–</td>"),
            }
        }
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table></div>");
}
