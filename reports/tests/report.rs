//! The report built from runner-made results: every section present, table figures equal to
//! the results', text escaped, nothing referenced outside the page, and bad input handled.

mod common;

use std::time::Instant;

use common::{fixtures, relabel, EVIL};
use reports::{load_results, load_results_with_warnings, render, write_report, ReportError};
use workloads::result::{PhaseKind, RunResult};

/// The `<section id="...">` ... `</section>` text of `id`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("section {id} missing"));
    let end = html[start..].find("</section>").expect("section end") + start;
    &html[start..end]
}

/// Rows of the first `table.summary` in `text`: header titles, then per row the cells'
/// (`data-v` or text).
fn summary_table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let start = text
        .find("<table class=\"sortable summary\">")
        .expect("summary table");
    let end = text[start..].find("</table>").unwrap() + start;
    let t = &text[start..end];
    let head = &t[..t.find("</thead>").unwrap()];
    let headers = head
        .split("</th>")
        .filter(|h| h.contains("<th"))
        .map(|h| h[h.rfind('>').unwrap() + 1..].to_string())
        .collect();
    let body = &t[t.find("<tbody>").unwrap()..];
    let rows = body
        .split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|c| match c.find("data-v=\"") {
                    Some(i) if i < c.find('>').unwrap() => {
                        let v = &c[i + 8..];
                        v[..v.find('"').unwrap()].to_string()
                    }
                    _ => {
                        let c = &c[c.find('>').unwrap() + 1..];
                        c[..c.find("</td>").unwrap()].to_string()
                    }
                })
                .collect()
        })
        .collect();
    (headers, rows)
}

#[test]
fn every_section_is_present() {
    // fakeprod stands for an engine with files, so that amplification charts are drawn.
    let mut results = fixtures().to_vec();
    for r in &mut results {
        if r.engine.name == "fakeprod" {
            r.engine.persistent = true;
        }
    }
    let html = render(&results, None);
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    let workloads = ["ycsb-a", "ycsb-b", "ycsb-c"];
    let overview = section(&html, "overview");
    for w in workloads {
        assert!(
            overview.contains(&format!("<td class=\"l\">{w}</td>")),
            "overview row {w}"
        );
    }
    let c = results.iter().find(|r| r.spec.name == "ycsb-c").unwrap();
    let tp = c.phase(PhaseKind::Run).unwrap().throughput.ops_per_sec;
    assert!(
        overview.contains(&format!("data-v=\"{tp}\"")),
        "overview figure"
    );
    for (i, w) in workloads.iter().enumerate() {
        let s = section(&html, &format!("w{i}"));
        assert!(s.contains(&format!("Workload: {w}")), "{w}");
        assert!(s.contains("What this shows"), "{w}: narrative");
        assert!(s.contains("table class=\"sortable summary\""), "{w}: table");
        assert!(s.contains(": throughput"), "{w}: throughput bars");
        assert!(s.contains("latency by percentile"), "{w}: spectrum");
        assert!(s.contains("throughput over time"), "{w}: timeline");
        assert!(
            s.contains("p99 latency per second"),
            "{w}: latency over time"
        );
        assert_eq!(s.matches("<svg").count(), 4, "{w}: four charts");
    }
    let amp = section(&html, "amplification");
    // Three bar charts and the RUM scatter for ycsb-a, where an engine with files ran; a
    // note for the others.
    assert_eq!(amp.matches("<svg").count(), 4);
    assert_eq!(
        amp.matches("No engine with files ran this workload")
            .count(),
        2
    );
    assert!(amp.contains("read vs write amplification"));
    let scaling = section(&html, "scaling");
    // ycsb-a and ycsb-b ran at 300 and 3000 records: get latency, throughput and engine
    // memory for each; no engine with files ran there at two sizes, so no amplification or
    // height charts, and no scans, so no scan latency.
    assert_eq!(scaling.matches("<svg").count(), 6);
    for w in ["ycsb-a", "ycsb-b"] {
        for f in ["get latency (p50)", "throughput", "engine memory"] {
            assert!(
                scaling.contains(&format!("{w}: {f} by record count")),
                "{w}: {f}"
            );
        }
    }
    assert!(!scaling.contains("write amplification of"));
    assert!(!scaling.contains("scan latency (p50) by record count"));
    assert!(scaling.contains("ycsb-a: throughput by record count"));
    let fam = section(&html, "families");
    assert!(
        fam.contains("fakeprod") && fam.contains("<table"),
        "pairing"
    );
    // ycsb-a pairs memory with fakeprod (same family): one chart.
    assert_eq!(fam.matches("<svg").count(), 1, "pair chart");
    let env = section(&html, "environment");
    for part in [
        "Machine 1",
        "Engines and their options",
        "Workload specs",
        "Calibration",
        "Methodology",
        "W-Amp",
        "group_commit",
    ] {
        assert!(env.contains(part), "environment: {part}");
    }
    // The narrative is written from the numbers (fakeprod is a copy of memory's result):
    // memory is the floor, not a contestant, so fakeprod has no one to be compared with.
    let w0 = section(&html, "w0");
    assert!(
        w0.contains("memory (reference) keeps its data in memory")
            && w0.contains("Only fakeprod (production) ran this workload"),
        "narrative: the reference as the floor, the production engine named as such"
    );
    assert!(!w0.contains("memory (reference) led"));
}

#[test]
fn table_figures_equal_the_results() {
    // fakeprod stands for an engine with files, so that its amplification shows.
    let mut results = fixtures().to_vec();
    for r in &mut results {
        if r.engine.name == "fakeprod" {
            r.engine.persistent = true;
        }
    }
    // A second contestant at 3000 records beside fakeprod (memory, the reference, is never
    // marked best), half as fast.
    let mut other = relabel(&results[2], "other", "LSM");
    for p in &mut other.phases {
        p.throughput.ops_per_sec /= 2.0;
    }
    results.push(other);
    let results = &results[..];
    let html = render(results, None);
    let s = section(&html, "w0");
    let (headers, rows) = summary_table(s);
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name} in {headers:?}"))
    };
    let ours: Vec<&RunResult> = results.iter().filter(|r| r.spec.name == "ycsb-a").collect();
    assert_eq!(rows.len(), ours.len());
    let mut matched = 0;
    let mut amp_rows = 0;
    for r in ours {
        let p = r.phase(PhaseKind::Run).unwrap();
        let row = rows
            .iter()
            .find(|row| {
                row[0].contains(&reports::html::escape(&r.engine.name))
                    && row[1] == r.spec.record_count.to_string()
            })
            .expect("row of the result");
        let f = |name: &str| -> f64 { row[col(name)].parse().expect("a number") };
        assert_eq!(f("throughput (ops/s)"), p.throughput.ops_per_sec);
        assert_eq!(row[col("operations")], p.operations.to_string());
        let all = p.latency_of(None).unwrap().summary;
        assert_eq!(f("all p50"), all.p50_ns as f64);
        assert_eq!(f("all p99"), all.p99_ns as f64);
        assert_eq!(f("all p99.9"), all.p999_ns as f64);
        assert_eq!(f("all max"), all.max_ns as f64);
        let read = p.latency_of(Some(workloads::OpKind::Read)).unwrap().summary;
        assert_eq!(f("read p99"), read.p99_ns as f64);
        let upd = p
            .latency_of(Some(workloads::OpKind::Update))
            .unwrap()
            .summary;
        assert_eq!(f("update max"), upd.max_ns as f64);
        assert_eq!(f("peak RSS"), p.peak_rss_bytes as f64);
        assert_eq!(
            f("CPU/op (user+sys)"),
            p.cpu.user_ns_per_op + p.cpu.system_ns_per_op
        );
        match p.amplification.write_amp_engine {
            Some(w) if r.engine.persistent => assert_eq!(f("write amp settled (engine)"), w),
            // No files: amplification does not apply and is shown as absent.
            _ => assert_eq!(row[col("write amp settled (engine)")], "–"),
        }
        if r.engine.persistent {
            let amp = &p.amplification;
            assert_eq!(f("disk (apparent)"), amp.disk_bytes as f64);
            assert_eq!(f("disk (allocated)"), amp.allocated_bytes.unwrap() as f64);
            if let Some(x) = amp.read_amp_bytes_per_read {
                assert_eq!(f("read amp (B/read)"), x);
            }
            if let Some(x) = amp.space_amp {
                assert_eq!(f("space amp (allocated)"), x);
            }
            if let Some(x) = amp.in_window.as_ref().and_then(|w| w.write_amp_engine) {
                assert_eq!(f("write amp in window (engine)"), x);
            }
            amp_rows += 1;
        }
        matched += 1;
    }
    assert!(matched >= 3);
    assert_eq!(amp_rows, 1, "fakeprod's amplification checked");
    // The best throughput among the rows of the largest record count (the only count with
    // more than one row) is the one marked.
    let best_cells = s.matches("class=\"best\"").count();
    assert!(best_cells > 0, "some column has a best value");
    let best_tp = rows
        .iter()
        .filter(|r| r[1] == "3000")
        .map(|r| r[col("throughput (ops/s)")].parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max);
    assert!(s.contains(&format!("<td class=\"best\" data-v=\"{best_tp}\">")));
}

#[test]
fn text_from_results_is_escaped() {
    let mut results = fixtures().to_vec();
    results[0].spec.name = "<b>bold</b>".into();
    results[0].notes.push("<img src=x onerror=alert(1)>".into());
    let html = render(&results, None);
    assert!(!html.contains(EVIL), "raw script from a label");
    assert!(!html.contains("<b>bold</b>") && !html.contains("<img"));
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
    // The only script element is the report's own sorting script.
    assert_eq!(html.matches("<script").count(), 1);
}

#[test]
fn the_page_references_nothing_outside_itself() {
    let html = render(fixtures(), None);
    let lower = html.to_ascii_lowercase();
    for bad in [
        "src=", "<link", "@import", "url(", "<iframe", "<object", "<embed",
    ] {
        assert!(!lower.contains(bad), "page contains {bad}");
    }
    for (i, _) in lower.match_indices("href=") {
        let v = &lower[i + 5..];
        assert!(
            v.starts_with("\"#"),
            "external link: {}",
            &v[..v.len().min(60)]
        );
    }
    // `http` appears only as the SVG namespace name, which is not fetched.
    let http = lower.matches("http").count();
    let ns = lower
        .matches("xmlns=\"http://www.w3.org/2000/svg\"")
        .count();
    assert!(ns > 0);
    assert_eq!(http, ns, "only SVG namespace names");
}

#[test]
fn loads_a_directory_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    for r in fixtures() {
        workloads::output::write_result(dir.path(), r).unwrap();
    }
    std::fs::write(dir.path().join("junk.json"), "{ not json").unwrap();
    std::fs::write(dir.path().join("other.json"), "{\"a\": 1}").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let loaded = load_results_with_warnings(dir.path()).unwrap();
    assert_eq!(loaded.results.len(), fixtures().len());
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    assert!(loaded.warnings.iter().any(|w| w.contains("junk.json")));
    assert_eq!(load_results(dir.path()).unwrap().len(), fixtures().len());

    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let path = write_report(dir.path(), &out).unwrap();
    assert_eq!(path, out.join("report.html"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("Skipped:") && text.contains("junk.json"));
    let named = write_report(dir.path(), &dir.path().join("sub/r.html")).unwrap();
    assert!(named.ends_with("sub/r.html") && named.exists());
}

#[test]
fn bad_directories_are_clear_errors() {
    let empty = tempfile::tempdir().unwrap();
    let e = load_results(empty.path()).unwrap_err();
    assert!(matches!(e, ReportError::NoResults { .. }));
    assert!(e.to_string().contains("no kvbench result files"));
    std::fs::write(empty.path().join("bad.json"), "[1,2").unwrap();
    let e = load_results(empty.path()).unwrap_err();
    assert!(e.to_string().contains("bad.json"), "{e}");
    let missing = empty.path().join("nope");
    let e = write_report(&missing, &empty.path().join("r.html")).unwrap_err();
    assert!(matches!(e, ReportError::ReadDir { .. }), "{e}");
    // A newer schema is skipped with its reason.
    let mut v = serde_json::to_value(&fixtures()[0]).unwrap();
    v["schema_version"] = serde_json::json!(workloads::SCHEMA_VERSION + 1);
    std::fs::write(empty.path().join("new.json"), v.to_string()).unwrap();
    let e = load_results(empty.path()).unwrap_err();
    assert!(e.to_string().contains("newer"), "{e}");
}

#[test]
fn odd_figures_and_small_sets_render() {
    let base = &fixtures()[0];
    // NaN, infinite and zero figures.
    let mut odd = base.clone();
    for p in &mut odd.phases {
        p.throughput.ops_per_sec = f64::NAN;
        p.amplification.write_amp_engine = Some(f64::INFINITY);
        p.amplification.space_amp = Some(0.0);
        p.amplification.read_amp_bytes_per_read = Some(f64::NAN);
        for t in &mut p.throughput.timeline {
            t.ops_per_sec = 0.0;
        }
        for l in &mut p.latency {
            for s in &mut l.histogram.spectrum {
                s.value_ns = 0;
            }
        }
    }
    let zero = relabel(&odd, "zero", "LSM");
    // No phases at all, empty names, empty spectra and timelines.
    let mut bare = relabel(base, "", "");
    bare.phases.clear();
    bare.spec.name = String::new();
    let mut hollow = relabel(base, "hollow", "B-tree");
    for p in &mut hollow.phases {
        p.throughput.timeline.clear();
        p.latency.clear();
        p.operations = 0;
    }
    for set in [
        vec![bare.clone()],
        vec![hollow.clone(), bare, base.clone()],
        vec![],
        vec![base.clone()],
        vec![odd.clone()],
        vec![odd.clone(), zero.clone()],
        vec![base.clone(), odd, zero],
    ] {
        let html = render(&set, None);
        assert!(
            html.trim_end().ends_with("</html>"),
            "{} results",
            set.len()
        );
        if set.is_empty() {
            assert!(html.contains("No results to show"));
        } else {
            assert!(html.contains("<section id=\"w0\""));
            assert!(!html.contains("could not be drawn"), "{html}");
        }
    }
    let one = render(std::slice::from_ref(base), None);
    // The reference alone: stated as the floor, with no contestant to compare.
    assert!(one.contains("memory (reference) keeps its data in memory"));
    assert!(!one.contains("led throughput"));
}

#[test]
fn mixed_machines_and_versions_are_called_out() {
    let mut other = relabel(&fixtures()[0], "memory", "reference");
    other.environment.hostname = "elsewhere".into();
    other.kvbench_version = "0.0.9".into();
    let html = render(&[fixtures()[0].clone(), other], None);
    assert!(html.contains("2 different machines or builds"));
    assert!(html.contains("different kvbench/schema versions"));
    let same = render(&fixtures()[..2], None);
    assert!(!same.contains("different machines"));
}

#[test]
fn fifty_results_render_quickly() {
    let mut many = Vec::new();
    for i in 0..50 {
        let r = &fixtures()[i % fixtures().len()];
        many.push(relabel(r, &format!("e{}", i % 6), "LSM"));
    }
    let t = Instant::now();
    let html = render(&many, None);
    let took = t.elapsed();
    eprintln!("50 results: {} bytes in {took:?}", html.len());
    assert!(html.contains("</html>"));
}

#[test]
fn calibration_beside_the_results_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = workloads::calibrate::CalibrateConfig {
        file_mib: 1,
        fsyncs: 5,
        read_time: std::time::Duration::from_millis(100),
        harness_ops: 2000,
    };
    let cal = workloads::calibrate::calibrate(dir.path(), &cfg, &|_| {}).unwrap();
    std::fs::write(
        dir.path().join("calibration.json"),
        serde_json::to_string(&cal).unwrap(),
    )
    .unwrap();
    workloads::output::write_result(dir.path(), &fixtures()[0]).unwrap();
    let path = write_report(dir.path(), &dir.path().join("r.html")).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    let env = section(&html, "environment");
    assert!(
        env.contains("<table class=\"calibration\">"),
        "calibration table"
    );
    assert!(env.contains(&reports::html::nanos(cal.fsync_latency.p50_ns as f64)));
    assert!(env.contains(&reports::html::num(cal.memory_engine_ops_per_sec)));
    // Without one, the page says how to make one.
    assert!(render(&fixtures()[..1], None).contains("No calibration with these results"));
}

#[test]
fn compactions_are_marked_on_the_timeline() {
    // A runner-made timed result; an event is placed on it as an engine with compactions
    // would report one (the memory engine has none).
    let base = fixtures().iter().find(|r| r.spec.name == "ycsb-c").unwrap();
    let mut r = base.clone();
    let run = r
        .phases
        .iter_mut()
        .find(|p| p.phase == PhaseKind::Run)
        .unwrap();
    let t = run.throughput.timeline[0].t_secs;
    run.throughput.events.push(workloads::result::EngineEvent {
        t_secs: t,
        kind: "compaction".into(),
        count: 2,
        bytes_written: 4096,
    });
    let timeline_svg = |html: &str| -> usize {
        let s = section(html, "w0");
        let at = s.find("throughput over time").unwrap();
        let svg = &s[s[..at].rfind("<svg").unwrap()..];
        let svg = &svg[..svg.find("</svg>").unwrap()];
        svg.matches("<polygon").count()
    };
    let with = render(std::slice::from_ref(&r), None);
    let without = render(std::slice::from_ref(base), None);
    assert_eq!(
        timeline_svg(&with),
        timeline_svg(&without) + 1,
        "one marker"
    );
}

#[test]
fn engines_keep_their_colour_and_runs_their_own_label() {
    let fx = fixtures();
    let mut reversed = fx.to_vec();
    reversed.reverse();
    let (m1, m2) = (
        reports::model::Model::new(fx),
        reports::model::Model::new(&reversed),
    );
    for e in &m1.engines {
        assert_eq!(m1.hex(e), m2.hex(e), "{e} keeps its colour");
    }
    assert_ne!(m1.hex("memory"), m1.hex("fakeprod"));
    // The colour is the one drawn: memory's hex appears as an SVG stroke or fill.
    let html = render(fx, None);
    let (r, g, b) = m1.colour("memory");
    assert!(html.contains(&format!("rgb({r},{g},{b})")) || html.contains(&m1.hex("memory")));

    // The same engine, workload and size under two durability modes: two labels.
    let a = fx[0].clone();
    let mut s = a.clone();
    s.durability = engines::Durability::Sync;
    s.run_id.push_str("-sync");
    let both = [a, s];
    let m = reports::model::Model::new(&both);
    let labels: Vec<&str> = m.workloads[0]
        .series
        .iter()
        .map(|s| s.label.as_str())
        .collect();
    assert_eq!(labels, ["memory (none, 1 thr)", "memory (sync, 1 thr)"]);
}

#[test]
fn a_load_only_result_is_judged_by_its_load_phase() {
    // A run interrupted before its run phase did any operation (as after Ctrl-C).
    let mut r = fixtures()[0].clone();
    r.partial = true;
    r.partial_reason = Some("interrupted".into());
    for p in &mut r.phases {
        if p.phase == PhaseKind::Run {
            p.operations = 0;
            p.throughput.ops_per_sec = 0.0;
        }
    }
    let load = r.phase(PhaseKind::Load).unwrap();
    let html = render(std::slice::from_ref(&r), None);
    let (headers, rows) = summary_table(section(&html, "w0"));
    let tp = headers
        .iter()
        .position(|h| h == "throughput (ops/s)")
        .unwrap();
    assert_eq!(
        rows[0][tp].parse::<f64>().unwrap(),
        load.throughput.ops_per_sec
    );
}

#[test]
fn a_workload_that_starts_empty_scales_with_its_operations() {
    let runs = [
        common::run_memory("fillrandom", 0, 500, 0.0),
        common::run_memory("fillrandom", 0, 2000, 0.0),
    ];
    let html = render(&runs, None);
    let scaling = section(&html, "scaling");
    assert!(scaling.contains("fillrandom: throughput by record count"));
    assert!(scaling.contains("fillrandom: engine memory by record count"));
    assert_eq!(scaling.matches("<svg").count(), 2);
    // Each size has its own row, label and (lone) best.
    let (_, rows) = summary_table(section(&html, "w0"));
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r[0].contains("memory") && !r[0].contains(" #2")));
}

/// Repetitions of one run are one row: throughput and p99 are the medians, with their 95%
/// intervals; the narrative calls a difference only when the intervals do not overlap.
#[test]
fn repetitions_fold_into_one_row_with_their_interval() {
    let base = fixtures()
        .iter()
        .find(|r| r.spec.name == "ycsb-a" && r.spec.record_count == 3000)
        .unwrap();
    let reps = |engine: &str, rates: [f64; 3]| -> Vec<RunResult> {
        rates
            .iter()
            .enumerate()
            .map(|(i, &rate)| {
                let mut r = relabel(base, engine, "LSM");
                r.run_id = format!("{}-r{}", r.run_id, i + 1);
                r.repetition = Some(workloads::result::Repetition {
                    group: format!("{engine}-g"),
                    index: i as u32 + 1,
                    count: 3,
                });
                for p in &mut r.phases {
                    if p.phase == PhaseKind::Run {
                        p.throughput.ops_per_sec = rate;
                    }
                }
                r
            })
            .collect()
    };
    let apart = [
        reps("slow", [100.0, 101.0, 102.0]),
        reps("fast", [200.0, 201.0, 202.0]),
    ]
    .concat();
    let html = render(&apart, None);
    let s = section(&html, "w0");
    let (headers, rows) = summary_table(s);
    assert_eq!(rows.len(), 2, "one row per repeated run");
    let tp = headers
        .iter()
        .position(|h| h == "throughput (ops/s)")
        .unwrap();
    let mut medians: Vec<f64> = rows.iter().map(|r| r[tp].parse().unwrap()).collect();
    medians.sort_by(f64::total_cmp);
    assert_eq!(medians, [101.0, 201.0]);
    assert!(
        s.contains("(3 runs)") && s.contains("95%: "),
        "interval shown"
    );
    assert!(
        s.contains("fast (production) led throughput") && s.contains("do not overlap"),
        "a difference is called: {s}"
    );
    let close = [
        reps("slow", [100.0, 150.0, 200.0]),
        reps("fast", [110.0, 160.0, 210.0]),
    ]
    .concat();
    let html = render(&close, None);
    assert!(
        section(&html, "w0").contains("no difference is called"),
        "overlapping intervals"
    );
}

/// The in-memory reference is the floor, not a contestant: however fast, it is never marked
/// best, in the overview or in a summary table.
#[test]
fn the_reference_is_never_marked_best() {
    let base = &fixtures()[0];
    let mut memory = base.clone();
    let mut slow = relabel(base, "slow", "LSM");
    let mut slower = relabel(base, "slower", "B-tree");
    for (r, rate) in [(&mut memory, 1000.0), (&mut slow, 10.0), (&mut slower, 5.0)] {
        for p in &mut r.phases {
            p.throughput.ops_per_sec = rate;
        }
    }
    let html = render(&[memory, slow, slower], None);
    let overview = section(&html, "overview");
    assert!(overview.contains("<td data-v=\"1000\">"), "{overview}");
    assert!(overview.contains("<td class=\"best\" data-v=\"10\">"));
    let w0 = section(&html, "w0");
    assert!(!w0.contains("class=\"best\" data-v=\"1000\""));
    assert!(w0.contains("class=\"best\" data-v=\"10\""));
    assert!(!w0.contains("memory (reference) led"));
}
