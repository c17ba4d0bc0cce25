//! One worker thread: issues its operations to the engine and records each one's latency in
//! its own histograms (nothing shared on the hot path but relaxed stores to its own cache
//! line, which the sampler reads once a second).
//!
//! Operations and their keys are generated ahead into a [`Batch`], so the timed region holds
//! the engine call alone. A count-bounded phase whose whole stream fits in the worker's
//! generation budget is generated before the start barrier, outside the phase's wall time;
//! otherwise batches of [`BATCH`] operations are generated as the phase goes (that time is
//! then in the phase's wall time, never in a latency).
//!
//! The worker takes its own start time after the start barrier and its own end time after
//! its last operation: the phase lasts from the earliest start to the latest end. Times are
//! read from the workers' [`Clock`] (the CPU's time-stamp counter where it is usable).
//!
//! Closed loop: the next operation starts when the previous one returns; latency is measured
//! from the actual start. Open loop (a target rate): operation `i` of thread `t` of `T` is
//! *intended* to start at `start + (i + t/T) x interval`, so that the threads' requests
//! arrive evenly spaced rather than `T` at once (YCSB staggers each thread's first operation
//! too); if the engine stalled, the following operations start late and their latency counts
//! from the intended time, so the stall shows in the tail instead of vanishing (coordinated
//! omission). Service time (from the actual start) is kept apart. When the time limit ends an
//! open-loop phase, the operations that fell due before it but were not issued are recorded
//! too, each with its wait until the end as its latency (a lower bound), and counted.
//!
//! The time limit bounds the warm-up as well: a warm-up still going at the limit stops there
//! (nothing is then measured), and the time a warm-up took is taken from the measured part's.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use engines::Engine;
use hdrhistogram::Histogram;

use super::clock::Clock;
use super::exec::{exec, is_fatal, key_of, Batch, Parts, Scratch};
use super::interval::IntervalCounts;
use super::latency::{new_histogram, record, unused_histogram};
use crate::generator::ops::Digest;
use crate::generator::{KeyBuilder, LoadStream, Op, OpStream, Pick, ValuePool};
use crate::spec::OpKind;

/// Operations generated at a time when the whole stream is not generated ahead.
pub(crate) const BATCH: u64 = 4096;

/// Counters a worker publishes for the per-second timeline, on a cache line of its own
/// (the interval buckets are a separate allocation per worker).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Slot {
    pub ops: AtomicU64,
    pub max_latency_ns: AtomicU64,
    pub interval: IntervalCounts,
}

/// Where a worker's operations come from.
pub(crate) enum Source {
    Load(LoadStream),
    Run(Box<OpStream>),
    /// Placeholder while a worker owns the real source.
    Empty,
}

impl Source {
    #[inline]
    pub(crate) fn next_op(&mut self) -> Option<Op> {
        match self {
            Source::Load(s) => s.next(),
            Source::Run(s) => Some(s.next_op()),
            Source::Empty => None,
        }
    }

    /// The record of an operation whose record is known only when it is issued.
    #[inline]
    pub(crate) fn resolve(&mut self, op: &Op) -> u64 {
        match self {
            Source::Run(s) => s.resolve(op),
            _ => op.record,
        }
    }

    /// The insert of a new record has returned.
    #[inline]
    fn acknowledge(&self, op: &Op, record: u64) {
        if let (Source::Run(s), Pick::NewRecord) = (self, op.pick) {
            s.acknowledge(record);
        }
    }
}

/// The two meeting points of a phase: every worker has warmed up (the runner then settles
/// the engine and takes its "before" readings), and the measured part starts.
pub(crate) struct Gate {
    pub warmed: Barrier,
    pub go: Barrier,
}

impl Gate {
    pub fn new(workers: usize) -> Gate {
        Gate {
            warmed: Barrier::new(workers + 1),
            go: Barrier::new(workers + 1),
        }
    }
}

/// What a worker is told to do.
pub(crate) struct Task<'a> {
    pub db: &'a dyn Engine,
    pub keys: &'a KeyBuilder,
    pub values: &'a ValuePool,
    pub slot: &'a Slot,
    pub stop: &'a AtomicBool,
    pub gate: &'a Gate,
    pub source: Source,
    /// Operations to issue before the barrier, unmeasured.
    pub warmup: u64,
    /// Measured operations to issue; `None` = until the deadline or the stream ends.
    pub limit: Option<u64>,
    pub deadline: Option<Duration>,
    /// Open loop: nanoseconds between intended starts for this thread.
    pub interval_ns: Option<f64>,
    /// Open loop: this thread's first intended start, in intervals after the phase's start
    /// (`t / T`, so that the threads' requests are evenly spaced).
    pub stagger: f64,
    /// Operation types the phase can issue (in `OpKind::ALL` order); the others get no
    /// preallocated histogram.
    pub kinds: [bool; 6],
    /// Bytes this worker may use to generate its whole stream ahead.
    pub budget: usize,
    pub clock: Clock,
}

/// What a worker measured.
pub(crate) struct Outcome {
    pub latency: Vec<Histogram<u64>>,
    pub service: Option<Vec<Histogram<u64>>>,
    pub hits: [u64; 6],
    pub misses: [u64; 6],
    pub ops: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub user_bytes_written: u64,
    pub user_bytes_read: u64,
    pub logical_reads: u64,
    /// Digest of every operation issued, warm-up included.
    pub digest: u64,
    /// An error after which the engine cannot go on (poisoned, closed).
    pub fatal: Option<String>,
    pub warmup_secs: f64,
    /// The worker's own start (after the start barrier) and end (after its last operation).
    pub start: Option<Instant>,
    pub end: Option<Instant>,
    /// The deadline ended the worker before its operation limit.
    pub capped: bool,
    /// Why the worker stopped early when it is neither the engine's failure nor the stop
    /// flag (the time limit reached during the warm-up).
    pub stop: Option<String>,
    /// The reads and writes of read-modify-writes, to record as reads and updates too.
    pub parts: Option<Parts>,
    /// Open loop: operations that fell due before the time limit but were not issued (they
    /// are in `latency`, with their wait until the end).
    pub overdue: u64,
    /// Bytes the worker held for operations generated ahead (their share of peak RSS).
    pub generated_bytes: u64,
}

/// Sleeps until shortly before tick `t`, then yields until `t`: a plain sleep overshoots by
/// tens of microseconds, which would count as latency at high target rates. Long waits
/// sleep in slices so a stop request is seen; returns false when stopped.
fn wait_until(clock: &Clock, t: u64, stop: &AtomicBool) -> bool {
    const SPIN: Duration = Duration::from_micros(60);
    const SLICE: Duration = Duration::from_millis(50);
    loop {
        let now = clock.now();
        if t <= now {
            return true;
        }
        if stop.load(Relaxed) {
            return false;
        }
        let left = Duration::from_nanos(clock.ns(t - now));
        if left > SPIN {
            std::thread::sleep((left - SPIN).min(SLICE));
        } else {
            std::thread::yield_now();
        }
    }
}

pub(crate) fn work(mut task: Task<'_>) -> Outcome {
    let mut src = std::mem::replace(&mut task.source, Source::Empty);
    let mut out = Outcome {
        latency: histograms(&task.kinds),
        service: task.interval_ns.map(|_| histograms(&task.kinds)),
        hits: [0; 6],
        misses: [0; 6],
        ops: 0,
        errors: 0,
        error_samples: Vec::new(),
        user_bytes_written: 0,
        user_bytes_read: 0,
        logical_reads: 0,
        digest: 0,
        fatal: None,
        warmup_secs: 0.0,
        start: None,
        end: None,
        capped: false,
        stop: None,
        parts: task.kinds[OpKind::ReadModifyWrite.index()]
            .then(|| Parts::new(task.interval_ns.is_some())),
        overdue: 0,
        generated_bytes: 0,
    };
    let mut digest = Digest::default();
    let mut batch = Batch::default();
    let mut scratch = Scratch::default();

    // An engine that panics must not leave the other workers waiting at the barriers: the
    // panic is caught, the barriers are still reached, and the phase ends with the message.
    let mut ahead = false;
    let clock = task.clock;
    let warm_start = clock.now();
    // The deadline bounds the warm-up too: the warm-up stops at it, and what the warm-up took
    // is taken from the time the measured part has.
    let limit_ticks = task.deadline.map(|d| clock.ticks(d.as_nanos() as u64));
    let mut warm_ticks = 0;
    let warm = catch_unwind(AssertUnwindSafe(|| {
        warm_up(
            &task,
            &mut src,
            &mut batch,
            &mut digest,
            &mut out,
            limit_ticks.map(|l| warm_start.saturating_add(l)),
            &mut scratch,
        );
        warm_ticks = clock.now().saturating_sub(warm_start);
        // The whole measured stream, generated before the clock starts, when it fits.
        if let Some(limit) = task.limit {
            if Batch::bytes(limit, task.keys.max_len()) <= task.budget as u64 {
                batch.fill(&mut src, task.keys, limit);
                ahead = true;
            }
        }
    }));
    if let Err(p) = warm {
        out.fatal = Some(panic_message(p));
    }
    task.gate.warmed.wait();
    task.gate.go.wait();
    let start = task.clock.now();
    out.start = Some(task.clock.instant(start));
    out.end = out.start;
    let deadline = limit_ticks.map(|l| start.saturating_add(l.saturating_sub(warm_ticks)));
    if out.stop.is_some() {
        out.capped = true;
    } else if out.fatal.is_none() {
        let done = catch_unwind(AssertUnwindSafe(|| {
            measure(
                &task,
                (&mut src, &mut batch, &mut scratch),
                ahead,
                (start, deadline),
                &mut digest,
                &mut out,
            )
        }));
        if let Err(p) = done {
            out.fatal = Some(panic_message(p));
        }
    }
    out.digest = digest.value();
    out.generated_bytes = batch.capacity_bytes();
    out
}

fn histograms(kinds: &[bool; 6]) -> Vec<Histogram<u64>> {
    kinds
        .iter()
        .map(|&used| {
            if used {
                new_histogram()
            } else {
                unused_histogram()
            }
        })
        .collect()
}

/// Text of a caught panic.
pub(crate) fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    let msg = p
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    format!("the engine panicked: {msg}")
}

/// Issues the warm-up operations, unmeasured, until they are done or `deadline` (in ticks).
fn warm_up(
    task: &Task<'_>,
    src: &mut Source,
    batch: &mut Batch,
    digest: &mut Digest,
    out: &mut Outcome,
    deadline: Option<u64>,
    scratch: &mut Scratch,
) {
    let warm_start = Instant::now();
    let mut left = task.warmup;
    let mut done = 0u64;
    'batches: while left > 0 && !task.stop.load(Relaxed) {
        let n = batch.fill(src, task.keys, left.min(BATCH));
        if n == 0 {
            break;
        }
        left -= n as u64;
        for i in 0..n {
            if deadline.is_some_and(|d| task.clock.now() >= d) {
                out.stop = Some(format!(
                    "the time limit of {} s was reached during the warm-up, after {done} of {} warm-up operations of a thread",
                    task.deadline.map_or(0.0, |d| d.as_secs_f64()),
                    task.warmup
                ));
                batch.digest(i, digest);
                break 'batches;
            }
            done += 1;
            let (op, record, key) = key_of(batch, i, src, task.keys, &mut scratch.key);
            let res = exec(
                task.db,
                task.values,
                &op,
                key,
                &mut scratch.record,
                &task.clock,
            );
            src.acknowledge(&op, record);
            if let Err(e) = res {
                if is_fatal(&e) {
                    out.fatal = Some(e.to_string());
                    batch.digest(i + 1, digest);
                    break 'batches;
                }
            }
        }
        batch.digest(n, digest);
    }
    out.warmup_secs = warm_start.elapsed().as_secs_f64();
}

fn measure(
    task: &Task<'_>,
    (src, batch, scratch): (&mut Source, &mut Batch, &mut Scratch),
    ahead: bool,
    (start, deadline): (u64, Option<u64>),
    digest: &mut Digest,
    out: &mut Outcome,
) {
    let clock = &task.clock;
    let limit = task.limit.unwrap_or(u64::MAX);
    let (mut i, mut pos) = (0u64, 0usize);
    if !ahead {
        batch.fill(src, task.keys, limit.min(BATCH));
    }
    let intended_at =
        |i: u64, ns: f64| start + clock.ticks(((i as f64 + task.stagger) * ns) as u64);
    let mut last_end = start;
    let mut timed_out = false;
    while i < limit && out.fatal.is_none() && !task.stop.load(Relaxed) {
        if pos == batch.len() {
            batch.digest(pos, digest);
            pos = 0;
            if ahead || batch.fill(src, task.keys, (limit - i).min(BATCH)) == 0 {
                batch.ops.clear();
                break; // the stream ended
            }
        }
        let intended = match task.interval_ns {
            Some(ns) => {
                let t = intended_at(i, ns);
                if deadline.is_some_and(|d| t >= d) {
                    timed_out = true;
                    break; // the next operation is due after the phase ends
                }
                if !wait_until(clock, t, task.stop) {
                    break;
                }
                Some(t)
            }
            None => None,
        };
        let (op, rec, key) = key_of(batch, pos, src, task.keys, &mut scratch.key);
        let t0 = clock.now();
        let res = exec(task.db, task.values, &op, key, &mut scratch.record, clock);
        let t1 = clock.now();
        src.acknowledge(&op, rec);
        last_end = t1;
        let latency = clock.ns(t1.saturating_sub(intended.unwrap_or(t0)));
        let k = op.kind.index();
        record(&mut out.latency[k], latency);
        task.slot.interval.record(latency);
        if let Some(service) = out.service.as_mut() {
            record(&mut service[k], clock.ns(t1.saturating_sub(t0)));
        }
        match res {
            Ok(d) => {
                if let (Some(mid), Some(parts)) = (d.mid, out.parts.as_mut()) {
                    parts.record(clock, intended, [t0, mid, t1], d.found == Some(true));
                }
                match d.found {
                    Some(true) => out.hits[k] += 1,
                    Some(false) => out.misses[k] += 1,
                    None => out.hits[k] += d.items,
                }
                out.user_bytes_written += d.written;
                out.user_bytes_read += d.read;
                out.logical_reads += d.reads;
            }
            Err(e) => {
                out.errors += 1;
                // Sample the first errors only: an error storm must not format every one.
                if out.error_samples.len() < 5 && out.errors <= 100 {
                    let msg = format!("{}: {e}", op.kind.name());
                    if !out.error_samples.contains(&msg) {
                        out.error_samples.push(msg);
                    }
                }
                if is_fatal(&e) {
                    out.fatal = Some(e.to_string());
                }
            }
        }
        pos += 1;
        i += 1;
        task.slot.ops.store(i, Relaxed);
        if latency > task.slot.max_latency_ns.load(Relaxed) {
            task.slot.max_latency_ns.fetch_max(latency, Relaxed);
        }
        if deadline.is_some_and(|d| t1 >= d) {
            timed_out = true;
            break;
        }
    }
    out.capped = timed_out && i < limit;
    out.end = Some(clock.instant(last_end));
    out.ops = i;
    batch.digest(pos, digest);
    if let (true, Some(ns), Some(d)) = (timed_out, task.interval_ns, deadline) {
        // The operations that fell due before the limit were requests too: leaving them out
        // would hide that the engine fell behind (coordinated omission at the end).
        let due = ((clock.ns(d.saturating_sub(start)) as f64 / ns - task.stagger).ceil()).max(0.0);
        let due = (due.min(u64::MAX as f64) as u64).min(limit);
        if due > i {
            let end = clock.now().max(d);
            out.overdue = record_overdue(task, (src, batch, pos), (i, due), end, intended_at, out);
        }
    }
}

/// Operations that fell due but are recorded one by one from the stream; beyond them, in
/// bulk (an unreachable target rate can leave billions due).
const OVERDUE_ONE_BY_ONE: u64 = 1 << 22;

/// Records operations `from..to` (due before the limit, never issued) in the latency
/// histograms of their types, each with its wait from its intended start until `end`.
/// Returns how many were recorded.
fn record_overdue(
    task: &Task<'_>,
    (src, batch, mut pos): (&mut Source, &mut Batch, usize),
    (from, to): (u64, u64),
    end: u64,
    intended_at: impl Fn(u64, f64) -> u64,
    out: &mut Outcome,
) -> u64 {
    let (clock, ns) = (&task.clock, task.interval_ns.unwrap_or(0.0));
    let wait = |i: u64| clock.ns(end.saturating_sub(intended_at(i, ns)));
    let mut kinds = [0u64; 6];
    let mut i = from;
    let one_by_one = to.min(from.saturating_add(OVERDUE_ONE_BY_ONE));
    while i < one_by_one {
        if pos == batch.len() {
            pos = 0;
            if batch.fill(src, task.keys, (one_by_one - i).min(BATCH)) == 0 {
                break;
            }
        }
        let k = batch.ops[pos].kind.index();
        record(&mut out.latency[k], wait(i));
        kinds[k] += 1;
        pos += 1;
        i += 1;
    }
    let sampled: u64 = kinds.iter().sum();
    if i < to && sampled > 0 {
        // The rest in 256 slices of time, split among the types as the sampled ones were.
        let rest = to - i;
        let slices = rest.min(256);
        let most = (0..6).max_by_key(|&k| kinds[k]).unwrap_or(0);
        for s in 0..slices {
            let (a, b) = (i + rest * s / slices, i + rest * (s + 1) / slices);
            let lat = wait((a + b) / 2).max(1);
            let mut left = b - a;
            for (k, &n) in kinds.iter().enumerate() {
                let count = ((b - a) as u128 * n as u128 / sampled as u128) as u64;
                left -= count;
                let _ = out.latency[k].record_n(lat, count);
            }
            let _ = out.latency[most].record_n(lat, left);
        }
        i = to;
    }
    i - from
}
