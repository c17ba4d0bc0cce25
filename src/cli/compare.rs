//! `kvbench compare`: engines x workloads into one results directory, a CSV summary, the
//! summary table and the HTML report of this run's results (`kvbench report DIR` reports
//! every result in a directory, e.g. several runs at different sizes). Engines that fail to open are reported on one line each and skipped;
//! the exit code is then non-zero.

use std::process::ExitCode;

use engines::EngineKind;
use workloads::runner::RunError;

use super::run::OneError;

use super::args::{CompareArgs, Scale};
use super::run::{load_calibration, prepare_out, run_one, sub_dir};
use super::{signal, table, CliResult};

/// Workloads of a `compare` with no `--workloads`.
const DEFAULT_WORKLOADS: [&str; 3] = ["read-heavy", "write-heavy", "range-scan"];

pub fn cmd_compare(mut a: CompareArgs) -> CliResult<ExitCode> {
    let kinds: Vec<EngineKind> = if a.engines.is_empty() || a.engines == ["all"] {
        EngineKind::ALL.to_vec()
    } else {
        a.engines
            .iter()
            .map(|e| e.parse().map_err(|e: engines::Error| e.to_string()))
            .collect::<CliResult<_>>()?
    };
    let names: Vec<String> = if a.workloads.is_empty() {
        DEFAULT_WORKLOADS.iter().map(|s| s.to_string()).collect()
    } else {
        a.workloads.clone()
    };
    // Sized so the default (9 engines x 3 workloads with --features production) takes about
    // 3 minutes on a 2-core machine.
    if a.spec.scale.is_none()
        && a.spec.records.is_none()
        && a.spec.ops.is_none()
        && a.spec.duration.is_none()
    {
        a.spec.scale = Some(Scale::Medium);
    }
    let mut specs = Vec::new();
    for n in &names {
        let mut s = workloads::presets::preset(n)?;
        a.spec.apply(&mut s)?;
        specs.push(s);
    }
    let options = super::engine_options::parse(&a.place.engine_options)?;
    let calibration = load_calibration(&a.place)?;
    prepare_out(&a.place)?;
    signal::install();

    let started = std::time::Instant::now();
    let (mut results, mut failed) = (Vec::new(), Vec::new());
    'engines: for &kind in &kinds {
        for spec in &specs {
            if signal::interrupted() {
                break 'engines;
            }
            let dir = a.place.dir.as_ref().map(|d| sub_dir(d, kind, spec));
            match run_one(spec, kind, &a.place, dir, &options, calibration.clone()) {
                Ok((r, path)) => {
                    eprintln!("{} {}: wrote {}", kind.name(), spec.name, path.display());
                    results.push(r);
                }
                Err(OneError::Run(RunError::Open(e))) => {
                    eprintln!("kvbench: {}: skipped, it did not open: {e}", kind.name());
                    failed.push(kind.name());
                    continue 'engines;
                }
                Err(e) => {
                    eprintln!("kvbench: {} {}: {e}", kind.name(), spec.name);
                    failed.push(kind.name());
                }
            }
        }
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
    let partial = results.iter().any(|r| r.partial) || signal::interrupted();
    if !failed.is_empty() {
        failed.dedup();
        eprintln!("kvbench: failed engines: {}", failed.join(", "));
        return Ok(ExitCode::FAILURE);
    }
    Ok(if partial {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
