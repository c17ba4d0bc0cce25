//! Keys as YCSB builds them: `user` followed by the record number in decimal, zero-padded,
//! where the record number is first hashed with 64-bit FNV-1a under `insertorder=hashed`.
//! A key is written into a buffer the caller reuses, so building one allocates nothing.

use crate::spec::{InsertOrder, KeySpec, SizeSpec};

const FNV_OFFSET_BASIS_64: u64 = 0xCBF2_9CE4_8422_2325;
const FNV_PRIME_64: u64 = 1_099_511_628_211;

/// YCSB's `Utils.fnvhash64`: FNV-1a over the 8 bytes of `val`, low byte first, then the
/// absolute value of the result read as a signed number.
#[inline]
pub fn fnvhash64(mut val: u64) -> u64 {
    let mut h = FNV_OFFSET_BASIS_64;
    for _ in 0..8 {
        h ^= val & 0xff;
        h = h.wrapping_mul(FNV_PRIME_64);
        val >>= 8;
    }
    (h as i64).unsigned_abs()
}

/// Builds the key of a record number.
#[derive(Debug, Clone)]
pub struct KeyBuilder {
    prefix: Vec<u8>,
    padding: usize,
    size: Option<SizeSpec>,
    hashed: bool,
}

impl KeyBuilder {
    pub fn new(key: &KeySpec, order: InsertOrder) -> KeyBuilder {
        KeyBuilder {
            prefix: key.prefix.as_bytes().to_vec(),
            padding: key.padding as usize,
            size: key.size,
            hashed: order == InsertOrder::Hashed,
        }
    }

    /// Writes the key of record `n` into `out` (cleared first).
    #[inline]
    pub fn build(&self, n: u64, out: &mut Vec<u8>) {
        out.clear();
        self.append(n, out);
    }

    /// Longest key this builder makes, bytes.
    pub fn max_len(&self) -> usize {
        let size = self.size.map_or(0, |s| s.max() as usize);
        (self.prefix.len() + self.padding.max(20)).max(size)
    }

    /// Appends the key of record `n` to `out`.
    #[inline]
    pub fn append(&self, n: u64, out: &mut Vec<u8>) {
        let num = if self.hashed { fnvhash64(n) } else { n };
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = num;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let digits = &digits[i..];
        let mut width = self.padding.max(digits.len());
        if let Some(size) = self.size {
            let target = match size {
                SizeSpec::Fixed { bytes } => bytes as usize,
                SizeSpec::Uniform { min, max } => {
                    let span = (max - min) as u64 + 1;
                    min as usize + (fnvhash64(n ^ 0x6b65_7973) % span) as usize
                }
            };
            width = width.max(target.saturating_sub(self.prefix.len()));
        }
        let at = out.len();
        out.extend_from_slice(&self.prefix);
        out.resize(at + self.prefix.len() + width - digits.len(), b'0');
        out.extend_from_slice(digits);
    }

    /// The key of record `n` as a new vector (for tests and one-off uses).
    pub fn key(&self, n: u64) -> Vec<u8> {
        let mut v = Vec::new();
        self.build(n, &mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_values() {
        // FNV-1a of eight zero bytes, computed by hand from the definition.
        let mut h = FNV_OFFSET_BASIS_64;
        for _ in 0..8 {
            h = h.wrapping_mul(FNV_PRIME_64);
        }
        assert_eq!(fnvhash64(0), (h as i64).unsigned_abs());
        assert_ne!(fnvhash64(1), fnvhash64(2));
        assert!(fnvhash64(u64::MAX) <= 1 << 63);
    }

    /// `ordered` with fixed-width keys inserts in key order (what fillseq needs); `hashed`
    /// scatters consecutive records over the key space, all keys distinct.
    #[test]
    fn insert_orders() {
        let spec = KeySpec {
            size: Some(SizeSpec::Fixed { bytes: 16 }),
            ..KeySpec::default()
        };
        let ordered = KeyBuilder::new(&spec, InsertOrder::Ordered);
        let keys: Vec<Vec<u8>> = (0..10_000).map(|n| ordered.key(n)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let hashed = KeyBuilder::new(&spec, InsertOrder::Hashed);
        let keys: Vec<Vec<u8>> = (0..10_000).map(|n| hashed.key(n)).collect();
        let ascending = keys.windows(2).filter(|w| w[0] < w[1]).count();
        assert!(
            (4_000..6_000).contains(&ascending),
            "{ascending} of 9999 ascending"
        );
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
    }

    #[test]
    fn appended_keys_equal_built_ones_and_fit_the_maximum() {
        for spec in [
            KeySpec::default(),
            KeySpec {
                padding: 30,
                ..KeySpec::default()
            },
            KeySpec {
                size: Some(SizeSpec::Uniform { min: 10, max: 60 }),
                ..KeySpec::default()
            },
        ] {
            let b = KeyBuilder::new(&spec, InsertOrder::Hashed);
            let mut all = b"x".to_vec();
            for n in [0, 1, 99, u64::MAX] {
                let before = all.len();
                b.append(n, &mut all);
                assert_eq!(&all[before..], &b.key(n)[..]);
                assert!(b.key(n).len() <= b.max_len(), "{spec:?} {n}");
            }
        }
    }

    #[test]
    fn keys_like_ycsb() {
        let ordered = KeyBuilder::new(&KeySpec::default(), InsertOrder::Ordered);
        assert_eq!(ordered.key(0), b"user0");
        assert_eq!(ordered.key(1234), b"user1234");
        let hashed = KeyBuilder::new(&KeySpec::default(), InsertOrder::Hashed);
        assert_eq!(hashed.key(7), format!("user{}", fnvhash64(7)).into_bytes());
        let padded = KeyBuilder::new(
            &KeySpec {
                padding: 6,
                size: Some(SizeSpec::Fixed { bytes: 16 }),
                ..KeySpec::default()
            },
            InsertOrder::Ordered,
        );
        assert_eq!(padded.key(42), b"user000000000042");
        let ranged = KeyBuilder::new(
            &KeySpec {
                size: Some(SizeSpec::Uniform { min: 10, max: 30 }),
                ..KeySpec::default()
            },
            InsertOrder::Ordered,
        );
        for n in 0..1000 {
            let k = ranged.key(n);
            assert!((10..=30).contains(&k.len()), "{}", k.len());
            assert_eq!(k, ranged.key(n), "a record's key never changes");
        }
    }
}
