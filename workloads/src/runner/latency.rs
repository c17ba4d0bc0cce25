//! Latency histograms: one HDR histogram per operation type and thread (no sharing on the
//! hot path), merged at the end of a phase and turned into the result's summary, percentile
//! spectrum and serialised form.

use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;

use crate::result::{self, LatencySummary, PercentilePoint};

/// Significant decimal digits kept: values are exact to 0.1%.
pub const SIGFIG: u8 = 3;
/// Highest value the histogram starts with (100 s in ns); it grows past that if needed.
const HIGHEST: u64 = 100_000_000_000;

/// A latency histogram in nanoseconds.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, HIGHEST, SIGFIG).expect("valid histogram bounds");
    h.auto(true);
    h
}

/// A histogram for an operation type that will not run: nothing is allocated up front (it
/// grows if used after all).
pub fn unused_histogram() -> Histogram<u64> {
    Histogram::new(SIGFIG).expect("valid histogram precision")
}

/// Records `ns`, clamping 0 to 1 (the lowest trackable value).
#[inline]
pub fn record(h: &mut Histogram<u64>, ns: u64) {
    h.saturating_record(ns.max(1));
}

/// Count, mean, spread and the standard percentiles of `h`.
pub fn summary(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: h.len(),
        mean_ns: h.mean(),
        stdev_ns: h.stdev(),
        min_ns: h.min(),
        p50_ns: h.value_at_quantile(0.50),
        p90_ns: h.value_at_quantile(0.90),
        p99_ns: h.value_at_quantile(0.99),
        p999_ns: h.value_at_quantile(0.999),
        max_ns: h.max(),
    }
}

/// The percentile spectrum (HdrHistogram's "percentile distribution"), 5 ticks per halving
/// of the distance to 100%, so the tail is drawn finely.
pub fn spectrum(h: &Histogram<u64>) -> Vec<PercentilePoint> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut count = 0;
    let mut out: Vec<PercentilePoint> = h
        .iter_quantiles(5)
        .map(|v| {
            count += v.count_since_last_iteration();
            PercentilePoint {
                percentile: v.quantile_iterated_to() * 100.0,
                value_ns: h.highest_equivalent(v.value_iterated_to()),
                count,
            }
        })
        .collect();
    out.dedup_by(|b, a| a.percentile == b.percentile && a.value_ns == b.value_ns);
    out
}

/// The result's histogram: spectrum plus the V2 serialisation in base64.
pub fn to_result(h: &Histogram<u64>) -> result::Histogram {
    let mut bytes = Vec::new();
    let encoded = match V2Serializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64(&bytes),
        Err(_) => String::new(),
    };
    result::Histogram {
        significant_figures: SIGFIG,
        spectrum: spectrum(h),
        hdr_v2_base64: encoded,
    }
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::Deserializer;

    #[test]
    fn base64_rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
    }

    #[test]
    fn summary_spectrum_and_serialisation_agree() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            record(&mut h, v * 1000); // 1 us .. 10 ms, uniform
        }
        let s = summary(&h);
        assert_eq!(s.count, 10_000);
        let within = |got: u64, want: u64| (got as f64 - want as f64).abs() / want as f64 <= 0.002;
        assert!(within(s.p50_ns, 5_000_000), "{}", s.p50_ns);
        assert!(within(s.p99_ns, 9_900_000), "{}", s.p99_ns);
        assert!(within(s.max_ns, 10_000_000));
        let sp = spectrum(&h);
        assert_eq!(sp.last().unwrap().count, 10_000);
        assert!(sp
            .windows(2)
            .all(|w| w[0].percentile <= w[1].percentile && w[0].value_ns <= w[1].value_ns));
        // The base64 form decodes back to the same histogram.
        let r = to_result(&h);
        let bytes = decode_b64(&r.hdr_v2_base64);
        let back: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(back, h);
    }

    fn decode_b64(s: &str) -> Vec<u8> {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        for chunk in s.as_bytes().chunks(4) {
            let vals: Vec<u32> = chunk
                .iter()
                .filter(|&&c| c != b'=')
                .map(|c| T.iter().position(|t| t == c).unwrap() as u32)
                .collect();
            let mut n = 0u32;
            for (i, v) in vals.iter().enumerate() {
                n |= v << (18 - 6 * i);
            }
            for i in 0..vals.len().saturating_sub(1) {
                out.push((n >> (16 - 8 * i)) as u8);
            }
        }
        out
    }
}
