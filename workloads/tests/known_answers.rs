//! Known answers: the `null` engine, given costs known by construction (it writes exactly 3x
//! the user bytes, holds every write until told, reads one 4 KiB block per get, spins 10 us,
//! sleeps 5 ms every 1,000th operation), run through the real runner; each figure the suite
//! prints must come out as the value the engine was built to produce. Times are checked as
//! lower bounds only, bytes exactly.
//!
//! The kernel's counters (`/proc/self/io`) are per process, so the tests of this file take a
//! lock and run one at a time (each test file is its own process).

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use engines::{Engine, EngineKind, EngineStats, Options};
use workloads::presets::preset;
use workloads::result::{PhaseKind, PhaseResult, RunResult};
use workloads::runner::{run, EngineUnderTest, RunConfig};
use workloads::spec::{OpMix, SizeSpec, WorkloadSpec};

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn null(f: impl FnOnce(&mut engines::null::NullOptions)) -> EngineUnderTest {
    let mut o = Options::default();
    f(&mut o.null);
    EngineUnderTest::builtin(EngineKind::Null, o)
}

fn go(spec: &WorkloadSpec, eut: &EngineUnderTest) -> RunResult {
    let stop = AtomicBool::new(false);
    let cfg = RunConfig {
        dir: None,
        temp_parent: None,
        cold_cache: false,
        stop: &stop,
        progress: &|_| {},
        calibration: None,
    };
    let r = run(spec, eut, &cfg).expect("the run starts");
    assert!(!r.partial, "{:?}", r.partial_reason);
    r
}

fn run_phase(r: &RunResult) -> &PhaseResult {
    r.phase(PhaseKind::Run).expect("a run phase")
}

/// Updates of 1000-byte values on 2,000 loaded records: about 20 MB of user bytes.
fn updates(ops: u64) -> WorkloadSpec {
    WorkloadSpec {
        name: "updates".into(),
        record_count: 2000,
        operation_count: ops,
        mix: OpMix {
            update: 1.0,
            ..OpMix::default()
        },
        value_size: SizeSpec::Fixed { bytes: 1000 },
        ..WorkloadSpec::default()
    }
}

/// The kernel reports device writes for real file systems, not for memory-backed ones.
fn device_counted(r: &RunResult) -> bool {
    let fs = r.environment.filesystem.as_str();
    let counted = !matches!(fs, "tmpfs" | "ramfs" | "overlay" | "");
    if !counted {
        eprintln!("the data directory is on {fs:?}: the kernel counts no device writes there, so the device figure is not checked");
    }
    counted && workloads::procfs::read_proc_io().is_some()
}

fn within(got: f64, want: f64, share: f64) -> bool {
    (got - want).abs() <= share * want
}

/// Writes exactly 3 x the user bytes through `engines::io`: the engine's write amplification
/// is 3.00, and the device's (after syncfs) within 5% of it.
#[test]
fn writes_three_times_the_user_bytes() {
    let _one = one_at_a_time();
    let r = go(&updates(20_000), &null(|o| o.write_factor = 3));
    let a = &run_phase(&r).amplification;
    let wa = a.write_amp_engine.unwrap();
    eprintln!(
        "3x writer: engine WA {wa}, syscall WA {:?}, device WA {:?}",
        a.write_amp_proc, a.write_amp_device
    );
    assert!(within(wa, 3.0, 0.005), "engine WA {wa}");
    assert_eq!(a.engine_bytes_written, 3 * a.user_bytes_written);
    if device_counted(&r) {
        let dev = a.write_amp_device.unwrap();
        assert!(within(dev, wa, 0.05), "device WA {dev} vs engine WA {wa}");
    }
}

/// Holds every write in memory until it is told to write out: the run's settled write
/// amplification is 1.0 (what it held, written when the runner brought it to rest), the
/// figure inside the latency window 0, and the run is flagged as not in a steady state (it
/// wrote less than the engine can hold).
#[test]
fn held_writes_are_charged_to_the_run_that_made_them() {
    let _one = one_at_a_time();
    let r = go(
        &updates(10_000),
        &null(|o| {
            o.write_factor = 1;
            o.defer_writes = true;
            o.write_buffer_bytes = 1 << 30;
        }),
    );
    let a = &run_phase(&r).amplification;
    let settled = a.write_amp_engine.unwrap();
    eprintln!(
        "holding writer: settled WA {settled}, in window {:?}, device {:?}, not steady {}",
        a.in_window.as_ref().map(|w| w.write_amp_engine),
        a.write_amp_device,
        a.not_steady
    );
    assert!(within(settled, 1.0, 0.05), "settled WA {settled}");
    let w = a.in_window.as_ref().expect("in-window figures");
    assert_eq!(
        w.write_amp_engine,
        Some(0.0),
        "nothing written in the window"
    );
    assert!(a.settled && a.not_steady);
    assert!(
        r.notes.iter().any(|n| n.contains("not in a steady state")),
        "{:?}",
        r.notes
    );
    if device_counted(&r) {
        let dev = a.write_amp_device.unwrap();
        assert!(within(dev, 1.0, 0.05), "device WA {dev}");
    }
}

/// Reads one 4 KiB block per get: read amplification 4096 bytes per read.
#[test]
fn reads_one_block_per_get() {
    let _one = one_at_a_time();
    let mut spec = preset("readrandom").unwrap();
    spec.record_count = 1000;
    spec.operation_count = 5000;
    let r = go(&spec, &null(|o| o.read_block_bytes = 4096));
    let a = &run_phase(&r).amplification;
    assert_eq!(a.logical_reads, 5000);
    assert_eq!(a.engine_bytes_read, 5000 * 4096);
    assert_eq!(a.read_amp_bytes_per_read, Some(4096.0));
}

/// Spins at least 10 us per operation: every latency, so the median too, is at least 10 us.
#[test]
fn a_spin_of_ten_microseconds_is_a_floor_under_p50() {
    let _one = one_at_a_time();
    let mut spec = preset("read-heavy").unwrap();
    spec.record_count = 100;
    spec.operation_count = 2000;
    let r = go(&spec, &null(|o| o.spin_ns = 10_000));
    let all = run_phase(&r).latency_of(None).unwrap().summary;
    eprintln!("10 us spin: p50 {} ns, min {} ns", all.p50_ns, all.min_ns);
    assert!(all.p50_ns >= 10_000, "p50 {} ns", all.p50_ns);
    assert!(all.min_ns >= 10_000, "min {} ns", all.min_ns);
}

/// Sleeps 5 ms on operations 0, 1000, 2000, ...: in an open-loop run of 20,500 operations,
/// 21 of them (more than 0.1%) stall, so p99.9 is at least 5 ms.
#[test]
fn a_stall_every_thousand_operations_reaches_p999_in_open_loop() {
    let _one = one_at_a_time();
    let mut spec = preset("fillrandom").unwrap();
    spec.record_count = 0;
    spec.operation_count = 20_500;
    spec.value_size = SizeSpec::Fixed { bytes: 16 };
    spec.target_rate = 20_000.0;
    let r = go(
        &spec,
        &null(|o| {
            o.stall_every = 1000;
            o.stall_ms = 5;
        }),
    );
    let p = run_phase(&r);
    assert!(p.open_loop);
    let all = p.latency_of(None).unwrap().summary;
    assert_eq!(all.count, 20_500);
    eprintln!("5 ms stall every 1000th: p99.9 {} ns", all.p999_ns);
    assert!(all.p999_ns >= 5_000_000, "p99.9 {} ns", all.p999_ns);
}

/// Warm-up is outside the window: the same engine's write amplification with no warm-up and
/// with 100,000 warm-up operations agree within 2%.
#[test]
fn warm_up_does_not_count() {
    let _one = one_at_a_time();
    let eut = null(|o| o.write_factor = 3);
    let mut spec = updates(20_000);
    spec.value_size = SizeSpec::Fixed { bytes: 100 };
    let cold = go(&spec, &eut);
    spec.warmup_ops = 100_000;
    let warm = go(&spec, &eut);
    let (a, b) = (
        run_phase(&cold).amplification.write_amp_engine.unwrap(),
        run_phase(&warm).amplification.write_amp_engine.unwrap(),
    );
    eprintln!("warm-up: WA {a} without, {b} with 100,000 warm-up operations");
    assert!(within(b, a, 0.02), "WA {a} without warm-up, {b} with");
    assert_eq!(run_phase(&warm).operations, 20_000);
}

/// Records when the engine's calls start and end, to compare with the phase's clock.
struct Stopwatch {
    inner: Box<dyn Engine>,
    calls: Arc<Mutex<Vec<(Instant, Instant)>>>,
}

impl Stopwatch {
    fn timed<T>(&self, f: impl FnOnce(&dyn Engine) -> T) -> T {
        let t0 = Instant::now();
        let r = f(self.inner.as_ref());
        let t1 = Instant::now();
        self.calls.lock().unwrap().push((t0, t1));
        r
    }
}

impl Engine for Stopwatch {
    fn put(&self, key: &[u8], value: &[u8]) -> engines::Result<()> {
        self.timed(|e| e.put(key, value))
    }
    fn get(&self, key: &[u8]) -> engines::Result<Option<Vec<u8>>> {
        self.timed(|e| e.get(key))
    }
    fn delete(&self, key: &[u8]) -> engines::Result<()> {
        self.timed(|e| e.delete(key))
    }
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> engines::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan(start, end, limit)
    }
    fn sync(&self) -> engines::Result<()> {
        self.inner.sync()
    }
    fn close(&self) -> engines::Result<()> {
        self.inner.close()
    }
    fn compact(&self) -> engines::Result<()> {
        self.inner.compact()
    }
    fn settle(&self) -> engines::Result<()> {
        self.inner.settle()
    }
    fn stats(&self) -> EngineStats {
        self.inner.stats()
    }
}

/// A short phase: 5,000 operations of the null engine on one thread report an elapsed time
/// within 10% of the span from the start of their first call to the end of their last.
#[test]
fn a_short_phase_is_timed_by_its_operations() {
    let _one = one_at_a_time();
    let calls = Arc::new(Mutex::new(Vec::<(Instant, Instant)>::new()));
    let record = calls.clone();
    let eut = EngineUnderTest {
        open: Box::new(move |dir, opts| {
            Ok(Box::new(Stopwatch {
                inner: engines::open(EngineKind::Null, dir, opts)?,
                calls: record.clone(),
            }))
        }),
        ..null(|_| {})
    };
    let mut spec = preset("readrandom").unwrap();
    spec.record_count = 1000;
    spec.operation_count = 5000;
    spec.threads = 1;
    let r = go(&spec, &eut);
    let p = run_phase(&r);
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 1000 + 5000, "load and run calls");
    let run_calls = &calls[1000..];
    let span = (run_calls.last().unwrap().1 - run_calls[0].0).as_secs_f64();
    eprintln!(
        "short phase: {} s by the phase, {span} s by the calls",
        p.elapsed_secs
    );
    assert!(
        within(p.elapsed_secs, span, 0.10),
        "phase {} s, the operations' own span {} s",
        p.elapsed_secs,
        span
    );
}
