//! Opening a store: read the manifest, open its tables, replay the live WALs into a
//! memtable, and only when all of that checked out, repair (cut the manifest's and the last
//! WAL's torn tails) and clean up (files no version refers to, WALs past the end of the log,
//! half-made temporary files).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use super::block_cache::BlockCache;
use super::db::{Inner, ManifestState, View, WriteState};
use super::manifest::{self, Manifest, ManifestLog};
use super::memtable::Memtable;
use super::rotation::Wals;
use super::sstable::{table_path, Table};
use super::stats::Stats;
use super::version::Version;
use super::wal::{self, WalWriter};
use super::FORMAT_VERSION;
use crate::durability::Committer;
use crate::gate::Gate;
use crate::io::Io;
use crate::log::{SyncedMark, LOG_START};
use crate::{log, store_dir, Error, Options, Result};

/// Highest level number a manifest may name.
const LEVEL_LIMIT: usize = 20;

#[derive(Default)]
struct Listing {
    wals: Vec<u64>,
    tables: Vec<u64>,
    max_number: u64,
    /// Files a crash left half made: `MANIFEST.tmp`, `NNNNNN.wal.tmp`.
    temporary: Vec<PathBuf>,
}

fn list(dir: &Path) -> Result<Listing> {
    let mut l = Listing::default();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".tmp") {
            let wal_number = stem
                .strip_suffix(".wal")
                .and_then(|s| s.parse::<u64>().ok());
            if stem == manifest::NAME || wal_number.is_some() {
                l.max_number = l.max_number.max(wal_number.unwrap_or(0));
                l.temporary.push(dir.join(&*name));
            }
            continue;
        }
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

    let recovered = manifest::read(&io, dir, LEVEL_LIMIT)?;
    let m = match &recovered {
        Some(r) => r.manifest.clone(),
        None if listing.wals.is_empty() && listing.tables.is_empty() => Manifest {
            next_file: 1,
            ..Manifest::default()
        },
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

    // Replay the live WALs in order. The log ends at the first WAL without its END record;
    // any later WAL holds only writes that were never synced (see the recovery rule in
    // mod.rs), so it is dropped.
    let mut mem = Memtable::new(0);
    let mut end = None;
    let mut sealed = Vec::new();
    let mut dropped = Vec::new();
    let mut spare = None;
    for &n in listing.wals.iter().filter(|&&n| n >= m.wal_min) {
        let path = wal::wal_path(dir, n);
        if end.is_some() {
            let file = io.open(&path)?;
            if log::read_synced_len(&file)? > LOG_START {
                return Err(Error::corruption(
                    &path,
                    0,
                    "this WAL holds synced writes, but an older WAL lacks its END record",
                ));
            }
            // One that never took a record is a spare prepared ahead: it is kept as such.
            if file.len()? == LOG_START && spare.is_none() {
                spare = Some((file, n));
            } else {
                dropped.push(path);
            }
            continue;
        }
        let (file, r) = wal::replay(&io, &path, |seq, k, v| mem.insert(k, seq, v))?;
        max_seq = max_seq.max(r.max_seq);
        if r.sealed {
            sealed.push(file);
        } else {
            end = Some((file, n, r.tail));
        }
    }

    // Everything checked out: repair and clean up.
    let mut next_file = m.next_file.max(listing.max_number + 1);
    let manifest_log = match recovered {
        Some(r) => {
            let (log, n) = r.resume()?;
            stats.manifest_bytes_written.add(n);
            log
        }
        None => {
            let (log, n) = ManifestLog::create(&io, dir, &m)?;
            stats.manifest_bytes_written.add(n);
            log
        }
    };
    // The replayed WALs may have come back from a crashed instance's page cache: make them
    // durable, oldest first, before a newer WAL records a synced length.
    for file in &sealed {
        file.sync()?;
    }
    let wal = match end {
        // The WAL that ends the log takes the appends, after its torn tail is cut.
        Some((file, n, tail)) => {
            log::truncate_tail(&file, tail)?;
            file.sync()?;
            let mark = SyncedMark::read(&file)?;
            mark.record(&file, tail.valid_len)?;
            WalWriter::resume(file, n, mark, tail.valid_len)
        }
        None => {
            let (w, n) = WalWriter::create(&io, dir, next_file)?;
            stats.wal_bytes_written.add(n);
            next_file += 1;
            w
        }
    };
    mem.wal = wal.number();
    let spare = match spare {
        Some((file, n)) => {
            let mark = SyncedMark::read(&file)?;
            Some(WalWriter::resume(file, n, mark, LOG_START))
        }
        None => None,
    };
    // A crash may have left directory entries this open relies on undurable (a manifest
    // renamed into place, the WAL that takes the appends, the spare): fsync the directory
    // before anything is removed by what they say, and before the first append.
    io.sync_dir(dir)?;
    let obsolete = listing.wals.iter().filter(|&&n| n < m.wal_min);
    let orphans = listing.tables.iter().filter(|id| !live_ids.contains(id));
    let leftovers: Vec<PathBuf> = obsolete
        .map(|&n| wal::wal_path(dir, n))
        .chain(dropped)
        .chain(orphans.map(|&id| table_path(dir, id)))
        .chain(listing.temporary)
        .collect();
    for path in &leftovers {
        io.remove(path)?;
    }
    if !leftovers.is_empty() {
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
        wals: Wals::new(wal.shared.clone(), spare),
        write: Mutex::new(WriteState {
            wal,
            mem,
            seq: max_seq,
        }),
        io,
        opts,
        committer,
        store: Mutex::new(Some(store)),
        gate: Gate::default(),
        shutdown: AtomicBool::new(false),
        view: RwLock::new(Arc::new(view)),
        manifest: Mutex::new(ManifestState {
            log: manifest_log,
            wal_min: m.wal_min,
        }),
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
