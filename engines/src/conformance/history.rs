//! A deterministic stream of writes shared by the crash, corruption and fault parts, and the
//! check that a store holds the state after some *prefix* of it.
//!
//! Write `i` is a pure function of `i`: a put (9 in 10) or a delete of one of `KEYS` keys,
//! with a value that encodes `i` (mostly 8-300 bytes, sometimes empty, sometimes 3-20 KB so
//! that large-value paths run too).

use std::collections::HashMap;

use crate::{Engine, Result};

pub(crate) const KEYS: u64 = 400;

pub(crate) enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(crate) fn key(n: u64) -> Vec<u8> {
    format!("key{n:05}").into_bytes()
}

pub(crate) fn all_keys() -> impl Iterator<Item = Vec<u8>> {
    (0..KEYS).map(key)
}

/// Write number `i` of the stream.
pub(crate) fn write(i: u64) -> Write {
    let h = mix(i);
    let k = key(h % KEYS);
    if (h >> 32) % 10 == 0 {
        return Write::Delete(k);
    }
    let len = match (h >> 40) % 100 {
        0 => 0,
        1 | 2 => 3000 + (h >> 48) as usize % 17_000,
        _ => 8 + (h >> 48) as usize % 300,
    };
    let tag = i.to_le_bytes();
    Write::Put(k, (0..len).map(|j| tag[j % 8] ^ (j / 8) as u8).collect())
}

/// Applies write `i` to an engine.
pub(crate) fn apply(db: &dyn Engine, i: u64) -> Result<()> {
    match write(i) {
        Write::Put(k, v) => db.put(&k, &v),
        Write::Delete(k) => db.delete(&k),
    }
}

/// The state after the first `applied` writes.
#[derive(Clone, Default)]
pub(crate) struct Model {
    pub state: HashMap<Vec<u8>, Vec<u8>>,
    pub applied: u64,
}

impl Model {
    pub fn step(&mut self) {
        match write(self.applied) {
            Write::Put(k, v) => {
                self.state.insert(k, v);
            }
            Write::Delete(k) => {
                self.state.remove(&k);
            }
        }
        self.applied += 1;
    }

    pub fn advance_to(&mut self, n: u64) {
        while self.applied < n {
            self.step();
        }
    }
}

/// What was read back: key -> value (None: absent). Keys that could not be read are left out.
pub(crate) type Observed = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// Reads every key of the stream; errors that `allow_err` accepts leave the key out.
pub(crate) fn observe(
    db: &dyn Engine,
    allow_err: impl Fn(&crate::Error) -> bool,
) -> std::result::Result<Observed, String> {
    let mut seen = Observed::new();
    for k in all_keys() {
        match db.get(&k) {
            Ok(v) => {
                seen.insert(k, v);
            }
            Err(e) if allow_err(&e) => {}
            Err(e) => return Err(format!("get {}: {e}", String::from_utf8_lossy(&k))),
        }
    }
    Ok(seen)
}

/// The smallest `n` in `lo..=hi` such that `seen` equals the state after `n` writes on every
/// key it holds. `base` must be at or before `lo`.
pub(crate) fn find_prefix(
    base: &Model,
    seen: &Observed,
    lo: u64,
    hi: u64,
) -> std::result::Result<u64, String> {
    assert!(
        base.applied <= lo,
        "find_prefix: the base model is past {lo}"
    );
    let mut m = base.clone();
    m.advance_to(lo);
    let differs =
        |m: &Model, k: &Vec<u8>| seen.get(k).is_some_and(|v| v.as_ref() != m.state.get(k));
    let mut bad: usize = seen.keys().filter(|k| differs(&m, k)).count();
    let mut n = lo;
    loop {
        if bad == 0 {
            return Ok(n);
        }
        if n >= hi {
            break;
        }
        let k = match write(n) {
            Write::Put(k, _) | Write::Delete(k) => k,
        };
        let before = differs(&m, &k);
        m.step();
        let after = differs(&m, &k);
        bad = bad + after as usize - before as usize;
        n += 1;
    }
    // Describe the mismatch against the state at `lo`, the one that must at least hold.
    let mut m = base.clone();
    m.advance_to(lo);
    let mut diffs: Vec<String> = seen
        .iter()
        .filter(|(k, v)| v.as_ref() != m.state.get(*k))
        .take(5)
        .map(|(k, v)| {
            format!(
                "{}: read {:?}, expected {:?}",
                String::from_utf8_lossy(k),
                v.as_ref().map(|v| v.len()),
                m.state.get(k).map(|v| v.len())
            )
        })
        .collect();
    diffs.sort();
    Err(format!(
        "the store matches no prefix of the writes between {lo} and {hi} (value lengths shown, vs. the state after {lo}): {}",
        diffs.join("; ")
    ))
}
