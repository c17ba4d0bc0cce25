//! A version: the immutable set of live tables per level. Readers hold an `Arc` of one
//! while a flush or compaction installs the next.
//!
//! Level 0 holds whole sorted runs that may overlap, newest first (flushes, and in the
//! tiered policy every run); levels 1.. hold non-overlapping tables in key order. For one
//! key, a table nearer the front of level 0 or in a smaller level holds a newer version,
//! so a read stops at the first table that has the key.

use std::sync::Arc;

use super::sstable::Table;
use super::stats::Stats;
use crate::Result;

#[derive(Clone, Default)]
pub struct Version {
    pub levels: Vec<Vec<Arc<Table>>>,
}

impl Version {
    pub fn new(levels: usize) -> Self {
        Version {
            levels: vec![Vec::new(); levels],
        }
    }

    /// The newest version of `key` in the tables, as `(seq, value or tombstone)`.
    pub fn get(
        &self,
        key: &[u8],
        hash: u64,
        stats: &Stats,
    ) -> Result<Option<(u64, Option<Vec<u8>>)>> {
        for t in &self.levels[0] {
            if t.meta.contains(key) {
                stats.tables_probed.inc();
                if let Some(found) = t.get(key, hash, stats)? {
                    return Ok(Some(found));
                }
            }
        }
        for level in &self.levels[1..] {
            let i = level.partition_point(|t| t.meta.largest.as_slice() < key);
            if let Some(t) = level.get(i).filter(|t| t.meta.contains(key)) {
                stats.tables_probed.inc();
                if let Some(found) = t.get(key, hash, stats)? {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }

    /// Tables of `level` whose key range meets `[lo, hi]`.
    pub fn overlapping(&self, level: usize, lo: &[u8], hi: &[u8]) -> Vec<Arc<Table>> {
        self.levels[level]
            .iter()
            .filter(|t| t.meta.overlaps(lo, hi))
            .cloned()
            .collect()
    }

    pub fn level_bytes(&self, level: usize) -> u64 {
        self.levels[level].iter().map(|t| t.meta.size).sum()
    }

    pub fn tables(&self) -> impl Iterator<Item = (usize, &Arc<Table>)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(l, ts)| ts.iter().map(move |t| (l, t)))
    }

    /// The version without the tables whose ids are in `ids`.
    pub fn without(&self, ids: &[u64]) -> Version {
        Version {
            levels: self
                .levels
                .iter()
                .map(|ts| {
                    ts.iter()
                        .filter(|t| !ids.contains(&t.meta.id))
                        .cloned()
                        .collect()
                })
                .collect(),
        }
    }
}

/// Smallest and largest key over `tables`.
pub fn key_range(tables: &[Arc<Table>]) -> Option<(Vec<u8>, Vec<u8>)> {
    let lo = tables.iter().map(|t| &t.meta.smallest).min()?;
    let hi = tables.iter().map(|t| &t.meta.largest).max()?;
    Some((lo.clone(), hi.clone()))
}
