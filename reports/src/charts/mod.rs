//! The report's charts, as inline SVG: per workload (throughput bars, percentile spectrum,
//! throughput over time), amplification (bars and the RUM scatter), scaling.

pub mod amplification;
pub mod plot;
pub mod scaling;
pub mod workload;

pub use amplification::write as write_amplification;
pub use scaling::write as write_scaling;
pub use workload::write as write_workload;

/// Prints a tick value: `12`, `1.5k`, `2M`.
pub fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.3}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.3}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.3}k", v / 1e3)
    } else if a >= 1.0 || a == 0.0 {
        format!("{v:.3}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.3e}")
    }
    .replace(".000", "")
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
        assert_eq!(tick(1500.0), "1.500k");
        assert_eq!(tick(2000.0), "2k");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(0.5), "0.50");
        assert_eq!(spectrum_tick(0.5), "");
    }
}
