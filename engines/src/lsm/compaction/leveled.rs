//! Leveled compaction (LevelDB). Level 0 takes flushed tables; level L >= 1 may hold
//! `level1_bytes * level_multiplier^(L-1)` bytes. Each level has a score: level 0 its table
//! count over `level0_compaction_trigger`, the others their size over their target. The
//! level with the highest score, if it is at least 1, is compacted: for level 0, all its
//! tables with the overlapping level-1 tables; for level L, one table (round robin through
//! the key space) with the overlapping tables of level L+1.

use std::sync::Arc;

use super::Task;
use crate::lsm::options::LsmOptions;
use crate::lsm::sstable::Table;
use crate::lsm::version::{key_range, Version};

fn older_than(v: &Version, level: usize, lo: &[u8], hi: &[u8]) -> Vec<Arc<Table>> {
    (level + 1..v.levels.len())
        .flat_map(|l| v.overlapping(l, lo, hi))
        .collect()
}

/// The score of each level but the last (which has nowhere to go).
pub fn scores(v: &Version, o: &LsmOptions) -> Vec<(usize, f64)> {
    let l0 = v.levels[0].len() as f64 / o.level0_compaction_trigger as f64;
    std::iter::once((0, l0))
        .chain(
            (1..v.levels.len() - 1)
                .map(|l| (l, v.level_bytes(l) as f64 / o.level_target(l) as f64)),
        )
        .collect()
}

pub fn pick(v: &Version, o: &LsmOptions, pointers: &mut [Vec<u8>]) -> Option<Task> {
    let (level, score) = scores(v, o)
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    if score < 1.0 {
        return None;
    }
    let l0 = &v.levels[0];
    if level == 0 {
        let (lo, hi) = key_range(l0)?;
        let mut inputs = l0.clone();
        let below = v.overlapping(1, &lo, &hi);
        // Take the whole key range of the level-1 tables too, so no level-2 key escapes.
        let (lo2, hi2) = key_range(&below).map_or((lo.clone(), hi.clone()), |(a, b)| {
            (a.min(lo.clone()), b.max(hi.clone()))
        });
        inputs.extend(below);
        return Some(Task {
            inputs,
            output_level: 1,
            older: older_than(v, 1, &lo2, &hi2),
            split: true,
            trivial_move: false,
        });
    }
    let tables = &v.levels[level];
    let t = tables
        .iter()
        .find(|t| t.meta.smallest > pointers[level])
        .or(tables.first())?
        .clone();
    pointers[level].clone_from(&t.meta.largest);
    let below = v.overlapping(level + 1, &t.meta.smallest, &t.meta.largest);
    let trivial_move = below.is_empty();
    let (lo, hi) = key_range(&below).map_or(
        (t.meta.smallest.clone(), t.meta.largest.clone()),
        |(a, b)| {
            (
                a.min(t.meta.smallest.clone()),
                b.max(t.meta.largest.clone()),
            )
        },
    );
    let mut inputs = vec![t];
    inputs.extend(below);
    Some(Task {
        inputs,
        output_level: level + 1,
        older: older_than(v, level + 1, &lo, &hi),
        split: true,
        trivial_move,
    })
}
