//! What one operation does to the engine, and the batches of operations a worker generates
//! ahead of the clock.
//!
//! Writes of plain values put a slice of the value pool. Writes of YCSB's records put the
//! record serialised as YCSB's key-value bindings do; an update of one field
//! (`writeallfields=false`) is what such a binding makes of it: read the record, change the
//! field, write the record back (an update of a missing record writes nothing, and counts as a
//! miss). A read-modify-write reads, then writes (nothing when the read missed, as YCSB
//! updates only after a successful read); its read and its write are timed apart so that they
//! can be recorded as a read and an update too, as YCSB's DB wrapper records them.

use engines::{Engine, Error};
use hdrhistogram::Histogram;

use super::clock::Clock;
use super::latency::{new_histogram, record};
use super::worker::Source;
use crate::generator::ops::Digest;
use crate::generator::{KeyBuilder, Op, Pick, ValuePool};
use crate::spec::OpKind;

/// Operations generated ahead, with their keys laid end to end (an operation whose record is
/// resolved when it is issued has an empty key here).
#[derive(Default)]
pub(crate) struct Batch {
    pub ops: Vec<Op>,
    keys: Vec<u8>,
    /// End of each operation's key in `keys`.
    ends: Vec<u32>,
}

impl Batch {
    /// Bytes a batch of `n` operations takes at most, for keys of at most `key_max` bytes.
    pub fn bytes(n: u64, key_max: usize) -> u64 {
        n.saturating_mul((std::mem::size_of::<Op>() + 4 + key_max) as u64)
    }

    /// Replaces the batch with up to `n` operations from `src`; returns how many it holds.
    pub fn fill(&mut self, src: &mut Source, keys: &KeyBuilder, n: u64) -> usize {
        self.ops.clear();
        self.keys.clear();
        self.ends.clear();
        for _ in 0..n {
            let Some(op) = src.next_op() else { break };
            if op.pick == Pick::Record {
                keys.append(op.record, &mut self.keys);
            }
            self.ends.push(self.keys.len() as u32);
            self.ops.push(op);
        }
        self.ops.len()
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Bytes the batch's buffers hold.
    pub fn capacity_bytes(&self) -> u64 {
        (self.ops.capacity() * std::mem::size_of::<Op>()
            + self.keys.capacity()
            + 4 * self.ends.capacity()) as u64
    }

    #[inline]
    pub fn get(&self, i: usize) -> (&Op, &[u8]) {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        (&self.ops[i], &self.keys[start..self.ends[i] as usize])
    }

    pub fn digest(&self, upto: usize, d: &mut Digest) {
        for op in &self.ops[..upto] {
            d.add_op(op);
        }
    }
}

/// Buffers an issuing worker reuses: the key of an operation resolved when issued, and the
/// record a write builds.
#[derive(Default)]
pub(crate) struct Scratch {
    pub key: Vec<u8>,
    pub record: Vec<u8>,
}

/// The key of the `i`-th operation of `batch`, resolving its record first when the batch
/// could not know it; returns the operation, its record and its key.
#[inline]
pub(crate) fn key_of<'a>(
    batch: &'a Batch,
    i: usize,
    src: &mut Source,
    keys: &KeyBuilder,
    scratch: &'a mut Vec<u8>,
) -> (Op, u64, &'a [u8]) {
    let (op, key) = batch.get(i);
    if op.pick == Pick::Record {
        return (*op, op.record, key);
    }
    let record = src.resolve(op);
    keys.build(record, scratch);
    (*op, record, scratch)
}

/// What one operation did, for the counters.
#[derive(Default)]
pub(crate) struct Done {
    pub found: Option<bool>,
    pub items: u64,
    pub written: u64,
    pub read: u64,
    pub reads: u64,
    /// A read-modify-write: the clock between its read and its write.
    pub mid: Option<u64>,
}

/// Issues `op` on `key`.
#[inline]
pub(crate) fn exec(
    db: &dyn Engine,
    values: &ValuePool,
    op: &Op,
    key: &[u8],
    buf: &mut Vec<u8>,
    clock: &Clock,
) -> engines::Result<Done> {
    let mut d = Done::default();
    match op.kind {
        OpKind::Read => {
            let v = db.get(key)?;
            d.reads = 1;
            d.found = Some(v.is_some());
            d.read = v.map_or(0, |v| (key.len() + v.len()) as u64);
        }
        OpKind::Insert => write_whole(db, values, op, key, buf, &mut d)?,
        OpKind::Update if values.changes_one_field() => {
            let old = db.get(key)?;
            d.reads = 1;
            d.found = Some(old.is_some());
            if let Some(old) = old {
                d.read = (key.len() + old.len()) as u64;
                change_field(db, values, op, key, &old, buf, &mut d)?;
            }
        }
        OpKind::Update => write_whole(db, values, op, key, buf, &mut d)?,
        OpKind::ReadModifyWrite => {
            let old = db.get(key)?;
            d.reads = 1;
            d.found = Some(old.is_some());
            d.mid = Some(clock.now());
            if let Some(old) = old {
                d.read = (key.len() + old.len()) as u64;
                if values.changes_one_field() {
                    change_field(db, values, op, key, &old, buf, &mut d)?;
                } else {
                    write_whole(db, values, op, key, buf, &mut d)?;
                }
            }
        }
        OpKind::Scan => {
            let items = db.scan(key, None, op.scan_len as usize)?;
            d.reads = 1;
            d.items = items.len() as u64;
            d.read = items.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
        }
        OpKind::Delete => {
            db.delete(key)?;
            d.written = key.len() as u64;
        }
    }
    Ok(d)
}

/// Puts the operation's whole value (or record, every field new).
#[inline]
fn write_whole(
    db: &dyn Engine,
    values: &ValuePool,
    op: &Op,
    key: &[u8],
    buf: &mut Vec<u8>,
    d: &mut Done,
) -> engines::Result<()> {
    let v: &[u8] = if values.has_fields() {
        values.record(op, buf);
        buf
    } else {
        values.value(op)
    };
    db.put(key, v)?;
    d.written = (key.len() + v.len()) as u64;
    Ok(())
}

/// Puts `old` with the operation's field changed.
fn change_field(
    db: &dyn Engine,
    values: &ValuePool,
    op: &Op,
    key: &[u8],
    old: &[u8],
    buf: &mut Vec<u8>,
    d: &mut Done,
) -> engines::Result<()> {
    values
        .change_field(old, op, buf)
        .map_err(Error::InvalidInput)?;
    db.put(key, buf)?;
    d.written = (key.len() + buf.len()) as u64;
    Ok(())
}

/// The read and the write of read-modify-writes, recorded apart as a read and an update (as
/// YCSB's DB wrapper records every call of its binding); the figures of all operations
/// together count each read-modify-write once.
pub(crate) struct Parts {
    /// [read, write]: from the intended start in open loop (both, as YCSB's intended time),
    /// from their own start in closed loop.
    pub latency: [Histogram<u64>; 2],
    /// [read, write] service times (open loop only).
    pub service: Option<[Histogram<u64>; 2]>,
    pub read_hits: u64,
    pub read_misses: u64,
}

impl Parts {
    pub fn new(open_loop: bool) -> Parts {
        Parts {
            latency: [new_histogram(), new_histogram()],
            service: open_loop.then(|| [new_histogram(), new_histogram()]),
            read_hits: 0,
            read_misses: 0,
        }
    }

    /// Records a read-modify-write that started at `t0` (intended at `intended`), read until
    /// `mid` and ended at `t1`; `wrote` when the read found the record.
    #[inline]
    pub fn record(&mut self, clock: &Clock, intended: Option<u64>, t: [u64; 3], found: bool) {
        let [t0, mid, t1] = t;
        let ns = |a: u64, b: u64| clock.ns(b.saturating_sub(a));
        match intended {
            Some(i) => {
                record(&mut self.latency[0], ns(i, mid));
                if found {
                    record(&mut self.latency[1], ns(i, t1));
                }
            }
            None => {
                record(&mut self.latency[0], ns(t0, mid));
                if found {
                    record(&mut self.latency[1], ns(mid, t1));
                }
            }
        }
        if let Some(s) = self.service.as_mut() {
            record(&mut s[0], ns(t0, mid));
            if found {
                record(&mut s[1], ns(mid, t1));
            }
        }
        if found {
            self.read_hits += 1;
        } else {
            self.read_misses += 1;
        }
    }
}

/// True for errors after which the engine cannot go on.
pub(crate) fn is_fatal(e: &Error) -> bool {
    matches!(e, Error::Poisoned(_) | Error::Closed)
}
