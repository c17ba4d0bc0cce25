//! One measured phase: start the workers, take the "before" readings at the barrier between
//! warm-up and the measured part, sample the workers and the engine once a second for the
//! timeline, join them, take the "in-window" readings, bring the engine to rest and take the
//! "settled" readings, merge the histograms and turn everything into a [`PhaseResult`].
//!
//! ```text
//!  workers:  warm-up ─┐                ┌─ start ── measured operations ── end ─┐
//!  runner:            warmed: settle, │ go                                    join: in-window
//!                     syncfs, before ─┘                                       readings, settle,
//!                                                                             syncfs, settled
//! ```
//!
//! The latency clock is the workers' own (earliest start to latest end); the I/O, CPU and
//! amplification windows open at the same barrier, so neither warm-up nor the engine's
//! leftovers from before the phase are in them, and close after the engine has written out
//! what the phase left it holding.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use engines::{Engine, EngineStats};
use hdrhistogram::Histogram;

use super::amplification::{self, UserBytes, Window};
use super::clock::Clock;
use super::exec::Parts;
use super::interval;
use super::latency::{new_histogram, summary, to_result};
use super::worker::{panic_message, work, Gate, Outcome, Slot, Source, Task};
use super::Progress;
use crate::files;
use crate::generator::{KeyBuilder, ValuePool};
use crate::procfs;
use crate::result::{
    CpuUsage, EngineEvent, OpLatency, PhaseKind, PhaseResult, ProcIo, Throughput, TimelinePoint,
};
use crate::spec::OpKind;

/// Everything a phase needs from the run.
pub(crate) struct PhaseCtx<'a> {
    pub db: &'a dyn Engine,
    pub keys: &'a KeyBuilder,
    pub values: &'a ValuePool,
    pub stop: &'a AtomicBool,
    pub data_dir: &'a std::path::Path,
    pub persistent: bool,
    pub counts_io: bool,
    pub progress: &'a (dyn Fn(&Progress) + Sync),
}

/// How a phase is to run.
pub(crate) struct PhasePlan {
    pub kind: PhaseKind,
    pub sources: Vec<Source>,
    pub warmup: Vec<u64>,
    pub limits: Vec<Option<u64>>,
    pub deadline: Option<Duration>,
    pub target_rate: f64,
    /// Operations expected in total, for progress.
    pub total: Option<u64>,
    /// Operation types the phase can issue.
    pub kinds: [bool; 6],
    /// The live data at the end is exactly what the phase wrote (a load into a fresh
    /// store): no scan is needed. Otherwise a full scan counts it, which also warms caches,
    /// so it is kept for the end of the run.
    pub live_is_written: bool,
    /// Bytes each worker may use to generate its operations ahead.
    pub budget: usize,
}

/// The phase's result, and whether it stopped early (and why).
pub(crate) struct PhaseEnd {
    pub result: PhaseResult,
    pub stopped: Option<String>,
    /// Some worker's deadline ended it before its operation limit.
    pub capped: bool,
    /// Warnings for the result's `notes`.
    pub notes: Vec<String>,
}

/// What the kernel and the engine say at one moment.
struct Reading {
    stats: EngineStats,
    io: Option<ProcIo>,
    ru: procfs::Rusage,
    /// The run's own cgroup's device reads (memory-capped runs only).
    dev: Option<crate::device_reads::DeviceReadCount>,
}

impl Reading {
    /// Takes a reading; with `sync_fs`, after `syncfs` on the data directory's file system,
    /// so that pages dirtied before count as written before (and the device-write counter
    /// of a window holds what the window dirtied, now on the device).
    fn take(ctx: &PhaseCtx<'_>, sync_fs: bool, notes: &mut Vec<String>) -> Reading {
        if sync_fs && ctx.persistent {
            if let Err(e) = files::sync_file_system(ctx.data_dir) {
                notes.push(format!("syncfs of the data directory failed: {e}"));
            }
        }
        Reading {
            ru: procfs::rusage(),
            io: procfs::read_proc_io(),
            dev: crate::device_reads::read(),
            stats: ctx.db.stats(),
        }
    }

    fn window(&self, before: &Reading) -> Window {
        Window {
            engine: self.stats.io.since(&before.stats.io),
            proc: self
                .io
                .zip(before.io)
                .map(|(a, b)| procfs::proc_io_since(&a, &b)),
        }
    }
}

struct Sampler {
    /// Per worker: interval bucket counts at the last sample.
    last_buckets: Vec<Vec<u64>>,
    start: Instant,
    last: Instant,
    last_ops: u64,
    last_stats: EngineStats,
    timeline: Vec<TimelinePoint>,
    events: Vec<EngineEvent>,
}

impl Sampler {
    fn sample(&mut self, ctx: &PhaseCtx<'_>, slots: &[Slot], now: Instant) -> u64 {
        let ops: u64 = slots.iter().map(|s| s.ops.load(Relaxed)).sum();
        let max = slots
            .iter()
            .map(|s| s.max_latency_ns.swap(0, Relaxed))
            .max()
            .unwrap_or(0);
        let mut acc = vec![0u64; interval::BUCKETS];
        for (s, last) in slots.iter().zip(self.last_buckets.iter_mut()) {
            s.interval.drain_into(last, &mut acc);
        }
        let interval = (now - self.last).as_secs_f64();
        let t = (now - self.start).as_secs_f64();
        let mut point = TimelinePoint {
            t_secs: t,
            interval_secs: interval,
            ops: ops - self.last_ops,
            ops_per_sec: if interval > 0.0 {
                (ops - self.last_ops) as f64 / interval
            } else {
                0.0
            },
            max_latency_ns: max,
            p50_ns: interval::quantile(&acc, 0.50),
            p99_ns: interval::quantile(&acc, 0.99),
            p999_ns: interval::quantile(&acc, 0.999),
            ..TimelinePoint::default()
        };
        // The memory engine's stats walk its whole map under its lock: sampling it would
        // stall it, so only engines with files are sampled during the phase.
        if ctx.persistent {
            let stats = ctx.db.stats();
            point.engine_bytes_written = stats
                .io
                .bytes_written
                .saturating_sub(self.last_stats.io.bytes_written);
            point.compactions = stats
                .compactions
                .saturating_sub(self.last_stats.compactions);
            point.disk_bytes = stats.disk_bytes;
            if point.compactions > 0 {
                self.events.push(EngineEvent {
                    t_secs: t,
                    kind: "compaction".into(),
                    count: point.compactions,
                    bytes_written: stats
                        .compaction_bytes_written
                        .saturating_sub(self.last_stats.compaction_bytes_written),
                });
            }
            self.last_stats = stats;
        }
        self.timeline.push(point);
        self.last = now;
        self.last_ops = ops;
        ops
    }
}

fn merge(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Both auto-resize with the same precision, so adding cannot fail; be safe anyway.
    let _ = into.add(from);
}

/// Brings the engine to rest, catching a panic; returns the time it took, or why it failed.
fn settle(db: &dyn Engine) -> (f64, Result<(), String>) {
    let t = Instant::now();
    let r = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.settle())) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(p) => Err(panic_message(p)),
    };
    (t.elapsed().as_secs_f64(), r)
}

pub(crate) fn run_phase(ctx: &PhaseCtx<'_>, plan: PhasePlan) -> PhaseEnd {
    let threads = plan.sources.len();
    let slots: Vec<Slot> = (0..threads).map(|_| Slot::default()).collect();
    let gate = Gate::new(threads);
    let interval_ns = (plan.target_rate > 0.0).then(|| threads as f64 * 1e9 / plan.target_rate);
    let warmup_total: u64 = plan.warmup.iter().sum();
    let mut notes = Vec::new();

    let (outcomes, before, sampler) = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<()>();
        let mut handles = Vec::with_capacity(threads);
        for (t, source) in plan.sources.into_iter().enumerate() {
            let task = Task {
                db: ctx.db,
                keys: ctx.keys,
                values: ctx.values,
                slot: &slots[t],
                stop: ctx.stop,
                gate: &gate,
                source,
                warmup: plan.warmup[t],
                limit: plan.limits[t],
                deadline: plan.deadline,
                interval_ns,
                stagger: t as f64 / threads as f64,
                kinds: plan.kinds,
                budget: plan.budget,
                clock: Clock::get(),
            };
            let tx = tx.clone();
            let h = std::thread::Builder::new()
                .name(format!("kvbench-worker-{t}"))
                .spawn_scoped(scope, move || {
                    struct Finish(mpsc::Sender<()>);
                    impl Drop for Finish {
                        fn drop(&mut self) {
                            let _ = self.0.send(());
                        }
                    }
                    let _finish = Finish(tx);
                    work(task)
                })
                .expect("spawn worker thread");
            handles.push(h);
        }
        drop(tx);
        gate.warmed.wait();
        // Warm-up writes may have left the engine holding work: it is done now, outside
        // the windows, so that the phase is charged only with its own.
        if warmup_total > 0 && plan.kind == PhaseKind::Run {
            if let (_, Err(e)) = settle(ctx.db) {
                notes.push(format!(
                    "bringing the engine to rest after warm-up failed: {e}"
                ));
            }
        }
        let before = Reading::take(ctx, true, &mut notes);
        gate.go.wait();
        let start = Instant::now();
        let mut sampler = Sampler {
            last_buckets: vec![vec![0; interval::BUCKETS]; threads],
            start,
            last: start,
            last_ops: 0,
            last_stats: before.stats.clone(),
            timeline: Vec::new(),
            events: Vec::new(),
        };
        let mut next_tick = start + Duration::from_secs(1);
        let mut finished = 0;
        while finished < threads {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(()) => finished += 1,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    let ops = sampler.sample(ctx, &slots, now);
                    (ctx.progress)(&Progress {
                        phase: plan.kind,
                        elapsed_secs: (now - start).as_secs_f64(),
                        ops_done: ops,
                        ops_total: plan.total,
                        duration_secs: plan.deadline.map(|d| d.as_secs_f64()),
                        ops_per_sec: sampler.timeline.last().map_or(0.0, |p| p.ops_per_sec),
                    });
                    next_tick += Duration::from_secs(1);
                }
            }
        }
        let outcomes: Vec<Result<Outcome, String>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|p| format!("a worker thread panicked: {}", panic_message(p)))
            })
            .collect();
        let end = Instant::now();
        if end > sampler.last {
            sampler.sample(ctx, &slots, end);
        }
        (outcomes, before, sampler)
    });

    // The latency clock has stopped: what the measured operations did while it ran.
    let in_window = Reading::take(ctx, false, &mut notes);
    let (settle_secs, settled) = {
        let (secs, r) = settle(ctx.db);
        if let Err(e) = r {
            notes.push(format!("bringing the engine to rest failed: {e}"));
        }
        (secs, Reading::take(ctx, true, &mut notes))
    };
    finish(
        ctx,
        &plan_info(plan.kind, threads, plan.target_rate, plan.live_is_written),
        outcomes,
        sampler,
        Readings {
            before,
            in_window,
            settled,
            settle_secs,
        },
        notes,
    )
}

/// The parts of the plan `finish` needs.
struct PlanInfo {
    kind: PhaseKind,
    threads: usize,
    target_rate: f64,
    live_is_written: bool,
}

fn plan_info(kind: PhaseKind, threads: usize, target_rate: f64, live: bool) -> PlanInfo {
    PlanInfo {
        kind,
        threads,
        target_rate,
        live_is_written: live,
    }
}

struct Readings {
    before: Reading,
    in_window: Reading,
    settled: Reading,
    settle_secs: f64,
}

fn finish(
    ctx: &PhaseCtx<'_>,
    plan: &PlanInfo,
    outcomes: Vec<Result<Outcome, String>>,
    sampler: Sampler,
    k: Readings,
    mut notes: Vec<String>,
) -> PhaseEnd {
    let mut latency: Vec<Histogram<u64>> = (0..6).map(|_| new_histogram()).collect();
    let mut service: Vec<Histogram<u64>> = (0..6).map(|_| new_histogram()).collect();
    let (mut hits, mut misses) = ([0u64; 6], [0u64; 6]);
    let (mut ops, mut errors, mut warmup) = (0u64, 0u64, 0f64);
    let mut samples: Vec<String> = Vec::new();
    let mut user = UserBytes::default();
    let mut digests = Vec::with_capacity(plan.threads);
    let mut stopped = None;
    let mut capped = false;
    let mut generated = 0u64;
    let mut overdue = 0u64;
    // The read and write parts of read-modify-writes, shown as reads and updates too.
    let mut parts: Option<Parts> = None;
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    for o in outcomes {
        let o = match o {
            Ok(o) => o,
            Err(panic) => {
                stopped.get_or_insert(panic.clone());
                samples.push(panic);
                digests.push(0);
                continue;
            }
        };
        for i in 0..6 {
            merge(&mut latency[i], &o.latency[i]);
            if let Some(s) = &o.service {
                merge(&mut service[i], &s[i]);
            }
            hits[i] += o.hits[i];
            misses[i] += o.misses[i];
        }
        if let Some(p) = &o.parts {
            let into = parts.get_or_insert_with(|| Parts::new(p.service.is_some()));
            for i in 0..2 {
                merge(&mut into.latency[i], &p.latency[i]);
                if let (Some(a), Some(b)) = (into.service.as_mut(), p.service.as_ref()) {
                    merge(&mut a[i], &b[i]);
                }
            }
            into.read_hits += p.read_hits;
            into.read_misses += p.read_misses;
        }
        overdue += o.overdue;
        ops += o.ops;
        errors += o.errors;
        warmup = warmup.max(o.warmup_secs);
        user.written += o.user_bytes_written;
        user.read += o.user_bytes_read;
        user.logical_reads += o.logical_reads;
        capped |= o.capped;
        generated += o.generated_bytes;
        if let (Some(s), Some(e)) = (o.start, o.end) {
            first = Some(first.map_or(s, |f: Instant| f.min(s)));
            last = Some(last.map_or(e, |l: Instant| l.max(e)));
        }
        for s in o.error_samples {
            if samples.len() < 10 && !samples.contains(&s) {
                samples.push(s);
            }
        }
        if let Some(f) = o.fatal {
            stopped.get_or_insert(format!("the engine failed: {f}"));
        }
        if let Some(s) = o.stop {
            stopped.get_or_insert(s);
        }
        digests.push(o.digest);
    }
    if stopped.is_none() && ctx.stop.load(Relaxed) {
        stopped = Some(super::INTERRUPTED.into());
    }
    let elapsed = match (first, last) {
        (Some(f), Some(l)) => l.saturating_duration_since(f).as_secs_f64(),
        _ => 0.0,
    };

    let open_loop = plan.target_rate > 0.0;
    let mut all = new_histogram();
    let mut all_service = new_histogram();
    for i in 0..6 {
        merge(&mut all, &latency[i]);
        merge(&mut all_service, &service[i]);
    }
    let (all_hits, all_misses) = (hits.iter().sum(), misses.iter().sum());
    if let Some(p) = &parts {
        for (part, kind) in [(0, OpKind::Read), (1, OpKind::Update)] {
            merge(&mut latency[kind.index()], &p.latency[part]);
            if let Some(s) = &p.service {
                merge(&mut service[kind.index()], &s[part]);
            }
        }
        hits[OpKind::Read.index()] += p.read_hits;
        misses[OpKind::Read.index()] += p.read_misses;
    }
    let mut lat = Vec::new();
    for op in OpKind::ALL {
        let i = op.index();
        if latency[i].is_empty() {
            continue;
        }
        lat.push(OpLatency {
            op: Some(op),
            summary: summary(&latency[i]),
            histogram: to_result(&latency[i]),
            service: open_loop.then(|| summary(&service[i])),
            hits: hits[i],
            misses: misses[i],
        });
    }
    if !all.is_empty() {
        lat.insert(
            0,
            OpLatency {
                op: None,
                summary: summary(&all),
                histogram: to_result(&all),
                service: open_loop.then(|| summary(&all_service)),
                hits: all_hits,
                misses: all_misses,
            },
        );
    }
    if let Some(p) = &parts {
        if !p.latency[0].is_empty() {
            notes.push(
                "the read and the write of each read-modify-write are also recorded as a read and an update, as YCSB records them; the figures of all operations count each once"
                    .into(),
            );
        }
    }
    if open_loop && elapsed > 0.0 {
        let achieved = ops as f64 / elapsed;
        if achieved < 0.95 * plan.target_rate {
            notes.push(format!(
                "open loop: the engine kept up with {:.0}% of the target rate ({achieved:.0} of {:.0} ops/s)",
                100.0 * achieved / plan.target_rate,
                plan.target_rate
            ));
        }
    }
    if overdue > 0 {
        notes.push(format!(
            "open loop: {overdue} operations fell due before the time limit but were never issued; they are in the latency figures with their wait until the limit (a lower bound), not in the operation count"
        ));
    }

    let settled = k.settled.window(&k.before);
    let in_window = k.in_window.window(&k.before);
    let usage = files::disk_usage(ctx.data_dir);
    let live = if plan.live_is_written {
        Some((user.written, ops - errors))
    } else {
        // A broken engine may panic here too; the result still gets written.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            amplification::live_data(ctx.db)
        }))
        .ok()
        .and_then(|r| r.ok())
    };
    let write_buffer = k
        .settled
        .stats
        .write_buffer_bytes
        .max(k.before.stats.write_buffer_bytes);
    let (amp, amp_notes) = amplification::compute(
        user,
        &settled,
        Some(&in_window),
        usage,
        live,
        ctx.persistent,
        ctx.counts_io,
        write_buffer,
    );
    notes.extend(amp_notes);
    if errors > 0 {
        notes.push(format!(
            "{errors} of {ops} operations failed; see error_samples"
        ));
    }
    let per_op = |secs: f64| {
        if ops > 0 {
            secs * 1e9 / ops as f64
        } else {
            0.0
        }
    };
    let (ru_before, ru_after) = (k.before.ru, k.settled.ru);
    let cpu_user = (ru_after.user_secs - ru_before.user_secs).max(0.0);
    let cpu_sys = (ru_after.system_secs - ru_before.system_secs).max(0.0);
    let result = PhaseResult {
        phase: plan.kind,
        elapsed_secs: elapsed,
        warmup_secs: warmup,
        threads: plan.threads as u32,
        target_rate: plan.target_rate,
        open_loop,
        operations: ops,
        errors,
        error_samples: samples,
        throughput: Throughput {
            ops_per_sec: if elapsed > 0.0 {
                ops as f64 / elapsed
            } else {
                0.0
            },
            timeline: sampler.timeline,
            events: sampler.events,
        },
        latency: lat,
        amplification: amp,
        cpu: CpuUsage {
            user_secs: cpu_user,
            system_secs: cpu_sys,
            user_ns_per_op: per_op(cpu_user),
            system_ns_per_op: per_op(cpu_sys),
        },
        peak_rss_bytes: ru_after.max_rss_bytes,
        generated_ahead_bytes: generated,
        engine_stats: k.settled.stats,
        engine_io: settled.engine,
        proc_io: settled.proc,
        op_stream_digests: digests,
        settle_secs: Some(k.settle_secs),
        device_reads: k.settled.dev.zip(k.before.dev).map(|(a, b)| a.since(&b)),
    };
    PhaseEnd {
        result,
        stopped,
        capped,
        notes,
    }
}
