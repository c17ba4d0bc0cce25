//! Choosing which existing record an operation touches (YCSB's `requestdistribution`).
//!
//! Each worker thread owns a chooser and tells it how many records it may assume exist
//! (`known`): the loaded records plus the inserts of the run so far, estimated from the
//! thread's own inserts (threads insert in turn, see [`super::ops`]). Everything depends only
//! on the spec, the seed and the thread, never on timing.

use super::keys::fnvhash64;
use super::rng::Rng;
use super::zipfian::{Zipfian, SCRAMBLED_ITEMS};
use crate::spec::KeyDistribution;

#[derive(Debug, Clone)]
pub enum KeyChooser {
    Uniform,
    Zipfian(Zipfian),
    /// A zipfian over 10^10 items, hashed into `[0, item_count)`; draws at or above `known`
    /// are drawn again (YCSB sizes `item_count` for the expected inserts and does the same).
    /// The item count is fixed when the stream starts, as in YCSB: were it to follow the
    /// key count, every insert would move the hot keys elsewhere and the skew would vanish
    /// (the run would touch ever new keys).
    Scrambled {
        zipf: Zipfian,
        item_count: u64,
    },
    /// `known - 1 - zipfian(known)`: the newest record is the most popular.
    Latest(Zipfian),
    Sequential {
        next: u64,
    },
    Hotspot {
        data: f64,
        ops: f64,
    },
}

impl KeyChooser {
    /// A chooser for `dist`. `initial` records exist at the start; `expected_new` records
    /// are expected to be inserted (YCSB: operation count x insert proportion x 2);
    /// `start` is where a sequential chooser begins.
    pub fn new(dist: KeyDistribution, initial: u64, expected_new: u64, start: u64) -> Self {
        match dist {
            KeyDistribution::Uniform => KeyChooser::Uniform,
            KeyDistribution::Zipfian { constant } => {
                KeyChooser::Zipfian(Zipfian::new(initial.max(1), constant))
            }
            KeyDistribution::ScrambledZipfian { constant } => KeyChooser::Scrambled {
                zipf: Zipfian::new(SCRAMBLED_ITEMS, constant),
                item_count: (initial + expected_new).max(1),
            },
            KeyDistribution::Latest { constant } => {
                KeyChooser::Latest(Zipfian::new(initial.max(1), constant))
            }
            KeyDistribution::Sequential => KeyChooser::Sequential { next: start },
            KeyDistribution::Hotspot {
                hot_data_fraction,
                hot_op_fraction,
            } => KeyChooser::Hotspot {
                data: hot_data_fraction,
                ops: hot_op_fraction,
            },
        }
    }

    /// A record number in `[0, known)`; `known` > 0.
    #[inline]
    pub fn next(&mut self, known: u64, rng: &mut Rng) -> u64 {
        debug_assert!(known > 0);
        match self {
            KeyChooser::Uniform => rng.below(known),
            KeyChooser::Zipfian(z) => {
                z.grow_to(known);
                z.next(rng).min(known - 1)
            }
            KeyChooser::Scrambled { zipf, item_count } => {
                let count = *item_count;
                for _ in 0..64 {
                    let n = fnvhash64(zipf.next(rng)) % count;
                    if n < known {
                        return n;
                    }
                }
                fnvhash64(zipf.next(rng)) % count.min(known)
            }
            KeyChooser::Latest(z) => {
                z.grow_to(known);
                known - 1 - z.next(rng).min(known - 1)
            }
            KeyChooser::Sequential { next } => {
                let n = *next % known;
                *next = n + 1;
                n
            }
            KeyChooser::Hotspot { data, ops } => {
                let hot = ((known as f64 * *data) as u64).clamp(0, known);
                let cold = known - hot;
                if hot > 0 && (cold == 0 || rng.next_f64() < *ops) {
                    rng.below(hot)
                } else {
                    hot + rng.below(cold)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(c: &mut KeyChooser, known: u64, draws: u64, seed: u64) -> Vec<u64> {
        let mut rng = Rng::new(seed, 0);
        let mut counts = vec![0u64; known as usize];
        for _ in 0..draws {
            counts[c.next(known, &mut rng) as usize] += 1;
        }
        counts
    }

    /// Uniform covers every record: 400 draws per record on average (standard deviation
    /// 20), and every record gets 300..=500 (5 standard deviations either side).
    #[test]
    fn uniform_covers_evenly() {
        let counts = histogram(&mut KeyChooser::Uniform, 1000, 400_000, 1);
        assert!(
            counts.iter().all(|&c| (300..=500).contains(&c)),
            "{:?}",
            &counts[..20]
        );
    }

    /// Latest favours recent inserts: the newest record is drawn most, and the newest 10% of
    /// records get the majority of draws.
    #[test]
    fn latest_favours_recent() {
        let mut c = KeyChooser::new(KeyDistribution::Latest { constant: 0.99 }, 1000, 0, 0);
        let counts = histogram(&mut c, 1000, 200_000, 2);
        let newest = counts[999];
        assert_eq!(counts.iter().max(), Some(&newest));
        let recent: u64 = counts[900..].iter().sum();
        assert!(recent > 100_000, "newest 10% got {recent} of 200000");
        // And the generator follows growth: after inserts the new newest is the favourite.
        let counts = histogram(&mut c, 1500, 200_000, 3);
        assert_eq!(counts.iter().max(), Some(&counts[1499]));
    }

    /// Hotspot sends `ops` of the draws to the first `data` of the records (within 1% abs).
    #[test]
    fn hotspot_shares() {
        let mut c = KeyChooser::new(
            KeyDistribution::Hotspot {
                hot_data_fraction: 0.2,
                hot_op_fraction: 0.8,
            },
            1000,
            0,
            0,
        );
        let counts = histogram(&mut c, 1000, 100_000, 4);
        let hot: u64 = counts[..200].iter().sum();
        assert!((hot as f64 / 100_000.0 - 0.8).abs() < 0.01, "{hot}");
    }

    /// Scrambled zipfian: skewed (the most popular record gets far more than 1/n) but
    /// scattered (the most popular records are not the first record numbers), and every
    /// draw is below `known`.
    #[test]
    fn scrambled_is_skewed_and_scattered() {
        let mut c = KeyChooser::new(
            KeyDistribution::ScrambledZipfian { constant: 0.99 },
            1000,
            0,
            0,
        );
        let counts = histogram(&mut c, 1000, 100_000, 5);
        let max = *counts.iter().max().unwrap();
        assert!(
            max > 2_000,
            "hottest record got {max} of 100000 (uniform: 100)"
        );
        let first10: u64 = counts[..10].iter().sum();
        assert!(
            first10 < 20_000,
            "popular records should be scattered, first 10 got {first10}"
        );
        // As in YCSB, the favourite is where item 0 of the 10^10 hashes to, then item 1:
        // zipf(10^10) gives item 0 with p = 1/zeta = 3.8% and item 1 with 1.9%.
        let mut order: Vec<usize> = (0..1000).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
        assert_eq!(order[0] as u64, fnvhash64(0) % 1000);
        assert_eq!(order[1] as u64, fnvhash64(1) % 1000);
        let share = counts[order[0]] as f64 / 100_000.0;
        assert!(
            (share - 1.0 / 26.469).abs() < 0.005,
            "favourite's share {share}"
        );
    }

    #[test]
    fn sequential_wraps() {
        let mut c = KeyChooser::new(KeyDistribution::Sequential, 5, 0, 3);
        let mut rng = Rng::new(0, 0);
        let got: Vec<u64> = (0..6).map(|_| c.next(5, &mut rng)).collect();
        assert_eq!(got, [3, 4, 0, 1, 2, 3]);
    }
}
