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
            let _ = write!(b, "<table class=\"calibration\"><tr><th class=\"l\">fsync latency (4 KiB write + fdatasync) p50 / p99</th><td>{} / {}</td></tr><tr><th class=\"l\">sequential write</th><td>{}/s</td></tr><tr><th class=\"l\">random 4 KiB reads (cold)</th><td>{} /s</td></tr><tr><th class=\"l\">harness floor: null engine, one thread</th><td>{} ops/s</td></tr><tr><th class=\"l\">harness cost per operation</th><td>{}</td></tr><tr><th class=\"l\">one clock read</th><td>{}</td></tr><tr><th class=\"l\">memory engine, one thread</th><td>{} ops/s</td></tr><tr><th class=\"l\">harness share of the memory engine's time per operation</th><td>{}%</td></tr><tr><th class=\"l\">measured on</th><td class=\"l\">{} ({} on {})</td></tr></table>",
                nanos(c.fsync_latency.p50_ns as f64), nanos(c.fsync_latency.p99_ns as f64),
                bytes(c.seq_write_bytes_per_sec), num(c.random_read_4k_per_sec),
                num(c.null_engine_ops_per_sec), nanos(c.harness_ns_per_op), nanos(c.clock_ns),
                num(c.memory_engine_ops_per_sec), num(100.0 * c.harness_share_of_memory),
                escape(&c.environment.hostname), escape(&c.environment.filesystem), escape(&c.environment.device));
        }
        None => b.push_str("<p class=\"note\">No calibration with these results (run <code>kvbench calibrate</code> to measure the device's fsync latency and the harness's own limit).</p>"),
    }
    b.push_str(METHOD);
    page.section_end();
}

const METHOD: &str = "<h3>Methodology</h3><ul class=\"method\">\
<li><b>One process per run</b>: every (engine, workload) runs in a fresh child process of kvbench, so its peak RSS, allocator and open files are its own; a run whose process dies is reported as failed with the end of its stderr.</li>\
<li><b>Clock</b>: each worker takes its own start time after the start barrier and its own end time after its last operation; the phase lasts from the earliest start to the latest end. <b>Throughput</b> = operations / that time. Operations and their keys are generated before the clock starts where the stream fits in memory, so the timed region holds the engine call; the harness's own cost per operation is the null engine's (see Calibration). The timeline counts operations per one-second interval.</li>\
<li><b>Same work</b>: the run phase is bounded by its operation count, so every engine runs the same operation stream (the result records a digest of it per thread, and <code>compare</code> checks that the digests of a workload's results match); a duration is only a safety cap, and a run that reaches it is marked partial with the reason. A time-bounded workload fixes its zipfian item count at the start, as YCSB does.</li>\
<li><b>Latency</b>: every operation is recorded in an HDR histogram (3 significant digits); p50, p99, p99.9 and max per operation type. In open-loop (rate-limited) runs latency is measured from each operation's intended start, so stalls are not hidden (coordinated omission). The percentile spectrum plots latency against log10(1/(1-p)), which spreads the tail.</li>\
<li><b>Windows</b>: the I/O, CPU and amplification readings are taken at the barrier between warm-up and the measured operations (after the engine was brought to rest and syncfs), and again after the last operation: warm-up and the load's leftover work are outside. <b>Settled</b>: after the latency clock stops, the engine is brought to rest (<code>Engine::settle</code>: memtables flushed, dirty pages written, commits made durable, due compactions finished; for the production engines: RocksDB flush and WaitForCompact, redb durable commit, fjall memtable rotation and wait, LMDB env sync, SQLite WAL checkpoint) inside the I/O window, so the bytes an engine deferred are charged to the run that caused them. The same is done after the load, outside the run's windows.</li>\
<li><b>Write amplification settled (engine)</b> = bytes the engine wrote to its files (its I/O counters: log, WAL, tables, pages, compactions) / user bytes written (key + value of every put, key of every delete); <b>in window</b>: the same before the engine was brought to rest. <b>Syscall bytes</b> (<code>/proc/self/io</code> <code>wchar</code>, <code>rchar</code>) are what the process handed to write and read calls: the engine's counter is cross-checked against them (like with like). <b>Device bytes</b> (<code>write_bytes</code> less <code>cancelled_write_bytes</code>, <code>read_bytes</code>, after <code>syncfs</code> on the data directory's file system) are what reached or came from the block device: page-sized, an overwrite of a page still dirty counts once, so an engine that rewrites pages in place (LMDB, SQLite) shows far fewer device than syscall bytes. The production engines do their own I/O, which our counters do not see: for them the device figure is the one charted. <b>This is not RocksDB's compaction-stats W-Amp</b>, which leaves out the WAL and divides by the bytes flushed from memtables: engine figures of that kind are listed under “the engines' own figures”.</li>\
<li><b>Not steady</b>: a phase that wrote less than four times what the engine says it may hold in memory before writing (<code>EngineStats::write_buffer_bytes</code>: memtables, write buffers, a WAL before its checkpoint) is flagged; filling that buffer, not the design, decided much of what it wrote.</li>\
<li><b>Read amplification</b> = bytes the engine read from its files / logical reads (gets and scans); reads served from the page cache still count, reads served from the engine's own cache do not. <b>Device reads</b> = device bytes read / logical reads. A <b>cold cache</b> run closes the engine between load and run, drops its files from the page cache (twice: before and after it reopens), checks with <code>mincore</code> that at most 1% stayed cached, and records the check.</li>\
<li><b>Space amplification</b> = blocks allocated to the data directory's files (<code>st_blocks</code> × 512) at the end of the phase / key + value bytes of the live data (found by a full scan); the apparent size (<code>st_size</code>), which counts the unwritten part of preallocated or sparse files, is beside it.</li>\
<li><b>Repetitions</b>: with <code>--repeat N</code> each (engine, workload) runs N times, interleaved across engines; throughput and p99 are the median with a 95% interval (Student's t on the mean for 2 to 5 runs, order statistics of the median from 6), and a difference is called only when the intervals do not overlap.</li>\
<li><b>Peak RSS</b> is the run's process's maximum resident set (<code>ru_maxrss</code>), which includes the operations the harness generated ahead of the clock (about 50 bytes per operation, recorded as <code>generated_ahead_bytes</code>, the same for every engine on a workload); <b>engine memory</b> is what the engine reports holding in indexes and caches. <b>CPU/op</b> is the process's user + system CPU time (getrusage) over the window / operations.</li>\
<li>Tables and charts show the run phase (the load phase when there is no run phase); per-workload charts show the largest record count; the scaling section shows all.</li>\
</ul>";
