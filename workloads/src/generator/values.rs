//! The bytes writes put: values cut from a pool made once from the seed, and YCSB's records of
//! named fields built from the same pool.
//!
//! What the pool holds decides how values compress (`ValueContent`): uniformly random bytes
//! (incompressible), YCSB's `RandomByteIterator` text, or db_bench's `RandomGenerator`
//! (100-byte pieces of `ratio` x 100 random printable characters repeated; values start at a
//! piece, as db_bench's do for its default 100-byte values).
//!
//! A YCSB record is stored as YCSB's key-value bindings (RocksDB, LevelDB) serialise it: per
//! field, a 4-byte big-endian name length, the name, a 4-byte big-endian value length and the
//! value, fields in number order (the bindings write them in their map's order). Ten fields of
//! 100 bytes named `field0` .. `field9` take 1,140 bytes. Changing one field (an update with
//! `writeallfields=false`) rewrites the record read from the engine with that field replaced.

use std::sync::Arc;

use super::rng::{splitmix64, Rng};
use super::zipfian::Zipfian;
use super::Op;
use crate::spec::{FieldLengths, Fields, SizeSpec, ValueContent, WorkloadSpec, ZIPFIAN_CONSTANT};

/// Values are cut from a pool this much longer than the largest value, at a random offset:
/// large enough that two values in one block of a store rarely share bytes (which a
/// compressing engine would exploit).
pub const VALUE_SLACK: usize = 4 << 20;

/// db_bench's `RandomGenerator` buffer: its values repeat every 1 MiB, and so do ours.
pub const DB_BENCH_SLACK: usize = 1 << 20;

/// The pool's slack for `content`.
fn slack(content: ValueContent) -> usize {
    match content {
        ValueContent::Compressible { .. } => DB_BENCH_SLACK,
        _ => VALUE_SLACK,
    }
}

/// db_bench's pieces: each compresses to `ratio` of its size on its own.
const PIECE: usize = 100;

/// Random-stream ids of the pool and of the table of field lengths.
pub(crate) const STREAM_VALUES: u64 = 3 << 32;
const STREAM_FIELD_LENGTHS: u64 = 4 << 32;

/// Field lengths drawn ahead for uniform and zipfian field lengths (a write's fields take
/// entries chosen by a hash of the operation).
const LENGTH_TABLE: usize = 4096;

/// Where a value starts in the pool: anywhere for random bytes and text, at a piece for
/// db_bench's pieces.
pub(crate) fn value_offset(content: ValueContent, rng: &mut Rng) -> u32 {
    match content {
        ValueContent::Compressible { .. } => {
            (rng.below((DB_BENCH_SLACK / PIECE) as u64) as usize * PIECE) as u32
        }
        _ => rng.below(VALUE_SLACK as u64) as u32,
    }
}

/// The bytes values are cut from, and the layout of YCSB records when the workload has them.
#[derive(Debug, Clone)]
pub struct ValuePool {
    bytes: Arc<[u8]>,
    /// Values start below this offset.
    slack: usize,
    record: Option<Arc<Layout>>,
    /// Updates change one field of the record (YCSB `writeallfields=false`).
    one_field: bool,
}

#[derive(Debug)]
struct Layout {
    names: Vec<Box<[u8]>>,
    /// Every field `fixed` bytes, or lengths from `table`.
    fixed: Option<usize>,
    table: Vec<u32>,
}

/// Fills `out` to `len` bytes of `content`.
fn pool_bytes(content: ValueContent, len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len + PIECE);
    match content {
        ValueContent::Random => {
            while bytes.len() < len {
                bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
            }
        }
        ValueContent::YcsbText => {
            // RandomByteIterator: six characters from each 32-bit number, bits overlapping.
            while bytes.len() < len {
                let b = rng.next_u64() as u32;
                bytes.extend_from_slice(&[
                    (b & 31) as u8 + b' ',
                    ((b >> 5) & 63) as u8 + b' ',
                    ((b >> 10) & 95) as u8 + b' ',
                    ((b >> 15) & 31) as u8 + b' ',
                    ((b >> 20) & 63) as u8 + b' ',
                    ((b >> 25) & 95) as u8 + b' ',
                ]);
            }
        }
        ValueContent::Compressible { ratio } => {
            // CompressibleString: `raw` characters from ' ' to '~', repeated to fill the piece.
            let raw = ((PIECE as f64 * ratio) as usize).clamp(1, PIECE);
            while bytes.len() < len {
                let piece: Vec<u8> = (0..raw).map(|_| b' ' + rng.below(95) as u8).collect();
                for i in 0..PIECE {
                    bytes.push(piece[i % raw]);
                }
            }
        }
    }
    bytes.truncate(len);
    bytes
}

impl ValuePool {
    pub fn new(spec: &WorkloadSpec) -> ValuePool {
        let slack = slack(spec.values);
        let len = spec.value_size.max() as usize + slack;
        let mut rng = Rng::new(spec.seed, STREAM_VALUES);
        ValuePool {
            bytes: pool_bytes(spec.values, len, &mut rng).into(),
            slack,
            record: spec.fields.as_ref().map(|f| Arc::new(Layout::new(f, spec))),
            one_field: spec.fields.as_ref().is_some_and(|f| !f.write_all),
        }
    }

    /// The value of a write operation (a workload without fields).
    #[inline]
    pub fn value(&self, op: &Op) -> &[u8] {
        let start = (op.value_offset as usize).min(self.slack);
        &self.bytes[start..start + op.value_len as usize]
    }

    /// True when writes put YCSB records of fields.
    pub fn has_fields(&self) -> bool {
        self.record.is_some()
    }

    /// True when an update changes one field of the stored record (read, change, write).
    pub fn changes_one_field(&self) -> bool {
        self.one_field
    }

    /// The bytes of field `i` of the record a write operation builds.
    #[inline]
    fn field(&self, layout: &Layout, op: &Op, i: usize) -> &[u8] {
        let len = layout.length(op, i);
        let start = (op.value_offset as usize + i * 1031) % self.slack;
        &self.bytes[start..start + len]
    }

    /// Writes into `out` (cleared first) the whole record of a write operation: every field
    /// new (an insert, or an update with `writeallfields=true`). Without fields, the value.
    pub fn record(&self, op: &Op, out: &mut Vec<u8>) {
        out.clear();
        let Some(layout) = self.record.as_deref() else {
            out.extend_from_slice(self.value(op));
            return;
        };
        for (i, name) in layout.names.iter().enumerate() {
            put_field(out, name, self.field(layout, op, i));
        }
    }

    /// Writes into `out` (cleared first) the record `old` with the field the operation
    /// changes replaced by new bytes (added when `old` lacks it): an update of one field.
    /// `Err` when `old` is not a serialised record.
    pub fn change_field(&self, old: &[u8], op: &Op, out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        let Some(layout) = self.record.as_deref() else {
            out.extend_from_slice(self.value(op));
            return Ok(());
        };
        let i = op.field as usize % layout.names.len();
        let (name, data) = (&layout.names[i], self.field(layout, op, i));
        let mut rest = old;
        let mut found = false;
        while !rest.is_empty() {
            let (field_name, value, tail) = split_field(rest).ok_or_else(|| {
                format!(
                    "the stored record of {} bytes is not a serialised YCSB record",
                    old.len()
                )
            })?;
            if field_name == &name[..] {
                put_field(out, name, data);
                found = true;
            } else {
                put_field(out, field_name, value);
            }
            rest = tail;
        }
        if !found {
            put_field(out, name, data);
        }
        Ok(())
    }
}

fn put_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(&(name.len() as u32).to_be_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

/// The first field of a serialised record: (name, value, the rest).
fn split_field(b: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (n, rest) = take_len(b)?;
    let (name, rest) = (rest.get(..n)?, rest.get(n..)?);
    let (v, rest) = take_len(rest)?;
    Some((name, rest.get(..v)?, rest.get(v..)?))
}

/// A 4-byte big-endian length and what follows it.
fn take_len(b: &[u8]) -> Option<(usize, &[u8])> {
    let (len, rest) = b.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*len) as usize, rest))
}

/// The fields of a serialised record, in order: (name, value). `None` if it is not one.
pub fn record_fields(mut b: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (name, value, rest) = split_field(b)?;
        out.push((name, value));
        b = rest;
    }
    Some(out)
}

impl Layout {
    fn new(f: &Fields, spec: &WorkloadSpec) -> Layout {
        let names = (0..f.count)
            .map(|i| {
                format!("{}{i}", f.name_prefix)
                    .into_bytes()
                    .into_boxed_slice()
            })
            .collect();
        let (lo, hi) = (spec.value_size.min(), spec.value_size.max());
        let (fixed, table) = match (f.lengths, spec.value_size) {
            (FieldLengths::Constant, _) | (_, SizeSpec::Fixed { .. }) => {
                (Some(hi as usize), Vec::new())
            }
            (kind, _) => {
                let mut rng = Rng::new(spec.seed, STREAM_FIELD_LENGTHS);
                let zipf = Zipfian::new((hi - lo) as u64 + 1, ZIPFIAN_CONSTANT);
                let table = (0..LENGTH_TABLE)
                    .map(|_| match kind {
                        FieldLengths::Zipfian => lo + zipf.next(&mut rng) as u32,
                        _ => rng.range_inclusive(lo as u64, hi as u64) as u32,
                    })
                    .collect();
                (None, table)
            }
        };
        Layout {
            names,
            fixed,
            table,
        }
    }

    #[inline]
    fn length(&self, op: &Op, i: usize) -> usize {
        match self.fixed {
            Some(n) => n,
            None => {
                let mut x = ((op.value_offset as u64) << 20) ^ i as u64 ^ op.record.rotate_left(40);
                self.table[(splitmix64(&mut x) % LENGTH_TABLE as u64) as usize] as usize
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::OpKind;

    fn op(offset: u32, field: u32) -> Op {
        Op {
            kind: OpKind::Update,
            value_len: 100,
            value_offset: offset,
            field,
            ..Op::default()
        }
    }

    /// Bytes after deflate-style compression are hard to measure without a compressor; what
    /// decides it is checked instead: db_bench's pieces repeat their first `ratio` x 100
    /// bytes, YCSB's text stays in its alphabet, random bytes use all 256 values.
    #[test]
    fn contents_are_what_the_tools_write() {
        let mut rng = Rng::new(1, 0);
        let half = pool_bytes(ValueContent::Compressible { ratio: 0.5 }, 10_000, &mut rng);
        for piece in half.chunks(PIECE) {
            assert_eq!(piece[..50], piece[50..], "a piece is 50 bytes twice");
            assert!(piece.iter().all(|b| (b' '..=b'~').contains(b)));
        }
        let text = pool_bytes(ValueContent::YcsbText, 60_000, &mut rng);
        assert!(text.iter().all(|&b| (b' '..b' ' + 96).contains(&b)));
        let mut seen = [false; 256];
        for b in pool_bytes(ValueContent::Random, 60_000, &mut rng) {
            seen[b as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        let mut r = Rng::new(2, 0);
        for _ in 0..100 {
            let at = value_offset(ValueContent::Compressible { ratio: 0.5 }, &mut r);
            assert_eq!(at as usize % PIECE, 0);
        }
    }

    /// YCSB's default record: 10 fields of 100 bytes, 1,140 bytes serialised, names in order;
    /// changing one field keeps the other nine byte for byte.
    #[test]
    fn records_as_ycsb_bindings_store_them() {
        let spec = WorkloadSpec {
            fields: Some(Fields::default()),
            values: ValueContent::YcsbText,
            value_size: SizeSpec::Fixed { bytes: 100 },
            ..WorkloadSpec::default()
        };
        let pool = ValuePool::new(&spec);
        let mut rec = Vec::new();
        pool.record(&op(7, 0), &mut rec);
        assert_eq!(rec.len(), 1140);
        let fields = record_fields(&rec).unwrap();
        let names: Vec<String> = fields
            .iter()
            .map(|(n, _)| String::from_utf8_lossy(n).into())
            .collect();
        assert_eq!(
            names,
            (0..10).map(|i| format!("field{i}")).collect::<Vec<_>>()
        );
        assert!(fields.iter().all(|(_, v)| v.len() == 100));
        let mut changed = Vec::new();
        pool.change_field(&rec, &op(999, 3), &mut changed).unwrap();
        let after = record_fields(&changed).unwrap();
        assert_eq!(changed.len(), 1140);
        for (i, (a, b)) in fields.iter().zip(&after).enumerate() {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1 == b.1, i != 3, "field {i}");
        }
        assert!(pool
            .change_field(b"\0\0\0\x09abc", &op(1, 1), &mut changed)
            .is_err());
        assert!(record_fields(b"\0\0").is_none());
    }

    /// Uniform and zipfian field lengths stay in range and differ between fields; zipfian
    /// favours short fields.
    #[test]
    fn field_lengths_follow_their_distribution() {
        for (lengths, short_share) in [
            (FieldLengths::Uniform, 0.05..0.15),
            (FieldLengths::Zipfian, 0.3..1.0),
        ] {
            let spec = WorkloadSpec {
                fields: Some(Fields {
                    lengths,
                    ..Fields::default()
                }),
                value_size: SizeSpec::Uniform { min: 1, max: 100 },
                ..WorkloadSpec::default()
            };
            let pool = ValuePool::new(&spec);
            let mut rec = Vec::new();
            let mut lens = Vec::new();
            for o in 0..2000 {
                pool.record(&op(o * 17, 0), &mut rec);
                lens.extend(record_fields(&rec).unwrap().iter().map(|(_, v)| v.len()));
            }
            assert!(lens.iter().all(|l| (1..=100).contains(l)));
            let short = lens.iter().filter(|&&l| l <= 10).count() as f64 / lens.len() as f64;
            assert!(short_share.contains(&short), "{lengths:?}: {short}");
        }
    }
}
