//! The workers' clock. Two clock reads bracket every operation, so their cost is most of the
//! harness's own: `Instant::now` (a vDSO `clock_gettime`) costs 25 to 50 ns on the
//! development VM, the CPU's time-stamp counter (`rdtsc`) about a third of that. Where the
//! counter is usable (x86-64 with an invariant TSC: `constant_tsc` and `nonstop_tsc` in
//! `/proc/cpuinfo`), ticks are counter values, converted to nanoseconds with a rate measured
//! against `Instant` once per process over 20 ms (an error of a few parts per million);
//! elsewhere ticks are nanoseconds from `Instant`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Ticks of the workers' clock and their conversion to time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
    base_tick: u64,
    /// Nanoseconds per tick; `None`: ticks are nanoseconds since `base`.
    ns_per_tick: Option<f64>,
}

/// How long the counter's rate is measured.
const CALIBRATION: Duration = Duration::from_millis(20);

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn tsc() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86-64; it only reads the counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn tsc() -> u64 {
    0
}

/// True when the CPU's time-stamp counter ticks at a constant rate in every state.
fn invariant_tsc() -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return false;
    };
    info.lines()
        .find(|l| l.starts_with("flags"))
        .is_some_and(|l| {
            let flags: Vec<&str> = l.split_whitespace().collect();
            flags.contains(&"constant_tsc") && flags.contains(&"nonstop_tsc")
        })
}

impl Clock {
    /// The process's clock (the counter's rate is measured on first use).
    pub fn get() -> Clock {
        static CLOCK: OnceLock<Clock> = OnceLock::new();
        *CLOCK.get_or_init(|| {
            if invariant_tsc() {
                Clock::tsc()
            } else {
                Clock::os()
            }
        })
    }

    /// Ticks are nanoseconds from `Instant`.
    pub fn os() -> Clock {
        Clock {
            base: Instant::now(),
            base_tick: 0,
            ns_per_tick: None,
        }
    }

    /// Ticks are time-stamp counter values.
    fn tsc() -> Clock {
        let (base, base_tick) = (Instant::now(), tsc());
        std::thread::sleep(CALIBRATION);
        let (end, end_tick) = (Instant::now(), tsc());
        let ticks = end_tick.wrapping_sub(base_tick);
        if ticks == 0 || end_tick < base_tick {
            return Clock::os();
        }
        Clock {
            base,
            base_tick,
            ns_per_tick: Some((end - base).as_nanos() as f64 / ticks as f64),
        }
    }

    /// Uses the time-stamp counter.
    pub fn is_tsc(&self) -> bool {
        self.ns_per_tick.is_some()
    }

    /// The current tick.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        match self.ns_per_tick {
            Some(_) => tsc(),
            None => self.base.elapsed().as_nanos() as u64,
        }
    }

    /// Nanoseconds in `ticks` ticks.
    #[inline(always)]
    pub fn ns(&self, ticks: u64) -> u64 {
        match self.ns_per_tick {
            Some(r) => (ticks as f64 * r) as u64,
            None => ticks,
        }
    }

    /// Ticks in `ns` nanoseconds.
    pub fn ticks(&self, ns: u64) -> u64 {
        match self.ns_per_tick {
            Some(r) => (ns as f64 / r) as u64,
            None => ns,
        }
    }

    /// The instant of tick `t`.
    pub fn instant(&self, t: u64) -> Instant {
        let since = t.saturating_sub(self.base_tick);
        self.base + Duration::from_nanos(self.ns(since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ticks measure time as `Instant` does, within 1% over 50 ms (lower bound exact:
    /// a sleep lasts at least as long as asked).
    #[test]
    fn ticks_agree_with_instant() {
        for clock in [Clock::get(), Clock::os()] {
            let (i0, t0) = (Instant::now(), clock.now());
            std::thread::sleep(Duration::from_millis(50));
            let (t1, i1) = (clock.now(), Instant::now());
            let by_ticks = clock.ns(t1 - t0) as f64;
            let by_instant = (i1 - i0).as_nanos() as f64;
            assert!(by_ticks >= 0.99 * 50e6, "{by_ticks} ns");
            assert!(
                (by_ticks - by_instant).abs() <= 0.01 * by_instant,
                "ticks {by_ticks} ns, Instant {by_instant} ns (tsc: {})",
                clock.is_tsc()
            );
            let back = clock.instant(t1);
            let off = if back > i1 { back - i1 } else { i1 - back };
            assert!(off < Duration::from_millis(1), "{off:?}");
            let round = clock.ns(clock.ticks(1_000_000));
            assert!((999_000..=1_000_000).contains(&round), "{round}");
        }
    }
}
