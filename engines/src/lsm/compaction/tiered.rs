//! Size-tiered compaction. Every flush adds a sorted run at the front of level 0 (runs are
//! kept newest first). Adjacent runs whose sizes lie within `tiered_size_ratio` of their
//! group's mean form a tier; a tier of at least `tiered_min_merge` runs is merged into one
//! run in its place. Only adjacent runs merge, so runs stay ordered by age and a read can
//! stop at the first run holding the key. When runs pile up to `tiered_slowdown_runs` anyway,
//! the cheapest `tiered_min_merge` adjacent runs merge regardless of size.

use std::sync::Arc;

use super::Task;
use crate::lsm::options::LsmOptions;
use crate::lsm::sstable::Table;
use crate::lsm::version::Version;

fn window(v: &Version, i: usize, j: usize) -> Task {
    let runs = &v.levels[0];
    let older: Vec<Arc<Table>> = runs[j..]
        .iter()
        .chain(v.levels[1..].iter().flatten())
        .cloned()
        .collect();
    Task {
        inputs: runs[i..j].to_vec(),
        output_level: 0,
        older,
        split: false,
        trivial_move: false,
    }
}

pub fn pick(v: &Version, o: &LsmOptions) -> Option<Task> {
    let runs = &v.levels[0];
    let n = runs.len();
    if n < o.tiered_min_merge {
        return None;
    }
    let size = |i: usize| runs[i].meta.size.max(1) as f64;
    for i in 0..n {
        let (mut j, mut sum) = (i + 1, size(i));
        while j < n && j - i < o.tiered_max_merge {
            let mean = sum / (j - i) as f64;
            let s = size(j);
            if s > mean * o.tiered_size_ratio || s * o.tiered_size_ratio < mean {
                break;
            }
            sum += s;
            j += 1;
        }
        if j - i >= o.tiered_min_merge {
            return Some(window(v, i, j));
        }
    }
    if n >= o.tiered_slowdown_runs {
        let k = o.tiered_min_merge;
        let cost = |i: usize| (i..i + k).map(size).sum::<f64>();
        let best = (0..=n - k).min_by(|&a, &b| cost(a).total_cmp(&cost(b)))?;
        return Some(window(v, best, best + k));
    }
    None
}
