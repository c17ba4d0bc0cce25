//! Choosing which existing record an operation touches (YCSB's `requestdistribution`), as
//! YCSB's `CoreWorkload` does:
//!
//! * `uniform`, `hotspot`, `sequential` (and our plain `zipfian`) choose among the records the
//!   load inserted (`insertstart .. insertstart + insertcount`), never among run-phase inserts;
//! * YCSB's `zipfian` is the scrambled zipfian: a zipfian over 10^10 items hashed (FNV-1a) into
//!   `insertcount + expected inserts + 1` records, a draw naming a record not yet inserted
//!   drawn again;
//! * `latest` is `newest - zipfian(newest)`, where `newest` is the newest record whose insert,
//!   and every one before it, has been acknowledged, by any thread (the shared
//!   [`InsertCounter`]).
//!
//! Generation and resolution are apart. The operation stream of a thread is a pure function of
//! the spec, the seed and the thread ([`KeyChooser`]): what it cannot know alone (which
//! records other threads have inserted) stays a draw in the operation ([`Pick`]), and is
//! resolved against the shared counter when the operation is issued ([`Resolver`]), as YCSB
//! resolves it. So two engines given one spec issue the same draws (the stream digests agree);
//! with several threads and inserts, which record a `latest` draw names depends on how far the
//! other threads have got, as in YCSB.

use std::sync::Arc;

use super::acked::InsertCounter;
use super::keys::fnvhash64;
use super::rng::Rng;
use super::zipfian::{Zipfian, SCRAMBLED_ITEMS};
use crate::spec::KeyDistribution;

/// How an operation names its record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Pick {
    /// `record` is the record.
    #[default]
    Record,
    /// An insert of the next new record (taken from the shared counter when issued).
    NewRecord,
    /// `latest`: `record` holds the uniform draw (its 53 high bits) of the zipfian offset back
    /// from the newest acknowledged record.
    Latest,
    /// A scrambled-zipfian draw naming a record beyond the loaded ones (`record`), to be drawn
    /// again (from `salt`) while it is not yet inserted.
    Scrambled,
}

/// A chosen record, or the draw to resolve it from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub pick: Pick,
    pub record: u64,
    pub salt: u32,
}

impl Choice {
    fn record(record: u64) -> Choice {
        Choice {
            pick: Pick::Record,
            record,
            salt: 0,
        }
    }
}

/// The generation side: one per thread.
#[derive(Debug, Clone)]
pub enum KeyChooser {
    Uniform {
        start: u64,
        count: u64,
    },
    Zipfian {
        start: u64,
        zipf: Zipfian,
    },
    Scrambled {
        start: u64,
        zipf: Zipfian,
        item_count: u64,
        /// Draws below this always exist (YCSB: the counter's initial `lastValue() + 1`).
        existing: u64,
    },
    Latest,
    Sequential {
        start: u64,
        count: u64,
        next: u64,
    },
    Hotspot {
        start: u64,
        count: u64,
        data: f64,
        ops: f64,
    },
}

/// The loaded range and what the chooser needs besides.
#[derive(Debug, Clone, Copy)]
pub struct KeySpace {
    /// First loaded record (`insertstart`).
    pub start: u64,
    /// Loaded records (`insertcount`).
    pub count: u64,
    /// Records of the key space at the start (`recordcount`): the first insert's number.
    pub records: u64,
    /// Run-phase inserts expected (YCSB: operation count x insert proportion x 2).
    pub expected_new: u64,
}

impl KeyChooser {
    /// A chooser for `dist` over `space`; a sequential one starts `offset` records in.
    pub fn new(dist: KeyDistribution, space: KeySpace, offset: u64) -> Self {
        let (start, count) = (space.start, space.count);
        match dist {
            KeyDistribution::Uniform => KeyChooser::Uniform { start, count },
            KeyDistribution::Zipfian { constant } => KeyChooser::Zipfian {
                start,
                zipf: Zipfian::new(count.max(1), constant),
            },
            // YCSB: ScrambledZipfianGenerator(insertstart, insertstart + insertcount +
            // expectednewkeys), over 10^10 + 1 items (`ZipfianGenerator(0, ITEM_COUNT)`).
            KeyDistribution::ScrambledZipfian { constant } => KeyChooser::Scrambled {
                start,
                zipf: Zipfian::new(SCRAMBLED_ITEMS + 1, constant),
                item_count: count + space.expected_new + 1,
                existing: space.records,
            },
            KeyDistribution::Latest { .. } => KeyChooser::Latest,
            KeyDistribution::Sequential => KeyChooser::Sequential {
                start,
                count,
                next: offset,
            },
            KeyDistribution::Hotspot {
                hot_data_fraction,
                hot_op_fraction,
            } => KeyChooser::Hotspot {
                start,
                count,
                data: hot_data_fraction,
                ops: hot_op_fraction,
            },
        }
    }

    /// The next choice.
    #[inline]
    pub fn next(&mut self, rng: &mut Rng) -> Choice {
        match self {
            KeyChooser::Uniform { start, count } => {
                Choice::record(*start + rng.below((*count).max(1)))
            }
            KeyChooser::Zipfian { start, zipf } => Choice::record(*start + zipf.next(rng)),
            KeyChooser::Scrambled {
                start,
                zipf,
                item_count,
                existing,
            } => {
                let k = *start + fnvhash64(zipf.next(rng)) % *item_count;
                if k < *existing {
                    Choice::record(k)
                } else {
                    Choice {
                        pick: Pick::Scrambled,
                        record: k,
                        salt: rng.next_u64() as u32,
                    }
                }
            }
            KeyChooser::Latest => Choice {
                pick: Pick::Latest,
                record: rng.next_u64() >> 11,
                salt: 0,
            },
            KeyChooser::Sequential { start, count, next } => {
                let n = *next % (*count).max(1);
                *next = n + 1;
                Choice::record(*start + n)
            }
            KeyChooser::Hotspot {
                start,
                count,
                data,
                ops,
            } => {
                let count = *count;
                let hot = ((count as f64 * *data) as u64).min(count);
                let cold = count - hot;
                let n = if hot > 0 && (cold == 0 || rng.next_f64() < *ops) {
                    rng.below(hot)
                } else {
                    hot + rng.below(cold.max(1))
                };
                Choice::record(*start + n)
            }
        }
    }
}

/// Tries to find an inserted record for a scrambled draw before giving up on it.
const SCRAMBLED_TRIES: usize = 1000;

/// The issuing side: one per thread, all sharing the run's [`InsertCounter`].
#[derive(Debug)]
pub struct Resolver {
    counter: Arc<InsertCounter>,
    latest: Zipfian,
    scrambled: Option<(u64, Zipfian, u64)>,
}

impl Resolver {
    pub fn new(counter: Arc<InsertCounter>, chooser: &KeyChooser, theta: f64) -> Resolver {
        // YCSB: SkewedLatestGenerator makes `ZipfianGenerator(lastValue())` at the start.
        let newest = counter.below().saturating_sub(1);
        Resolver {
            latest: Zipfian::new(newest.max(1), theta),
            scrambled: match chooser {
                KeyChooser::Scrambled {
                    start,
                    zipf,
                    item_count,
                    ..
                } => Some((*start, zipf.clone(), *item_count)),
                _ => None,
            },
            counter,
        }
    }

    /// The record of an operation picked by `pick` (not `Pick::Record`).
    #[inline]
    pub fn resolve(&mut self, pick: Pick, record: u64, salt: u32) -> u64 {
        match pick {
            Pick::Record => record,
            Pick::NewRecord => self.counter.next(),
            Pick::Latest => {
                // SkewedLatestGenerator: max - zipfian.nextLong(max), max = lastValue().
                let below = self.counter.below();
                if below == 0 {
                    return 0; // nothing inserted yet: a miss
                }
                let max = below - 1;
                if max == 0 {
                    return 0;
                }
                self.latest.grow_to(max);
                let u = record as f64 * (1.0 / (1u64 << 53) as f64);
                max - self.latest.draw(u).min(max)
            }
            Pick::Scrambled => {
                let below = self.counter.below();
                if record < below {
                    return record;
                }
                let Some((start, zipf, item_count)) = &self.scrambled else {
                    return record;
                };
                // CoreWorkload.nextKeynum: draw again while the record is not yet inserted.
                let mut rng = Rng::new(record, salt as u64);
                for _ in 0..SCRAMBLED_TRIES {
                    let k = *start + fnvhash64(zipf.next(&mut rng)) % *item_count;
                    if k < below {
                        return k;
                    }
                }
                record % below.max(1)
            }
        }
    }

    /// The insert of `record` (a `Pick::NewRecord`) has returned.
    #[inline]
    pub fn acknowledge(&self, record: u64) {
        self.counter.acknowledge(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(records: u64) -> KeySpace {
        KeySpace {
            start: 0,
            count: records,
            records,
            expected_new: 0,
        }
    }

    fn histogram(c: &mut KeyChooser, known: u64, draws: u64, seed: u64) -> Vec<u64> {
        let mut rng = Rng::new(seed, 0);
        let mut counts = vec![0u64; known as usize];
        for _ in 0..draws {
            let ch = c.next(&mut rng);
            assert_eq!(ch.pick, Pick::Record);
            counts[ch.record as usize] += 1;
        }
        counts
    }

    /// Uniform covers every loaded record: 400 draws per record on average (standard deviation
    /// 20), and every record gets 300..=500 (5 standard deviations either side).
    #[test]
    fn uniform_covers_the_loaded_records_evenly() {
        let mut c = KeyChooser::new(KeyDistribution::Uniform, space(1000), 0);
        let counts = histogram(&mut c, 1000, 400_000, 1);
        assert!(
            counts.iter().all(|&c| (300..=500).contains(&c)),
            "{:?}",
            &counts[..20]
        );
    }

    /// With `insertstart` and `insertcount`, uniform and hotspot choose in that range only.
    #[test]
    fn choosers_stay_in_the_loaded_range() {
        let sp = KeySpace {
            start: 500,
            count: 100,
            records: 1000,
            expected_new: 50,
        };
        let mut rng = Rng::new(3, 0);
        for d in [
            KeyDistribution::Uniform,
            KeyDistribution::Sequential,
            KeyDistribution::Zipfian { constant: 0.99 },
            KeyDistribution::Hotspot {
                hot_data_fraction: 0.2,
                hot_op_fraction: 0.8,
            },
        ] {
            let mut c = KeyChooser::new(d, sp, 0);
            for _ in 0..10_000 {
                let r = c.next(&mut rng).record;
                assert!((500..600).contains(&r), "{d:?}: {r}");
            }
        }
    }

    /// Hotspot sends `ops` of the draws to the first `data` of the records (within 1% abs).
    #[test]
    fn hotspot_shares() {
        let mut c = KeyChooser::new(
            KeyDistribution::Hotspot {
                hot_data_fraction: 0.2,
                hot_op_fraction: 0.8,
            },
            space(1000),
            0,
        );
        let counts = histogram(&mut c, 1000, 100_000, 4);
        let hot: u64 = counts[..200].iter().sum();
        assert!((hot as f64 / 100_000.0 - 0.8).abs() < 0.01, "{hot}");
    }

    /// Scrambled zipfian: skewed and scattered; the favourite is where item 0 of the 10^10
    /// hashes to, then item 1 (zipf(10^10) gives item 0 p = 1/zeta = 3.8%). Over 1000 records
    /// and no inserts the item count is 1001 (YCSB's `insertcount + 1`): a draw of record
    /// 1000 is resolved by drawing again.
    #[test]
    fn scrambled_is_skewed_and_scattered() {
        let counter = Arc::new(InsertCounter::new(1000));
        let dist = KeyDistribution::ScrambledZipfian { constant: 0.99 };
        let mut c = KeyChooser::new(dist, space(1000), 0);
        let mut res = Resolver::new(counter, &c, 0.99);
        let mut rng = Rng::new(5, 0);
        let mut counts = vec![0u64; 1000];
        for _ in 0..100_000 {
            let ch = c.next(&mut rng);
            let r = res.resolve(ch.pick, ch.record, ch.salt);
            counts[r as usize] += 1;
        }
        let mut order: Vec<usize> = (0..1000).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
        assert_eq!(order[0] as u64, fnvhash64(0) % 1001);
        assert_eq!(order[1] as u64, fnvhash64(1) % 1001);
        let share = counts[order[0]] as f64 / 100_000.0;
        assert!(
            (share - 1.0 / 26.469).abs() < 0.005,
            "favourite's share {share}"
        );
    }

    /// Latest is counted back from the newest acknowledged record of all threads: the newest
    /// is the favourite, and an acknowledged insert becomes the new favourite.
    #[test]
    fn latest_follows_the_acknowledged_inserts() {
        let counter = Arc::new(InsertCounter::new(1000));
        let c = KeyChooser::new(KeyDistribution::Latest { constant: 0.99 }, space(1000), 0);
        let mut res = Resolver::new(counter.clone(), &c, 0.99);
        let mut rng = Rng::new(6, 0);
        let mut draw = |res: &mut Resolver| {
            let mut counts = std::collections::HashMap::<u64, u64>::new();
            for _ in 0..20_000 {
                let r = res.resolve(Pick::Latest, rng.next_u64() >> 11, 0);
                *counts.entry(r).or_default() += 1;
            }
            counts.into_iter().max_by_key(|&(_, n)| n).unwrap().0
        };
        assert_eq!(draw(&mut res), 999);
        let (a, b) = (counter.next(), counter.next());
        counter.acknowledge(b);
        assert_eq!(draw(&mut res), 999, "1001 is acknowledged, 1000 is not yet");
        counter.acknowledge(a);
        assert_eq!(draw(&mut res), 1001);
    }

    #[test]
    fn sequential_wraps() {
        let mut c = KeyChooser::new(KeyDistribution::Sequential, space(5), 3);
        let mut rng = Rng::new(0, 0);
        let got: Vec<u64> = (0..6).map(|_| c.next(&mut rng).record).collect();
        assert_eq!(got, [3, 4, 0, 1, 2, 3]);
    }
}
