//! The main job: `kvbench compare` with no workloads and no sizes. It runs the plan of
//! [`workloads::main_job`] (a quick calibration, read-heavy, write-heavy and range-scan on
//! every engine with three interleaved repetitions, the size sweep, the space-reclaim
//! measurement) and ends as every `compare` does: the summary table, the claims block and
//! the report, which this plan fills in every section.
//!
//! Flags that shape a workload without sizing it (`--durability`, `--threads`, `--seed`,
//! `--value-size`, `--repeat`, ...) apply to the plan's workloads; `--engines` narrows it.
//! `KVBENCH_MAIN_JOB=quick` runs the same plan at a few thousand records (for tests).

use std::process::ExitCode;

use engines::EngineKind;
use workloads::main_job::{self, Size, SpaceReclaim, RECLAIM_ENGINES};

use super::args::CompareArgs;
use super::compare::Batch;
use super::progress::Eta;
use super::run::{load_calibration, prepare_out};
use super::{calibrate, signal, CliResult};

/// Environment variable that picks the plan's size (`quick`, else the full plan).
pub const SIZE_VAR: &str = "KVBENCH_MAIN_JOB";

/// Guessed lengths of the steps that are not runs, seconds (until they have run once).
const CALIBRATION_GUESS_SECS: f64 = 12.0;
const RECLAIM_GUESS_SECS: f64 = 4.0;

pub fn run(a: &CompareArgs, kinds: &[EngineKind]) -> CliResult<ExitCode> {
    let size = match std::env::var(SIZE_VAR).as_deref() {
        Ok("quick") => Size::Quick,
        Ok("") | Ok("full") | Err(_) => Size::Full,
        Ok(other) => return Err(format!("{SIZE_VAR}={other}: expected quick or full")),
    };
    let mut plan = main_job::plan(size)?;
    for s in plan.comparison.iter_mut().chain(plan.sweep.iter_mut()) {
        a.spec.apply(s)?;
    }
    let repeat = a.spec.repeat.map_or(plan.repeat, |_| a.spec.repeat());
    let options = super::engine_options::parse(&a.place.engine_options)?;
    // `--calibration FILE` is used as given; otherwise the main job calibrates afresh.
    let given = match &a.place.calibration {
        Some(_) => load_calibration(&a.place)?,
        None => None,
    };
    prepare_out(&a.place)?;
    signal::install();

    let reclaim_kinds: Vec<EngineKind> = RECLAIM_ENGINES
        .into_iter()
        .filter(|k| kinds.contains(k))
        .collect();
    let mut eta = Eta::new();
    if given.is_none() {
        eta.plan_step("calibration", CALIBRATION_GUESS_SECS);
    }
    eta.plan_interleaved(&plan.comparison, kinds, repeat);
    for spec in &plan.sweep {
        eta.plan_interleaved(std::slice::from_ref(spec), kinds, 1);
    }
    for k in &reclaim_kinds {
        eta.plan_step(
            &format!("{}: space before and after compact()", k.name()),
            RECLAIM_GUESS_SECS,
        );
    }
    eprintln!(
        "kvbench: the main job: calibration, {} on {} engines x {repeat} repetitions, the size sweep ({}), space before and after compact() ({}); results in {}",
        plan.comparison
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        kinds.len(),
        plan.sweep
            .iter()
            .map(|s| s.record_count.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        reclaim_kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
        a.place.out.display()
    );

    let calibration = match given {
        Some(c) => Some(c),
        None => {
            eta.start();
            let dir = a.place.dir.clone().unwrap_or_else(std::env::temp_dir);
            let c = workloads::calibrate::calibrate(&dir, &plan.calibration, &|step| {
                eprintln!("calibrate: {step}")
            })
            .map_err(|e| format!("calibration in {} failed: {e}", dir.display()))?;
            eta.done();
            calibrate::print(&c);
            calibrate::save(&c, &a.place.out)?;
            Some(c)
        }
    };

    let mut batch = Batch::new(&a.place, &options, calibration);
    batch.run_interleaved(&plan.comparison, kinds, repeat, &mut eta);
    for spec in &plan.sweep {
        if signal::interrupted() {
            break;
        }
        batch.run_interleaved(std::slice::from_ref(spec), kinds, 1, &mut eta);
    }
    let mut reclaims: Vec<SpaceReclaim> = Vec::new();
    for &kind in &reclaim_kinds {
        if signal::interrupted() {
            break;
        }
        eta.start();
        match reclaim(kind, &options, a, plan.reclaim) {
            Ok(r) => reclaims.push(r),
            Err(e) => {
                eprintln!(
                    "kvbench: {}: space before and after compact(): {e}",
                    kind.name()
                );
                batch.failed.push(kind.name());
            }
        }
        eta.done();
    }
    if !reclaims.is_empty() {
        main_job::write_reclaims(&a.place.out, &reclaims)
            .map_err(|e| format!("{}: {e}", a.place.out.display()))?;
    }
    batch.finish(&reclaims)
}

/// The space-reclaim measurement of one engine, in a fresh directory (under `--dir` when
/// given, kept there).
fn reclaim(
    kind: EngineKind,
    options: &engines::Options,
    a: &CompareArgs,
    plan: main_job::ReclaimPlan,
) -> Result<SpaceReclaim, String> {
    let temp;
    let dir = match &a.place.dir {
        Some(d) => {
            let d = d.join(format!("{}-reclaim", kind.name()));
            std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
            d
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("kvbench-reclaim-")
                .tempdir()
                .map_err(|e| format!("cannot create a data directory: {e}"))?;
            temp.path().to_path_buf()
        }
    };
    let options = main_job::reclaim_options(kind, options);
    let r = main_job::measure_reclaim(kind, &options, &dir, plan).map_err(|e| e.to_string())?;
    eprintln!(
        "{}: space amplification {:.2} before compact(), {:.2} after",
        kind.name(),
        r.before.space_amp.unwrap_or(f64::NAN),
        r.after.space_amp.unwrap_or(f64::NAN)
    );
    Ok(r)
}
