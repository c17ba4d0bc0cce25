//! The bitcask engine: the log-structured hash table of Basho's Bitcask paper (Sheehy and
//! Smith, 2010). Writes append to one active data file; an in-memory hash map, the keydir,
//! points every live key at its newest record; hint files let start-up skip the values; a
//! merge rewrites live records and drops the rest.
//!
//! # Files in the store directory
//!
//! ```text
//! KVBENCH, LOCK        store marker (format version 2) and lock (engines::store_dir)
//! NNNNNNNN.data        data file of the writer: sealed ones, the active one, and while the
//!                      store is open the next one, prepared empty ahead of its rollover
//! NNNNNNNN.merged      data file written by a committed merge (sealed)
//! NNNNNNNN.merging     output of a merge in progress (removed at open if uncommitted)
//! NNNNNNNN.hint        hint file of the sealed data file NNNNNNNN
//! MERGE                commit record of a merge whose old files are not all removed yet
//! ```
//!
//! # Data file (an `engines::log` log; every record is one frame: hcrc u32 | len u32 | pcrc u32)
//!
//! ```text
//! 0          512        1024                                                        DATA_START
//! +----------+----------+--------------+--------------+-----+--------------+------------+
//! | slot 0   | slot 1   | header frame | record frame | ... | record frame | seal frame |
//! +----------+----------+--------------+--------------+-----+--------------+------------+
//!  synced-length watermark (log.rs)                                   (seal: sealed files only)
//!
//! header payload:  0x03 | magic "kvbcask2" | born u8 (1 writer, 2 merge) | file id u32
//! record payload:  type u8 (0x01 put, 0x02 delete) | seq u64 | key_len u16 | key | value
//!                  (a delete, the tombstone, has no value; value length = frame len - fixed)
//! seal payload:    0x04 | records u64 | max seq u64
//! ```
//!
//! All integers little-endian. `seq` is a store-wide sequence number, one per write, carried
//! into merged files unchanged; it is also the LSN of the group committer. The watermark
//! records how much of the file an fsync has covered; the writer's files keep it up to date,
//! merged files leave it at its initial value (they are read as whole files).
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
//! # Rollover and durability
//!
//! Writers append under the writer mutex, which orders the writes; under it they first check
//! that the instance is neither closed nor poisoned, then append, publish the seq to the
//! `Committer`, release the mutex and commit (none / sync / group as design.md defines them).
//! A failed append is cut off the file (truncated back to where it began) so it is undone
//! alone; when the cut fails, or any fsync fails, the instance is poisoned and refuses writes
//! and reads until reopen: a `sync`-mode write whose fsync failed is already in the keydir
//! and may not survive a crash, so it is served no more. Nothing a reader saw is taken back
//! while the instance serves reads. (A write is visible from its append on, so a reader may
//! see a `sync`-mode write while its fsync runs, and that fsync may then fail.)
//!
//! A rollover holds the writer mutex only to append the seal to the active file and switch
//! to the *prepared* file, which was created, fsynced and named durably (directory fsync)
//! ahead of time. After releasing the mutex, the writer that rolled prepares the next file
//! and makes the sealed file durable (fsync; its watermark set to its whole length; fsync
//! again). Sealed files are made durable strictly in file order, and the Committer's fsync of
//! the active file first finishes any sealed file still waiting, so a data file gets a synced
//! record only after every older one is durable whole. Only then are a sealed file's records
//! reported synced, may a merge take it and a hint file describe it. With no file prepared,
//! a writer prepares one off the mutex and looks again. `close` removes the prepared file.
//!
//! # Recovery rule
//!
//! 1. A `MERGE` file means a merge committed: its `.merging` outputs are renamed, its inputs
//!    removed, then `MERGE`. Without it, `.merging` files are leftovers and are removed, as are
//!    hint files without a data file.
//! 2. Every data file is loaded from its hint file when that is valid (checksums, trailer
//!    naming the file and its exact length), else by scanning it. Each record replaces the
//!    keydir entry only if its `seq` is higher, so the file order does not matter; tombstones
//!    take part and are dropped at the end. Hint files exist only for durable files.
//! 3. Merged files were written whole and fsynced before their merge committed: any damage
//!    in them is `Error::Corruption`.
//! 4. The writer's `.data` files, oldest first, are one log, each scanned with its watermark:
//!    damage before a file's synced length is `Error::Corruption`, damage at or beyond it a
//!    torn tail (after a power cut the unsynced part may hold zeroed blocks followed by good
//!    ones, or a torn sector). A sealed file that scans whole up to its seal is complete (its
//!    watermark covers all of it once its rollover finished; one whose rollover was cut short
//!    by a crash is fsynced now, before any later file can be). The log ends at the first
//!    file that is not sealed whole: its torn tail is cut (truncated and fsynced; a file that
//!    never got its header is given one) and it becomes the active file again. The files
//!    after it (the prepared file, or files whose records never reached the disk) are
//!    removed; since every file is durable before a later one gets a synced record, a later
//!    file with a synced record (or a hint) means damage inside synced data: `Corruption`.
//!
//! Why sealed files are scanned with their watermark rather than as whole files: a power cut
//! between a rollover's seal and its fsync can leave a sealed file with holes, and its
//! records were never reported synced; once the rollover finished, the watermark names the
//! whole file and every damage in it is corruption, as for a file written whole.
//!
//! # Close and settle
//!
//! `close` is a barrier. Every call that may write (put, delete, sync, compact, settle)
//! passes the engines' shared gate (`crate::gate`); `close` stops background work, then
//! shuts the gate and waits for the calls inside, so they finish first (a running merge
//! aborts with `Closed`) and later ones get `Error::Closed`. Then close stops the worker,
//! syncs, removes the prepared file, lets go of the files and releases the directory lock
//! last; a second close waits at the gate and returns once the first has finished. Gets and
//! scans do not write and take no gate: one that races close finishes or gets `Closed`.
//! `settle` holds nothing back
//! (every put is in its file when it returns): it syncs, then runs or waits for the merge and
//! hint writes that are due, after which the worker has nothing to do.
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
mod rollover;
mod segment;
mod store;
mod worker;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

pub use options::BitcaskOptions;

use crate::durability::Committer;
use crate::io::Io;
use crate::{limits, store_dir, Engine, EngineStats, Error, Options, Result};
use recovery::Resumed;
use rollover::Active;
use segment::{FileType, BORN_ACTIVE, DATA_START};
use store::{lock, read, write, Parts, Seg, Store, Writer};

/// On-disk format version written to the store marker. Version 2 added the synced-length
/// watermark at the head of every data file; version 1 stores are refused.
pub const FORMAT_VERSION: u32 = 2;

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
        let resumed = match rec.active.take() {
            Some(r) => r,
            None => {
                let id = rec.next_file_id;
                rec.next_file_id += 1;
                let path = dir.join(segment::file_name(id, FileType::Data));
                let (file, mark) = segment::create(&io, &path, BORN_ACTIVE, id)?;
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
                rec.data_bytes += DATA_START;
                Resumed {
                    active: Arc::new(Active::new(id, file, mark, DATA_START)),
                    len: DATA_START,
                    records: 0,
                    max_seq: 0,
                }
            }
        };
        let committer = Committer::new(options.durability, options.group_commit, rec.max_seq);
        let writer = Writer {
            active: resumed.active,
            len: resumed.len,
            records: resumed.records,
            max_seq: resumed.max_seq,
            next_seq: rec.max_seq + 1,
            buf: Vec::new(),
        };
        let store = Arc::new(Store::new(
            opts,
            Parts {
                dir: dir.to_path_buf(),
                io,
                claim,
                writer,
                keydir: rec.keydir,
                segs: rec.segs,
                committer: committer.clone(),
                next_file_id: rec.next_file_id,
                data_bytes: rec.data_bytes,
                need_hints: rec.need_hints,
            },
        ));
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

    /// The barrier: background work stops, calls in flight finish (a running merge aborts
    /// with `Closed`), the files are synced and let go, and the directory lock goes last. A
    /// second close waits at the gate until the first has finished.
    fn close(&self) -> Result<()> {
        self.stopping.store(true, Relaxed);
        self.wake_cv.notify_all();
        let Some(_closing) = self.gate.close() else {
            return Ok(());
        };
        self.closed.store(true, Relaxed);
        self.stop_worker();
        let synced = self.committer.sync_all(&|| self.sync_active());
        self.committer.shutdown();
        let tidied = match self.poison.get() {
            None => self.drop_prepared(),
            // A poisoned instance writes nothing more; open removes the unused file.
            Some(_) => Ok(()),
        };
        write(&self.segs).clear();
        lock(&self.claim).take();
        synced.and(tidied)
    }

    /// Runs what the background worker would run now: a merge that is due, then the hint
    /// files that are missing. A merge or hint write already running is waited for.
    fn run_due_work(&self) -> Result<()> {
        if self.opts.background_merge && !self.merge_failed.load(Relaxed) {
            if let Err(e) = merge::run_if_due(self) {
                if !matches!(e, Error::Closed) {
                    self.merge_failed.store(true, Relaxed);
                }
                return Err(e);
            }
        }
        if self.opts.hint_files {
            while !self.stopping.load(Relaxed) {
                if !worker::write_one_hint(self)? {
                    break;
                }
            }
        }
        Ok(())
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
        let _gate = self.store.enter()?;
        self.store.append(key, value, false)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        limits::check_key(key)?;
        self.store.get(key)
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        limits::check_key(key)?;
        let _gate = self.store.enter()?;
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
        let _gate = self.store.enter()?;
        self.store.committer.sync_all(&|| self.store.sync_active())
    }

    fn close(&self) -> Result<()> {
        self.store.close()
    }

    fn compact(&self) -> Result<()> {
        let _gate = self.store.enter()?;
        merge::run(&self.store, true)
    }

    /// Every put is written to its data file when it returns, so nothing is held back: this
    /// syncs, then runs (or waits for) the merge and hint writes that are due.
    fn settle(&self) -> Result<()> {
        let _gate = self.store.enter()?;
        self.store
            .committer
            .sync_all(&|| self.store.sync_active())?;
        self.store.run_due_work()
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
            // Every put is in its data file (the page cache) when it returns.
            write_buffer_bytes: 0,
            extra,
        }
    }
}
