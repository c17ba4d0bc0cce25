//! Compaction: choosing what to merge (the `leveled` and `tiered` pickers) and the merge
//! itself, a k-way merge of sorted tables that keeps each key's newest version and drops a
//! tombstone once no older table outside the merge can hold its key.

pub mod leveled;
pub mod tiered;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::block_cache::BlockCache;
use super::bloom;
use super::iterator::{MergeIter, Source};
use super::options::{CompactionPolicy, LsmOptions};
use super::sstable::{Table, TableBuilder, TableIter, TableMeta};
use super::stats::Stats;
use super::version::Version;
use crate::io::{crash_point, Io};
use crate::Result;

/// What a compaction needs from the engine.
pub struct Env<'a> {
    pub io: &'a Io,
    pub dir: &'a Path,
    pub opts: &'a LsmOptions,
    pub cache: &'a Arc<BlockCache>,
    pub stats: &'a Stats,
    pub next_file: &'a AtomicU64,
    /// Set when the engine shuts down: a running merge stops and leaves nothing behind.
    pub cancel: &'a AtomicBool,
}

impl Env<'_> {
    pub fn new_table(&self) -> Result<TableBuilder> {
        let id = self.next_file.fetch_add(1, Ordering::SeqCst);
        TableBuilder::create(
            self.io,
            self.dir,
            id,
            self.opts.block_bytes,
            self.opts.bloom_bits_per_key,
        )
    }

    /// Makes freshly written tables durable in the directory and opens them.
    pub fn install_files(&self, metas: Vec<TableMeta>) -> Result<Vec<Arc<Table>>> {
        self.io.sync_dir(self.dir)?;
        metas
            .into_iter()
            .map(|m| {
                Ok(Arc::new(Table::open(
                    self.io,
                    self.dir,
                    m,
                    self.cache.clone(),
                )?))
            })
            .collect()
    }
}

/// One merge to run.
pub struct Task {
    pub inputs: Vec<Arc<Table>>,
    pub output_level: usize,
    /// Tables outside the inputs that may hold older versions of the inputs' keys.
    pub older: Vec<Arc<Table>>,
    /// Cut the output into tables of `table_bytes` (leveled) or write one run (tiered).
    pub split: bool,
    /// The single input moves down a level unchanged (no overlap below, nothing to merge).
    pub trivial_move: bool,
}

impl Task {
    /// A tombstone for `key` may go: no older table can hold the key.
    fn can_drop_tombstone(&self, key: &[u8]) -> bool {
        let h = bloom::key_hash(key);
        !self
            .older
            .iter()
            .any(|t| t.meta.contains(key) && t.may_contain(h))
    }
}

/// The policy's next compaction, if any is due.
pub fn pick(v: &Version, o: &LsmOptions, pointers: &mut [Vec<u8>]) -> Option<Task> {
    match o.compaction {
        CompactionPolicy::Leveled => leveled::pick(v, o, pointers),
        CompactionPolicy::Tiered => tiered::pick(v, o),
    }
}

/// A merge of every table into one sorted run (the engine's `compact()`), or `None` when
/// there is nothing to gain.
pub fn full(v: &Version, o: &LsmOptions) -> Option<Task> {
    let inputs: Vec<Arc<Table>> = v.tables().map(|(_, t)| t.clone()).collect();
    let (output_level, split) = match o.compaction {
        CompactionPolicy::Leveled => {
            let deepest = (1..v.levels.len()).rev().find(|&l| !v.levels[l].is_empty());
            (deepest.unwrap_or(1), true)
        }
        CompactionPolicy::Tiered => (0, false),
    };
    let single_clean = inputs.len() == 1 && inputs[0].meta.tombstones == 0;
    if inputs.is_empty() || (single_clean && !v.levels[output_level].is_empty()) {
        return None;
    }
    Some(Task {
        inputs,
        output_level,
        older: Vec::new(),
        split,
        trivial_move: single_clean,
    })
}

/// Runs the merge and writes the output tables (fsynced, directory fsynced, opened).
/// `None`: the engine is shutting down; the merge stopped and removed its partial output.
pub fn run(task: &Task, env: &Env<'_>) -> Result<Option<Vec<Arc<Table>>>> {
    if task.trivial_move {
        return Ok(Some(task.inputs.clone()));
    }
    crash_point("lsm.compaction.start");
    let sources: Vec<Box<dyn Source>> = task
        .inputs
        .iter()
        .map(|t| Box::new(TableIter::new(t.clone(), &[], false)) as Box<dyn Source>)
        .collect();
    env.stats
        .compaction_bytes_read
        .add(task.inputs.iter().map(|t| t.meta.size).sum());
    let mut merge = MergeIter::new(sources);
    let mut metas = Vec::new();
    let mut out: Option<TableBuilder> = None;
    let mut n = 0u64;
    while let Some(e) = merge.next_entry()? {
        n += 1;
        if n % 1024 == 0 && env.cancel.load(Ordering::Relaxed) {
            let ids = metas
                .iter()
                .map(|m: &TableMeta| m.id)
                .chain(out.map(|b| b.id()));
            for id in ids.collect::<Vec<_>>() {
                env.io.remove(&super::sstable::table_path(env.dir, id))?;
            }
            return Ok(None);
        }
        if e.value.is_none() && task.can_drop_tombstone(&e.key) {
            env.stats.tombstones_dropped.inc();
            continue;
        }
        if out.is_none() {
            out = Some(env.new_table()?);
        }
        let b = out.as_mut().unwrap();
        b.add(&e.key, e.seq, e.value.as_deref())?;
        if task.split && b.size() >= env.opts.table_bytes {
            metas.push(out.take().unwrap().finish()?);
        }
    }
    if let Some(b) = out {
        metas.push(b.finish()?);
    }
    env.stats
        .compaction_bytes_written
        .add(metas.iter().map(|m| m.size).sum());
    crash_point("lsm.compaction.outputs_written");
    env.install_files(metas).map(Some)
}

/// The version after `task` replaced its inputs with `outputs`.
pub fn apply(v: &Version, task: &Task, outputs: &[Arc<Table>]) -> Version {
    let ids: Vec<u64> = task.inputs.iter().map(|t| t.meta.id).collect();
    let pos = v.levels[0]
        .iter()
        .position(|t| ids.contains(&t.meta.id))
        .unwrap_or(0);
    let mut nv = v.without(&ids);
    let level = &mut nv.levels[task.output_level];
    if task.output_level == 0 {
        let at = pos.min(level.len());
        level.splice(at..at, outputs.iter().cloned());
    } else {
        level.extend(outputs.iter().cloned());
        level.sort_by(|a, b| a.meta.smallest.cmp(&b.meta.smallest));
    }
    nv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsm::iterator::Entry;

    fn table(env: &Env<'_>, rows: &[(&str, u64, Option<&str>)]) -> Arc<Table> {
        let mut b = env.new_table().unwrap();
        for (k, s, v) in rows {
            b.add(k.as_bytes(), *s, v.map(str::as_bytes)).unwrap();
        }
        let meta = b.finish().unwrap();
        env.install_files(vec![meta]).unwrap().pop().unwrap()
    }

    fn contents(t: &Arc<Table>) -> Vec<Entry> {
        let mut it = TableIter::new(t.clone(), &[], false);
        let mut out = Vec::new();
        while let Some(e) = it.next_entry().unwrap() {
            out.push(e);
        }
        out
    }

    #[test]
    fn merge_keeps_newest_and_drops_tombstones_only_when_nothing_older_holds_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let (io, opts, stats) = (Io::new(), LsmOptions::default(), Stats::default());
        let cache = Arc::new(BlockCache::new(1 << 20));
        let next = AtomicU64::new(1);
        let cancel = AtomicBool::new(false);
        let env = Env {
            io: &io,
            dir: dir.path(),
            opts: &opts,
            cache: &cache,
            stats: &stats,
            next_file: &next,
            cancel: &cancel,
        };
        let oldest = table(&env, &[("a", 1, Some("a1")), ("x", 2, Some("x2"))]);
        let older = table(&env, &[("a", 3, Some("a3")), ("b", 4, Some("b4"))]);
        let newer = table(
            &env,
            &[("a", 5, None), ("b", 6, None), ("c", 7, Some("c7"))],
        );
        let task = |older_tables: Vec<Arc<Table>>| Task {
            inputs: vec![newer.clone(), older.clone()],
            output_level: 1,
            older: older_tables,
            split: true,
            trivial_move: false,
        };
        // `oldest` still holds "a": its tombstone must survive; "b" has no older copy.
        let out = run(&task(vec![oldest.clone()]), &env).unwrap().unwrap();
        let got: Vec<(String, u64, bool)> = out
            .iter()
            .flat_map(contents)
            .map(|e| (String::from_utf8(e.key).unwrap(), e.seq, e.value.is_some()))
            .collect();
        assert_eq!(got, vec![("a".into(), 5, false), ("c".into(), 7, true)]);
        assert_eq!(stats.tombstones_dropped.get(), 1);
        // At the bottom (nothing older), both tombstones go.
        let out = run(&task(Vec::new()), &env).unwrap().unwrap();
        let keys: Vec<Vec<u8>> = out.iter().flat_map(contents).map(|e| e.key).collect();
        assert_eq!(keys, vec![b"c".to_vec()]);
    }

    #[test]
    fn a_cancelled_merge_leaves_no_files() {
        let dir = tempfile::tempdir().unwrap();
        let (io, mut opts, stats) = (Io::new(), LsmOptions::default(), Stats::default());
        opts.table_bytes = 4096;
        let cache = Arc::new(BlockCache::new(1 << 20));
        let (next, cancel) = (AtomicU64::new(1), AtomicBool::new(false));
        let env = Env {
            io: &io,
            dir: dir.path(),
            opts: &opts,
            cache: &cache,
            stats: &stats,
            next_file: &next,
            cancel: &cancel,
        };
        let keys: Vec<String> = (0..3000).map(|i| format!("k{i:05}")).collect();
        let rows: Vec<(&str, u64, Option<&str>)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i as u64 + 1, Some("value")))
            .collect();
        let input = table(&env, &rows);
        let task = Task {
            inputs: vec![input],
            output_level: 1,
            older: Vec::new(),
            split: true,
            trivial_move: false,
        };
        cancel.store(true, Ordering::Relaxed);
        assert!(run(&task, &env).unwrap().is_none());
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 1, "only the input table is left");
        cancel.store(false, Ordering::Relaxed);
        let out = run(&task, &env).unwrap().unwrap();
        assert!(out.len() > 1, "split into tables of table_bytes");
    }
}
