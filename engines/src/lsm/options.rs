//! Typed settings of the lsm engine, with LevelDB-like defaults.

use serde::{Deserialize, Serialize};

use crate::options::{check_range, GIB, PIB, TIB};
use crate::Result;

/// How tables are merged in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompactionPolicy {
    /// LevelDB: level 0 takes flushed tables; level L+1 is `level_multiplier` times level L;
    /// a compaction merges one table with the overlapping tables one level down.
    #[default]
    Leveled,
    /// Size-tiered: adjacent sorted runs of similar size are merged once enough gather.
    Tiered,
}

impl CompactionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            CompactionPolicy::Leveled => "leveled",
            CompactionPolicy::Tiered => "tiered",
        }
    }
}

/// Settings of the lsm engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LsmOptions {
    pub compaction: CompactionPolicy,
    /// A memtable becomes immutable (and a new WAL starts) at this many bytes.
    pub memtable_bytes: u64,
    /// Immutable memtables waiting for flush before writes stall.
    pub max_immutable_memtables: usize,
    /// Target size of an SSTable data block.
    pub block_bytes: usize,
    /// Bloom filter bits per key (0: no filter).
    pub bloom_bits_per_key: usize,
    /// Capacity of the LRU block cache.
    pub block_cache_bytes: u64,
    /// Target size of one SSTable written by a leveled compaction.
    pub table_bytes: u64,
    /// Level-0 tables that start a level-0 compaction (leveled).
    pub level0_compaction_trigger: usize,
    /// Level-0 tables at which each write is delayed by 1 ms (leveled).
    pub level0_slowdown_trigger: usize,
    /// Level-0 tables at which writes wait for compaction (leveled).
    pub level0_stop_trigger: usize,
    /// Target size of level 1 (leveled).
    pub level1_bytes: u64,
    /// Each level below 1 is this many times larger than the one above (leveled).
    pub level_multiplier: u64,
    /// Number of levels, level 0 included (leveled).
    pub max_levels: usize,
    /// Fewest similar-sized runs merged at once (tiered).
    pub tiered_min_merge: usize,
    /// Most runs merged at once (tiered).
    pub tiered_max_merge: usize,
    /// Runs are "similar" when their sizes are within this factor of the group's mean (tiered).
    pub tiered_size_ratio: f64,
    /// Sorted runs at which writes slow down and the cheapest adjacent runs merge whatever
    /// their sizes (tiered; plain size-tiering keeps about (min_merge - 1) runs per tier).
    pub tiered_slowdown_runs: usize,
    /// Sorted runs at which writes wait for compaction (tiered).
    pub tiered_stop_runs: usize,
}

impl Default for LsmOptions {
    fn default() -> Self {
        LsmOptions {
            compaction: CompactionPolicy::Leveled,
            memtable_bytes: 4 << 20,
            max_immutable_memtables: 2,
            block_bytes: 4096,
            bloom_bits_per_key: 10,
            block_cache_bytes: 8 << 20,
            table_bytes: 2 << 20,
            level0_compaction_trigger: 4,
            level0_slowdown_trigger: 8,
            level0_stop_trigger: 12,
            level1_bytes: 10 << 20,
            level_multiplier: 10,
            max_levels: 7,
            tiered_min_merge: 4,
            tiered_max_merge: 32,
            tiered_size_ratio: 2.0,
            tiered_slowdown_runs: 20,
            tiered_stop_runs: 30,
        }
    }
}

impl LsmOptions {
    /// Rejects settings the engine cannot run with: every setting has a range, and one
    /// outside it is a one-line error naming it.
    pub fn validate(&self) -> Result<()> {
        let n = |name: &str| format!("lsm.{name}");
        check_range(
            &n("memtable_bytes"),
            self.memtable_bytes,
            1024,
            64 * GIB,
            "bytes",
        )?;
        check_range(
            &n("max_immutable_memtables"),
            self.max_immutable_memtables,
            1,
            64,
            "",
        )?;
        check_range(&n("block_bytes"), self.block_bytes, 256, 1 << 24, "bytes")?;
        check_range(&n("bloom_bits_per_key"), self.bloom_bits_per_key, 0, 64, "")?;
        check_range(
            &n("block_cache_bytes"),
            self.block_cache_bytes,
            0,
            TIB,
            "bytes",
        )?;
        check_range(&n("table_bytes"), self.table_bytes, 1024, 64 * GIB, "bytes")?;
        check_range(&n("level1_bytes"), self.level1_bytes, 1024, PIB, "bytes")?;
        check_range(
            &n("level0_compaction_trigger"),
            self.level0_compaction_trigger,
            1,
            1000,
            "tables",
        )?;
        check_range(
            &n("level0_slowdown_trigger"),
            self.level0_slowdown_trigger,
            self.level0_compaction_trigger,
            1000,
            "tables (at least level0_compaction_trigger)",
        )?;
        check_range(
            &n("level0_stop_trigger"),
            self.level0_stop_trigger,
            self.level0_slowdown_trigger,
            1000,
            "tables (at least level0_slowdown_trigger)",
        )?;
        check_range(&n("level_multiplier"), self.level_multiplier, 2, 1000, "")?;
        check_range(&n("max_levels"), self.max_levels, 2, 20, "")?;
        check_range(
            &n("tiered_min_merge"),
            self.tiered_min_merge,
            2,
            1000,
            "runs",
        )?;
        check_range(
            &n("tiered_max_merge"),
            self.tiered_max_merge,
            self.tiered_min_merge,
            1000,
            "runs (at least tiered_min_merge)",
        )?;
        check_range(
            &n("tiered_slowdown_runs"),
            self.tiered_slowdown_runs,
            self.tiered_min_merge + 1,
            10_000,
            "runs (above tiered_min_merge)",
        )?;
        check_range(
            &n("tiered_stop_runs"),
            self.tiered_stop_runs,
            self.tiered_slowdown_runs,
            10_000,
            "runs (at least tiered_slowdown_runs)",
        )?;
        check_range(
            &n("tiered_size_ratio"),
            self.tiered_size_ratio,
            1.0,
            1000.0,
            "",
        )
    }

    /// Level-0 tables (leveled) or sorted runs (tiered) at which writes slow down, and stop.
    pub fn write_triggers(&self) -> (usize, usize) {
        match self.compaction {
            CompactionPolicy::Leveled => (self.level0_slowdown_trigger, self.level0_stop_trigger),
            CompactionPolicy::Tiered => (self.tiered_slowdown_runs, self.tiered_stop_runs),
        }
    }

    /// Bytes of writes the memtables may hold before they must be flushed: the memtable and
    /// the immutable ones waiting for flush.
    pub fn write_buffer_bytes(&self) -> u64 {
        self.memtable_bytes
            .saturating_mul(1 + self.max_immutable_memtables as u64)
    }

    /// Target bytes of `level` (>= 1) under the leveled policy.
    pub fn level_target(&self, level: usize) -> u64 {
        let mut t = self.level1_bytes;
        for _ in 1..level {
            t = t.saturating_mul(self.level_multiplier);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn defaults_validate_and_bad_values_are_refused() {
        let o = LsmOptions::default();
        o.validate().unwrap();
        assert_eq!(o.level_target(1), 10 << 20);
        assert_eq!(o.level_target(3), 1000 << 20);
        let mut bad = o.clone();
        bad.level0_stop_trigger = 1;
        assert!(matches!(bad.validate(), Err(Error::InvalidInput(_))));
        let mut huge = o.clone();
        huge.memtable_bytes = u64::MAX;
        let e = huge.validate().unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid input: lsm.memtable_bytes = 18446744073709551615: must be 1024 to 68719476736 bytes"
        );
        let mut nan = o;
        nan.tiered_size_ratio = f64::NAN;
        assert!(nan
            .validate()
            .unwrap_err()
            .to_string()
            .contains("tiered_size_ratio"));
    }
}
