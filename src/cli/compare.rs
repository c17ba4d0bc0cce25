//! `kvbench compare`: engines x workloads into one results directory, a CSV summary, the
//! summary table and the HTML report of this run's results (`kvbench report DIR` reports
//! every result in a directory, e.g. several runs at different sizes).
//!
//! Every engine runs the same work: the run phase is bounded by its operation count (with
//! `--duration` alone, a pilot of every engine sets the count the slowest one does in that
//! time), the duration is only a safety cap that marks a result partial, and the operation
//! stream digests of each workload's results must match. `--repeat N` runs each (engine,
//! workload) N times, interleaved (A B C A B C), each run in a child process of its own.
//! Engines that fail to open are reported on one line each and skipped; the exit code is
//! then non-zero. `--io-bound` runs the I/O-bound preset ([`super::io_bound`]): each run
//! under the memory limit and then again in memory, back to back.

use std::process::ExitCode;

use engines::EngineKind;
use workloads::result::PhaseKind;
use workloads::spec::WorkloadSpec;

use super::args::{CompareArgs, Scale};
use super::child::ChildError;
use super::run::{load_calibration, prepare_out, repetition, run_one, sub_dir, OneError, OneRun};
use super::{signal, table, CliResult};

/// Workloads of a `compare` with no `--workloads`.
const DEFAULT_WORKLOADS: [&str; 3] = ["read-heavy", "write-heavy", "range-scan"];

/// Shortest and longest pilot run, seconds.
const PILOT_SECS: (f64, f64) = (0.5, 3.0);

/// The engines of `--engines` (default and `all`: every engine this build has but `null`,
/// the harness's own instrument, which runs only when named).
fn engines(names: &[String]) -> CliResult<Vec<EngineKind>> {
    if names.is_empty() || names == ["all"] {
        return Ok(EngineKind::ALL
            .iter()
            .copied()
            .filter(|k| *k != EngineKind::Null)
            .collect());
    }
    names
        .iter()
        .map(|e| e.parse().map_err(|e: engines::Error| e.to_string()))
        .collect()
}

pub fn cmd_compare(mut a: CompareArgs) -> CliResult<ExitCode> {
    let mut kinds = engines(&a.engines)?;
    if a.io_bound {
        // An engine without files cannot hold a store larger than the memory it may use.
        kinds.retain(|k| k.persistent() && *k != EngineKind::Null);
        if a.place.memory_limit.is_none() {
            a.place.memory_limit = Some(super::io_bound::LIMIT.to_string());
        }
    }
    let names: Vec<String> = if a.workloads.is_empty() {
        DEFAULT_WORKLOADS.iter().map(|s| s.to_string()).collect()
    } else {
        a.workloads.clone()
    };
    if !a.io_bound
        && a.spec.scale.is_none()
        && a.spec.records.is_none()
        && a.spec.ops.is_none()
        && a.spec.duration.is_none()
    {
        a.spec.scale = Some(Scale::Medium);
    }
    let mut specs = Vec::new();
    for n in &names {
        let mut s = workloads::presets::preset(n)?;
        if a.io_bound {
            super::io_bound::apply(&mut s);
        }
        a.spec.apply(&mut s)?;
        specs.push(s);
    }
    let options = super::engine_options::parse(&a.place.engine_options)?;
    let calibration = load_calibration(&a.place)?;
    let repeat = a.spec.repeat();
    prepare_out(&a.place)?;
    signal::install();
    // Where each (engine, workload) runs: as asked, and with --io-bound again in memory.
    let mut places = vec![a.place.clone()];
    if a.io_bound {
        let mut in_memory = a.place.clone();
        in_memory.memory_limit = None;
        places.push(in_memory);
    }

    let started = std::time::Instant::now();
    let started_unix = super::run::now_unix();
    let mut failed: Vec<&str> = Vec::new();
    let mut skip: Vec<EngineKind> = Vec::new();
    for spec in &mut specs {
        if spec.operation_count == 0 && !signal::interrupted() {
            pilot(spec, &kinds, &options, &a, &mut skip)?;
        }
    }
    let mut results = Vec::new();
    'all: for i in 1..=repeat {
        for spec in &specs {
            for (&kind, place) in kinds
                .iter()
                .flat_map(|k| places.iter().map(move |p| (k, p)))
            {
                if signal::interrupted() {
                    break 'all;
                }
                if skip.contains(&kind) {
                    continue;
                }
                let capped = place.memory_limit.is_some() && a.io_bound;
                let mut rep = repetition(kind, spec, i, repeat, started_unix);
                if let Some(r) = rep.as_mut().filter(|_| capped) {
                    r.group.push_str("-capped");
                }
                let one = OneRun {
                    spec,
                    kind,
                    options: &options,
                    calibration: calibration.clone(),
                    dir: place.dir.as_ref().map(|d| {
                        sub_dir(d, kind, spec, i).with_extension(if capped { "capped" } else { "" })
                    }),
                    repetition: rep,
                };
                match run_one(one, place, Some(&a.place.out)) {
                    Ok((r, path)) => {
                        if let Some(p) = path {
                            eprintln!("{} {}: wrote {}", kind.name(), spec.name, p.display());
                        }
                        results.push(r);
                    }
                    Err(OneError::Child(ChildError::Open(e))) => {
                        eprintln!("kvbench: {}: skipped, it did not open: {e}", kind.name());
                        failed.push(kind.name());
                        skip.push(kind);
                    }
                    Err(e) => {
                        eprintln!("kvbench: {} {}: {e}", kind.name(), spec.name);
                        failed.push(kind.name());
                    }
                }
            }
        }
    }
    let same = workloads::same_work::check(&results);
    for l in &same.left_out {
        eprintln!("kvbench: note: not checked for the same work: {l}");
    }
    for m in &same.mismatches {
        eprintln!("kvbench: {m}");
    }
    if !results.is_empty() {
        let csv = a.place.out.join("summary.csv");
        std::fs::write(&csv, workloads::output::csv_summary(&results))
            .map_err(|e| format!("{}: {e}", csv.display()))?;
        println!();
        table::print(&results, calibration.as_ref());
        println!(
            "{} results in {} ({} s); CSV summary: {}",
            results.len(),
            a.place.out.display(),
            started.elapsed().as_secs(),
            csv.display()
        );
        let page = reports::render(&results, calibration.as_ref());
        let report = reports::write_page(&page, &a.place.out.join("report.html"))
            .map_err(|e| e.to_string())?;
        println!("report: {}", report.display());
    }
    if signal::interrupted() {
        return Ok(ExitCode::from(130));
    }
    if !failed.is_empty() {
        failed.dedup();
        eprintln!("kvbench: failed engines: {}", failed.join(", "));
        return Ok(ExitCode::FAILURE);
    }
    if !same.mismatches.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Sets the operation count of a spec bounded by time alone: each engine runs the workload
/// for a short while, and the count is what the slowest does in the spec's duration; the
/// duration becomes a cap of twice that.
fn pilot(
    spec: &mut WorkloadSpec,
    kinds: &[EngineKind],
    options: &engines::Options,
    a: &CompareArgs,
    skip: &mut Vec<EngineKind>,
) -> CliResult<()> {
    let secs = (spec.duration_secs / 10.0).clamp(PILOT_SECS.0, PILOT_SECS.1);
    let mut p = spec.clone();
    p.duration_secs = secs;
    p.warmup_ops = 0;
    let mut slowest: Option<(f64, EngineKind)> = None;
    for &kind in kinds {
        if skip.contains(&kind) || signal::interrupted() {
            continue;
        }
        let one = OneRun {
            spec: &p,
            kind,
            options,
            calibration: None,
            dir: None,
            repetition: None,
        };
        match run_one(one, &a.place, None) {
            Ok((r, _)) => {
                let rate = r
                    .phase(PhaseKind::Run)
                    .map_or(0.0, |p| p.throughput.ops_per_sec);
                if slowest.is_none_or(|(s, _)| rate < s) {
                    slowest = Some((rate, kind));
                }
            }
            Err(OneError::Child(ChildError::Open(e))) => {
                eprintln!("kvbench: {}: skipped, it did not open: {e}", kind.name());
                skip.push(kind);
            }
            Err(e) => return Err(format!("pilot of {} on {}: {e}", spec.name, kind.name())),
        }
    }
    let Some((rate, kind)) = slowest else {
        return Err(format!("pilot of {}: no engine ran", spec.name));
    };
    spec.operation_count = ((rate * spec.duration_secs) as u64).max(1);
    eprintln!(
        "pilot of {}: slowest engine {} at {:.0} ops/s; every engine runs {} operations (time cap {:.0} s)",
        spec.name,
        kind.name(),
        rate,
        spec.operation_count,
        2.0 * spec.duration_secs
    );
    spec.duration_secs *= 2.0;
    Ok(())
}
