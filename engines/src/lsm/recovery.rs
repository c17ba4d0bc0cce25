//! Opening a store: read the manifest, open its tables, replay the live WALs into a
//! memtable, and only when all of that checked out, repair (cut the newest WAL's torn
//! tail) and clean up (files no version refers to).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use super::block_cache::BlockCache;
use super::db::{Inner, View, WriteState};
use super::manifest::{self, Manifest};
use super::memtable::Memtable;
use super::sstable::{table_path, Table};
use super::stats::Stats;
use super::version::Version;
use super::wal::{self, WalWriter};
use super::FORMAT_VERSION;
use crate::durability::Committer;
use crate::io::Io;
use crate::{log, store_dir, Error, Options, Result};

/// Highest level number a manifest may name.
const LEVEL_LIMIT: usize = 20;

#[derive(Default)]
struct Listing {
    wals: Vec<u64>,
    tables: Vec<u64>,
    max_number: u64,
}

fn list(dir: &Path) -> Result<Listing> {
    let mut l = Listing::default();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        let (stem, is_wal) = match (name.strip_suffix(".wal"), name.strip_suffix(".sst")) {
            (Some(s), _) => (s, true),
            (_, Some(s)) => (s, false),
            _ => continue,
        };
        let Ok(n) = stem.parse::<u64>() else { continue };
        l.max_number = l.max_number.max(n);
        if is_wal {
            l.wals.push(n);
        } else {
            l.tables.push(n);
        }
    }
    l.wals.sort_unstable();
    Ok(l)
}

pub(crate) fn open(dir: &Path, options: &Options) -> Result<Inner> {
    let opts = options.lsm.clone();
    opts.validate()?;
    let io = Io::new();
    let store = store_dir::claim(&io, dir, "lsm", FORMAT_VERSION)?;
    let cache = Arc::new(BlockCache::new(opts.block_cache_bytes));
    let listing = list(dir)?;
    let stats = Stats::default();

    let m = match Manifest::read(&io, dir, LEVEL_LIMIT)? {
        Some(m) => m,
        None if listing.wals.is_empty() && listing.tables.is_empty() => {
            let m = Manifest {
                next_file: 1,
                ..Manifest::default()
            };
            stats.manifest_bytes_written.add(m.write(&io, dir)?);
            m
        }
        None => {
            return Err(Error::corruption(
                dir.join(manifest::NAME),
                0,
                "the manifest is missing but the store holds tables or logs",
            ))
        }
    };

    let levels = m
        .tables
        .iter()
        .map(|(l, _)| l + 1)
        .max()
        .unwrap_or(0)
        .max(opts.max_levels);
    let mut version = Version::new(levels);
    let mut max_seq = m.last_seq;
    let mut live_ids = Vec::with_capacity(m.tables.len());
    for (level, meta) in &m.tables {
        let t = Table::open(&io, dir, meta.clone(), cache.clone())?;
        max_seq = max_seq.max(t.meta.max_seq);
        live_ids.push(t.meta.id);
        version.levels[*level].push(Arc::new(t));
    }
    for level in &mut version.levels[1..] {
        level.sort_by(|a, b| a.meta.smallest.cmp(&b.meta.smallest));
        if level
            .windows(2)
            .any(|w| w[0].meta.largest >= w[1].meta.smallest)
        {
            return Err(Error::corruption(
                dir.join(manifest::NAME),
                0,
                "tables of one level overlap",
            ));
        }
    }

    let mut mem = Memtable::new(0);
    let wals: Vec<u64> = listing
        .wals
        .iter()
        .copied()
        .filter(|&n| n >= m.wal_min)
        .collect();
    let mut newest = None;
    for (i, &n) in wals.iter().enumerate() {
        let last = i + 1 == wals.len();
        let (file, r) = wal::replay(&io, &wal::wal_path(dir, n), last, |seq, k, v| {
            mem.insert(k, seq, v)
        })?;
        max_seq = max_seq.max(r.max_seq);
        if last {
            newest = Some((file, n, r));
        }
    }

    // Everything checked out: repair and clean up.
    let mut next_file = m.next_file.max(listing.max_number + 1);
    let mut dir_changed = false;
    let wal = match newest {
        Some((file, n, r)) => {
            log::truncate_tail(&file, r.tail)?;
            file.sync()?;
            if r.sealed {
                None
            } else {
                Some(WalWriter::resume(file, n, r.tail.valid_len))
            }
        }
        None => None,
    };
    let wal = match wal {
        Some(w) => w,
        None => {
            let w = WalWriter::create(&io, dir, next_file)?;
            next_file += 1;
            dir_changed = true;
            w
        }
    };
    mem.wal = wal.number;
    for &n in listing.wals.iter().filter(|&&n| n < m.wal_min) {
        io.remove(&wal::wal_path(dir, n))?;
        dir_changed = true;
    }
    for &id in listing.tables.iter().filter(|id| !live_ids.contains(id)) {
        io.remove(&table_path(dir, id))?;
        dir_changed = true;
    }
    let tmp = dir.join(format!("{}.tmp", manifest::NAME));
    if tmp.exists() {
        io.remove(&tmp)?;
        dir_changed = true;
    }
    if dir_changed {
        io.sync_dir(dir)?;
    }

    let committer = Committer::new(options.durability, options.group_commit, max_seq);
    let mem = Arc::new(mem);
    let view = View {
        mem: mem.clone(),
        imms: Vec::new(),
        version: Arc::new(version),
    };
    let l0 = view.version.levels[0].len();
    let pointers = vec![Vec::new(); levels];
    Ok(Inner {
        dir: dir.to_path_buf(),
        wal_file: Mutex::new(wal.file.clone()),
        write: Mutex::new(WriteState {
            wal,
            mem,
            seq: max_seq,
        }),
        io,
        opts,
        committer,
        store: Mutex::new(Some(store)),
        closed: AtomicBool::new(false),
        shutdown: AtomicBool::new(false),
        view: RwLock::new(Arc::new(view)),
        wal_min: Mutex::new(m.wal_min),
        next_file: AtomicU64::new(next_file),
        last_seq: AtomicU64::new(max_seq),
        flush_lock: Mutex::new(()),
        compaction_lock: Mutex::new(()),
        pointers: Mutex::new(pointers),
        work: Mutex::new(0),
        work_cv: Condvar::new(),
        stall: Mutex::new(()),
        stall_cv: Condvar::new(),
        imm_count: AtomicUsize::new(0),
        l0_count: AtomicUsize::new(l0),
        cache,
        stats,
    })
}
