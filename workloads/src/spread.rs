//! Run-to-run spread of a figure over repetitions: the median, and a 95% confidence interval
//! that says how far the figure moves between runs on this machine. A difference between two
//! engines is called only when their intervals do not overlap ([`Spread::apart`]).
//!
//! The interval: with six or more repetitions, the distribution-free interval for the median
//! from order statistics (the ranks a binomial(n, 1/2) puts 95% between); with two to five,
//! Student's t interval around the mean (which assumes the runs scatter normally: too few
//! runs for anything weaker). One repetition has no interval.

use serde::{Deserialize, Serialize};

use crate::result::{PhaseKind, PhaseResult, RunResult};

/// How the interval was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// One repetition: no interval.
    None,
    /// Student's t on the mean (2 to 5 repetitions).
    StudentT,
    /// Order statistics around the median (6 or more).
    OrderStatistics,
}

/// Median and 95% interval of a figure over repetitions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub n: u32,
    pub median: f64,
    pub mean: f64,
    /// Lower and upper end of the 95% interval (both the median when n = 1).
    pub low: f64,
    pub high: f64,
    pub interval: Interval,
}

/// Two-sided 97.5% quantiles of Student's t for 1..=4 degrees of freedom.
const T975: [f64; 4] = [12.706, 4.303, 3.182, 2.776];

impl Spread {
    /// The spread of `values` (non-finite values are left out); `None` when none is left.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        let mean = v.iter().sum::<f64>() / n as f64;
        let (low, high, interval) = match n {
            1 => (median, median, Interval::None),
            2..=5 => {
                let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
                let half = T975[n - 2] * (var / n as f64).sqrt();
                (mean - half, mean + half, Interval::StudentT)
            }
            _ => {
                let (lo, hi) = median_ranks(n);
                (v[lo], v[hi], Interval::OrderStatistics)
            }
        };
        Some(Spread {
            n: n as u32,
            median,
            mean,
            low,
            high,
            interval,
        })
    }

    /// True when the two intervals do not overlap: only then is a difference called. One
    /// repetition on either side never allows it.
    pub fn apart(&self, other: &Spread) -> bool {
        self.interval != Interval::None
            && other.interval != Interval::None
            && (self.high < other.low || other.high < self.low)
    }

    /// Half the interval's width relative to the median (the "± x%" a reader sees).
    pub fn relative_half_width(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.high - self.low) / 2.0 / self.median.abs()
        }
    }
}

/// 0-based ranks `(lo, hi)` of the sorted sample that bound the median with at least 95%
/// confidence: the largest `k` with P(Binomial(n, 1/2) < k) <= 2.5% gives `lo = k - 1`,
/// `hi = n - k`.
fn median_ranks(n: usize) -> (usize, usize) {
    // P(X <= j) for X ~ Binomial(n, 1/2), summed in f64 (n is a repetition count: small).
    let mut pmf = 0.5f64.powi(n as i32);
    let mut cdf = 0.0;
    let mut k = 0;
    for j in 0..n {
        cdf += pmf;
        if cdf > 0.025 {
            break;
        }
        k = j + 1;
        pmf *= (n - j) as f64 / (j + 1) as f64;
    }
    let k = k.max(1);
    (k - 1, n - k)
}

/// The phase a result is judged by: `run`, or `load` when the run phase is missing or did
/// no operations.
pub fn main_phase(r: &RunResult) -> Option<&PhaseResult> {
    r.phase(PhaseKind::Run)
        .filter(|p| p.operations > 0)
        .or_else(|| r.phase(PhaseKind::Load))
        .or_else(|| r.phase(PhaseKind::Run))
}

/// The repetitions of one (engine, workload): results of one repetition group (see
/// [`crate::result::Repetition`]), or a result that was not repeated, alone.
#[derive(Debug)]
pub struct Repeated<'a> {
    pub runs: Vec<&'a RunResult>,
    /// Throughput of the main phase over the repetitions.
    pub throughput: Option<Spread>,
    /// p99 latency (all operations) of the main phase, ns.
    pub p99_ns: Option<Spread>,
}

impl<'a> Repeated<'a> {
    fn new(runs: Vec<&'a RunResult>) -> Repeated<'a> {
        let tp: Vec<f64> = runs
            .iter()
            .filter_map(|r| main_phase(r).map(|p| p.throughput.ops_per_sec))
            .collect();
        let p99: Vec<f64> = runs
            .iter()
            .filter_map(|r| {
                main_phase(r)?
                    .latency_of(None)
                    .filter(|l| l.summary.count > 0)
                    .map(|l| l.summary.p99_ns as f64)
            })
            .collect();
        Repeated {
            throughput: Spread::of(&tp),
            p99_ns: Spread::of(&p99),
            runs,
        }
    }

    /// The repetition whose throughput is nearest the median: the one whose other figures
    /// are shown for the group.
    pub fn representative(&self) -> &'a RunResult {
        let median = self.throughput.map_or(0.0, |s| s.median);
        let dist = |r: &&RunResult| {
            main_phase(r).map_or(f64::INFINITY, |p| (p.throughput.ops_per_sec - median).abs())
        };
        self.runs
            .iter()
            .copied()
            .min_by(|a, b| dist(a).total_cmp(&dist(b)))
            .unwrap_or(self.runs[0])
    }
}

/// Results folded into their repetition groups, in the order each group first appears.
pub fn group_repetitions<'a>(
    results: impl IntoIterator<Item = &'a RunResult>,
) -> Vec<Repeated<'a>> {
    let mut groups: Vec<(Option<&str>, Vec<&RunResult>)> = Vec::new();
    for r in results {
        let key = r.repetition.as_ref().map(|x| x.group.as_str());
        match groups.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
            Some((_, v)) => v.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups.into_iter().map(|(_, v)| Repeated::new(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_has_no_interval_and_never_differs() {
        let s = Spread::of(&[5.0]).unwrap();
        assert_eq!(
            (s.median, s.low, s.high, s.interval),
            (5.0, 5.0, 5.0, Interval::None)
        );
        let t = Spread::of(&[50.0]).unwrap();
        assert!(!s.apart(&t));
        assert!(Spread::of(&[]).is_none());
        assert!(Spread::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn student_t_for_three_runs() {
        // mean 10, sample sd 1, n 3: half width 4.303 / sqrt(3) = 2.4843.
        let s = Spread::of(&[9.0, 10.0, 11.0]).unwrap();
        assert_eq!(s.interval, Interval::StudentT);
        assert_eq!(s.median, 10.0);
        assert!((s.high - 12.4843).abs() < 1e-3 && (s.low - 7.5157).abs() < 1e-3);
        let far = Spread::of(&[20.0, 21.0, 22.0]).unwrap();
        let near = Spread::of(&[11.0, 12.0, 13.0]).unwrap();
        assert!(s.apart(&far) && far.apart(&s));
        assert!(!s.apart(&near), "overlapping intervals are no difference");
    }

    #[test]
    fn order_statistics_ranks_cover_95_percent() {
        // Known ranks (1-based) of the 95% median interval: n=6: 1..6, n=10: 2..9,
        // n=20: 6..15.
        assert_eq!(median_ranks(6), (0, 5));
        assert_eq!(median_ranks(10), (1, 8));
        assert_eq!(median_ranks(20), (5, 14));
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = Spread::of(&v).unwrap();
        assert_eq!((s.median, s.low, s.high), (5.5, 2.0, 9.0));
        assert_eq!(s.interval, Interval::OrderStatistics);
    }
}
