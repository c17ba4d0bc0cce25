//! The `kvbench` binary end to end: listings, one-line errors, YCSB files, compare,
//! Ctrl-C. Runs use the memory engine and small sizes.

use std::path::Path;
use std::process::{Command, Output};

fn kvbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kvbench"))
        .args(args)
        .output()
        .expect("run kvbench")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn results_in(dir: &Path) -> Vec<workloads::RunResult> {
    let (ok, bad) = workloads::output::read_results(dir).unwrap();
    assert!(bad.is_empty(), "{bad:?}");
    ok.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn workloads_lists_every_preset_on_one_line() {
    let o = kvbench(&["workloads"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), workloads::presets::PRESETS.len());
    for name in [
        "read-heavy",
        "write-heavy",
        "range-scan",
        "ycsb-a",
        "ycsb-f",
        "fillseq",
        "deleterandom",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing");
    }
}

#[test]
fn bad_flags_and_files_are_one_line_errors() {
    let bad_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad_file.path(), "recordcount=10\nnot a property\n").unwrap();
    let out_of_range = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(out_of_range.path(), "# c\nreadproportion=2\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "--engine", "memory", "--bogus"],
            "unexpected argument",
        ),
        (
            vec!["run", "--engine", "nosuch", "-w", "ycsb-a"],
            "valid engines are",
        ),
        (
            vec!["run", "--engine", "memory", "-w", "nosuch"],
            "valid workloads are",
        ),
        (
            vec![
                "run",
                "--engine",
                "memory",
                "-w",
                "ycsb-a",
                "--records",
                "abc",
            ],
            "invalid value",
        ),
        (
            vec![
                "run",
                "--engine",
                "memory",
                "-w",
                "ycsb-a",
                "--durability",
                "maybe",
            ],
            "durability",
        ),
        (
            vec![
                "run",
                "--engine",
                "memory",
                "-w",
                "ycsb-a",
                "--value-size",
                "5..x",
            ],
            "--value-size",
        ),
        (
            vec![
                "run",
                "--engine",
                "memory",
                "-w",
                "ycsb-a",
                "--threads",
                "0",
            ],
            "threads",
        ),
        (
            vec![
                "run",
                "--engine",
                "memory",
                "--workload-file",
                "/no/such/file",
            ],
            "cannot read",
        ),
        (
            vec![
                "run",
                "--engine",
                "memory",
                "--workload-file",
                bad_file.path().to_str().unwrap(),
            ],
            ":2: malformed line",
        ),
        (
            vec![
                "run",
                "--engine",
                "memory",
                "--workload-file",
                out_of_range.path().to_str().unwrap(),
            ],
            ":2: property 'readproportion'",
        ),
        (
            vec!["compare", "--engines", "memory,nosuch"],
            "valid engines are",
        ),
        (vec!["engines", "nosuch"], "valid engines are"),
        (
            vec!["run"],
            "required arguments were not provided: --engine",
        ),
        (
            vec!["compare", "--scale", "huge"],
            "possible values: small, medium, large",
        ),
        (
            vec![
                "run",
                "--engine",
                "lsm",
                "-w",
                "fillrandom",
                "--engine-option",
                "lsm.compacton=tiered",
            ],
            "valid are",
        ),
        (
            vec!["compare", "--engine-option", "bitcask.max_segment_bytes=12"],
            "max_segment_bytes",
        ),
        (
            vec!["report", "/nonexistent/results"],
            "cannot read results directory",
        ),
    ];
    for (args, want) in cases {
        let o = kvbench(&args);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("kvbench: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
    }
}

/// Our YCSB workload files A to F run as given (sizes overridden with -p as in YCSB).
#[test]
fn runs_ycsb_workload_files_a_to_f() {
    let out = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for letter in ["a", "b", "c", "d", "e", "f"] {
        let file = root.join(format!("workloads/ycsb/workload{letter}"));
        let o = kvbench(&[
            "run",
            "--engine",
            "memory",
            "--workload-file",
            file.to_str().unwrap(),
            "-p",
            "recordcount=500",
            "-p",
            "operationcount=1000",
            "--out",
            out.path().to_str().unwrap(),
        ]);
        assert!(o.status.success(), "workload{letter}: {}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("wrote "));
    }
    let results = results_in(out.path());
    assert_eq!(results.len(), 6);
    for r in &results {
        let run = r.phase(workloads::result::PhaseKind::Run).unwrap();
        assert_eq!(
            (r.spec.record_count, run.operations),
            (500, 1000),
            "{}",
            r.spec.name
        );
        assert!(!r.partial);
        assert!(
            r.fidelity
                .iter()
                .any(|l| l.contains("1140 bytes per record")),
            "{}: {:?}",
            r.spec.name,
            r.fidelity
        );
    }
}

/// `run --fidelity` prints what the workload, as configured, does differently from its tool
/// and runs nothing; `workloads --fidelity` lists it under every preset.
#[test]
fn fidelity_lists_the_differences_of_the_workload_as_configured() {
    let out = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/ycsb/workloada");
    let o = kvbench(&[
        "run",
        "--engine",
        "memory",
        "--workload-file",
        file.to_str().unwrap(),
        "-p",
        "writeallfields=true",
        "--fidelity",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("workloada follows YCSB; what differs:"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("- writeallfields=true")),
        "{text}"
    );
    assert!(results_in(out.path()).is_empty(), "nothing ran");

    let o = kvbench(&[
        "run",
        "--engine",
        "memory",
        "-w",
        "fillrandom",
        "--compression-ratio",
        "1",
        "--fidelity",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("fillrandom follows db_bench;"), "{text}");
    assert!(
        text.contains("- value bytes: random bytes (incompressible), not db_bench's"),
        "{text}"
    );

    let o = kvbench(&["workloads", "--fidelity"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    for p in workloads::presets::PRESETS {
        let under = text
            .lines()
            .skip_while(|l| !l.starts_with(p.name))
            .nth(1)
            .unwrap_or_default();
        assert!(under.trim_start().starts_with("- "), "{}: {text}", p.name);
    }
}

/// db_bench's fills start from an empty store: `--records` is their key space (`--num`)
/// and, without `--ops`, their number of writes; nothing is loaded first.
#[test]
fn records_of_a_fill_are_its_key_space() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    for (extra, ops) in [(&[][..], 5000), (&["--ops", "1000"][..], 1000)] {
        let mut args = vec![
            "run",
            "--engine",
            "memory",
            "-w",
            "fillrandom",
            "--records",
            "5000",
            "--out",
            o,
        ];
        args.extend_from_slice(extra);
        let run = kvbench(&args);
        assert!(run.status.success(), "{}", stderr(&run));
        let r = results_in(out.path())
            .into_iter()
            .find(|r| r.spec.operation_count == ops)
            .unwrap();
        assert_eq!((r.spec.record_count, r.spec.fill_keys), (0, 5000));
        assert!(
            r.phase(workloads::result::PhaseKind::Load).is_none(),
            "nothing is loaded first"
        );
        let p = r.phase(workloads::result::PhaseKind::Run).unwrap();
        assert_eq!(p.operations, ops);
        // Keys drawn rand % 5000: repeats, so fewer live keys than writes.
        let live = p.amplification.live_keys.unwrap();
        assert!(live < ops && live > ops / 2, "{live} live of {ops}");
    }
}

#[test]
fn compare_writes_one_file_per_engine_and_workload() {
    let out = tempfile::tempdir().unwrap();
    let o = kvbench(&[
        "compare",
        "--engines",
        "memory",
        "--workloads",
        "read-heavy,ycsb-e",
        "--records",
        "1000",
        "--ops",
        "2000",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let results = results_in(out.path());
    let mut names: Vec<_> = results
        .iter()
        .map(|r| (r.engine.name.clone(), r.spec.name.clone()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("memory".into(), "read-heavy".into()),
            ("memory".into(), "ycsb-e".into())
        ]
    );
    let csv = std::fs::read_to_string(out.path().join("summary.csv")).unwrap();
    assert!(csv.starts_with(workloads::output::CSV_HEADER));
    // Summary table on stdout names both workloads, then the report's path.
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("read-heavy") && table.contains("ycsb-e"),
        "{table}"
    );
    let report = out.path().join("report.html");
    assert!(
        table.contains(&format!("report: {}", report.display())),
        "{table}"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("Workload: ycsb-e"),
        "the report covers the run"
    );

    // `kvbench report` of the same directory, to a file of our choosing.
    let again = out.path().join("again.html");
    let o = kvbench(&[
        "report",
        out.path().to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&again)
        .unwrap()
        .contains("Workload: read-heavy"));
}

/// An engine setting from the command line reaches the engine and the result file.
#[test]
fn engine_options_reach_the_result() {
    let out = tempfile::tempdir().unwrap();
    let o = kvbench(&[
        "run",
        "--engine",
        "lsm",
        "-w",
        "fillrandom",
        "--ops",
        "2000",
        "--engine-option",
        "lsm.compaction=tiered",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = &results_in(out.path())[0];
    assert_eq!(r.engine.options.lsm.compaction.as_str(), "tiered");
}

/// Ctrl-C stops the run cleanly: exit code 130, a result file marked partial.
#[test]
fn ctrl_c_writes_a_partial_result() {
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvbench"))
        .args([
            "run",
            "--engine",
            "memory",
            "-w",
            "read-heavy",
            "--records",
            "1000",
            "--duration",
            "60",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The handler is installed before the run prints "starting" (stderr is not a terminal).
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    assert!(line.contains("starting"), "{line}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let results = results_in(out.path());
    assert_eq!(results.len(), 1);
    assert!(results[0].partial);
    assert_eq!(
        results[0].partial_reason.as_deref(),
        Some("interrupted by SIGINT (Ctrl-C)")
    );
}

/// Runs kvbench and waits at most `secs` for it: a hang fails the test instead of blocking it.
fn kvbench_within(args: &[&str], secs: u64) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_kvbench"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kvbench");
    finish_within(child, secs, args)
}

fn finish_within(mut child: std::process::Child, secs: u64, what: &[&str]) -> Output {
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > std::time::Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kvbench {what:?} still ran after {secs} s: a hang");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Every bad input the review tried: each ends in a one-line error naming what is wrong and
/// a non-zero exit, never a hang, a panic or an abort. Inputs refused before any run leave
/// stderr a single line; the two that are refused by the run itself (a warm-up that outlasts
/// the time limit, SIGTERM) end with that line.
#[test]
fn every_bad_input_is_one_line_and_never_hangs() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let nul = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(nul.path(), b"recordcount=100\nread\0proportion=1\n").unwrap();
    let a_file = tempfile::NamedTempFile::new().unwrap();
    let base = [
        "run",
        "--engine",
        "memory",
        "-w",
        "ycsb-a",
        "--records",
        "100",
    ];
    let with = |extra: &[&'static str]| -> Vec<String> {
        base.iter()
            .chain(extra)
            .map(|s| s.to_string())
            .chain(["--out".to_string(), o.to_string()])
            .collect()
    };
    let file = |f: &std::path::Path| -> Vec<String> {
        ["run", "--engine", "memory", "--workload-file"]
            .iter()
            .map(|s| s.to_string())
            .chain([f.display().to_string(), "--out".into(), o.to_string()])
            .collect()
    };
    let mut dir = with(&["--ops", "10", "--dir"]);
    dir.insert(dir.len() - 2, a_file.path().display().to_string());
    let cases: Vec<(Vec<String>, &str, bool)> = vec![
        (
            with(&["--threads", "-1"]),
            "invalid value '-1' for '--threads <N>': must be a whole number from 1 to 1024",
            true,
        ),
        (
            with(&["--rate", "-5"]),
            "invalid value '-5' for '--rate <OPS>': must be 0",
            true,
        ),
        (
            file(std::path::Path::new("/dev/null")),
            "/dev/null: no properties",
            true,
        ),
        (file(nul.path()), "a NUL byte at line 2", true),
        (
            with(&[
                "--engine-option",
                "btree.buffer_pool_bytes=1125899906842624",
            ]),
            "btree.buffer_pool_bytes = 1125899906842624: must be",
            true,
        ),
        (
            with(&["--engine-option", "lsm.memtable_bytes=18446744073709551615"]),
            "lsm.memtable_bytes = 18446744073709551615: must be",
            true,
        ),
        (
            with(&["--rate", "0.0001", "--ops", "10"]),
            "would take 100000 s",
            true,
        ),
        (dir, "is a file, not a directory", true),
        (
            with(&["--warmup", "100000000000", "--duration", "1"]),
            "the time limit of 1 s was reached during the warm-up",
            false,
        ),
    ];
    for (args, want, before_any_run) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = kvbench_within(&args, 120);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded: {err}");
        assert!(
            o.status.code().is_some(),
            "{args:?} ended by a signal: {err}"
        );
        if before_any_run {
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        }
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("kvbench: ") && last.contains(want),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("panicked")
                && !err.contains("backtrace")
                && !err.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?}: {err}"
        );
    }

    // SIGTERM is a stop request named as what it is, with its own exit code.
    let child = Command::new(env!("CARGO_BIN_EXE_kvbench"))
        .args([
            "run",
            "--engine",
            "memory",
            "-w",
            "read-heavy",
            "--records",
            "1000",
            "--duration",
            "60",
            "--out",
            o,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    assert!(line.contains("starting"), "{line}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let o = finish_within(child, 120, &["SIGTERM"]);
    let err = rest.join().unwrap();
    assert_eq!(o.status.code(), Some(143), "{err}");
    assert!(
        err.lines().last().unwrap_or_default()
            == "kvbench: interrupted by SIGTERM; the results written are marked partial",
        "{err}"
    );
    let r = results_in(out.path())
        .into_iter()
        .find(|r| r.spec.name == "read-heavy")
        .unwrap();
    assert_eq!(r.partial_reason.as_deref(), Some("interrupted by SIGTERM"));
    assert!(!err.contains("Ctrl-C"), "{err}");
}

/// `--dir` keeps the data directory; `csv` prints one line per run, phase and operation.
#[test]
fn dir_is_kept_and_csv_exports() {
    let out = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let keep = data.path().join("store");
    let o = kvbench(&[
        "run",
        "--engine",
        "memory",
        "-w",
        "fillseq",
        "--scale",
        "small",
        "--ops",
        "3000",
        "--dir",
        keep.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(keep.is_dir(), "the data directory is kept");
    let r = &results_in(out.path())[0];
    assert_eq!(
        r.spec.record_count, 0,
        "fill phases start empty even with --scale"
    );
    assert_eq!(r.phases.len(), 1);
    assert_eq!(r.environment.data_dir, keep.display().to_string());

    let o = kvbench(&["csv", out.path().to_str().unwrap()]);
    assert!(o.status.success());
    let csv = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "header, run/all, run/insert: {csv}");
    assert!(
        lines[1].contains(",memory,fillseq,run,all,3000,"),
        "{}",
        lines[1]
    );
}

/// `calibrate` measures and saves calibration.json; later runs in that results directory
/// embed it.
#[test]
fn calibrate_then_run_embeds_the_calibration() {
    let out = tempfile::tempdir().unwrap();
    let dev = tempfile::tempdir().unwrap();
    let o = kvbench(&[
        "calibrate",
        "--dir",
        dev.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--size-mib",
        "2",
        "--harness-ops",
        "20000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("fsync") && text.contains("harness floor: null engine"),
        "{text}"
    );
    assert!(text.contains("one clock read"), "{text}");
    let o = kvbench(&[
        "run",
        "--engine",
        "memory",
        "-w",
        "ycsb-b",
        "--records",
        "500",
        "--ops",
        "1000",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = &results_in(out.path())[0];
    let c = r.calibration.as_ref().expect("embedded calibration");
    assert!(c.memory_engine_ops_per_sec > 0.0 && c.fsync_latency.count > 0);
    assert!(c.null_engine_ops_per_sec > 0.0 && c.clock_ns > 0.0);
}

fn run_phase(r: &workloads::RunResult) -> &workloads::result::PhaseResult {
    r.phase(workloads::result::PhaseKind::Run)
        .expect("a run phase")
}

/// A known answer through the CLI, in the child process every run gets: the null engine
/// told to write exactly three times the user bytes shows a write amplification of 3.00.
#[test]
fn a_known_answer_through_the_cli() {
    let out = tempfile::tempdir().unwrap();
    let o = kvbench(&[
        "run",
        "--engine",
        "null",
        "-w",
        "fillrandom",
        "--ops",
        "5000",
        "--value-size",
        "1000",
        "--engine-option",
        "null.write_factor=3",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = &results_in(out.path())[0];
    let a = &run_phase(r).amplification;
    assert_eq!(a.engine_bytes_written, 3 * a.user_bytes_written);
    assert_eq!(a.write_amp_engine, Some(3.0));
    let table = String::from_utf8_lossy(&o.stdout);
    let line = table.lines().find(|l| l.starts_with("null")).unwrap();
    assert!(line.contains(" 3.00 "), "{table}");
}

/// A run whose process dies (the null engine aborts on its 50th operation) is a failed run
/// with the end of its stderr; the other engines' runs go on and are written.
#[test]
fn a_run_that_crashes_fails_alone() {
    let out = tempfile::tempdir().unwrap();
    let o = kvbench(&[
        "compare",
        "--engines",
        "null,memory",
        "--workloads",
        "read-heavy",
        "--records",
        "100",
        "--ops",
        "1000",
        "--engine-option",
        "null.abort_at=50",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("killed by signal 6 (SIGABRT)"), "{err}");
    assert!(
        err.contains("aborting at operation 50"),
        "the stderr tail: {err}"
    );
    assert!(err.contains("failed engines: null"), "{err}");
    let results = results_in(out.path());
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].engine.name, "memory");
}

/// `compare` runs the same operations on every engine (equal stream digests per workload)
/// and, with `--repeat 2`, twice each, interleaved, each repetition marked.
#[test]
fn compare_runs_the_same_work_on_every_engine_and_repeats() {
    let out = tempfile::tempdir().unwrap();
    let o = kvbench(&[
        "compare",
        "--engines",
        "null,memory",
        "--workloads",
        "read-heavy,write-heavy",
        "--records",
        "500",
        "--ops",
        "2000",
        "--repeat",
        "2",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let results = results_in(out.path());
    assert_eq!(results.len(), 8);
    for w in ["read-heavy", "write-heavy"] {
        let ours: Vec<_> = results.iter().filter(|r| r.spec.name == w).collect();
        assert_eq!(ours.len(), 4);
        for r in &ours {
            assert_eq!(
                run_phase(r).op_stream_digests,
                run_phase(ours[0]).op_stream_digests,
                "{w}: {} ran another stream",
                r.engine.name
            );
            let rep = r.repetition.as_ref().expect("a repetition");
            assert_eq!(rep.count, 2);
        }
    }
    // Interleaved: every engine and workload once, then again (A B A B, not A A B B).
    let order: Vec<String> = stderr(&o)
        .lines()
        .filter(|l| l.contains(": wrote "))
        .map(|l| l[..l.find(':').unwrap()].to_string())
        .collect();
    let once = [
        "null read-heavy",
        "memory read-heavy",
        "null write-heavy",
        "memory write-heavy",
    ];
    assert_eq!(order, [once, once].concat(), "{}", stderr(&o));
    assert!(results.iter().any(|r| r.run_id.ends_with("-r2")));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("±"), "median ± interval: {table}");
    assert_eq!(
        table
            .lines()
            .filter(|l| l.starts_with("null ") || l.starts_with("memory "))
            .count(),
        4,
        "one line per engine and workload: {table}"
    );
}

/// `compare --duration` alone: a pilot sets the operation count every engine then runs.
#[test]
fn a_time_bound_compare_runs_a_pilot_and_the_same_count() {
    let out = tempfile::tempdir().unwrap();
    let o = kvbench(&[
        "compare",
        "--engines",
        "null,memory",
        "--workloads",
        "read-heavy",
        "--records",
        "500",
        "--duration",
        "1",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("pilot of read-heavy"), "{}", stderr(&o));
    let results = results_in(out.path());
    assert_eq!(results.len(), 2);
    let ops = run_phase(&results[0]).operations;
    assert!(ops > 0);
    for r in &results {
        assert!(!r.partial, "{:?}", r.partial_reason);
        assert_eq!(run_phase(r).operations, ops);
        assert_eq!(r.spec.operation_count, ops);
    }
}

/// With an operation count, the duration is a safety cap: reaching it ends the run and marks
/// the result partial, with the reason (the null engine spins 1 ms per operation).
#[test]
fn the_time_cap_marks_a_result_partial() {
    let out = tempfile::tempdir().unwrap();
    let o = kvbench(&[
        "run",
        "--engine",
        "null",
        "-w",
        "read-heavy",
        "--records",
        "10",
        "--ops",
        "100000",
        "--duration",
        "0.5",
        "--engine-option",
        "null.spin_ns=1000000",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = &results_in(out.path())[0];
    assert!(r.partial);
    let why = r.partial_reason.as_deref().unwrap();
    assert!(
        why.starts_with("time cap of 0.5 s reached after ")
            && why.ends_with(" of 100000 operations"),
        "{why}"
    );
    assert!(run_phase(r).operations < 100_000);
    assert!(
        stderr(&o).contains("the run is partial: time cap"),
        "{}",
        stderr(&o)
    );
}
