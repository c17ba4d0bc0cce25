//! The report's charts, as inline SVG: per workload (throughput bars, percentile spectrum,
//! throughput over time), amplification (bars and the RUM scatter), scaling.

pub mod amplification;
pub mod plot;
pub mod scaling;
pub mod workload;

pub use amplification::write as write_amplification;
pub use scaling::write as write_scaling;
pub use workload::write as write_workload;

/// Prints a tick value in plain form with at most three significant digits: `12`, `1.5k`,
/// `192k`, `2M`, `0.0001` (never an exponent).
pub fn tick(v: f64) -> String {
    let a = v.abs();
    let (x, unit) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let ax = x.abs();
    let s = if ax >= 100.0 || ax == 0.0 {
        format!("{x:.0}")
    } else if ax >= 10.0 {
        format!("{x:.1}")
    } else if ax >= 1.0 {
        format!("{x:.2}")
    } else if ax >= 0.001 {
        format!("{x:.3}")
    } else {
        // Enough decimals for two significant digits.
        let decimals = (-ax.log10()).ceil().clamp(1.0, 20.0) as usize + 1;
        format!("{x:.decimals$}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{unit}")
}

/// Prints a latency tick given in microseconds.
pub fn tick_us(v: f64) -> String {
    crate::html::nanos(v * 1e3)
}

/// x of the percentile spectrum: `log10(1 / (1 - p))`, `p` in percent; `None` at 100%.
pub fn spectrum_x(percentile: f64) -> Option<f64> {
    let q = 1.0 - percentile / 100.0;
    (q > 0.0 && percentile.is_finite()).then(|| (1.0 / q).log10())
}

/// The percentile at spectrum position `x` (inverse of [`spectrum_x`]), printed: `99.9%`;
/// empty between whole decades (90%, 99%, 99.9%, ...), which are the ticks worth reading.
pub fn spectrum_tick(x: f64) -> String {
    if (x - x.round()).abs() > 1e-6 || x < -1e-6 {
        return String::new();
    }
    let x = x.round();
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let s = format!("{p:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrum_axis_round_trips() {
        assert_eq!(spectrum_x(0.0), Some(0.0));
        assert!((spectrum_x(99.0).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(spectrum_x(100.0), None);
        assert_eq!(spectrum_tick(0.0), "0%");
        assert_eq!(spectrum_tick(1.0), "90%");
        assert_eq!(spectrum_tick(3.0), "99.9%");
    }

    #[test]
    fn ticks() {
        assert_eq!(tick(1500.0), "1.5k");
        assert_eq!(tick(2000.0), "2k");
        assert_eq!(tick(191_070.0), "191k");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(12.34), "12.3");
        assert_eq!(tick(0.012), "0.012");
        assert_eq!(tick(0.0001), "0.0001");
        assert_eq!(tick(0.00025), "0.00025");
        assert_eq!(spectrum_tick(0.5), "");
    }
}
