//! A random permutation of `0..n` computed one position at a time, without a table: the
//! order in which a shuffled fill writes every key of its key space once (db_bench's
//! `filluniquerandom` shuffles a vector of `0..num`; for large `num` that vector alone is
//! 8 bytes per key, and a thread's share would need the whole of it).
//!
//! A balanced Feistel network over the smallest even number of bits that covers `n` is a
//! bijection of `0..2^bits`; "cycle walking" (applying it again while the result is `>= n`)
//! turns it into a bijection of `0..n`. Since `2^bits < 4n`, a position takes fewer than four
//! rounds of the network on average.

use super::rng::splitmix64;

/// Rounds of the Feistel network (four suffice for a pseudo-random permutation).
const ROUNDS: usize = 4;

#[derive(Debug, Clone)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    mask: u64,
    keys: [u64; ROUNDS],
}

impl Permutation {
    /// A permutation of `0..n` chosen by `seed`.
    pub fn new(n: u64, seed: u64) -> Permutation {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mut state = seed ^ 0x7065_726d_7574_6521;
        Permutation {
            n,
            half_bits,
            mask: (1u64 << half_bits) - 1,
            keys: std::array::from_fn(|_| splitmix64(&mut state)),
        }
    }

    /// The value at position `i` (`i < n`); positions at or beyond `n` wrap around.
    #[inline]
    pub fn at(&self, i: u64) -> u64 {
        if self.n <= 1 {
            return 0;
        }
        let mut v = i % self.n;
        loop {
            v = self.network(v);
            if v < self.n {
                return v;
            }
        }
    }

    #[inline]
    fn network(&self, v: u64) -> u64 {
        let (mut left, mut right) = (v >> self.half_bits, v & self.mask);
        for &k in &self.keys {
            let mut x = right ^ k;
            let f = splitmix64(&mut x) & self.mask;
            (left, right) = (right, left ^ f);
        }
        (left << self.half_bits) | right
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value of `0..n` exactly once, for sizes around powers of two and of four; other
    /// seeds give other orders; the order is not close to the identity.
    #[test]
    fn is_a_permutation() {
        for n in [1u64, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 1000, 4096, 10_007] {
            let p = Permutation::new(n, 42);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let v = p.at(i);
                assert!(
                    v < n && !seen[v as usize],
                    "n {n}: {v} twice or out of range"
                );
                seen[v as usize] = true;
            }
        }
        let (a, b) = (Permutation::new(1000, 1), Permutation::new(1000, 2));
        assert!((0..1000).filter(|&i| a.at(i) != b.at(i)).count() > 900);
        let fixed = (0..1000).filter(|&i| a.at(i) == i).count();
        assert!(fixed < 20, "{fixed} fixed points");
        assert_eq!(a.at(1003), a.at(3), "positions wrap around");
    }
}
