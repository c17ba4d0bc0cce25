//! The shared state of an open bitcask and its hot paths: append (put/delete), get, scan,
//! rollover of the active file, and sync.

use std::collections::{BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;

use super::keydir::{Entry, Keydir};
use super::options::BitcaskOptions;
use super::segment::{self, file_name, FileType, Payload, BORN_ACTIVE, FILE_HEADER_LEN};
use crate::durability::Committer;
use crate::io::{File, Io};
use crate::log::HEADER_LEN;
use crate::store_dir::StoreDir;
use crate::{Error, Result};

/// Write buffers larger than this are released after the write instead of kept for reuse.
const KEEP_BUF: usize = 4 << 20;

/// An open data file.
pub(super) struct Seg {
    pub file: Arc<File>,
    /// Length once sealed; `None` for the active file.
    pub sealed_len: Option<u64>,
}

/// The append side, behind one mutex: the active file and the sequence counter.
pub(super) struct Writer {
    pub id: u32,
    pub file: Arc<File>,
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
    pub closed: AtomicBool,
    /// Set when close or drop wants background work to stop (a running merge aborts).
    pub stopping: AtomicBool,
    pub claim: Mutex<Option<StoreDir>>,
    pub writer: Mutex<Writer>,
    pub keydir: RwLock<Keydir>,
    /// Every data file, by id; read handles are opened once and shared.
    pub segs: RwLock<HashMap<u32, Seg>>,
    /// The active file, for the group-commit fsync (which must not take the writer lock).
    pub active: RwLock<Arc<File>>,
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

impl Store {
    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Relaxed) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    pub fn path(&self, id: u32, ty: FileType) -> PathBuf {
        self.dir.join(file_name(id, ty))
    }

    /// fsyncs the active file (the Committer's fsync).
    pub fn sync_active(&self) -> Result<()> {
        let file = read(&self.active).clone();
        file.sync()
    }

    /// Appends a put (`tombstone == false`) or a delete and commits it per the durability mode.
    pub fn append(&self, key: &[u8], value: &[u8], tombstone: bool) -> Result<()> {
        self.check_open()?;
        self.committer.check()?;
        let frame_len = segment::record_frame_len(key.len(), value.len());
        let seq = {
            let mut guard = lock(&self.writer);
            let w = &mut *guard;
            self.check_open()?;
            if w.records > 0
                && w.len + frame_len as u64 + segment::SEAL_FRAME_LEN > self.opts.max_segment_bytes
            {
                self.roll(w)?;
            }
            let seq = w.next_seq;
            w.buf.clear();
            segment::encode_record(&mut w.buf, tombstone, seq, key, value);
            let offset = w.len;
            if let Err(e) = w.file.write_all_at(&w.buf, offset) {
                // A partial record may sit at the tail now: no append may follow it.
                self.committer.poison(format!("append failed: {e}"));
                return Err(e);
            }
            if w.buf.capacity() > KEEP_BUF {
                w.buf = Vec::new();
            }
            w.next_seq += 1;
            w.len += frame_len as u64;
            w.records += 1;
            w.max_seq = seq;
            self.data_bytes.fetch_add(frame_len as u64, Relaxed);
            {
                let mut kd = write(&self.keydir);
                if tombstone {
                    kd.remove(key);
                } else {
                    let e = Entry {
                        seq,
                        offset,
                        file: w.id,
                        len: frame_len as u32,
                    };
                    kd.insert(key, e);
                }
            }
            self.committer.appended(seq, frame_len as u64);
            seq
        };
        self.committer.commit(seq, &|| self.sync_active())
    }

    /// Creates data file `id` with its header and makes its name durable.
    pub fn create_segment(&self, id: u32, ty: FileType, born: u8) -> Result<File> {
        let file = self.io.create(&self.path(id, ty))?;
        let mut buf = Vec::with_capacity(FILE_HEADER_LEN as usize);
        segment::encode_header(&mut buf, born, id);
        file.write_all_at(&buf, 0)?;
        self.io.sync_dir(&self.dir)?;
        Ok(file)
    }

    /// Seals the active file (seal record, fsync) and starts a new one. Any failure is fatal.
    pub fn roll(&self, w: &mut Writer) -> Result<()> {
        let r = self.roll_inner(w);
        if let Err(e) = &r {
            self.committer
                .poison(format!("rolling over the active file failed: {e}"));
        }
        r
    }

    fn roll_inner(&self, w: &mut Writer) -> Result<()> {
        w.buf.clear();
        segment::encode_seal(&mut w.buf, w.records, w.max_seq);
        w.file.write_all_at(&w.buf, w.len)?;
        w.len += w.buf.len() as u64;
        self.data_bytes.fetch_add(w.buf.len() as u64, Relaxed);
        w.file.sync()?;
        self.committer.mark_synced(w.next_seq - 1);
        let id = self.next_file_id.fetch_add(1, Relaxed);
        let file = Arc::new(self.create_segment(id, FileType::Data, BORN_ACTIVE)?);
        {
            let mut segs = write(&self.segs);
            if let Some(old) = segs.get_mut(&w.id) {
                old.sealed_len = Some(w.len);
            }
            segs.insert(
                id,
                Seg {
                    file: file.clone(),
                    sealed_len: None,
                },
            );
        }
        *write(&self.active) = file.clone();
        if self.opts.hint_files {
            lock(&self.need_hints).push(w.id);
            self.wake_worker();
        }
        w.id = id;
        w.file = file;
        w.len = FILE_HEADER_LEN;
        w.records = 0;
        w.max_seq = 0;
        self.data_bytes.fetch_add(FILE_HEADER_LEN, Relaxed);
        Ok(())
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
        self.check_open()?;
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
        self.check_open()?;
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
