//! `kvbench compare`: engines x workloads into one results directory, a CSV summary, the
//! summary table, the claims block and the HTML report of this run's results (`kvbench
//! report DIR` reports every result in a directory, e.g. several runs at different sizes).
//! With no workloads and no sizes it runs the main job instead ([`super::main_job`]).
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

use engines::{EngineKind, Options};
use workloads::main_job::SpaceReclaim;
use workloads::result::{Calibration, PhaseKind, RunResult};
use workloads::spec::WorkloadSpec;

use super::args::{CompareArgs, PlaceArgs, Scale};
use super::child::ChildError;
use super::progress::Eta;
use super::run::{load_calibration, prepare_out, repetition, run_one, sub_dir, OneError, OneRun};
use super::{signal, table, CliResult};

/// Workloads of a `compare` with no `--workloads`.
const DEFAULT_WORKLOADS: [&str; 3] = ["read-heavy", "write-heavy", "range-scan"];

/// Shortest and longest pilot run, seconds.
const PILOT_SECS: (f64, f64) = (0.5, 3.0);

/// The engines of `--engines` (default and `all`: every engine this build has but `null`,
/// the harness's own instrument, which runs only when named).
pub fn engines(names: &[String]) -> CliResult<Vec<EngineKind>> {
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

/// True when `compare` was given no workloads and no sizes: then it runs the main job.
fn is_main_job(a: &CompareArgs) -> bool {
    !a.io_bound
        && a.workloads.is_empty()
        && a.spec.scale.is_none()
        && a.spec.records.is_none()
        && a.spec.ops.is_none()
        && a.spec.duration.is_none()
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
    if is_main_job(&a) {
        return super::main_job::run(&a, &kinds);
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
    // With --io-bound, each (engine, workload) runs capped and then again in memory.
    let in_memory = PlaceArgs {
        memory_limit: None,
        ..a.place.clone()
    };
    let mut batch = Batch::new(&a.place, &options, calibration);
    if a.io_bound {
        batch.in_memory_twin = Some(&in_memory);
    }
    for spec in &mut specs {
        if spec.operation_count == 0 && !signal::interrupted() {
            pilot(spec, &kinds, &options, &a, &mut batch.skip)?;
        }
    }
    let mut eta = Eta::new();
    eta.plan_interleaved(&specs, &kinds, repeat);
    batch.run_interleaved(&specs, &kinds, repeat, &mut eta);
    batch.finish(&[])
}

/// Runs of one `compare`, their results and failures.
pub struct Batch<'a> {
    pub place: &'a PlaceArgs,
    pub options: &'a Options,
    pub calibration: Option<Calibration>,
    pub started: std::time::Instant,
    pub started_unix: u64,
    pub results: Vec<RunResult>,
    /// Engines that failed a run (named once each at the end).
    pub failed: Vec<&'static str>,
    /// Engines that did not open: skipped from then on.
    pub skip: Vec<EngineKind>,
    /// Engines whose load reached its time cap under the memory limit: their later capped
    /// runs load the same data the same way, so they are skipped (the in-memory ones run).
    pub load_capped: Vec<EngineKind>,
    /// Where each run is made again right after its run in `place` (`compare --io-bound`:
    /// without the memory limit), so that the two sit side by side.
    pub in_memory_twin: Option<&'a PlaceArgs>,
}

impl<'a> Batch<'a> {
    pub fn new(
        place: &'a PlaceArgs,
        options: &'a Options,
        calibration: Option<Calibration>,
    ) -> Batch<'a> {
        Batch {
            place,
            options,
            calibration,
            started: std::time::Instant::now(),
            started_unix: super::run::now_unix(),
            results: Vec::new(),
            failed: Vec::new(),
            skip: Vec::new(),
            load_capped: Vec::new(),
            in_memory_twin: None,
        }
    }

    /// Runs every spec on every engine `repeat` times, interleaved across engines (A B C
    /// A B C); `eta` must hold these runs in this order.
    pub fn run_interleaved(
        &mut self,
        specs: &[WorkloadSpec],
        kinds: &[EngineKind],
        repeat: u32,
        eta: &mut Eta,
    ) {
        for i in 1..=repeat {
            for spec in specs {
                for &kind in kinds {
                    if signal::interrupted() {
                        return;
                    }
                    self.run(spec, kind, i, repeat, eta);
                }
            }
        }
    }

    /// One run of `spec` on `kind` (repetition `index` of `repeat`), unless the engine is
    /// skipped.
    pub fn run(
        &mut self,
        spec: &WorkloadSpec,
        kind: EngineKind,
        index: u32,
        repeat: u32,
        eta: &mut Eta,
    ) {
        if self.skip.contains(&kind) {
            eta.skip();
            return;
        }
        eta.start();
        let twin = self.in_memory_twin;
        for place in std::iter::once(self.place).chain(twin) {
            if self.skip.contains(&kind) || signal::interrupted() {
                break;
            }
            // The capped run of a pair has a repetition group and data directory of its own.
            let capped = twin.is_some() && place.memory_limit.is_some();
            if capped && self.load_capped.contains(&kind) {
                eprintln!(
                    "{} {}: capped run skipped, its load reached the time cap in an earlier workload",
                    kind.name(),
                    spec.name
                );
                continue;
            }
            let mut rep = repetition(kind, spec, index, repeat, self.started_unix);
            if let Some(r) = rep.as_mut().filter(|_| capped) {
                r.group.push_str("-capped");
            }
            let one = OneRun {
                spec,
                kind,
                options: self.options,
                calibration: self.calibration.clone(),
                dir: place.dir.as_ref().map(|d| {
                    let dir = sub_dir(d, kind, spec, index);
                    if capped {
                        dir.with_extension("capped")
                    } else {
                        dir
                    }
                }),
                repetition: rep,
            };
            match run_one(one, place, Some(&self.place.out)) {
                Ok((r, path)) => {
                    if let Some(p) = path {
                        eprintln!("{} {}: wrote {}", kind.name(), spec.name, p.display());
                    }
                    if capped && load_reached_its_cap(&r) {
                        self.load_capped.push(kind);
                    }
                    self.results.push(r);
                }
                Err(OneError::Child(ChildError::Open(e))) => {
                    eprintln!("kvbench: {}: skipped, it did not open: {e}", kind.name());
                    self.failed.push(kind.name());
                    self.skip.push(kind);
                }
                Err(e) => {
                    eprintln!("kvbench: {} {}: {e}", kind.name(), spec.name);
                    self.failed.push(kind.name());
                }
            }
        }
        eta.done();
    }

    /// The end of a comparison: the same-work check, the CSV summary, the table, the claims
    /// block, the report; the exit code.
    pub fn finish(mut self, reclaims: &[SpaceReclaim]) -> CliResult<ExitCode> {
        let same = workloads::same_work::check(&self.results);
        for l in &same.left_out {
            eprintln!("kvbench: note: not checked for the same work: {l}");
        }
        for m in &same.mismatches {
            eprintln!("kvbench: {m}");
        }
        let out = &self.place.out;
        if !self.results.is_empty() {
            let csv = out.join("summary.csv");
            std::fs::write(&csv, workloads::output::csv_summary(&self.results))
                .map_err(|e| format!("{}: {e}", csv.display()))?;
            println!();
            table::print(&self.results, self.calibration.as_ref());
            let claims = reports::claims::check_all(&self.results, reclaims);
            if claims
                .iter()
                .any(|c| c.verdict != reports::claims::Verdict::NotMeasured)
            {
                println!();
                print!("{}", reports::claims::text(&claims));
            }
            println!();
            println!(
                "{} results in {} ({} s); CSV summary: {}",
                self.results.len(),
                out.display(),
                self.started.elapsed().as_secs(),
                csv.display()
            );
            let page = reports::render_main(&self.results, self.calibration.as_ref(), reclaims);
            let report =
                reports::write_page(&page, &out.join("report.html")).map_err(|e| e.to_string())?;
            println!("report: {}", report.display());
        }
        if signal::interrupted() {
            return Ok(ExitCode::from(130));
        }
        if !self.failed.is_empty() {
            self.failed.sort();
            self.failed.dedup();
            eprintln!("kvbench: failed engines: {}", self.failed.join(", "));
            return Ok(ExitCode::FAILURE);
        }
        if !same.mismatches.is_empty() {
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// True when a run ended in its load, at the load's time cap (a run interrupted by the user
/// also ends with no run phase, but then nothing runs after it).
fn load_reached_its_cap(r: &RunResult) -> bool {
    r.partial && r.spec.load_duration_secs > 0.0 && r.phase(PhaseKind::Run).is_none()
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
