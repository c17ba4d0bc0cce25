//! The operation stream of one worker thread: a pure function of the spec, the seed and the
//! thread number. Two engines given the same spec see the same operations in the same order
//! per thread, which [`OpStream::digest`] lets a test (and a result file) show.
//!
//! Record numbers: the load phase inserts `0..record_count`, thread `t` taking
//! `t, t + T, t + 2T, ...`. In the run phase thread `t`'s `j`-th insert creates record
//! `record_count + j*T + t`, so threads never insert the same key and no shared counter
//! makes the stream depend on timing. After its `j` inserts a thread draws keys from
//! `record_count + j*T` records, as if the others inserted at its pace (so `latest` and the
//! zipfians see the key space grow as YCSB's do), and a draw that falls on another thread's
//! new record `record_count + i*T + t'` is moved to its own record `record_count + i*T + t`
//! of the same age, which it has certainly inserted: reads of new keys never miss because
//! another thread is slower (YCSB gets the same guarantee from a shared counter of
//! acknowledged inserts, which would make the stream depend on timing).

use super::chooser::KeyChooser;
use super::rng::Rng;
use super::zipfian::Zipfian;
use crate::spec::{OpKind, ScanLengthDistribution, SizeSpec, WorkloadSpec, ZIPFIAN_CONSTANT};

/// Random-stream ids, so the phases and the value pool draw from independent streams.
const STREAM_RUN: u64 = 1 << 32;
const STREAM_LOAD: u64 = 2 << 32;
pub(crate) const STREAM_VALUES: u64 = 3 << 32;

/// Values are cut from a pool this much longer than the largest value, at a random offset.
pub const VALUE_SLACK: usize = 64 << 10;

/// One operation to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub kind: OpKind,
    /// Record number of the key (see the module comment).
    pub record: u64,
    /// Items to scan (scans only).
    pub scan_len: u32,
    /// Value length (writes only).
    pub value_len: u32,
    /// Where in the value pool the value starts (writes only).
    pub value_offset: u32,
}

/// Running FNV-1a-style digest over 64-bit words.
#[derive(Debug, Clone, Copy)]
pub struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Digest(0xCBF2_9CE4_8422_2325)
    }
}

impl Digest {
    #[inline]
    pub fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(0x0000_0100_0000_01B3);
    }

    #[inline]
    pub fn add_op(&mut self, op: &Op) {
        self.add(op.kind as u64);
        self.add(op.record);
        self.add(((op.scan_len as u64) << 32) | op.value_len as u64);
    }

    pub fn value(self) -> u64 {
        self.0
    }
}

#[derive(Debug, Clone)]
enum ScanLen {
    Fixed(u32),
    Uniform(u32, u32),
    Zipfian(u32, Zipfian),
}

/// The run-phase operations of one thread.
#[derive(Debug, Clone)]
pub struct OpStream {
    rng: Rng,
    cumulative: [f64; 6],
    chooser: KeyChooser,
    scan: ScanLen,
    value_size: SizeSpec,
    record_count: u64,
    thread: u64,
    threads: u64,
    own_inserts: u64,
    digest: Digest,
}

fn value_len(size: SizeSpec, rng: &mut Rng) -> u32 {
    match size {
        SizeSpec::Fixed { bytes } => bytes,
        SizeSpec::Uniform { min, max } => rng.range_inclusive(min as u64, max as u64) as u32,
    }
}

impl OpStream {
    /// Thread `thread` of `spec.threads`.
    pub fn new(spec: &WorkloadSpec, thread: u32) -> OpStream {
        let mut cumulative = [0.0; 6];
        let mut acc = 0.0;
        for (c, w) in cumulative.iter_mut().zip(spec.mix.weights()) {
            acc += w;
            *c = acc;
        }
        // YCSB: operation count x insert proportion x 2. A run bounded by time alone has no
        // count, and its key space for the scrambled zipfian stays the loaded records.
        let expected_new = (spec.operation_count as f64 * spec.mix.insert * 2.0) as u64;
        let threads = spec.threads.max(1) as u64;
        let start = spec.record_count * thread as u64 / threads;
        let s = spec.scan_length;
        let scan = match s.distribution {
            ScanLengthDistribution::Fixed => ScanLen::Fixed(s.max),
            ScanLengthDistribution::Uniform => ScanLen::Uniform(s.min, s.max),
            ScanLengthDistribution::Zipfian => ScanLen::Zipfian(
                s.min,
                Zipfian::new((s.max - s.min) as u64 + 1, ZIPFIAN_CONSTANT),
            ),
        };
        OpStream {
            rng: Rng::new(spec.seed, STREAM_RUN + thread as u64),
            cumulative,
            chooser: KeyChooser::new(spec.distribution, spec.record_count, expected_new, start),
            scan,
            value_size: spec.value_size,
            record_count: spec.record_count,
            thread: thread as u64,
            threads,
            own_inserts: 0,
            digest: Digest::default(),
        }
    }

    /// Records this thread may assume exist.
    pub fn known(&self) -> u64 {
        self.record_count + self.own_inserts * self.threads
    }

    /// The next operation.
    #[inline]
    pub fn next_op(&mut self) -> Op {
        let u = self.rng.next_f64();
        let idx = self
            .cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or_else(|| {
                // Rounding left u above the last sum: take the last type with weight.
                self.cumulative
                    .iter()
                    .rposition(|&c| c > 0.0)
                    .map_or(0, |i| i.min(5))
            });
        let kind = OpKind::ALL[idx];
        let mut op = Op {
            kind,
            record: 0,
            scan_len: 0,
            value_len: 0,
            value_offset: 0,
        };
        if kind == OpKind::Insert {
            op.record = self.record_count + self.own_inserts * self.threads + self.thread;
            self.own_inserts += 1;
        } else {
            let known = self.known().max(1);
            op.record = self.chooser.next(known, &mut self.rng);
            if op.record >= self.record_count {
                let age = (op.record - self.record_count) / self.threads;
                op.record = self.record_count + age * self.threads + self.thread;
            }
        }
        match kind {
            OpKind::Scan => {
                op.scan_len = match &self.scan {
                    ScanLen::Fixed(n) => *n,
                    ScanLen::Uniform(lo, hi) => {
                        self.rng.range_inclusive(*lo as u64, *hi as u64) as u32
                    }
                    ScanLen::Zipfian(lo, z) => lo + z.next(&mut self.rng) as u32,
                }
            }
            OpKind::Update | OpKind::Insert | OpKind::ReadModifyWrite => {
                op.value_len = value_len(self.value_size, &mut self.rng);
                op.value_offset = self.rng.below(VALUE_SLACK as u64) as u32;
            }
            OpKind::Read | OpKind::Delete => {}
        }
        self.digest.add_op(&op);
        op
    }

    /// Digest of every operation returned so far.
    pub fn digest(&self) -> u64 {
        self.digest.value()
    }
}

/// The load-phase inserts of one thread: records `thread, thread + T, ...` below
/// `record_count`.
#[derive(Debug, Clone)]
pub struct LoadStream {
    rng: Rng,
    next: u64,
    step: u64,
    end: u64,
    value_size: SizeSpec,
    digest: Digest,
}

impl LoadStream {
    pub fn new(spec: &WorkloadSpec, thread: u32) -> LoadStream {
        LoadStream {
            rng: Rng::new(spec.seed, STREAM_LOAD + thread as u64),
            next: thread as u64,
            step: spec.threads.max(1) as u64,
            end: spec.record_count,
            value_size: spec.value_size,
            digest: Digest::default(),
        }
    }

    /// Inserts this thread will issue in total.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.next).div_ceil(self.step)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn digest(&self) -> u64 {
        self.digest.value()
    }
}

impl Iterator for LoadStream {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        if self.next >= self.end {
            return None;
        }
        let op = Op {
            kind: OpKind::Insert,
            record: self.next,
            scan_len: 0,
            value_len: value_len(self.value_size, &mut self.rng),
            value_offset: self.rng.below(VALUE_SLACK as u64) as u32,
        };
        self.next += self.step;
        self.digest.add_op(&op);
        Some(op)
    }
}

/// The bytes values are cut from: `max value + VALUE_SLACK` random bytes made from the seed.
#[derive(Debug, Clone)]
pub struct ValuePool {
    bytes: std::sync::Arc<[u8]>,
}

impl ValuePool {
    pub fn new(spec: &WorkloadSpec) -> ValuePool {
        let len = spec.value_size.max() as usize + VALUE_SLACK;
        let mut rng = Rng::new(spec.seed, STREAM_VALUES);
        let mut bytes = Vec::with_capacity(len + 8);
        while bytes.len() < len {
            bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        bytes.truncate(len);
        ValuePool {
            bytes: bytes.into(),
        }
    }

    /// The value of a write operation.
    #[inline]
    pub fn value(&self, op: &Op) -> &[u8] {
        let start = (op.value_offset as usize).min(VALUE_SLACK);
        &self.bytes[start..start + op.value_len as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::OpMix;

    fn spec(mix: OpMix) -> WorkloadSpec {
        WorkloadSpec {
            record_count: 1000,
            operation_count: 100_000,
            mix,
            threads: 4,
            ..WorkloadSpec::default()
        }
    }

    /// Each operation type's share is within 1% (absolute) of its proportion over 100k ops.
    #[test]
    fn mix_matches_proportions() {
        let mix = OpMix {
            read: 0.4,
            update: 0.2,
            insert: 0.1,
            read_modify_write: 0.1,
            scan: 0.15,
            delete: 0.05,
        };
        let mut s = OpStream::new(&spec(mix), 0);
        let mut counts = [0u64; 6];
        for _ in 0..100_000 {
            counts[s.next_op().kind.index()] += 1;
        }
        for (k, (&c, w)) in counts.iter().zip(mix.weights()).enumerate() {
            let got = c as f64 / 100_000.0;
            assert!((got - w).abs() < 0.01, "{:?}: {got} vs {w}", OpKind::ALL[k]);
        }
    }

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let sp = spec(OpMix {
            read: 0.5,
            insert: 0.5,
            ..OpMix::default()
        });
        let run = |sp: &WorkloadSpec, t| {
            let mut s = OpStream::new(sp, t);
            (0..1000).map(|_| s.next_op()).collect::<Vec<_>>()
        };
        assert_eq!(run(&sp, 1), run(&sp, 1));
        assert_ne!(run(&sp, 1), run(&sp, 2), "threads differ");
        let other = WorkloadSpec {
            seed: 7,
            ..sp.clone()
        };
        assert_ne!(run(&sp, 1), run(&other, 1));
    }

    #[test]
    fn inserts_are_disjoint_across_threads_and_load_covers_records() {
        let sp = spec(OpMix {
            insert: 1.0,
            ..OpMix::default()
        });
        let mut seen = std::collections::HashSet::new();
        for t in 0..4 {
            let mut s = OpStream::new(&sp, t);
            for _ in 0..100 {
                let r = s.next_op().record;
                assert!(
                    r >= 1000 && seen.insert(r),
                    "record {r} twice or below the load"
                );
            }
        }
        let mut loaded: Vec<u64> = (0..4)
            .flat_map(|t| LoadStream::new(&sp, t))
            .map(|o| o.record)
            .collect();
        loaded.sort_unstable();
        assert_eq!(loaded, (0..1000).collect::<Vec<_>>());
        assert_eq!(LoadStream::new(&sp, 3).len(), 250);
    }

    /// Keys drawn beyond the loaded records are this thread's own earlier inserts.
    #[test]
    fn new_keys_read_are_own_inserts() {
        let mut sp = spec(OpMix {
            read: 0.5,
            insert: 0.5,
            ..OpMix::default()
        });
        sp.distribution = crate::spec::KeyDistribution::Latest { constant: 0.99 };
        for t in 0..4 {
            let mut s = OpStream::new(&sp, t);
            let mut inserted = std::collections::HashSet::new();
            let mut new_reads = 0;
            for _ in 0..5000 {
                let op = s.next_op();
                match op.kind {
                    OpKind::Insert => {
                        inserted.insert(op.record);
                    }
                    _ if op.record >= 1000 => {
                        assert!(
                            inserted.contains(&op.record),
                            "thread {t} read {}",
                            op.record
                        );
                        new_reads += 1;
                    }
                    _ => {}
                }
            }
            assert!(new_reads > 1000, "latest favours the new keys: {new_reads}");
        }
    }

    /// Scan lengths: fixed is always the maximum; uniform covers 1..=max evenly (each of
    /// 10 equal ranges within 10% of a tenth); zipfian favours short scans (length 1 is the
    /// most common and the shortest tenth of lengths gets more than half the scans).
    #[test]
    fn scan_length_distributions() {
        let lengths = |d: ScanLengthDistribution| {
            let mut sp = spec(OpMix {
                scan: 1.0,
                ..OpMix::default()
            });
            sp.scan_length = crate::spec::ScanLength {
                min: 1,
                max: 100,
                distribution: d,
            };
            let mut s = OpStream::new(&sp, 0);
            (0..50_000)
                .map(|_| s.next_op().scan_len)
                .collect::<Vec<u32>>()
        };
        assert!(lengths(ScanLengthDistribution::Fixed)
            .iter()
            .all(|&l| l == 100));
        let mut tenths = [0u32; 10];
        for l in lengths(ScanLengthDistribution::Uniform) {
            tenths[(l as usize - 1) / 10] += 1;
        }
        assert!(
            tenths.iter().all(|&c| (4_500..=5_500).contains(&c)),
            "{tenths:?}"
        );
        let z = lengths(ScanLengthDistribution::Zipfian);
        let mut counts = [0u32; 101];
        for &l in &z {
            counts[l as usize] += 1;
        }
        assert_eq!(
            counts
                .iter()
                .enumerate()
                .max_by_key(|&(_, c)| *c)
                .unwrap()
                .0,
            1
        );
        assert!(z.iter().filter(|&&l| l <= 10).count() > 25_000);
    }

    #[test]
    fn values_and_scans_stay_in_range() {
        let mut sp = spec(OpMix {
            scan: 0.5,
            update: 0.5,
            ..OpMix::default()
        });
        sp.value_size = SizeSpec::Uniform { min: 5, max: 50 };
        sp.scan_length.max = 100;
        sp.scan_length.distribution = ScanLengthDistribution::Zipfian;
        let pool = ValuePool::new(&sp);
        let mut s = OpStream::new(&sp, 0);
        for _ in 0..10_000 {
            let op = s.next_op();
            match op.kind {
                OpKind::Scan => assert!((1..=100).contains(&op.scan_len)),
                _ => assert!((5..=50).contains(&pool.value(&op).len())),
            }
        }
    }

    /// Share of the non-insert accesses that go to the 100 most accessed records.
    fn top_100_share(spec: &WorkloadSpec, ops: usize) -> f64 {
        let mut s = OpStream::new(spec, 0);
        let mut counts = std::collections::HashMap::<u64, u64>::new();
        let mut total = 0u64;
        for _ in 0..ops {
            let op = s.next_op();
            if op.kind != OpKind::Insert {
                *counts.entry(op.record).or_default() += 1;
                total += 1;
            }
        }
        let mut c: Vec<u64> = counts.into_values().collect();
        c.sort_unstable_by(|a, b| b.cmp(a));
        c.iter().take(100).sum::<u64>() as f64 / total as f64
    }

    /// A run bounded by time alone keeps the zipfian skew while it inserts: the 100 hottest of
    /// 100,000 records get about a fifth of the accesses (zipfian 0.99 over 10^10 items,
    /// hashed), as in the same run bounded by count. Were the item count to follow the key
    /// count, every insert would move the hot keys and they would get under 1%.
    #[test]
    fn time_bounded_runs_keep_the_skew() {
        let mut sp = crate::presets::preset("write-heavy").unwrap();
        sp.record_count = 100_000;
        sp.threads = 1;
        sp.operation_count = 200_000;
        let counted = top_100_share(&sp, 200_000);
        sp.operation_count = 0;
        sp.duration_secs = 10.0;
        let timed = top_100_share(&sp, 200_000);
        assert!(counted > 0.12, "count-bounded share {counted}");
        assert!(timed > 0.12, "time-bounded share {timed}");
        assert!((timed - counted).abs() < 0.05, "{timed} vs {counted}");
    }

    fn dist(i: u8) -> crate::spec::KeyDistribution {
        use crate::spec::KeyDistribution as D;
        match i % 6 {
            0 => D::Uniform,
            1 => D::Zipfian { constant: 0.9 },
            2 => D::ScrambledZipfian { constant: 0.99 },
            3 => D::Latest { constant: 0.5 },
            4 => D::Sequential,
            _ => D::Hotspot {
                hot_data_fraction: 0.1,
                hot_op_fraction: 0.9,
            },
        }
    }

    proptest::proptest! {
        /// For any mix, distribution, size and thread count: the stream is reproducible,
        /// inserts create new records of this thread only, and every other operation names
        /// a loaded record or one this thread inserted.
        #[test]
        fn streams_are_reproducible_and_in_range(
            w in proptest::array::uniform6(0u8..10),
            d in 0u8..6,
            records in 0u64..500,
            threads in 1u32..5,
            seed in proptest::num::u64::ANY,
        ) {
            let total: u32 = w.iter().map(|&x| x as u32).sum();
            proptest::prop_assume!(total > 0);
            let f = |x: u8| x as f64 / total as f64;
            let mut sp = spec(OpMix {
                read: f(w[0]), update: f(w[1]), insert: f(w[2]),
                read_modify_write: f(w[3]), scan: f(w[4]), delete: f(w[5]),
            });
            sp.record_count = records;
            sp.threads = threads;
            sp.seed = seed;
            sp.distribution = dist(d);
            for t in 0..threads {
                let (mut a, mut b) = (OpStream::new(&sp, t), OpStream::new(&sp, t));
                let mut inserted = std::collections::HashSet::new();
                for _ in 0..300 {
                    let op = a.next_op();
                    proptest::prop_assert_eq!(op, b.next_op());
                    if op.kind == OpKind::Insert {
                        proptest::prop_assert!(op.record >= records);
                        proptest::prop_assert_eq!((op.record - records) % threads as u64, t as u64);
                        inserted.insert(op.record);
                    } else if records > 0 || !inserted.is_empty() {
                        proptest::prop_assert!(op.record < records || inserted.contains(&op.record));
                    }
                }
                proptest::prop_assert_eq!(a.digest(), b.digest());
            }
        }
    }
}
