//! Known answers of the generators: what YCSB's and db_bench's definitions say the
//! workloads do, computed here from those definitions (not from our generators, and not
//! hard-coded), against what our streams and the runner do.
//!
//! * YCSB's `zipfian` (the scrambled zipfian: Gray's generator over 10^10 + 1 items with
//!   YCSB's `ZETAN`, FNV-1a hashed into `recordcount + 1` records, a draw of the one record not
//!   loaded drawn again) and `latest` (`lastValue - zipfian(lastValue)`): the share of the
//!   accesses the hottest 1% of 100,000 records get, within 1%;
//! * db_bench's `fillrandom --key_size 16 --value_size 100`: 116 user bytes per operation,
//!   keys drawn `rand % num`, so `1 - (1 - 1/num)^num` of them distinct;
//! * db_bench's `readseq`: one iterator walk, one scan call.

use std::sync::atomic::AtomicBool;

use engines::{EngineKind, Options};
use workloads::generator::OpStream;
use workloads::presets::preset;
use workloads::result::PhaseKind;
use workloads::runner::{run, EngineUnderTest, RunConfig};
use workloads::spec::{KeyDistribution, OpKind, OpMix, WorkloadSpec};

mod common;

fn quiet(_: &workloads::runner::Progress) {}

fn cfg(stop: &AtomicBool) -> RunConfig<'_> {
    RunConfig {
        dir: None,
        temp_parent: None,
        cold_cache: false,
        stop,
        progress: &quiet,
        calibration: None,
    }
}

/// YCSB's `Utils.fnvhash64`, from its definition: FNV-1a over the 8 bytes of the number,
/// low byte first, then the absolute value as a signed number.
fn fnv(mut v: u64) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for _ in 0..8 {
        h ^= v & 0xff;
        h = h.wrapping_mul(1_099_511_628_211);
        v >>= 8;
    }
    (h as i64).unsigned_abs()
}

/// YCSB's `ZipfianGenerator` (Gray et al.) as a distribution: `P(draw < k)` for `n` items,
/// constant `theta`, normalising sum `zetan`. A uniform `u` below `1/zetan` draws item 0,
/// below `(1 + 0.5^theta)/zetan` item 1, above it `floor(n (eta u - eta + 1)^(1/(1-theta)))`,
/// which is below `k` exactly when `u < ((k/n)^(1-theta) - 1 + eta) / eta`.
struct Gray {
    n: f64,
    theta: f64,
    zetan: f64,
    eta: f64,
}

impl Gray {
    fn new(n: u64, theta: f64, zetan: f64) -> Gray {
        let zeta2 = 1.0 + 0.5f64.powf(theta);
        let n = n as f64;
        Gray {
            n,
            theta,
            zetan,
            eta: (1.0 - (2.0 / n).powf(1.0 - theta)) / (1.0 - zeta2 / zetan),
        }
    }

    fn below(&self, k: u64) -> f64 {
        let (c1, c2) = (
            1.0 / self.zetan,
            (1.0 + 0.5f64.powf(self.theta)) / self.zetan,
        );
        let curve = |k: f64| {
            (((k / self.n).powf(1.0 - self.theta) - 1.0 + self.eta) / self.eta).clamp(0.0, 1.0)
        };
        match k {
            0 => 0.0,
            1 => c1 + (curve(1.0) - c2).max(0.0),
            _ => c2.max(curve(k as f64)),
        }
    }
}

/// The exact zeta sum.
fn zeta(n: u64, theta: f64) -> f64 {
    (1..=n).map(|i| (i as f64).powf(-theta)).sum()
}

/// Draws of `spec`'s run-phase stream, resolved as the runner resolves them, counted per
/// record.
fn accesses(spec: &WorkloadSpec, draws: u64) -> Vec<u64> {
    let mut s = OpStream::new(spec, 0);
    let mut counts = vec![0u64; spec.record_count as usize];
    for _ in 0..draws {
        let op = s.next_op();
        counts[s.resolve(&op) as usize] += 1;
    }
    counts
}

fn reads(distribution: KeyDistribution, records: u64) -> WorkloadSpec {
    WorkloadSpec {
        record_count: records,
        operation_count: 1_000_000,
        mix: OpMix {
            read: 1.0,
            ..OpMix::default()
        },
        distribution,
        ..WorkloadSpec::default()
    }
}

/// Share of `counts` in `keys`.
fn share(counts: &[u64], keys: &[usize]) -> f64 {
    let total: u64 = counts.iter().sum();
    keys.iter().map(|&k| counts[k]).sum::<u64>() as f64 / total as f64
}

/// The `n` keys with the largest values of `weights`.
fn hottest(weights: &[f64], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
    order.truncate(n);
    order
}

/// YCSB's `zipfian` over 100,000 records (`ScrambledZipfianGenerator(0, 100000)`: 100,001
/// slots, the slot of record 100,000 drawn again): the hottest 1% of the records get the share
/// of the accesses that the definition gives, within 1%, whether the hottest are taken from
/// the definition or from our counts.
#[test]
fn zipfian_099_hottest_one_percent_matches_ycsb() {
    const RECORDS: u64 = 100_000;
    const SLOTS: u64 = RECORDS + 1;
    // ZipfianGenerator(0, ITEM_COUNT = 10^10, 0.99, ZETAN): 10^10 + 1 items, YCSB's zeta.
    let gray = Gray::new(10_000_000_000 + 1, 0.99, 26.46902820178302);
    // Items up to HEAD one by one, each into its slot; the rest (about 40% of the mass, each
    // item below 2e-8) spread evenly over the slots.
    const HEAD: u64 = 4_000_000;
    let mut slot = vec![0f64; SLOTS as usize];
    let mut last = 0.0;
    for i in 0..HEAD {
        let f = gray.below(i + 1);
        slot[(fnv(i) % SLOTS) as usize] += f - last;
        last = f;
    }
    for s in slot.iter_mut() {
        *s += (1.0 - last) / SLOTS as f64;
    }
    // Draws of the slot past the records are drawn again: the records share what is left.
    slot.truncate(RECORDS as usize);
    let hot = hottest(&slot, 1000);
    let want = hot.iter().map(|&k| slot[k]).sum::<f64>() / slot.iter().sum::<f64>();

    let counts = accesses(
        &reads(
            KeyDistribution::ScrambledZipfian { constant: 0.99 },
            RECORDS,
        ),
        2_000_000,
    );
    let got = share(&counts, &hot);
    let observed: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let got_own = share(&counts, &hottest(&observed, 1000));
    eprintln!("zipfian 0.99, 100000 records: hottest 1% get {want:.4} by YCSB's definition, {got:.4} of our draws ({got_own:.4} for our own hottest 1%)");
    assert!((got - want).abs() <= 0.01 * want, "{got} vs {want}");
    assert!((got_own - want).abs() <= 0.01 * want, "{got_own} vs {want}");
}

/// YCSB's `latest` over 100,000 records (`SkewedLatestGenerator`: `lastValue - zipfian(
/// lastValue)`, lastValue 99,999, a `ZipfianGenerator` of 99,999 items): the newest 1% get
/// `P(draw < 1000)` of the accesses, within 1%, and they are the hottest 1%.
#[test]
fn latest_hottest_one_percent_matches_ycsb() {
    const RECORDS: u64 = 100_000;
    let items = RECORDS - 1;
    let gray = Gray::new(items, 0.99, zeta(items, 0.99));
    let want = gray.below(1000);
    let counts = accesses(
        &reads(KeyDistribution::Latest { constant: 0.99 }, RECORDS),
        1_000_000,
    );
    let newest: Vec<usize> = (RECORDS as usize - 1000..RECORDS as usize).collect();
    let got = share(&counts, &newest);
    let observed: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let got_own = share(&counts, &hottest(&observed, 1000));
    eprintln!("latest, 100000 records: newest 1% get {want:.4} by YCSB's definition, {got:.4} of our draws ({got_own:.4} for our own hottest 1%)");
    assert!((got - want).abs() <= 0.01 * want, "{got} vs {want}");
    assert!((got_own - want).abs() <= 0.01 * want, "{got_own} vs {want}");
    assert_eq!(
        counts[0], 0,
        "record 0 is never drawn (max - draw, draw < max)"
    );
}

/// db_bench's `fillrandom --key_size 16 --value_size 100` through the runner: every put is
/// a 16-byte key and a 100-byte value (116 user bytes per operation, exactly), keys are drawn
/// `rand % num`, so after `num` writes `1 - (1 - 1/num)^num` of the keys are distinct (within
/// 1% absolute).
#[test]
fn fillrandom_writes_116_bytes_and_repeats_keys_as_rand_mod_num() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("fillrandom").unwrap();
    let num = 20_000u64;
    spec.operation_count = num;
    let (eut, calls) = common::counting_engine();
    let r = run(&spec, &eut, &cfg(&stop)).unwrap();
    assert!(!r.partial, "{:?}", r.partial_reason);
    let p = r.phase(PhaseKind::Run).unwrap();
    assert_eq!(p.operations, num);
    assert_eq!(p.amplification.user_bytes_written, 116 * num);
    let c = calls.lock().unwrap()[0].clone();
    assert_eq!((c.puts, c.gets, c.put_bytes), (num, 0, 116 * num));
    let distinct = p.amplification.live_keys.unwrap() as f64 / num as f64;
    let want = 1.0 - (1.0 - 1.0 / num as f64).powf(num as f64);
    eprintln!("fillrandom: {distinct:.4} of {num} keys distinct; rand % num gives {want:.4}");
    assert!((distinct - want).abs() < 0.01, "{distinct} vs {want}");
}

/// db_bench's `readseq`: the run phase is one iterator walk per thread, a single scan call
/// that returns every record of the store, and no point reads.
#[test]
fn readseq_is_one_iterator_walk() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("readseq").unwrap();
    spec.record_count = 10_000;
    let (eut, calls) = common::counting_engine();
    let r = run(&spec, &eut, &cfg(&stop)).unwrap();
    assert!(!r.partial, "{:?}", r.partial_reason);
    let p = r.phase(PhaseKind::Run).unwrap();
    assert_eq!(p.operations, 1);
    assert_eq!(p.latency_of(Some(OpKind::Scan)).unwrap().hits, 10_000);
    let run_calls = calls.lock().unwrap()[1].clone();
    assert_eq!(
        (run_calls.scans, run_calls.gets, run_calls.scanned_items),
        (1, 0, 10_000),
        "{run_calls:?}"
    );
}

/// The same through the engines with files (bitcask cannot scan cheaply, but it can): one
/// walk returns every key, in order.
#[test]
fn readseq_walks_every_engine_in_key_order() {
    let stop = AtomicBool::new(false);
    let mut spec = preset("readseq").unwrap();
    spec.record_count = 3_000;
    for kind in [EngineKind::Bitcask, EngineKind::Lsm, EngineKind::Btree] {
        let r = run(
            &spec,
            &EngineUnderTest::builtin(kind, Options::default()),
            &cfg(&stop),
        )
        .unwrap();
        let scan = r
            .phase(PhaseKind::Run)
            .unwrap()
            .latency_of(Some(OpKind::Scan))
            .unwrap();
        assert_eq!(
            (scan.summary.count, scan.hits),
            (1, 3_000),
            "{}",
            kind.name()
        );
    }
}

/// `latest` with four threads inserting (YCSB D's mix): every thread reads from the newest
/// acknowledged insert of all threads, so the newest record gets `P(draw = 0) = 1/zeta` of
/// the reads (within 10%), not a quarter of it as when each thread reads its own inserts.
#[test]
fn latest_with_threads_is_the_newest_of_all_threads() {
    let spec = WorkloadSpec {
        record_count: 10_000,
        operation_count: 40_000,
        threads: 4,
        mix: OpMix {
            read: 0.95,
            insert: 0.05,
            ..OpMix::default()
        },
        distribution: KeyDistribution::Latest { constant: 0.99 },
        ..WorkloadSpec::default()
    };
    let mut streams = OpStream::group(&spec);
    let (mut newest, mut reads, mut newest_n) = (0u64, 0u64, 10_000u64);
    for _ in 0..10_000 {
        for s in streams.iter_mut() {
            let op = s.next_op();
            let r = s.resolve(&op);
            if op.kind == OpKind::Insert {
                s.acknowledge(r);
                newest_n = newest_n.max(r + 1);
            } else {
                reads += 1;
                newest += u64::from(r == newest_n - 1);
            }
        }
    }
    let got = newest as f64 / reads as f64;
    // The item count grows from 9,999 to about 12,000 over the run: zeta is about the same.
    let want = 1.0 / zeta(newest_n - 1, 0.99);
    assert!((got - want).abs() < 0.1 * want, "{got} vs {want}");
}
