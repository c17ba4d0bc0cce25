//! `kvbench run`: one workload on one engine (`--repeat N` times), one result file per run,
//! each run in a child process of its own.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use engines::{EngineKind, Options};
use workloads::job::Job;
use workloads::result::{Calibration, PhaseKind, Repetition, RunResult};
use workloads::spec::WorkloadSpec;
use workloads::ycsb::Properties;

use super::args::{PlaceArgs, RunArgs};
use super::child::{run_in_child, ChildError};
use super::{signal, table, CliResult};

/// Creates the results directory before any run, so a long run cannot end unwritable, and
/// checks that `--dir` can be a data directory and that a memory cgroup can be made when
/// `--memory-limit` asks for one.
pub fn prepare_out(place: &PlaceArgs) -> CliResult<()> {
    not_a_file("--out", &place.out)?;
    if let Some(dir) = &place.dir {
        not_a_file("--dir", dir)?;
    }
    std::fs::create_dir_all(&place.out).map_err(|e| {
        format!(
            "cannot create the results directory {}: {e}",
            place.out.display()
        )
    })?;
    if let Some(limit) = memory_limit(place)? {
        let probe = tempfile::Builder::new()
            .prefix("kvbench-")
            .tempdir()
            .map_err(|e| format!("cannot create a data directory: {e}"))?;
        drop(super::cgroup::Group::create(limit, probe.path())?);
    }
    Ok(())
}

/// `--memory-limit` in bytes.
pub fn memory_limit(place: &PlaceArgs) -> CliResult<Option<u64>> {
    place
        .memory_limit
        .as_deref()
        .map(|t| super::cgroup::parse_size(t).map_err(|e| format!("--memory-limit {e}")))
        .transpose()
}

/// A directory flag must not name something that exists and is not a directory (or has such
/// a thing on its path).
fn not_a_file(flag: &str, path: &Path) -> CliResult<()> {
    for p in path.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) if p == path => {
                return Err(format!(
                    "{flag} {}: is a file, not a directory",
                    path.display()
                ))
            }
            Ok(_) => {
                return Err(format!(
                    "{flag} {}: {} is a file, not a directory",
                    path.display(),
                    p.display()
                ))
            }
            Err(_) => continue,
        }
    }
    Ok(())
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
    Child(ChildError),
    /// The data directory could not be made.
    Dir(std::io::Error),
    /// The result could not be written.
    Write(PathBuf, std::io::Error),
}

impl std::fmt::Display for OneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OneError::Child(e) => e.fmt(f),
            OneError::Dir(e) => write!(f, "cannot create the data directory: {e}"),
            OneError::Write(dir, e) => {
                write!(f, "cannot write the result into {}: {e}", dir.display())
            }
        }
    }
}

/// One run to make.
pub struct OneRun<'a> {
    pub spec: &'a WorkloadSpec,
    pub kind: EngineKind,
    pub options: &'a Options,
    pub calibration: Option<Calibration>,
    /// Data directory to use and keep; `None` = a fresh temporary one, removed after.
    pub dir: Option<PathBuf>,
    pub repetition: Option<Repetition>,
}

/// Runs one (engine, workload) in a child process with a progress display, writes the result
/// file (unless `out` is `None`) and returns the result and its path.
pub fn run_one(
    one: OneRun<'_>,
    place: &PlaceArgs,
    out: Option<&Path>,
) -> Result<(RunResult, Option<PathBuf>), OneError> {
    let temp;
    let dir = match &one.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(OneError::Dir)?;
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("kvbench-")
                .tempdir()
                .map_err(OneError::Dir)?;
            temp.path().to_path_buf()
        }
    };
    let job = Job {
        spec: one.spec.clone(),
        engine: one.kind.name().into(),
        options: one.options.clone(),
        dir,
        cold_cache: place.cold_cache,
        calibration: one.calibration.clone(),
        device_counters: None,
        memory_limit: None,
    };
    let mut label = format!("{} {}", one.kind.name(), one.spec.name);
    if let Some(r) = &one.repetition {
        label.push_str(&format!(" ({} of {})", r.index, r.count));
    }
    let limit = memory_limit(place).map_err(|e| OneError::Child(ChildError::Failed(e)))?;
    if let Some(l) = limit {
        label.push_str(&format!(" [{} MiB]", l >> 20));
    }
    let mut result = run_in_child(&job, &label, limit).map_err(OneError::Child)?;
    // The child was stopped through us: the result names the signal we were sent.
    if result.partial_reason.as_deref() == Some(workloads::runner::INTERRUPTED) {
        result.partial_reason = Some(signal::reason());
    }
    if let Some(rep) = one.repetition {
        result.run_id = format!("{}-r{}", result.run_id, rep.index);
        result.repetition = Some(rep);
    }
    let path = match out {
        Some(out) => Some(
            workloads::output::write_result(out, &result)
                .map_err(|e| OneError::Write(out.to_path_buf(), e))?,
        ),
        None => None,
    };
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

/// The repetition group of `repeat` runs of `kind` on `spec` (none for a single run).
pub fn repetition(
    kind: EngineKind,
    spec: &WorkloadSpec,
    index: u32,
    repeat: u32,
    started: u64,
) -> Option<Repetition> {
    (repeat > 1).then(|| Repetition {
        group: format!(
            "{}-{}-{}",
            kind.name(),
            safe(&spec.name),
            workloads::environment::compact_time(started)
        ),
        index,
        count: repeat,
    })
}

pub fn cmd_run(a: RunArgs) -> CliResult<ExitCode> {
    let kind: EngineKind = a
        .engine
        .parse()
        .map_err(|e: engines::Error| e.to_string())?;
    let spec = build_spec(&a)?;
    if a.fidelity {
        println!(
            "{} follows {}; what differs:",
            spec.name,
            workloads::fidelity::tool(&spec).name()
        );
        for d in workloads::fidelity::differences(&spec) {
            println!("- {d}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let options = super::engine_options::parse(&a.place.engine_options)?;
    let calibration = load_calibration(&a.place)?;
    let repeat = a.spec.repeat();
    prepare_out(&a.place)?;
    signal::install();
    let started = now_unix();
    let mut results = Vec::new();
    for i in 1..=repeat {
        if signal::interrupted() {
            break;
        }
        let dir = a.place.dir.as_ref().map(|d| match i {
            1 => d.clone(),
            _ => PathBuf::from(format!("{}-r{i}", d.display())),
        });
        let one = OneRun {
            spec: &spec,
            kind,
            options: &options,
            calibration: calibration.clone(),
            dir,
            repetition: repetition(kind, &spec, i, repeat, started),
        };
        let (result, path) = run_one(one, &a.place, Some(&a.place.out))
            .map_err(|e| format!("{} on {}: {e}", spec.name, kind.name()))?;
        for n in &result.notes {
            eprintln!("note: {n}");
        }
        if i == 1 {
            for f in &result.fidelity {
                eprintln!("fidelity: {f}");
            }
        }
        if let Some(p) = path {
            println!("wrote {}", p.display());
        }
        results.push(result);
    }
    table::print(&results, calibration.as_ref());
    if let Some(d) = &a.place.dir {
        println!("data kept in {}", d.display());
    }
    if signal::interrupted() {
        eprintln!(
            "kvbench: {}; the results written are marked partial",
            signal::reason()
        );
        return Ok(ExitCode::from(signal::exit_code()));
    }
    let mut measured_nothing = false;
    for r in results.iter().filter(|r| r.partial) {
        let why = r.partial_reason.as_deref().unwrap_or("stopped");
        let ops = r.phase(PhaseKind::Run).map_or(0, |p| p.operations);
        if ops == 0 {
            // A result without a measured operation is no result: say so, and fail.
            eprintln!(
                "kvbench: {} on {}: nothing was measured: {why}",
                spec.name,
                kind.name()
            );
            measured_nothing = true;
        } else {
            eprintln!("kvbench: the run is partial: {why}");
        }
    }
    Ok(if measured_nothing {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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

/// `DIR/<engine>-<workload>` (and `-r<N>` for repetitions after the first) for a kept data
/// directory of `compare`.
pub fn sub_dir(dir: &Path, kind: EngineKind, spec: &WorkloadSpec, index: u32) -> PathBuf {
    let base = format!("{}-{}", kind.name(), safe(&spec.name));
    dir.join(match index {
        0 | 1 => base,
        i => format!("{base}-r{i}"),
    })
}
