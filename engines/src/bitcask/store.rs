//! The shared state of an open bitcask and its hot paths: append (put/delete), get and scan.
//! Rollover and the fsyncs of the writer's files are in `rollover.rs`.

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::{Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::{
    Arc, Condvar, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
use std::thread::JoinHandle;

use super::keydir::{Entry, Keydir};
use super::options::BitcaskOptions;
use super::rollover::{Active, Sealed};
use super::segment::{self, file_name, FileType, Payload};
use crate::durability::Committer;
use crate::gate::{Gate, Pass};
use crate::io::{File, Io};
use crate::log::HEADER_LEN;
use crate::store_dir::StoreDir;
use crate::{Error, Result};

/// Write buffers larger than this are released after the write instead of kept for reuse.
const KEEP_BUF: usize = 4 << 20;

/// An open data file.
pub(super) struct Seg {
    pub file: Arc<File>,
    /// Length once sealed and durable; `None` for the active file and for a sealed one whose
    /// fsync has not finished (a merge takes only durable files).
    pub sealed_len: Option<u64>,
}

/// The append side, behind one mutex: the active file and the sequence counter.
pub(super) struct Writer {
    pub active: Arc<Active>,
    pub len: u64,
    /// Records in the active file and their highest sequence number (for its seal).
    pub records: u64,
    pub max_seq: u64,
    pub next_seq: u64,
    pub buf: Vec<u8>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

pub(super) struct Store {
    pub dir: PathBuf,
    pub io: Io,
    pub opts: BitcaskOptions,
    /// Held shared by every call that may write (put, delete, sync, compact, settle) for its
    /// whole length, and exclusively by `close`, which so waits for them (see `mod.rs`).
    /// Every call that may write passes it; `close` shuts it (see `crate::gate`).
    pub gate: Gate,
    pub closed: AtomicBool,
    /// Set when close or drop wants background work to stop (a running merge aborts).
    pub stopping: AtomicBool,
    /// Why the instance refuses writes until reopen (a failed fsync, an append that could
    /// not be undone). Set once; checked under the writer lock.
    pub poison: OnceLock<String>,
    pub claim: Mutex<Option<StoreDir>>,
    pub writer: Mutex<Writer>,
    pub keydir: RwLock<Keydir>,
    /// Every data file, by id; read handles are opened once and shared.
    pub segs: RwLock<HashMap<u32, Seg>>,
    /// The active file, for the group-commit fsync (which must not take the writer lock).
    pub active: RwLock<Arc<Active>>,
    /// Files rolled away from whose fsync has not finished, oldest first (short holds).
    pub sealing: Mutex<VecDeque<Sealed>>,
    /// Held while the files in `sealing` are made durable, so that happens in file order.
    pub sealing_sync: Mutex<()>,
    /// The next active file, created, fsynced and named durably ahead of the rollover.
    pub prepared: Mutex<Option<Arc<Active>>>,
    pub committer: Arc<Committer>,
    pub next_file_id: AtomicU32,
    /// Bytes of all data files.
    pub data_bytes: AtomicU64,
    /// One merge (or hint write) at a time.
    pub merge_lock: Mutex<()>,
    pub merges: AtomicU64,
    pub merge_bytes: AtomicU64,
    /// Sealed files that still lack a hint file.
    pub need_hints: Mutex<Vec<u32>>,
    /// Wakes the background worker; `true` means stop.
    pub wake: Mutex<bool>,
    pub wake_cv: Condvar,
    pub worker: Mutex<Option<JoinHandle<()>>>,
    /// A background merge failed; background merges stay off until reopen.
    pub merge_failed: AtomicBool,
}

/// What `Store::new` needs besides the options.
pub(super) struct Parts {
    pub dir: PathBuf,
    pub io: Io,
    pub claim: StoreDir,
    pub writer: Writer,
    pub keydir: Keydir,
    pub segs: HashMap<u32, Seg>,
    pub committer: Arc<Committer>,
    pub next_file_id: u32,
    pub data_bytes: u64,
    pub need_hints: Vec<u32>,
}

impl Store {
    pub fn new(opts: BitcaskOptions, p: Parts) -> Self {
        Store {
            dir: p.dir,
            io: p.io,
            opts,
            gate: Gate::new(),
            closed: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            poison: OnceLock::new(),
            claim: Mutex::new(Some(p.claim)),
            active: RwLock::new(p.writer.active.clone()),
            writer: Mutex::new(p.writer),
            keydir: RwLock::new(p.keydir),
            segs: RwLock::new(p.segs),
            sealing: Mutex::new(VecDeque::new()),
            sealing_sync: Mutex::new(()),
            prepared: Mutex::new(None),
            committer: p.committer,
            next_file_id: AtomicU32::new(p.next_file_id),
            data_bytes: AtomicU64::new(p.data_bytes),
            merge_lock: Mutex::new(()),
            merges: AtomicU64::new(0),
            merge_bytes: AtomicU64::new(0),
            need_hints: Mutex::new(p.need_hints),
            wake: Mutex::new(false),
            wake_cv: Condvar::new(),
            worker: Mutex::new(None),
            merge_failed: AtomicBool::new(false),
        }
    }

    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Relaxed) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Enters a call that may write: `Err(Closed)` once `close` has begun.
    pub fn enter(&self) -> Result<Pass<'_>> {
        let pass = self.gate.enter()?;
        self.check_open()?;
        Ok(pass)
    }

    /// `Err` when the instance is closed or poisoned. Writers call it under the writer lock,
    /// the lock that orders the writes, so no append can follow a failure it did not see.
    pub fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        match self.poison.get() {
            Some(why) => Err(Error::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// `Err` when the instance is closed or poisoned. A poisoned instance refuses reads too:
    /// a write whose fsync failed is in the keydir but was never acknowledged, and may not
    /// survive a crash, so it is served no more.
    pub fn check_readable(&self) -> Result<()> {
        self.check_writable()
    }

    /// Refuses every later write and read until reopen (the first reason is kept).
    pub fn poison(&self, why: String) {
        self.committer.poison(why.clone());
        let _ = self.poison.set(why);
    }

    pub fn path(&self, id: u32, ty: FileType) -> PathBuf {
        self.dir.join(file_name(id, ty))
    }

    /// Appends a put (`tombstone == false`) or a delete and commits it per the durability mode.
    pub fn append(&self, key: &[u8], value: &[u8], tombstone: bool) -> Result<()> {
        let frame_len = segment::record_frame_len(key.len(), value.len()) as u64;
        let seq = loop {
            let mut w = lock(&self.writer);
            self.check_writable()?;
            if w.records > 0
                && w.len + frame_len + segment::SEAL_FRAME_LEN > self.opts.max_segment_bytes
            {
                self.roll_over(w)?;
                continue;
            }
            break self.append_locked(&mut w, key, value, tombstone)?;
        };
        self.committer.commit(seq, &|| self.sync_active())
    }

    /// Writes `w.buf` at the tail of the active file. A write that fails may have left a part
    /// behind: it is cut off, so the next append lands on a clean tail; when it cannot be,
    /// the instance is poisoned.
    pub fn write_tail(&self, w: &Writer) -> Result<()> {
        let f = &w.active.file;
        if let Err(e) = f.write_all_at(&w.buf, w.len) {
            if let Err(cut) = f.set_len(w.len) {
                self.poison(format!(
                    "a failed append ({e}) could not be cut off the data file: {cut}"
                ));
            }
            return Err(e);
        }
        Ok(())
    }

    fn append_locked(&self, w: &mut Writer, key: &[u8], value: &[u8], tomb: bool) -> Result<u64> {
        let seq = w.next_seq;
        w.buf.clear();
        segment::encode_record(&mut w.buf, tomb, seq, key, value);
        let (offset, frame_len) = (w.len, w.buf.len() as u64);
        self.write_tail(w)?;
        if w.buf.capacity() > KEEP_BUF {
            w.buf = Vec::new();
        }
        w.next_seq += 1;
        w.len += frame_len;
        w.records += 1;
        w.max_seq = seq;
        w.active.written.store(w.len, Release);
        self.data_bytes.fetch_add(frame_len, Relaxed);
        {
            let mut kd = write(&self.keydir);
            if tomb {
                kd.remove(key);
            } else {
                let e = Entry {
                    seq,
                    offset,
                    file: w.active.id,
                    len: frame_len as u32,
                };
                kd.insert(key, e);
            }
        }
        self.committer.appended(seq, frame_len);
        Ok(seq)
    }

    pub fn wake_worker(&self) {
        self.wake_cv.notify_all();
    }

    /// Reads the record at `e` for `key` into a value; `None` when its file is gone (merged
    /// away since `e` was read from the keydir: look again).
    pub fn read_entry(&self, key: &[u8], e: Entry) -> Result<Option<Vec<u8>>> {
        let mut buf = Vec::new();
        let segs = read(&self.segs);
        let Some(seg) = segs.get(&e.file) else {
            return Ok(None);
        };
        segment::read_frame(&seg.file, e.offset, e.len, &mut buf)?;
        value_of(buf, key, e, seg.file.path()).map(Some)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_readable()?;
        for _ in 0..4 {
            let Some(e) = read(&self.keydir).get(key) else {
                return Ok(None);
            };
            if let Some(v) = self.read_entry(key, e)? {
                return Ok(Some(v));
            }
        }
        // Merges keep moving the key: read under the keydir lock so it cannot move.
        let kd = read(&self.keydir);
        let Some(e) = kd.get(key) else {
            return Ok(None);
        };
        match self.read_entry(key, e)? {
            Some(v) => Ok(Some(v)),
            // `close` let go of the files while this get was looking.
            None if self.closed.load(Relaxed) => Err(Error::Closed),
            None => Err(Error::corruption(
                self.path(e.file, FileType::Data),
                e.offset,
                "the keydir points at a data file that is not open",
            )),
        }
    }

    /// Visits every key, keeps those in `[start, end)`, picks the `limit` smallest (a bounded
    /// heap for small limits, a selection for large ones, then a sort of just those), then
    /// reads their values.
    pub fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.check_readable()?;
        if limit == 0 || end.is_some_and(|e| e <= start) {
            return Ok(Vec::new());
        }
        let in_range = |k: &[u8]| k >= start && end.is_none_or(|e| k < e);
        let hits: Vec<(Vec<u8>, Entry)> = {
            let kd = read(&self.keydir);
            let mut refs: Vec<ByKey<'_>> = if limit <= HEAP_SCAN_LIMIT {
                // Keep the `limit` smallest keys in a max-heap: one comparison with its top
                // for most keys, no allocation beyond `limit` entries.
                let mut heap = BinaryHeap::with_capacity(limit + 1);
                for (k, e) in kd.iter().filter(|(k, _)| in_range(k)) {
                    if heap.len() < limit {
                        heap.push(ByKey(k, *e));
                    } else if let Some(mut top) = heap.peek_mut() {
                        if k < top.0 {
                            *top = ByKey(k, *e);
                        }
                    }
                }
                heap.into_vec()
            } else {
                let mut refs: Vec<ByKey<'_>> = kd
                    .iter()
                    .filter(|(k, _)| in_range(k))
                    .map(|(k, e)| ByKey(k, *e))
                    .collect();
                if refs.len() > limit {
                    refs.select_nth_unstable(limit);
                    refs.truncate(limit);
                }
                refs
            };
            refs.sort_unstable();
            refs.into_iter().map(|r| (r.0.to_vec(), r.1)).collect()
        };
        let mut out = Vec::with_capacity(hits.len());
        for (k, e) in hits {
            let v = match self.read_entry(&k, e)? {
                Some(v) => Some(v),
                None => self.get(&k)?,
            };
            if let Some(v) = v {
                out.push((k, v));
            }
        }
        Ok(out)
    }

    /// Dead bytes in the immutable files, and all data bytes. The dead bytes are `0` when no
    /// file was sealed since the last merge: what the merged files still hold dead is
    /// superseded from the active file, and a merge cannot drop it before that file is sealed.
    pub fn reclaimable(&self) -> (u64, u64) {
        let (sealed, fresh) = {
            let segs = read(&self.segs);
            let sealed: Vec<(u32, u64)> = segs
                .iter()
                .filter_map(|(id, s)| s.sealed_len.map(|l| (*id, l)))
                .collect();
            let fresh = segs.values().any(|s| {
                s.sealed_len.is_some() && s.file.path().extension().is_some_and(|e| e == "data")
            });
            (sealed, fresh)
        };
        if !fresh {
            return (0, self.data_bytes.load(Relaxed));
        }
        let kd = read(&self.keydir);
        let dead = sealed
            .iter()
            .map(|(id, len)| len.saturating_sub(kd.live_bytes_in(*id)))
            .sum();
        (dead, self.data_bytes.load(Relaxed))
    }
}

/// Scans with a limit up to this keep a bounded heap instead of collecting every key in range.
const HEAP_SCAN_LIMIT: usize = 4096;

/// A keydir entry ordered by its key alone.
struct ByKey<'a>(&'a [u8], Entry);

impl PartialEq for ByKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for ByKey<'_> {}
impl PartialOrd for ByKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByKey<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(other.0)
    }
}

/// Checks that the frame in `buf` is the put of `key` with `e.seq` and turns `buf` into its
/// value in place (no second allocation).
fn value_of(mut buf: Vec<u8>, key: &[u8], e: Entry, path: &Path) -> Result<Vec<u8>> {
    match segment::parse(&buf[HEADER_LEN..]) {
        Some(Payload::Record(r)) if !r.tombstone && r.key == key && r.seq == e.seq => {
            let start = HEADER_LEN + segment::REC_FIXED + key.len();
            let len = buf.len() - start;
            buf.copy_within(start.., 0);
            buf.truncate(len);
            Ok(buf)
        }
        _ => Err(Error::corruption(
            path,
            e.offset,
            "the record at the keydir's location is not the key's newest put",
        )),
    }
}
