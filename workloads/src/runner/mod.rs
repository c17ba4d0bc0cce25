//! The runner: opens an engine in a data directory, runs the load phase and then the run
//! phase of a workload with N worker threads, and returns a [`RunResult`].
//!
//! ```text
//!  open engine ─ load phase (closed loop, record_count inserts) ─ settle
//!      ─ [cold cache: close, drop the files from the page cache, check, reopen]
//!      ─ run phase: warm-up ops ─ settle ─ barrier ─ measured ops (closed loop, or open
//!        loop at the target rate) ─ settle ─ full scan for live bytes ─ close ─ RunResult
//! ```
//!
//! Each phase is measured on its own (see [`phase`]): per-operation-type HDR histograms on
//! the workers' own clock, a per-second timeline (with the engine's compactions), CPU time
//! from `getrusage`, the engine's I/O counters and `/proc/self/io` for write amplification
//! (engine, syscall and device bytes), and the files on disk for space amplification
//! (allocated and apparent). "Settle" is [`Engine::settle`]: the engine writes out what it
//! holds and finishes its due background work, inside the phase's I/O window but outside
//! its latency clock, so deferred writes are charged to the phase that caused them.
//!
//! A run bounded by operation count whose spec also has a duration treats the duration as a
//! safety cap: reaching it ends the phase and marks the result partial, with the reason.
//! The `stop` flag (set by Ctrl-C or SIGTERM in the CLI) ends the current phase cleanly and the
//! result is marked partial.

mod amplification;
mod clock;
mod cold;
mod exec;
mod interval;
mod latency;
mod phase;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use engines::{Engine, EngineKind, Options};
use serde::{Deserialize, Serialize};

pub use amplification::{live_data, MISMATCH_FLOOR_BYTES, MISMATCH_RATIO, STEADY_BUFFERS};
pub use clock::Clock;
pub use latency::{base64, new_histogram, spectrum, summary};

use crate::environment;
use crate::generator::{KeyBuilder, LoadStream, OpStream, ValuePool};
use crate::result::{Calibration, ColdCache, EngineInfo, PhaseKind, RunResult, SCHEMA_VERSION};
use crate::spec::WorkloadSpec;
use phase::{run_phase, PhaseCtx, PhasePlan};
use worker::Source;

/// Opens the engine under test in a directory.
pub type Opener = dyn Fn(&Path, &Options) -> engines::Result<Box<dyn Engine>> + Send + Sync;

/// The engine to measure: its description and how to open it.
pub struct EngineUnderTest {
    pub info: EngineInfo,
    pub open: Box<Opener>,
}

impl EngineUnderTest {
    /// One of this build's engines.
    pub fn builtin(kind: EngineKind, options: Options) -> EngineUnderTest {
        EngineUnderTest {
            info: EngineInfo {
                name: kind.name().into(),
                family: kind.family().to_string(),
                description: kind.description().into(),
                persistent: kind.persistent(),
                counts_io: kind.counts_io(),
                options,
            },
            open: Box::new(move |dir, opts| engines::open(kind, dir, opts)),
        }
    }
}

/// The partial reason of a run ended by its `stop` flag (the CLI names the signal that set it).
pub const INTERRUPTED: &str = "interrupted";

/// Bytes all workers of a phase together may use to generate their operations ahead of the
/// clock (a count-bounded stream that fits is generated whole before the phase starts).
pub const GENERATE_AHEAD_BYTES: usize = 256 << 20;

/// The memory this process may use, when a parent capped it (a cgroup limit): the harness
/// then keeps its own buffers (operations generated ahead, the pages of the live-data scan)
/// within `1 / HARNESS_SHARE` of it, so the cap is left to the engine and the page cache.
static MEMORY_LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
/// See [`MEMORY_LIMIT`].
pub const HARNESS_SHARE: u64 = 16;

/// Tells the runner the memory this process may use (once; later calls are ignored).
pub fn set_memory_limit(bytes: u64) {
    let _ = MEMORY_LIMIT.set(bytes);
}

/// Bytes the harness may hold for one of its buffers: `default`, or less under a cap.
pub(crate) fn harness_bytes(default: u64) -> u64 {
    MEMORY_LIMIT
        .get()
        .map_or(default, |l| default.min(l / HARNESS_SHARE))
}

/// Progress of a phase, reported about once a second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub phase: PhaseKind,
    pub elapsed_secs: f64,
    pub ops_done: u64,
    /// Operations the phase will issue, when it is bounded by count.
    pub ops_total: Option<u64>,
    /// The phase's time limit, when it has one.
    pub duration_secs: Option<f64>,
    /// Throughput over the last second.
    pub ops_per_sec: f64,
}

/// How to run, beyond the workload itself.
pub struct RunConfig<'a> {
    /// Data directory to use and keep; `None` = a fresh temporary directory under
    /// `temp_parent` (or the system's), removed afterwards. A directory that is empty at the
    /// start is fresh: the load's live data is then what it wrote.
    pub dir: Option<PathBuf>,
    pub temp_parent: Option<PathBuf>,
    /// Between load and run: close the engine, drop its files from the page cache (checked
    /// with `mincore`) and open it again.
    pub cold_cache: bool,
    /// Set (e.g. by Ctrl-C) to stop the run; the result is then partial.
    pub stop: &'a AtomicBool,
    /// Called about once a second during each phase, and at each phase's start and end.
    pub progress: &'a (dyn Fn(&Progress) + Sync),
    pub calibration: Option<Calibration>,
}

/// A run that could not produce a result at all.
#[derive(Debug)]
pub enum RunError {
    /// The spec does not describe a runnable workload.
    Spec(String),
    /// The data directory could not be created.
    Dir(std::io::Error),
    /// The engine did not open.
    Open(engines::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Spec(m) => write!(f, "invalid workload: {m}"),
            RunError::Dir(e) => write!(f, "cannot create the data directory: {e}"),
            RunError::Open(e) => write!(f, "the engine did not open: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

fn split(total: u64, threads: u32, t: u32) -> u64 {
    let (q, r) = (total / threads as u64, total % threads as u64);
    q + u64::from((t as u64) < r)
}

/// Runs `spec` on `engine` and returns what was measured.
pub fn run(
    spec: &WorkloadSpec,
    engine: &EngineUnderTest,
    cfg: &RunConfig<'_>,
) -> Result<RunResult, RunError> {
    spec.validate().map_err(RunError::Spec)?;
    let temp;
    let dir: PathBuf = match &cfg.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(RunError::Dir)?;
            d.clone()
        }
        None => {
            let mut b = tempfile::Builder::new();
            b.prefix("kvbench-");
            temp = match &cfg.temp_parent {
                Some(p) => b.tempdir_in(p),
                None => b.tempdir(),
            }
            .map_err(RunError::Dir)?;
            temp.path().to_path_buf()
        }
    };
    let fresh = std::fs::read_dir(&dir)
        .map_err(RunError::Dir)?
        .next()
        .is_none();
    let mut options = engine.info.options.clone();
    options.durability = spec.durability;
    let environment = environment::capture(&dir);
    let mut db = (engine.open)(&dir, &options).map_err(RunError::Open)?;

    let keys = KeyBuilder::new(&spec.key, spec.insert_order);
    let values = ValuePool::new(spec);
    let mut phases = Vec::new();
    let mut notes = Vec::new();
    let mut stopped: Option<String> = None;
    let threads = spec.threads;
    let budget = harness_bytes(GENERATE_AHEAD_BYTES as u64) as usize / threads as usize;

    if spec.loaded().1 > 0 {
        let loads: Vec<LoadStream> = (0..threads).map(|t| LoadStream::new(spec, t)).collect();
        let limits = loads.iter().map(|l| Some(l.len())).collect();
        let end = run_phase(
            &phase_ctx(db.as_ref(), &keys, &values, &dir, &engine.info, cfg),
            PhasePlan {
                kind: PhaseKind::Load,
                sources: loads.into_iter().map(Source::Load).collect(),
                warmup: vec![0; threads as usize],
                limits,
                deadline: (spec.load_duration_secs > 0.0)
                    .then(|| Duration::from_secs_f64(spec.load_duration_secs)),
                target_rate: 0.0,
                total: Some(spec.loaded().1),
                kinds: [false, false, true, false, false, false],
                live_is_written: fresh,
                budget,
            },
        );
        stopped = match end.stopped {
            None if end.capped => Some(format!(
                "load time cap of {} s reached after {} of {} records: no run phase",
                spec.load_duration_secs,
                end.result.operations,
                spec.loaded().1
            )),
            other => other,
        };
        phases.push(end.result);
        notes.extend(end.notes.into_iter().map(|n| format!("load: {n}")));
    }

    let mut cold_cache_check: Option<ColdCache> = None;
    if stopped.is_none() && cfg.cold_cache {
        if !engine.info.persistent {
            notes.push("cold cache requested, but the engine keeps no files".into());
        } else {
            match cold::restart(db, engine.open.as_ref(), &dir, &options) {
                Ok((reopened, check)) => {
                    db = reopened;
                    if !check.dropped {
                        notes.push(format!(
                            "cold cache: {} of {} bytes of the engine's files were still cached after dropping them",
                            check.cached_bytes_after_drop, check.file_bytes
                        ));
                    }
                    cold_cache_check = Some(check);
                }
                Err(e) => {
                    // The engine is closed: the run ends with what it has.
                    notes.push(format!("cold cache: {e}"));
                    return Ok(finish_result(
                        spec,
                        engine,
                        options,
                        environment,
                        phases,
                        cfg,
                        notes,
                        Some(format!("the cold-cache restart failed: {e}")),
                        None,
                    ));
                }
            }
        }
    }

    if stopped.is_none() {
        let sources: Vec<Source> = OpStream::group(spec)
            .into_iter()
            .map(|s| Source::Run(Box::new(s)))
            .collect();
        let limits = (0..threads)
            .map(|t| (spec.operation_count > 0).then(|| split(spec.operation_count, threads, t)))
            .collect();
        let warmup = (0..threads)
            .map(|t| split(spec.warmup_ops, threads, t))
            .collect();
        let end = run_phase(
            &phase_ctx(db.as_ref(), &keys, &values, &dir, &engine.info, cfg),
            PhasePlan {
                kind: PhaseKind::Run,
                sources,
                warmup,
                limits,
                deadline: spec
                    .timed()
                    .then(|| Duration::from_secs_f64(spec.duration_secs)),
                target_rate: spec.target_rate,
                total: (spec.operation_count > 0).then_some(spec.operation_count),
                kinds: spec.mix.weights().map(|w| w > 0.0),
                live_is_written: false,
                budget,
            },
        );
        if end.stopped.is_none() && end.capped && spec.operation_count > 0 {
            stopped = Some(format!(
                "time cap of {} s reached after {} of {} operations",
                spec.duration_secs, end.result.operations, spec.operation_count
            ));
        } else {
            stopped = end.stopped;
        }
        phases.push(end.result);
        notes.extend(end.notes.into_iter().map(|n| format!("run: {n}")));
    }

    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.close())) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => notes.push(format!("closing the engine failed: {e}")),
        Err(_) => notes.push("closing the engine panicked".into()),
    }
    // Dropping a panicked engine may panic again; the result matters more than its drop.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(db)));
    Ok(finish_result(
        spec,
        engine,
        options,
        environment,
        phases,
        cfg,
        notes,
        stopped,
        cold_cache_check,
    ))
}

fn phase_ctx<'a>(
    db: &'a dyn Engine,
    keys: &'a KeyBuilder,
    values: &'a ValuePool,
    dir: &'a Path,
    info: &EngineInfo,
    cfg: &RunConfig<'a>,
) -> PhaseCtx<'a> {
    PhaseCtx {
        db,
        keys,
        values,
        stop: cfg.stop,
        data_dir: dir,
        persistent: info.persistent,
        counts_io: info.counts_io,
        progress: cfg.progress,
    }
}

#[allow(clippy::too_many_arguments)]
fn finish_result(
    spec: &WorkloadSpec,
    engine: &EngineUnderTest,
    options: Options,
    environment: crate::result::Environment,
    phases: Vec<crate::result::PhaseResult>,
    cfg: &RunConfig<'_>,
    notes: Vec<String>,
    stopped: Option<String>,
    cold_cache_check: Option<ColdCache>,
) -> RunResult {
    let run_id = format!(
        "{}-{}-{}",
        engine.info.name,
        spec.name,
        environment::compact_time(environment.started_unix)
    );
    RunResult {
        schema_version: SCHEMA_VERSION,
        kvbench_version: env!("CARGO_PKG_VERSION").into(),
        run_id,
        spec: spec.clone(),
        engine: EngineInfo {
            options,
            ..engine.info.clone()
        },
        durability: spec.durability,
        cold_cache: cold_cache_check.is_some_and(|c| c.dropped),
        cold_cache_check,
        repetition: None,
        partial: stopped.is_some(),
        partial_reason: stopped,
        environment,
        phases,
        calibration: cfg.calibration.clone(),
        notes,
        memory_cap: None,
        fidelity: crate::fidelity::differences(spec),
    }
}
