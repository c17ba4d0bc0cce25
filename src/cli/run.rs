//! `kvbench run`: one workload on one engine, one result file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use engines::{EngineKind, Options};
use workloads::result::{Calibration, RunResult};
use workloads::runner::{self, EngineUnderTest, RunConfig, RunError};
use workloads::spec::WorkloadSpec;
use workloads::ycsb::Properties;

use super::args::{PlaceArgs, RunArgs};
use super::progress::Reporter;
use super::{signal, table, CliResult};

/// Creates the results directory before any run, so a long run cannot end unwritable.
pub fn prepare_out(place: &PlaceArgs) -> CliResult<()> {
    std::fs::create_dir_all(&place.out).map_err(|e| {
        format!(
            "cannot create the results directory {}: {e}",
            place.out.display()
        )
    })
}

/// The calibration to embed: `--calibration FILE`, else `OUT/calibration.json` if present.
pub fn load_calibration(place: &PlaceArgs) -> CliResult<Option<Calibration>> {
    let (path, required) = match &place.calibration {
        Some(p) => (p.clone(), true),
        None => (place.out.join("calibration.json"), false),
    };
    if !required && !path.exists() {
        return Ok(None);
    }
    // A calibration is under 2 KiB; cap the read so a wrong path cannot read forever.
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_reader(std::io::Read::take(file, 1 << 20))
        .map(Some)
        .map_err(|e| format!("{}: not a calibration file: {e}", path.display()))
}

/// Why one run produced no result file.
#[derive(Debug)]
pub enum OneError {
    Run(RunError),
    /// The result could not be written.
    Write(PathBuf, std::io::Error),
}

impl std::fmt::Display for OneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OneError::Run(e) => e.fmt(f),
            OneError::Write(dir, e) => {
                write!(f, "cannot write the result into {}: {e}", dir.display())
            }
        }
    }
}

/// Runs `spec` on `kind` with a progress display, writes the result file, and returns the
/// result and its path.
pub fn run_one(
    spec: &WorkloadSpec,
    kind: EngineKind,
    place: &PlaceArgs,
    dir: Option<PathBuf>,
    options: &Options,
    calibration: Option<Calibration>,
) -> Result<(RunResult, PathBuf), OneError> {
    let reporter = Reporter::new(format!("{} {}", kind.name(), spec.name));
    let progress = |p: &runner::Progress| reporter.update(p);
    let cfg = RunConfig {
        dir,
        temp_parent: None,
        cold_cache: place.cold_cache,
        stop: &signal::STOP,
        progress: &progress,
        calibration,
    };
    let result = runner::run(spec, &EngineUnderTest::builtin(kind, options.clone()), &cfg);
    reporter.finish();
    let result = result.map_err(OneError::Run)?;
    let path = workloads::output::write_result(&place.out, &result)
        .map_err(|e| OneError::Write(place.out.clone(), e))?;
    Ok((result, path))
}

/// The spec of `--workload` or `--workload-file` with `-p` overrides and the size flags.
fn build_spec(a: &RunArgs) -> CliResult<WorkloadSpec> {
    let mut spec = match (&a.workload, &a.workload_file) {
        (_, Some(file)) => {
            let mut props = Properties::read(file).map_err(|e| e.to_string())?;
            for p in &a.props {
                props.set_override(p).map_err(|e| e.to_string())?;
            }
            let unknown = props.unknown();
            if !unknown.is_empty() {
                eprintln!(
                    "kvbench: warning: {} has properties kvbench does not use: {}",
                    file.display(),
                    unknown.join(", ")
                );
            }
            let name = file
                .file_name()
                .map_or("ycsb".into(), |n| n.to_string_lossy().into_owned());
            props.to_spec(&name).map_err(|e| e.to_string())?
        }
        (Some(w), None) => {
            if !a.props.is_empty() {
                return Err("-p overrides apply to --workload-file only".into());
            }
            workloads::presets::preset(w)?
        }
        (None, None) => {
            return Err(
                "give --workload NAME or --workload-file FILE (see kvbench workloads)".into(),
            )
        }
    };
    a.spec.apply(&mut spec)?;
    Ok(spec)
}

pub fn cmd_run(a: RunArgs) -> CliResult<ExitCode> {
    let kind: EngineKind = a
        .engine
        .parse()
        .map_err(|e: engines::Error| e.to_string())?;
    let spec = build_spec(&a)?;
    let options = super::engine_options::parse(&a.place.engine_options)?;
    let calibration = load_calibration(&a.place)?;
    prepare_out(&a.place)?;
    signal::install();
    let (result, path) = run_one(
        &spec,
        kind,
        &a.place,
        a.place.dir.clone(),
        &options,
        calibration.clone(),
    )
    .map_err(|e| format!("{} on {}: {e}", spec.name, kind.name()))?;
    table::print(std::slice::from_ref(&result), calibration.as_ref());
    for n in &result.notes {
        eprintln!("note: {n}");
    }
    println!("wrote {}", path.display());
    if let Some(d) = &a.place.dir {
        println!("data kept in {}", d.display());
    }
    Ok(if result.partial {
        eprintln!(
            "kvbench: the run is partial: {}",
            result.partial_reason.as_deref().unwrap_or("stopped")
        );
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// `name` as a file-name-safe component.
pub fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `DIR/<engine>-<workload>` for a kept data directory of `compare`.
pub fn sub_dir(dir: &Path, kind: EngineKind, spec: &WorkloadSpec) -> PathBuf {
    dir.join(format!("{}-{}", kind.name(), safe(&spec.name)))
}
