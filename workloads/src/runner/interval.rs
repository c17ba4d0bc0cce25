//! Coarse latency histograms for the per-second timeline. Each worker counts its operations
//! into 512 log-scale buckets (8 per power of two, so a bucket spans at most 12.5% of its
//! values) on memory of its own; the sampler diffs the counts once a second and reads the
//! interval's percentiles from them. One worker writes a bucket and only the sampler reads
//! it, so the hot path is a relaxed load and store, no locked instruction.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Buckets per power of two.
const SUB: u32 = 8;
/// 64 powers of two x 8.
pub const BUCKETS: usize = 64 * SUB as usize;

/// Bucket of a latency in ns: exact below 8, then 8 buckets per power of two.
#[inline]
pub fn bucket(ns: u64) -> usize {
    if ns < SUB as u64 {
        return ns as usize;
    }
    let octave = 63 - ns.leading_zeros(); // >= 3
    let sub = (ns >> (octave - 3)) & (SUB as u64 - 1);
    (octave * SUB) as usize + sub as usize
}

/// Highest value that falls in bucket `b`.
pub fn bucket_high(b: usize) -> u64 {
    if b < SUB as usize {
        return b as u64;
    }
    if b < 3 * SUB as usize {
        // Octaves 1 and 2 are never used (values below 8 are exact).
        return SUB as u64 - 1;
    }
    let octave = (b / SUB as usize) as u32;
    let sub = (b % SUB as usize) as u64;
    let width = 1u64 << (octave - 3);
    ((SUB as u64 + sub) << (octave - 3)).saturating_add(width - 1)
}

/// One worker's bucket counts.
pub struct IntervalCounts {
    buckets: Box<[AtomicU64]>,
}

impl Default for IntervalCounts {
    fn default() -> Self {
        IntervalCounts {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl std::fmt::Debug for IntervalCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntervalCounts")
    }
}

impl IntervalCounts {
    /// Counts one latency. Only the owning worker may call this.
    #[inline]
    pub fn record(&self, ns: u64) {
        let b = &self.buckets[bucket(ns)];
        b.store(b.load(Relaxed) + 1, Relaxed);
    }

    /// Adds the counts since `last` into `acc` and remembers the current counts in `last`.
    pub fn drain_into(&self, last: &mut [u64], acc: &mut [u64]) {
        for ((b, l), a) in self.buckets.iter().zip(last.iter_mut()).zip(acc.iter_mut()) {
            let now = b.load(Relaxed);
            *a += now.saturating_sub(*l);
            *l = now;
        }
    }
}

/// The value at quantile `q` (0..=1) of bucket counts (the bucket's highest value), or 0
/// when there are none.
pub fn quantile(counts: &[u64], q: f64) -> u64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (b, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return bucket_high(b);
        }
    }
    bucket_high(BUCKETS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_within_an_eighth() {
        for v in [
            0u64,
            1,
            7,
            8,
            9,
            15,
            16,
            100,
            999,
            1_000_000,
            123_456_789,
            u64::MAX,
        ] {
            let b = bucket(v);
            assert!(b < BUCKETS);
            let hi = bucket_high(b);
            assert!(v <= hi, "{v} above its bucket's high {hi}");
            assert!(hi as f64 <= v as f64 * 1.125 + 1.0, "{v}: high {hi}");
            if b > 0 {
                assert!(bucket_high(b - 1) < v, "{v} belongs to an earlier bucket");
            }
        }
    }

    #[test]
    fn interval_quantiles() {
        let c = IntervalCounts::default();
        for v in 1..=1000u64 {
            c.record(v * 1000);
        }
        let (mut last, mut acc) = (vec![0; BUCKETS], vec![0; BUCKETS]);
        c.drain_into(&mut last, &mut acc);
        let p50 = quantile(&acc, 0.5);
        assert!((500_000..=562_500).contains(&p50), "{p50}");
        let p99 = quantile(&acc, 0.99);
        assert!((990_000..=1_113_750).contains(&p99), "{p99}");
        // A second drain sees only what came after the first.
        c.record(5);
        let mut acc2 = vec![0; BUCKETS];
        c.drain_into(&mut last, &mut acc2);
        assert_eq!(acc2.iter().sum::<u64>(), 1);
        assert_eq!(quantile(&acc2, 0.5), 5);
        assert_eq!(quantile(&[0; BUCKETS], 0.5), 0);
    }
}
