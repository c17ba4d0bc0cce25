//! Keys from record numbers, as YCSB and db_bench build them. A key is written into a buffer
//! the caller reuses, so building one allocates nothing.
//!
//! * YCSB (`CoreWorkload.buildKeyName`): `user` followed by the record number in decimal,
//!   zero-padded to `zeropadding` digits, where the number is first hashed with 64-bit FNV-1a
//!   under `insertorder=hashed`.
//! * db_bench (`GenerateKeyFromInt`): the number as 8 big-endian bytes (only its low
//!   `key_size` bytes when the key is shorter than 8), then `'0'` up to `key_size` (16 by
//!   default): `fillrandom --key_size 16` writes 16-byte keys.

use crate::spec::{InsertOrder, KeyFormat, KeySpec, SizeSpec, DB_BENCH_KEY_SIZE};

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
    /// db_bench's format, with this key size.
    db_bench: Option<usize>,
}

impl KeyBuilder {
    pub fn new(key: &KeySpec, order: InsertOrder) -> KeyBuilder {
        let db_bench = (key.format == KeyFormat::DbBench)
            .then(|| key.size.map_or(DB_BENCH_KEY_SIZE, SizeSpec::max) as usize);
        KeyBuilder {
            prefix: key.prefix.as_bytes().to_vec(),
            padding: key.padding as usize,
            size: key.size,
            hashed: order == InsertOrder::Hashed,
            db_bench,
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
        if let Some(size) = self.db_bench {
            return size;
        }
        let size = self.size.map_or(0, |s| s.max() as usize);
        (self.prefix.len() + self.padding.max(20)).max(size)
    }

    /// Appends the key of record `n` to `out`.
    #[inline]
    pub fn append(&self, n: u64, out: &mut Vec<u8>) {
        let num = if self.hashed { fnvhash64(n) } else { n };
        if let Some(size) = self.db_bench {
            let bytes = num.to_be_bytes();
            let fill = size.min(8);
            out.extend_from_slice(&bytes[8 - fill..]);
            out.resize(out.len() + size - fill, b'0');
            return;
        }
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

    /// db_bench's `GenerateKeyFromInt`: 8 big-endian bytes of the number, then '0' to the key
    /// size; a key shorter than 8 bytes holds the number's low bytes. Ordered numbers give
    /// ordered keys.
    #[test]
    fn keys_like_db_bench() {
        let spec = |size: Option<u32>| KeySpec {
            size: size.map(|bytes| SizeSpec::Fixed { bytes }),
            format: KeyFormat::DbBench,
            ..KeySpec::default()
        };
        let b = KeyBuilder::new(&spec(None), InsertOrder::Ordered);
        assert_eq!(b.key(0x0102), b"\0\0\0\0\0\0\x01\x0200000000");
        assert_eq!(b.max_len(), 16);
        let b = KeyBuilder::new(&spec(Some(20)), InsertOrder::Ordered);
        assert_eq!(b.key(7), b"\0\0\0\0\0\0\0\x07000000000000");
        let b = KeyBuilder::new(&spec(Some(4)), InsertOrder::Ordered);
        assert_eq!(b.key(0x0102_0304_0506), b"\x03\x04\x05\x06");
        let b = KeyBuilder::new(&spec(Some(16)), InsertOrder::Ordered);
        let keys: Vec<Vec<u8>> = (0..5000).map(|n| b.key(n * 977)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1] && w[0].len() == 16));
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
