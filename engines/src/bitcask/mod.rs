//! The bitcask engine: the log-structured hash table of Basho's Bitcask paper (Sheehy and
//! Smith, 2010). Writes append to one active data file; an in-memory hash map, the keydir,
//! points every live key at its newest record; hint files let start-up skip the values; a
//! merge rewrites live records and drops the rest.
//!
//! # Files in the store directory
//!
//! ```text
//! KVBENCH, LOCK        store marker and lock (engines::store_dir)
//! NNNNNNNN.data        data file written by the writer: the active one, or sealed
//! NNNNNNNN.merged      data file written by a committed merge (sealed)
//! NNNNNNNN.merging     output of a merge in progress (removed at open if uncommitted)
//! NNNNNNNN.hint        hint file of the sealed data file NNNNNNNN
//! MERGE                commit record of a merge whose old files are not all removed yet
//! ```
//!
//! # Data file (every record is one `engines::log` frame: hcrc u32 | len u32 | pcrc u32)
//!
//! ```text
//! +--------------+--------------+-----+--------------+------------+
//! | header frame | record frame | ... | record frame | seal frame |   (seal: sealed files only)
//! +--------------+--------------+-----+--------------+------------+
//!
//! header payload:  0x03 | magic "kvbcask1" | born u8 (1 writer, 2 merge) | file id u32
//! record payload:  type u8 (0x01 put, 0x02 delete) | seq u64 | key_len u16 | key | value
//!                  (a delete, the tombstone, has no value; value length = frame len - fixed)
//! seal payload:    0x04 | records u64 | max seq u64
//! ```
//!
//! All integers little-endian. `seq` is a store-wide sequence number, one per write, carried
//! into merged files unchanged; it is also the LSN of the group committer.
//!
//! # Hint file (one frame per record of its data file, in file order, then a trailer)
//!
//! ```text
//! entry payload:    0x01 | seq u64 | frame offset u64 | frame len u32 (0: tombstone) | key_len u16 | key
//! trailer payload:  0x02 | magic "kvbhint1" | data file id u32 | data file length u64 | entries u64
//! ```
//!
//! # Keydir
//!
//! `key -> (seq, frame offset, file id, frame len)`, 24 bytes plus the boxed key and the hash
//! table's bucket overhead. A get is one hash lookup and one `pread` of the frame through a
//! cached read handle; the frame checksum, key and seq are checked before the value is
//! returned.
//!
//! # Recovery rule
//!
//! 1. A `MERGE` file means a merge committed: its `.merging` outputs are renamed, its inputs
//!    removed, then `MERGE`. Without it, `.merging` files are leftovers and are removed, as are
//!    hint files without a data file.
//! 2. Every data file is loaded from its hint file when that is valid (checksums, trailer
//!    naming the file and its exact length), else by scanning it. Each record replaces the
//!    keydir entry only if its `seq` is higher, so the file order does not matter; tombstones
//!    take part and are dropped at the end.
//! 3. Only the active file (the newest `.data`) may end in a torn record: the tail is cut
//!    (file truncated and fsynced) before anything is appended. Any other file must be whole
//!    and end in its seal; a checksum mismatch anywhere else is `Error::Corruption`.
//!
//! # Durability
//!
//! Writers append under the writer mutex, publish the seq to the `Committer`, release the
//! mutex and commit (none / sync / group as design.md defines them). Rollover seals and
//! fsyncs the old file and fsyncs the directory after creating the new one. A failed fsync or
//! a failed append poisons the instance until reopen.
//!
//! # Merge (merge.rs)
//!
//! Inputs are all sealed files; outputs are `.merged` files with hint files, committed by
//! the atomic `MERGE` file. A put is copied when it is the newest record of its key among the
//! inputs; tombstones are dropped (every older record of their key is an input too). A put
//! superseded only by a record in a newer file is kept, so the merged store never depends on
//! the active file's tail, which recovery may cut. A delete always appends a tombstone, even
//! for a key that is absent, so that every acknowledged write is a record (and fsynced as one).
//!
//! # Range scans
//!
//! The keydir has no order. `scan(start, end, limit)` walks all n keys under the keydir read
//! lock and keeps the k = min(m, limit) smallest of the m in range: in a bounded max-heap for
//! limits up to 4096 (O(n + m log k) worst case, close to O(n) for keys in hash order, with
//! no allocation beyond k entries), else by collecting the m and selecting in O(m). The k are
//! then sorted (O(k log k)) and read with k preads. A scan costs a walk of the whole
//! keydir however short the range: that is the design's price, and what the suite shows.

mod hint;
mod keydir;
mod merge;
mod options;
mod recovery;
mod segment;
mod store;
mod worker;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, RwLock};

pub use options::BitcaskOptions;

use crate::durability::Committer;
use crate::io::Io;
use crate::{limits, store_dir, Engine, EngineStats, Error, Options, Result};
use segment::{FileType, BORN_ACTIVE, FILE_HEADER_LEN};
use store::{lock, read, Seg, Store, Writer};

/// On-disk format version written to the store marker.
pub const FORMAT_VERSION: u32 = 1;

/// Opens (creating if needed) a bitcask store in `dir`.
pub fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    Ok(Box::new(Bitcask::open(dir, options)?))
}

/// An open bitcask store.
pub struct Bitcask {
    store: Arc<Store>,
}

impl Bitcask {
    pub fn open(dir: &Path, options: &Options) -> Result<Self> {
        options.validate()?;
        let opts = options.bitcask.clone();
        opts.validate()?;
        let io = Io::new();
        let claim = store_dir::claim(&io, dir, "bitcask", FORMAT_VERSION)?;
        let mut rec = recovery::recover(&io, dir, opts.hint_files)?;
        let next_file_id = AtomicU32::new(rec.next_file_id);
        let (id, file, len, records, max_seq) = match rec.active.take() {
            Some(a) => a,
            None => {
                let id = next_file_id.fetch_add(1, Relaxed);
                let path = dir.join(segment::file_name(id, FileType::Data));
                let file = io.create(&path)?;
                let mut buf = Vec::new();
                segment::encode_header(&mut buf, BORN_ACTIVE, id);
                file.write_all_at(&buf, 0)?;
                file.sync()?;
                io.sync_dir(dir)?;
                let file = Arc::new(file);
                rec.segs.insert(
                    id,
                    Seg {
                        file: file.clone(),
                        sealed_len: None,
                    },
                );
                rec.data_bytes += FILE_HEADER_LEN;
                (id, file, FILE_HEADER_LEN, 0, 0)
            }
        };
        let committer = Committer::new(options.durability, options.group_commit, rec.max_seq);
        let store = Arc::new(Store {
            dir: dir.to_path_buf(),
            io,
            opts,
            closed: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            claim: Mutex::new(Some(claim)),
            writer: Mutex::new(Writer {
                id,
                file: file.clone(),
                len,
                records,
                max_seq,
                next_seq: rec.max_seq + 1,
                buf: Vec::new(),
            }),
            keydir: RwLock::new(rec.keydir),
            segs: RwLock::new(rec.segs),
            active: RwLock::new(file),
            committer: committer.clone(),
            next_file_id,
            data_bytes: AtomicU64::new(rec.data_bytes),
            merge_lock: Mutex::new(()),
            merges: AtomicU64::new(0),
            merge_bytes: AtomicU64::new(0),
            need_hints: Mutex::new(rec.need_hints),
            wake: Mutex::new(false),
            wake_cv: Condvar::new(),
            worker: Mutex::new(None),
            merge_failed: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&store);
        committer.start_flusher(move || weak.upgrade().map(|s| s.sync_active()));
        if store.opts.background_merge || store.opts.hint_files {
            let s = store.clone();
            let handle = std::thread::Builder::new()
                .name("bitcask-merge".into())
                .spawn(move || worker::run(s))
                .map_err(Error::Io)?;
            *lock(&store.worker) = Some(handle);
        }
        Ok(Bitcask { store })
    }
}

impl Store {
    fn stop_worker(&self) {
        self.stopping.store(true, Relaxed);
        *lock(&self.wake) = true;
        self.wake_cv.notify_all();
        let handle = lock(&self.worker).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    fn close(&self) -> Result<()> {
        if self.closed.swap(true, Relaxed) {
            return Ok(());
        }
        self.stop_worker();
        let synced = {
            let _merge = lock(&self.merge_lock);
            let _w = lock(&self.writer);
            self.committer.sync_all(&|| self.sync_active())
        };
        self.committer.shutdown();
        store::write(&self.segs).clear();
        lock(&self.claim).take();
        synced
    }
}

impl Drop for Bitcask {
    fn drop(&mut self) {
        let _ = self.store.close();
    }
}

impl Engine for Bitcask {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        limits::check_put(key, value)?;
        self.store.append(key, value, false)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        limits::check_key(key)?;
        self.store.get(key)
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        limits::check_key(key)?;
        self.store.append(key, &[], true)
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.store.scan(start, end, limit)
    }

    fn sync(&self) -> Result<()> {
        self.store.check_open()?;
        self.store.committer.sync_all(&|| self.store.sync_active())
    }

    fn close(&self) -> Result<()> {
        self.store.close()
    }

    fn compact(&self) -> Result<()> {
        self.store.check_open()?;
        merge::run(&self.store, true)
    }

    fn stats(&self) -> EngineStats {
        let s = &self.store;
        let (live_keys, live_bytes, memory) = {
            let kd = read(&s.keydir);
            (kd.len() as u64, kd.live_bytes(), kd.memory_bytes())
        };
        let data_bytes = s.data_bytes.load(Relaxed);
        let (reclaimable, _) = s.reclaimable();
        let segments = read(&s.segs).len() as f64;
        let mut extra = BTreeMap::new();
        extra.insert("data_bytes".into(), data_bytes as f64);
        extra.insert("live_bytes".into(), live_bytes as f64);
        extra.insert(
            "dead_bytes".into(),
            data_bytes.saturating_sub(live_bytes) as f64,
        );
        extra.insert("reclaimable_dead_bytes".into(), reclaimable as f64);
        extra.insert("segments".into(), segments);
        extra.insert(
            "keydir_bytes_per_key".into(),
            if live_keys == 0 {
                0.0
            } else {
                memory as f64 / live_keys as f64
            },
        );
        extra.insert("group_commit_fsyncs".into(), s.committer.fsyncs() as f64);
        extra.insert(
            "background_merge_failed".into(),
            s.merge_failed.load(Relaxed) as u8 as f64,
        );
        extra.insert(
            "hint_files_pending".into(),
            lock(&s.need_hints).len() as f64,
        );
        EngineStats {
            io: s.io.snapshot(),
            live_keys: Some(live_keys),
            disk_bytes: store_dir::dir_size(&s.dir),
            memory_bytes: memory,
            compactions: s.merges.load(Relaxed),
            compaction_bytes_written: s.merge_bytes.load(Relaxed),
            extra,
            ..EngineStats::default()
        }
    }
}
