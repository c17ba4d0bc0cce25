//! One worker thread: draws operations from its stream, issues them to the engine, and
//! records each one's latency in its own histograms (nothing shared on the hot path but two
//! relaxed stores to its own cache line, which the sampler reads once a second).
//!
//! Closed loop: the next operation starts when the previous one returns; latency is measured
//! from the actual start. Open loop (a target rate): operation `i` is *intended* to start at
//! `start + i x interval`; if the engine stalled, the following operations start late and
//! their latency counts from the intended time, so the stall shows in the tail instead of
//! vanishing (coordinated omission). Service time (from the actual start) is kept apart.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use engines::{Engine, Error};
use hdrhistogram::Histogram;

use super::interval::IntervalCounts;
use super::latency::{new_histogram, record, unused_histogram};
use crate::generator::{KeyBuilder, LoadStream, Op, OpStream, ValuePool};
use crate::spec::OpKind;

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
    Run(OpStream),
    /// Placeholder while a worker owns the real source.
    Empty,
}

impl Source {
    #[inline]
    fn next_op(&mut self) -> Option<Op> {
        match self {
            Source::Load(s) => s.next(),
            Source::Run(s) => Some(s.next_op()),
            Source::Empty => None,
        }
    }

    fn digest(&self) -> u64 {
        match self {
            Source::Load(s) => s.digest(),
            Source::Run(s) => s.digest(),
            Source::Empty => 0,
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
    pub barrier: &'a Barrier,
    pub source: Source,
    /// Operations to issue before the barrier, unmeasured.
    pub warmup: u64,
    /// Measured operations to issue; `None` = until the deadline or the stream ends.
    pub limit: Option<u64>,
    pub deadline: Option<Duration>,
    /// Open loop: nanoseconds between intended starts for this thread.
    pub interval_ns: Option<f64>,
    /// Operation types the phase can issue (in `OpKind::ALL` order); the others get no
    /// preallocated histogram.
    pub kinds: [bool; 6],
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
    pub digest: u64,
    /// An error after which the engine cannot go on (poisoned, closed).
    pub fatal: Option<String>,
    pub warmup_secs: f64,
}

/// What one operation did, for the counters.
#[derive(Default)]
struct Done {
    found: Option<bool>,
    items: u64,
    written: u64,
    read: u64,
    reads: u64,
}

struct Exec<'a> {
    db: &'a dyn Engine,
    keys: &'a KeyBuilder,
    values: &'a ValuePool,
    key: Vec<u8>,
}

impl Exec<'_> {
    #[inline]
    fn run(&mut self, op: &Op) -> engines::Result<Done> {
        self.keys.build(op.record, &mut self.key);
        let key = &self.key[..];
        let mut d = Done::default();
        match op.kind {
            OpKind::Read => {
                let v = self.db.get(key)?;
                d.reads = 1;
                d.found = Some(v.is_some());
                d.read = v.map_or(0, |v| (key.len() + v.len()) as u64);
            }
            OpKind::Update | OpKind::Insert => {
                let v = self.values.value(op);
                self.db.put(key, v)?;
                d.written = (key.len() + v.len()) as u64;
            }
            OpKind::ReadModifyWrite => {
                let old = self.db.get(key)?;
                d.reads = 1;
                d.found = Some(old.is_some());
                d.read = old.map_or(0, |v| (key.len() + v.len()) as u64);
                let v = self.values.value(op);
                self.db.put(key, v)?;
                d.written = (key.len() + v.len()) as u64;
            }
            OpKind::Scan => {
                let items = self.db.scan(key, None, op.scan_len as usize)?;
                d.reads = 1;
                d.items = items.len() as u64;
                d.read = items.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
            }
            OpKind::Delete => {
                self.db.delete(key)?;
                d.written = key.len() as u64;
            }
        }
        Ok(d)
    }
}

/// Sleeps until shortly before `t`, then yields until `t`: a plain sleep overshoots by
/// tens of microseconds, which would count as latency at high target rates. Long waits
/// sleep in slices so a stop request is seen; returns false when stopped.
fn wait_until(t: Instant, stop: &AtomicBool) -> bool {
    const SPIN: Duration = Duration::from_micros(60);
    const SLICE: Duration = Duration::from_millis(50);
    loop {
        let now = Instant::now();
        if t <= now {
            return true;
        }
        if stop.load(Relaxed) {
            return false;
        }
        let left = t - now;
        if left > SPIN {
            std::thread::sleep((left - SPIN).min(SLICE));
        } else {
            std::thread::yield_now();
        }
    }
}

fn is_fatal(e: &Error) -> bool {
    matches!(e, Error::Poisoned(_) | Error::Closed)
}

pub(crate) fn work(mut task: Task<'_>) -> Outcome {
    let mut src = std::mem::replace(&mut task.source, Source::Empty);
    let mut exec = Exec {
        db: task.db,
        keys: task.keys,
        values: task.values,
        key: Vec::with_capacity(64),
    };
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
    };

    // An engine that panics must not leave the other workers waiting at the barrier: the
    // panic is caught, the barrier is still reached, and the phase ends with the message.
    let warm = catch_unwind(AssertUnwindSafe(|| {
        warm_up(&task, &mut src, &mut exec, &mut out)
    }));
    if let Err(p) = warm {
        out.fatal = Some(panic_message(p));
    }
    task.barrier.wait();
    if out.fatal.is_none() {
        let done = catch_unwind(AssertUnwindSafe(|| {
            measure(&task, &mut src, &mut exec, &mut out)
        }));
        if let Err(p) = done {
            out.fatal = Some(panic_message(p));
        }
    }
    out.digest = src.digest();
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

fn warm_up(task: &Task<'_>, src: &mut Source, exec: &mut Exec<'_>, out: &mut Outcome) {
    let warm_start = Instant::now();
    for _ in 0..task.warmup {
        if task.stop.load(Relaxed) {
            break;
        }
        let Some(op) = src.next_op() else { break };
        if let Err(e) = exec.run(&op) {
            if is_fatal(&e) {
                out.fatal = Some(e.to_string());
                break;
            }
        }
    }
    out.warmup_secs = warm_start.elapsed().as_secs_f64();
}

fn measure(task: &Task<'_>, src: &mut Source, exec: &mut Exec<'_>, out: &mut Outcome) {
    let start = Instant::now();
    let mut i: u64 = 0;
    while out.fatal.is_none() && task.limit.is_none_or(|l| i < l) && !task.stop.load(Relaxed) {
        let intended = match task.interval_ns {
            Some(ns) => {
                let offset = Duration::from_nanos((i as f64 * ns) as u64);
                if task.deadline.is_some_and(|d| offset >= d) {
                    break; // the next operation is due after the phase ends
                }
                let t = start + offset;
                if !wait_until(t, task.stop) {
                    break;
                }
                Some(t)
            }
            None => None,
        };
        let Some(op) = src.next_op() else { break };
        let t0 = Instant::now();
        let res = exec.run(&op);
        let t1 = Instant::now();
        let latency = (t1 - intended.unwrap_or(t0)).as_nanos() as u64;
        let k = op.kind.index();
        record(&mut out.latency[k], latency);
        task.slot.interval.record(latency);
        if let Some(service) = out.service.as_mut() {
            record(&mut service[k], (t1 - t0).as_nanos() as u64);
        }
        match res {
            Ok(d) => {
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
        i += 1;
        out.ops = i;
        task.slot.ops.store(i, Relaxed);
        if latency > task.slot.max_latency_ns.load(Relaxed) {
            task.slot.max_latency_ns.fetch_max(latency, Relaxed);
        }
        if task.deadline.is_some_and(|d| t1 - start >= d) {
            break;
        }
    }
}
