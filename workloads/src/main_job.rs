//! The main job: what `kvbench compare` runs when it is given no workloads and no sizes, sized
//! to take about ten minutes on a two-core machine after the build, and to fill every section
//! of the report:
//!
//! ```text
//!  calibration (device fsync, bandwidth, cold reads; the harness floor)
//!  comparison  read-heavy, write-heavy, range-scan at one size, every engine, 3 repetitions
//!              interleaved (A B C A B C)
//!  size sweep  `scaling` (gets, updates and short scans, uniform keys) at 10^4, 10^5 and
//!              10^6 records, every engine, fewer operations: latency, throughput,
//!              amplification and engine memory against record count (and the load phase's
//!              write amplification, which is where an LSM tree's levels show)
//!  reclaim     bitcask and lsm: load, overwrite every key a few times, settle, measure space;
//!              compact(), settle, measure again
//! ```
//!
//! [`Size::Quick`] is the same plan at a few thousand records, for tests of the whole path.
//! The space-reclaim measurement is here too ([`measure_reclaim`]): the runner's phases never
//! call `compact()`, and the claim that compaction reclaims space needs exactly that.

use std::path::Path;
use std::time::{Duration, Instant};

use engines::{Engine, EngineKind, Options};
use serde::{Deserialize, Serialize};

use crate::calibrate::CalibrateConfig;
use crate::files::disk_usage;
use crate::presets::preset;
use crate::runner::live_data;
use crate::spec::{KeyDistribution, OpMix, ScanLength, ScanLengthDistribution, WorkloadSpec};

/// Name of the size-sweep workload.
pub const SWEEP: &str = "scaling";
/// File of the space-reclaim measurements, beside the result files.
pub const RECLAIM_FILE: &str = "space-reclaim.json";
/// Engines whose space is measured before and after `compact()`.
pub const RECLAIM_ENGINES: [EngineKind; 2] = [EngineKind::Bitcask, EngineKind::Lsm];

/// How big the main job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The real thing (`kvbench compare`).
    Full,
    /// The same plan at a few thousand records: seconds, for tests.
    Quick,
}

/// Everything the main job runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub calibration: CalibrateConfig,
    /// The comparison workloads, run `repeat` times each on every engine, interleaved.
    pub comparison: Vec<WorkloadSpec>,
    pub repeat: u32,
    /// The size sweep: one spec per size, ascending, each run once on every engine.
    pub sweep: Vec<WorkloadSpec>,
    pub reclaim: ReclaimPlan,
}

/// Records, operations and time cap (seconds) of each comparison workload, and the sweep's
/// (records, operations, cap) per size, for a size of the plan.
struct Sizes {
    records: u64,
    ops: u64,
    /// Range scans cost far more than point operations (and a hash index pays for every key
    /// on each): the range-scan workload runs fewer.
    scan_ops: u64,
    cap_secs: f64,
    sweep: [(u64, u64, f64); 3],
    reclaim_records: u64,
}

fn sizes(size: Size) -> Sizes {
    match size {
        Size::Full => Sizes {
            records: 50_000,
            ops: 200_000,
            scan_ops: 20_000,
            cap_secs: 10.0,
            sweep: [
                (10_000, 20_000, 20.0),
                (100_000, 20_000, 20.0),
                (1_000_000, 20_000, 20.0),
            ],
            reclaim_records: 50_000,
        },
        Size::Quick => Sizes {
            records: 2_000,
            ops: 2_000,
            scan_ops: 500,
            cap_secs: 20.0,
            sweep: [(500, 500, 20.0), (2_000, 500, 20.0), (8_000, 500, 20.0)],
            reclaim_records: 2_000,
        },
    }
}

/// The main job's plan.
pub fn plan(size: Size) -> Result<Plan, String> {
    let s = sizes(size);
    let mut comparison = Vec::new();
    for name in ["read-heavy", "write-heavy", "range-scan"] {
        let mut spec = preset(name)?;
        spec.record_count = s.records;
        spec.operation_count = if name == "range-scan" {
            s.scan_ops
        } else {
            s.ops
        };
        spec.duration_secs = s.cap_secs;
        spec.warmup_ops = 0;
        spec.validate().map_err(|e| format!("{name}: {e}"))?;
        comparison.push(spec);
    }
    let sweep = s
        .sweep
        .iter()
        .map(|&(records, ops, cap)| sweep_spec(records, ops, cap))
        .collect::<Result<Vec<_>, _>>()?;
    let calibration = match size {
        Size::Full => CalibrateConfig {
            file_mib: 64,
            fsyncs: 100,
            read_time: Duration::from_secs(1),
            harness_ops: 300_000,
        },
        Size::Quick => CalibrateConfig {
            file_mib: 2,
            fsyncs: 5,
            read_time: Duration::from_millis(100),
            harness_ops: 5_000,
        },
    };
    Ok(Plan {
        calibration,
        comparison,
        repeat: 3,
        sweep,
        reclaim: ReclaimPlan {
            records: s.reclaim_records,
            overwrite_passes: 3,
            value_bytes: 100,
        },
    })
}

/// The sweep's workload at one size: 85% gets, 10% updates and 5% scans of 1 to 100 keys,
/// over uniformly chosen keys (so a get's cost is the structure's, not a hot key's).
pub fn sweep_spec(records: u64, ops: u64, cap_secs: f64) -> Result<WorkloadSpec, String> {
    let base = preset("read-heavy")?;
    let spec = WorkloadSpec {
        name: SWEEP.into(),
        description: "size sweep: 85% gets, 10% updates, 5% scans of 1 to 100 keys, uniform keys"
            .into(),
        record_count: records,
        operation_count: ops,
        duration_secs: cap_secs,
        warmup_ops: 0,
        mix: OpMix {
            read: 0.85,
            update: 0.10,
            scan: 0.05,
            ..OpMix::default()
        },
        distribution: KeyDistribution::Uniform,
        scan_length: ScanLength {
            min: 1,
            max: 100,
            distribution: ScanLengthDistribution::Uniform,
        },
        ..base
    };
    spec.validate().map_err(|e| format!("{SWEEP}: {e}"))?;
    Ok(spec)
}

/// The space-reclaim measurement's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReclaimPlan {
    /// Keys loaded, then overwritten.
    pub records: u64,
    /// Times every key is overwritten after the load.
    pub overwrite_passes: u32,
    pub value_bytes: usize,
}

/// Space on disk at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Space {
    /// Blocks allocated to the store's files (`st_blocks` x 512).
    pub allocated_bytes: u64,
    /// Their apparent size (`st_size`).
    pub apparent_bytes: u64,
    pub files: u64,
    /// `allocated_bytes / live_bytes`.
    pub space_amp: Option<f64>,
}

/// Space before and after `compact()` on a store full of overwritten keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpaceReclaim {
    pub engine: String,
    pub family: String,
    pub options: Options,
    pub plan: ReclaimPlan,
    /// Key + value bytes and keys of the live data (by a full scan, before compacting).
    pub live_bytes: u64,
    pub live_keys: u64,
    /// After the overwrites and `settle()` (due background work finished).
    pub before: Space,
    /// After `compact()` and `settle()`.
    pub after: Space,
    /// Time `compact()` took, seconds.
    pub compact_secs: f64,
}

/// The options the reclaim measurement opens an engine with, so that the space before
/// `compact()` is what the overwrites left rather than what background work already
/// reclaimed (with its defaults, lsm's leveled compaction keeps level 0 to four tables and
/// the space amplification of this store near 1.2 throughout):
/// * bitcask: small (4 MiB) segments, so the overwritten data lies in sealed segments that a
///   merge may rewrite (a merge never touches the active segment), and no background merge;
/// * lsm: 1 MiB memtables, and level-0 compaction held back until 64 tables (writes slow
///   down at 96 and stop at 128), so every flushed memtable stays in level 0 with the
///   versions it overwrote.
pub fn reclaim_options(kind: EngineKind, base: &Options) -> Options {
    let mut o = base.clone();
    match kind {
        EngineKind::Bitcask => {
            o.bitcask.max_segment_bytes = 4 << 20;
            o.bitcask.background_merge = false;
        }
        EngineKind::Lsm => {
            o.lsm.memtable_bytes = 1 << 20;
            o.lsm.level0_compaction_trigger = 64;
            o.lsm.level0_slowdown_trigger = 96;
            o.lsm.level0_stop_trigger = 128;
        }
        _ => {}
    }
    o
}

/// Loads `plan.records` keys into a fresh store of `kind` in `dir` opened with `options`
/// (the main job passes [`reclaim_options`]), overwrites each of them
/// `plan.overwrite_passes` times, settles, and measures the space; then runs `compact()`,
/// settles and measures again.
pub fn measure_reclaim(
    kind: EngineKind,
    options: &Options,
    dir: &Path,
    plan: ReclaimPlan,
) -> engines::Result<SpaceReclaim> {
    let db = engines::open(kind, dir, options)?;
    let measured = overwrite_and_compact(db.as_ref(), dir, plan);
    let closed = db.close();
    let (live_bytes, live_keys, before, after, compact_secs) = measured?;
    closed?;
    Ok(SpaceReclaim {
        engine: kind.name().into(),
        family: kind.family().to_string(),
        options: options.clone(),
        plan,
        live_bytes,
        live_keys,
        before,
        after,
        compact_secs,
    })
}

type Measured = (u64, u64, Space, Space, f64);

fn overwrite_and_compact(
    db: &dyn Engine,
    dir: &Path,
    plan: ReclaimPlan,
) -> engines::Result<Measured> {
    let mut key = Vec::with_capacity(24);
    let mut value = vec![0u8; plan.value_bytes];
    for pass in 0..=plan.overwrite_passes {
        for i in 0..plan.records {
            key.clear();
            key.extend_from_slice(format!("reclaim{:012}", scatter(i)).as_bytes());
            // Every pass writes a different value, so nothing could be deduplicated.
            for (j, b) in value.iter_mut().enumerate() {
                *b = (i as usize ^ j).wrapping_add(pass as usize) as u8;
            }
            db.put(&key, &value)?;
        }
    }
    db.settle()?;
    let (live_bytes, live_keys) = live_data(db)?;
    let before = space(dir, live_bytes);
    let t = Instant::now();
    db.compact()?;
    let compact_secs = t.elapsed().as_secs_f64();
    db.settle()?;
    let after = space(dir, live_bytes);
    Ok((live_bytes, live_keys, before, after, compact_secs))
}

/// Spreads record numbers over the key space (an odd multiplier is a bijection mod 2^64), so
/// puts land in random order, as a real overwrite workload's do.
fn scatter(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1_000_000_000_000
}

fn space(dir: &Path, live_bytes: u64) -> Space {
    let u = disk_usage(dir);
    Space {
        allocated_bytes: u.allocated,
        apparent_bytes: u.apparent,
        files: u.files,
        space_amp: (live_bytes > 0).then(|| u.allocated as f64 / live_bytes as f64),
    }
}

/// Reads the space-reclaim measurements stored in a results directory (none when the file
/// is missing; an unreadable file is an error naming it).
pub fn read_reclaims(dir: &Path) -> Result<Vec<SpaceReclaim>, String> {
    let path = dir.join(RECLAIM_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the space-reclaim measurements into a results directory.
pub fn write_reclaims(dir: &Path, reclaims: &[SpaceReclaim]) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(reclaims).map_err(std::io::Error::other)?;
    let path = dir.join(RECLAIM_FILE);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_valid_and_sweep_sizes_ascend() {
        for size in [Size::Full, Size::Quick] {
            let p = plan(size).unwrap();
            assert_eq!(p.comparison.len(), 3);
            assert_eq!(p.repeat, 3);
            let sizes: Vec<u64> = p.sweep.iter().map(|s| s.record_count).collect();
            assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
            assert!(sizes.last().unwrap() / sizes[0] >= 10, "{sizes:?}");
            for s in p.comparison.iter().chain(&p.sweep) {
                assert!(s.operation_count > 0, "count-bounded: the same work");
                assert!(s.duration_secs > 0.0, "with a time cap");
            }
        }
    }

    #[test]
    fn compaction_reclaims_what_overwrites_left() {
        let plan = ReclaimPlan {
            records: 3_000,
            overwrite_passes: 3,
            value_bytes: 100,
        };
        for kind in RECLAIM_ENGINES {
            let d = tempfile::tempdir().unwrap();
            // Smaller segments and memtables than the main job's, so a few thousand keys
            // span several files.
            let mut o = reclaim_options(kind, &Options::default());
            o.bitcask.max_segment_bytes = 64 << 10;
            o.lsm.memtable_bytes = 64 << 10;
            let r = measure_reclaim(kind, &o, d.path(), plan).unwrap();
            assert_eq!(r.live_keys, plan.records, "{kind:?}");
            assert_eq!(r.live_bytes, plan.records * (19 + 100), "{kind:?}");
            let (b, a) = (r.before.space_amp.unwrap(), r.after.space_amp.unwrap());
            // Four versions of every key were written: most of the old ones are still on disk
            // before compact(), and compact() drops them.
            assert!(
                b >= 2.0,
                "{kind:?}: space amplification {b} before compact()"
            );
            assert!(
                a < 0.7 * b,
                "{kind:?}: space amplification {b} before, {a} after"
            );
        }
    }
}
