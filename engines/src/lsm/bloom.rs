//! Bloom filter, one per table (Bloom 1970; LevelDB's `util/bloom.cc` layout).
//!
//! ```text
//! +--------------------------+----+
//! | bit array (m bits, m/8 B) | k  |   k = probes, u8
//! +--------------------------+----+
//! ```
//! Probe i sets bit `(h1 + i * h2) mod m` (Kirsch-Mitzenmacher double hashing) with `h1`, `h2`
//! the halves of a 64-bit key hash. With `b` bits per key and `k = round(b ln 2)` probes the
//! false-positive rate is about `(1 - e^(-k/b))^k`: 0.82% at 10 bits per key.

/// 64-bit hash of a key (8-byte words folded through the splitmix64 finaliser).
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h = 0x9E37_79B9_7F4A_7C15u64 ^ (key.len() as u64).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        h = mix(h ^ u64::from_le_bytes(w.try_into().unwrap()));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = mix(h ^ u64::from_le_bytes(b) ^ 0xA5);
    }
    mix(h)
}

fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Probes for `bits_per_key`: `round(b ln 2)`, clamped to 1..=30.
pub fn probes(bits_per_key: usize) -> u8 {
    ((bits_per_key as f64 * std::f64::consts::LN_2).round() as u8).clamp(1, 30)
}

/// The false-positive rate theory predicts for `bits_per_key` (with the probes above).
#[cfg(test)]
pub fn theoretical_fp_rate(bits_per_key: usize) -> f64 {
    let k = probes(bits_per_key) as f64;
    (1.0 - (-k / bits_per_key as f64).exp()).powf(k)
}

/// Builds the filter bytes for keys with the given hashes. An empty result means "no filter".
pub fn build(hashes: &[u64], bits_per_key: usize, out: &mut Vec<u8>) {
    if bits_per_key == 0 {
        return;
    }
    let bits = (hashes.len() * bits_per_key).max(64);
    let bytes = bits.div_ceil(8);
    let m = (bytes * 8) as u64;
    let k = probes(bits_per_key);
    let start = out.len();
    out.resize(start + bytes, 0);
    let arr = &mut out[start..];
    for &h in hashes {
        let (mut a, b) = (h & 0xFFFF_FFFF, (h >> 32) | 1);
        for _ in 0..k {
            let bit = a % m;
            arr[(bit / 8) as usize] |= 1 << (bit % 8);
            a = a.wrapping_add(b);
        }
    }
    out.push(k);
}

/// A filter read back from a table.
#[derive(Debug, Clone, Default)]
pub struct Bloom {
    bits: Vec<u8>,
    k: u8,
}

impl Bloom {
    /// Parses filter bytes; `None` when they are malformed. Empty bytes: a filter that
    /// answers "maybe" to everything.
    pub fn decode(mut bytes: Vec<u8>) -> Option<Bloom> {
        let Some(k) = bytes.pop() else {
            return Some(Bloom::default());
        };
        if k == 0 || k > 30 || bytes.is_empty() {
            return None;
        }
        Some(Bloom { bits: bytes, k })
    }

    /// False when the key is certainly absent.
    pub fn may_contain(&self, h: u64) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        let m = (self.bits.len() * 8) as u64;
        let (mut a, b) = (h & 0xFFFF_FFFF, (h >> 32) | 1);
        for _ in 0..self.k {
            let bit = a % m;
            if self.bits[(bit / 8) as usize] & (1 << (bit % 8)) == 0 {
                return false;
            }
            a = a.wrapping_add(b);
        }
        true
    }

    /// Bytes held.
    pub fn size(&self) -> usize {
        self.bits.len()
    }

    /// True when there is no filter (every probe says "maybe").
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(n: u32, bits_per_key: usize) -> Bloom {
        let hashes: Vec<u64> = (0..n)
            .map(|i| key_hash(format!("key{i}").as_bytes()))
            .collect();
        let mut out = Vec::new();
        build(&hashes, bits_per_key, &mut out);
        Bloom::decode(out).unwrap()
    }

    #[test]
    fn no_false_negatives() {
        let f = filter(10_000, 10);
        for i in 0..10_000 {
            assert!(f.may_contain(key_hash(format!("key{i}").as_bytes())));
        }
    }

    #[test]
    fn false_positive_rate_within_one_and_a_half_times_theory() {
        for bits in [6usize, 10, 16] {
            let f = filter(20_000, bits);
            let probes = 200_000;
            let fp = (0..probes)
                .filter(|i| f.may_contain(key_hash(format!("other{i}").as_bytes())))
                .count();
            let rate = fp as f64 / probes as f64;
            let theory = theoretical_fp_rate(bits);
            assert!(
                rate <= theory * 1.5,
                "{bits} bits/key: measured {rate:.5}, theory {theory:.5}"
            );
            assert!(
                rate > 0.0 || theory < 1e-4,
                "{bits} bits/key: no false positive at all?"
            );
        }
    }

    #[test]
    fn malformed_and_empty() {
        assert!(Bloom::decode(vec![0xFF, 0]).is_none());
        assert!(Bloom::decode(vec![7]).is_none());
        assert!(Bloom::decode(Vec::new()).unwrap().may_contain(42));
    }
}
