//! Where and how the results were made: machines and builds (and whether they differ),
//! every engine's options, the workload specs, durability, calibration, notes, and the
//! methodology (what each figure means and how it was measured).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use workloads::result::{Calibration, Environment, RunResult};

use crate::html::{bytes, escape, nanos, num, Page};
use crate::model::{durability_name, Model};

/// What must match for results to be comparable: machine and build, not time or directory.
fn machine_key(
    r: &RunResult,
) -> (
    String,
    u32,
    u64,
    String,
    String,
    String,
    String,
    String,
    String,
) {
    let e = &r.environment;
    (
        e.cpu_model.clone(),
        e.cores,
        e.memory_bytes,
        e.kernel.clone(),
        e.hostname.clone(),
        e.filesystem.clone(),
        e.build_profile.clone(),
        e.rustc_version.clone(),
        e.git_commit.clone(),
    )
}

fn pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("(cannot show: {e})"))
}

fn env_rows(b: &mut String, e: &Environment, r: &RunResult) {
    let rows: [(&str, String); 12] = [
        ("CPU", e.cpu_model.clone()),
        ("cores", e.cores.to_string()),
        ("memory", bytes(e.memory_bytes as f64)),
        ("kernel", e.kernel.clone()),
        ("host", e.hostname.clone()),
        ("file system", format!("{} on {}", e.filesystem, e.device)),
        ("build", e.build_profile.clone()),
        ("rustc", e.rustc_version.clone()),
        ("git commit", e.git_commit.clone()),
        ("kvbench", r.kvbench_version.clone()),
        ("schema version", r.schema_version.to_string()),
        ("data dir", e.data_dir.clone()),
    ];
    for (k, v) in rows {
        let _ = write!(
            b,
            "<tr><th class=\"l\">{k}</th><td class=\"l\">{}</td></tr>",
            escape(&v)
        );
    }
}

pub fn write(page: &mut Page, model: &Model, calibration: Option<&Calibration>) {
    page.section_start(
        "environment",
        "Environment, options and method",
        "environment",
    );
    let mut machines: BTreeMap<_, Vec<&RunResult>> = BTreeMap::new();
    for r in model.results {
        machines.entry(machine_key(r)).or_default().push(r);
    }
    let b = page.buf();
    let versions: std::collections::BTreeSet<(u32, &str)> = model
        .results
        .iter()
        .map(|r| (r.schema_version, r.kvbench_version.as_str()))
        .collect();
    if machines.len() > 1 {
        let _ = write!(b, "<p class=\"warn\">These results come from {} different machines or builds (CPU, kernel, host, file system, build profile, compiler or commit differ): compare figures across them with care.</p>", machines.len());
    }
    if versions.len() > 1 {
        let _ = write!(b, "<p class=\"warn\">These results were written by {} different kvbench/schema versions: {}. Fields an older version did not record are shown as absent.</p>", versions.len(),
            versions.iter().map(|(s, v)| format!("kvbench {} (schema {s})", escape(v))).collect::<Vec<_>>().join(", "));
    }
    if model
        .results
        .iter()
        .any(|r| r.environment.build_profile == "debug")
    {
        b.push_str("<p class=\"warn\">Some results come from a debug build; their speed is not comparable with a release build.</p>");
    }
    for (i, rs) in machines.values().enumerate() {
        let r = rs[0];
        let _ = write!(b, "<h3>Machine {}</h3><table class=\"env\">", i + 1);
        env_rows(b, &r.environment, r);
        let _ = write!(
            b,
            "<tr><th class=\"l\">runs</th><td class=\"l\">{}</td></tr></table>",
            rs.iter()
                .map(|r| escape(&r.run_id))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }

    b.push_str("<h3>Engines and their options</h3><p class=\"note\">Click an engine to see every option it ran with.</p>");
    let mut seen = std::collections::BTreeSet::new();
    for r in model.results {
        let opts = pretty(&r.engine.options);
        if !seen.insert((r.engine.name.clone(), opts.clone(), durability_name(r))) {
            continue;
        }
        let _ = write!(
            b,
            "<details><summary>{}<b>{}</b> ({}; {}; durability <code>{}</code>, cold cache {}): {}</summary><pre>{}</pre></details>",
            model.swatch(&r.engine.name),
            escape(&r.engine.name),
            escape(&r.engine.family),
            if r.engine.persistent { "files" } else { "in memory" },
            escape(&durability_name(r)),
            if r.cold_cache { "yes" } else { "no" },
            escape(&r.engine.description),
            escape(&opts)
        );
    }

    b.push_str("<h3>Workload specs</h3>");
    let mut specs = std::collections::BTreeSet::new();
    for r in model.results {
        let text = pretty(&r.spec);
        if specs.insert(text.clone()) {
            let _ = write!(
                b,
                "<details><summary><b>{}</b> ({} records): {}</summary><pre>{}</pre></details>",
                escape(&r.spec.name),
                r.spec.record_count,
                escape(&r.spec.description),
                escape(&text)
            );
        }
    }

    let notes: Vec<String> = model
        .results
        .iter()
        .flat_map(|r| r.notes.iter().map(move |n| format!("{}: {n}", r.run_id)))
        .collect();
    if !notes.is_empty() {
        b.push_str("<h3>Notes from the runs</h3><ul>");
        for n in notes {
            let _ = write!(b, "<li>{}</li>", escape(&n));
        }
        b.push_str("</ul>");
    }

    b.push_str("<h3>Calibration</h3>");
    match calibration.or_else(|| model.results.iter().find_map(|r| r.calibration.as_ref())) {
        Some(c) => {
            let _ = write!(b, "<table class=\"calibration\"><tr><th class=\"l\">fsync latency (4 KiB write + fdatasync) p50 / p99</th><td>{} / {}</td></tr><tr><th class=\"l\">sequential write</th><td>{}/s</td></tr><tr><th class=\"l\">random 4 KiB reads (cold)</th><td>{} /s</td></tr><tr><th class=\"l\">memory engine through the harness</th><td>{} ops/s</td></tr><tr><th class=\"l\">harness overhead per operation</th><td>{}</td></tr><tr><th class=\"l\">measured on</th><td class=\"l\">{} ({} on {})</td></tr></table>",
                nanos(c.fsync_latency.p50_ns as f64), nanos(c.fsync_latency.p99_ns as f64),
                bytes(c.seq_write_bytes_per_sec), num(c.random_read_4k_per_sec),
                num(c.memory_engine_ops_per_sec), nanos(c.harness_ns_per_op),
                escape(&c.environment.hostname), escape(&c.environment.filesystem), escape(&c.environment.device));
        }
        None => b.push_str("<p class=\"note\">No calibration with these results (run <code>kvbench calibrate</code> to measure the device's fsync latency and the harness's own limit).</p>"),
    }
    b.push_str(METHOD);
    page.section_end();
}

const METHOD: &str = "<h3>Methodology</h3><ul class=\"method\">\
<li><b>Throughput</b>: operations completed / wall time of the measured phase (warm-up excluded); the timeline counts operations per one-second interval.</li>\
<li><b>Latency</b>: every operation is recorded in an HDR histogram (3 significant digits); p50, p99, p99.9 and max per operation type. In open-loop (rate-limited) runs latency is measured from each operation's intended start, so stalls are not hidden (coordinated omission). The percentile spectrum plots latency against log10(1/(1-p)), which spreads the tail.</li>\
<li><b>Write amplification (kvbench)</b> = all bytes the engine wrote to its files (its I/O counters: log, WAL, tables, pages, compactions) / user bytes written (key + value of every put, key of every delete). The /proc column divides the kernel's <code>wchar</code> for the whole process by the same user bytes; the two should agree. The production engines do their own file I/O, which our counters do not see: for them only the /proc figure exists, and the charts use it. It counts bytes handed to <code>write</code>-like calls, so an engine that keeps unsynced data in its own memory (redb in durability <code>none</code>) or writes through mmap shows less than it will eventually write. <b>This is not RocksDB's compaction-stats W-Amp</b>, which leaves out the WAL and divides by the bytes flushed from memtables rather than by user bytes: engine figures of that kind are listed under “the engines' own figures”, with the engine's own definition.</li>\
<li><b>Read amplification</b> = bytes the engine read from its files / logical reads (gets and scans); reads served from the page cache still count, reads served from the engine's own cache do not. Not given for the production engines (no counter sees their reads, and mmap reads bypass the kernel's count).</li>\
<li><b>Space amplification</b> = bytes of the data directory at the end of the phase / key + value bytes of the live data (found by a full scan).</li>\
<li><b>Peak RSS</b> is the process's maximum resident set (<code>ru_maxrss</code>); <b>engine memory</b> is what the engine reports holding in indexes and caches. <b>CPU/op</b> is the process's user + system CPU time (getrusage) / operations.</li>\
<li>Tables and charts show the run phase (the load phase when there is no run phase); per-workload charts show the largest record count; the scaling section shows all.</li>\
</ul>";
