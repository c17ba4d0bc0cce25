//! One measured phase: start the workers, sample their counters and the engine once a
//! second for the timeline, join them, merge their histograms and turn everything into a
//! [`PhaseResult`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use engines::{Engine, EngineStats};
use hdrhistogram::Histogram;

use super::amplification::{self, UserBytes};
use super::interval;
use super::latency::{new_histogram, summary, to_result};
use super::worker::{panic_message, work, Outcome, Slot, Source, Task};
use super::Progress;
use crate::generator::{KeyBuilder, ValuePool};
use crate::procfs;
use crate::result::{
    CpuUsage, EngineEvent, OpLatency, PhaseKind, PhaseResult, Throughput, TimelinePoint,
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
}

/// The phase's result, and whether it stopped early (and why).
pub(crate) struct PhaseEnd {
    pub result: PhaseResult,
    pub stopped: Option<String>,
    /// Warnings for the result's `notes`.
    pub notes: Vec<String>,
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

pub(crate) fn run_phase(ctx: &PhaseCtx<'_>, plan: PhasePlan) -> PhaseEnd {
    let threads = plan.sources.len();
    let slots: Vec<Slot> = (0..threads).map(|_| Slot::default()).collect();
    let barrier = Barrier::new(threads + 1);
    let done = AtomicUsize::new(0);
    let interval_ns = (plan.target_rate > 0.0).then(|| threads as f64 * 1e9 / plan.target_rate);

    let stats_before = ctx.db.stats();
    let io_before = procfs::read_proc_io();
    let ru_before = procfs::rusage();

    let (outcomes, elapsed, sampler) = std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for (t, source) in plan.sources.into_iter().enumerate() {
            let task = Task {
                db: ctx.db,
                keys: ctx.keys,
                values: ctx.values,
                slot: &slots[t],
                stop: ctx.stop,
                barrier: &barrier,
                source,
                warmup: plan.warmup[t],
                limit: plan.limits[t],
                deadline: plan.deadline,
                interval_ns,
                kinds: plan.kinds,
            };
            let done = &done;
            let h = std::thread::Builder::new()
                .name(format!("kvbench-worker-{t}"))
                .spawn_scoped(scope, move || {
                    struct Finish<'a>(&'a AtomicUsize);
                    impl Drop for Finish<'_> {
                        fn drop(&mut self) {
                            self.0.fetch_add(1, Relaxed);
                        }
                    }
                    let _finish = Finish(done);
                    work(task)
                })
                .expect("spawn worker thread");
            handles.push(h);
        }
        barrier.wait();
        let start = Instant::now();
        let mut sampler = Sampler {
            last_buckets: vec![vec![0; interval::BUCKETS]; threads],
            start,
            last: start,
            last_ops: 0,
            last_stats: stats_before.clone(),
            timeline: Vec::new(),
            events: Vec::new(),
        };
        let mut next_tick = start + Duration::from_secs(1);
        while done.load(Relaxed) < threads {
            let now = Instant::now();
            if now >= next_tick {
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
            } else {
                std::thread::sleep((next_tick - now).min(Duration::from_millis(10)));
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
        (outcomes, (end - start).as_secs_f64(), sampler)
    });

    let ru_after = procfs::rusage();
    let io_after = procfs::read_proc_io();
    let stats_after = ctx.db.stats();
    finish(
        ctx,
        plan.kind,
        threads,
        plan.target_rate,
        plan.live_is_written,
        outcomes,
        elapsed,
        sampler,
        PhaseKernel {
            stats_before,
            stats_after,
            io: io_before
                .zip(io_after)
                .map(|(b, a)| procfs::proc_io_since(&a, &b)),
            ru_before,
            ru_after,
        },
    )
}

struct PhaseKernel {
    stats_before: EngineStats,
    stats_after: EngineStats,
    io: Option<crate::result::ProcIo>,
    ru_before: procfs::Rusage,
    ru_after: procfs::Rusage,
}

#[allow(clippy::too_many_arguments)]
fn finish(
    ctx: &PhaseCtx<'_>,
    kind: PhaseKind,
    threads: usize,
    target_rate: f64,
    live_is_written: bool,
    outcomes: Vec<Result<Outcome, String>>,
    elapsed: f64,
    sampler: Sampler,
    k: PhaseKernel,
) -> PhaseEnd {
    let mut latency: Vec<Histogram<u64>> = (0..6).map(|_| new_histogram()).collect();
    let mut service: Vec<Histogram<u64>> = (0..6).map(|_| new_histogram()).collect();
    let (mut hits, mut misses) = ([0u64; 6], [0u64; 6]);
    let (mut ops, mut errors, mut warmup) = (0u64, 0u64, 0f64);
    let mut samples: Vec<String> = Vec::new();
    let mut user = UserBytes::default();
    let mut digests = Vec::with_capacity(threads);
    let mut stopped = None;
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
        ops += o.ops;
        errors += o.errors;
        warmup = warmup.max(o.warmup_secs);
        user.written += o.user_bytes_written;
        user.read += o.user_bytes_read;
        user.logical_reads += o.logical_reads;
        for s in o.error_samples {
            if samples.len() < 10 && !samples.contains(&s) {
                samples.push(s);
            }
        }
        if let Some(f) = o.fatal {
            stopped.get_or_insert(format!("the engine failed: {f}"));
        }
        digests.push(o.digest);
    }
    if stopped.is_none() && ctx.stop.load(Relaxed) {
        stopped = Some("interrupted (Ctrl-C)".into());
    }

    let open_loop = target_rate > 0.0;
    let mut all = new_histogram();
    let mut all_service = new_histogram();
    let mut lat = Vec::new();
    for op in OpKind::ALL {
        let i = op.index();
        if latency[i].is_empty() {
            continue;
        }
        merge(&mut all, &latency[i]);
        merge(&mut all_service, &service[i]);
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
                hits: hits.iter().sum(),
                misses: misses.iter().sum(),
            },
        );
    }

    let engine_io = k.stats_after.io.since(&k.stats_before.io);
    let disk_bytes = engines::store_dir::dir_size(ctx.data_dir);
    let live = if live_is_written {
        Some((user.written, ops - errors))
    } else {
        // A broken engine may panic here too; the result still gets written.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            amplification::live_data(ctx.db)
        }))
        .ok()
        .and_then(|r| r.ok())
    };
    let (amp, note) = amplification::compute(
        user,
        &engine_io,
        k.io.as_ref(),
        disk_bytes,
        live,
        ctx.persistent,
        ctx.counts_io,
    );
    let mut notes: Vec<String> = note.into_iter().collect();
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
    let cpu_user = (k.ru_after.user_secs - k.ru_before.user_secs).max(0.0);
    let cpu_sys = (k.ru_after.system_secs - k.ru_before.system_secs).max(0.0);
    let result = PhaseResult {
        phase: kind,
        elapsed_secs: elapsed,
        warmup_secs: warmup,
        threads: threads as u32,
        target_rate,
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
        peak_rss_bytes: k.ru_after.max_rss_bytes,
        engine_stats: k.stats_after,
        engine_io,
        proc_io: k.io,
        op_stream_digests: digests,
    };
    PhaseEnd {
        result,
        stopped,
        notes,
    }
}
