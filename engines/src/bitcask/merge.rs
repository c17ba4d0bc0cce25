//! Merge: rewrite the live records of every immutable data file into new `.merged` files
//! (plus their hint files), then drop the old files. Runs in the background worker when the
//! dead share passes `merge_dead_ratio`, and on `compact()`. Reads and writes go on while it
//! runs; only the keydir repointing takes the keydir lock, in short batches.
//!
//! Steps (each a crash point `bitcask.merge.<step>`, tested by killing a child there):
//! 1. `start`: pick the inputs, every sealed file (so every record outside them is newer
//!    than every record in them, which is what lets a merge drop tombstones: no older
//!    version of the key can survive anywhere once the inputs are gone).
//! 2. `copied`: find the newest record of each key among the inputs (hint files first),
//!    copy each such put into `.merging` files; seal and fsync them, write their hint
//!    files. A put superseded only by a record outside the inputs is kept, so the merged
//!    store never depends on the active file's tail (which recovery may cut as torn).
//! 3. `synced`: fsync the directory.
//! 4. `committed`: write the commit file `MERGE` (inputs and outputs) atomically. This is
//!    the commit point: before it, open removes the `.merging` files; after it, open
//!    finishes the steps below.
//! 5. `renamed`: rename `.merging` to `.merged`, fsync the directory.
//! 6. repoint the keydir (an entry moves only if it still points at the copied record, so a
//!    write that landed during the merge keeps its newer location), close the inputs,
//! 7. `deleting` (after the first removal): remove the inputs and their hints, fsync the
//!    directory, remove `MERGE`, fsync the directory: `done`.
//!
//! A failure before the commit point removes the outputs and leaves the engine running (no
//! acknowledged data depended on them); a failure after it poisons the engine, and the next
//! open finishes the merge from the commit file. Pass 1 holds one hash-map entry (key and
//! sequence number) per distinct key of the inputs.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, MutexGuard};

use super::hint::{self, HintWriter};
use super::keydir::{Entry, FxBuild};
use super::segment::{self, file_name, FileType, Trust, BORN_MERGE, DATA_START};
use super::store::{lock, read, write, Seg, Store};
use crate::io::{crash_point, File, Io};
use crate::log;
use crate::{Error, Result};

/// Name of the merge commit file.
pub const COMMIT: &str = "MERGE";
const COMMIT_MAGIC: &[u8; 8] = b"kvbmerg1";
/// Output is written in chunks of this size.
const WRITE_CHUNK: usize = 1 << 20;
/// Keydir entries repointed per hold of the keydir write lock.
const REPOINT_BATCH: usize = 4096;

fn encode_commit(inputs: &[u32], outputs: &[u32]) -> Vec<u8> {
    let mut buf = Vec::new();
    log::encode_with(&mut buf, |b| {
        b.extend_from_slice(COMMIT_MAGIC);
        for list in [inputs, outputs] {
            b.extend_from_slice(&(list.len() as u32).to_le_bytes());
            for id in list {
                b.extend_from_slice(&id.to_le_bytes());
            }
        }
    });
    buf
}

fn decode_commit(payload: &[u8]) -> Option<(Vec<u32>, Vec<u32>)> {
    let rest = payload.strip_prefix(COMMIT_MAGIC)?;
    let mut words = rest
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()));
    if rest.len() % 4 != 0 {
        return None;
    }
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        let n = words.next()? as usize;
        for _ in 0..n {
            list.push(words.next()?);
        }
    }
    if words.next().is_some() {
        return None;
    }
    let [inputs, outputs] = lists;
    Some((inputs, outputs))
}

/// At open: completes a merge whose commit file exists (steps 5 to 7).
pub(super) fn finish_committed(io: &Io, dir: &Path) -> Result<()> {
    let path = dir.join(COMMIT);
    let file = io.open_read(&path)?;
    let bytes = file.read_all()?;
    let payload = log::decode(&bytes, &file, 0)?;
    let (inputs, outputs) = decode_commit(payload)
        .ok_or_else(|| Error::corruption(&path, 0, "malformed merge commit file"))?;
    for &id in &outputs {
        let merging = dir.join(file_name(id, FileType::Merging));
        let merged = dir.join(file_name(id, FileType::Merged));
        if merging.exists() {
            io.rename(&merging, &merged)?;
        } else if !merged.exists() {
            return Err(Error::corruption(
                &path,
                0,
                "an output of a committed merge is missing",
            ));
        }
    }
    io.sync_dir(dir)?;
    remove_inputs(io, dir, &inputs)?;
    io.remove(&path)?;
    io.sync_dir(dir)
}

fn remove_inputs(io: &Io, dir: &Path, inputs: &[u32]) -> Result<()> {
    for (n, &id) in inputs.iter().enumerate() {
        for ty in [FileType::Data, FileType::Merged, FileType::Hint] {
            let p = dir.join(file_name(id, ty));
            if p.exists() {
                io.remove(&p)?;
            }
        }
        if n == 0 {
            crash_point("bitcask.merge.deleting");
        }
    }
    io.sync_dir(dir)
}

/// The `.merging` file being written.
struct Current {
    id: u32,
    file: File,
    len: u64,
    written: u64,
    records: u64,
    max_seq: u64,
    hint: HintWriter,
}

/// The output side of a merge.
struct Output<'s> {
    store: &'s Store,
    cur: Option<Current>,
    buf: Vec<u8>,
    /// Finished outputs: id and length.
    done: Vec<(u32, u64)>,
    /// Every id created (for clean-up on failure).
    created: Vec<u32>,
    bytes_written: u64,
}

impl Output<'_> {
    fn flush(&mut self) -> Result<()> {
        let Some(c) = self.cur.as_mut() else {
            return Ok(());
        };
        if !self.buf.is_empty() {
            c.file.write_all_at(&self.buf, c.written)?;
            c.written += self.buf.len() as u64;
            self.bytes_written += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Copies one record (its checked payload) and returns its new location.
    fn append(&mut self, payload: &[u8], key: &[u8], seq: u64) -> Result<Entry> {
        let frame = log::frame_len(payload.len()) as u64;
        let full = self.cur.as_ref().is_some_and(|c| {
            c.records > 0
                && c.len + frame + segment::SEAL_FRAME_LEN > self.store.opts.max_segment_bytes
        });
        if full {
            self.finish_current()?;
        }
        if self.cur.is_none() {
            let id = self.store.next_file_id.fetch_add(1, Relaxed);
            self.created.push(id);
            // The name becomes durable with the directory fsync before the commit (step 3).
            let path = self.store.path(id, FileType::Merging);
            let (file, _) = segment::create(&self.store.io, &path, BORN_MERGE, id)?;
            self.bytes_written += DATA_START;
            self.cur = Some(Current {
                id,
                file,
                len: DATA_START,
                written: DATA_START,
                records: 0,
                max_seq: 0,
                hint: HintWriter::new(),
            });
        }
        let c = self.cur.as_mut().expect("an output file is open");
        let e = Entry {
            seq,
            offset: c.len,
            file: c.id,
            len: frame as u32,
        };
        log::encode(payload, &mut self.buf);
        c.len += frame;
        c.records += 1;
        c.max_seq = c.max_seq.max(seq);
        c.hint.add(key, &e);
        if self.buf.len() >= WRITE_CHUNK {
            self.flush()?;
        }
        Ok(e)
    }

    /// Seals, flushes and fsyncs the current output and writes its hint file.
    fn finish_current(&mut self) -> Result<()> {
        let Some(c) = self.cur.as_ref() else {
            return Ok(());
        };
        let (records, max_seq) = (c.records, c.max_seq);
        segment::encode_seal(&mut self.buf, records, max_seq);
        self.flush()?;
        let c = self.cur.take().expect("checked above");
        c.file.sync()?;
        if self.store.opts.hint_files {
            self.bytes_written +=
                c.hint
                    .finish(&self.store.io, &self.store.dir, c.id, c.written)?;
        }
        self.done.push((c.id, c.written));
        Ok(())
    }
}

/// True when the dead bytes in immutable files pass both thresholds of the options.
pub(super) fn due(store: &Store) -> bool {
    let (dead, total) = store.reclaimable();
    dead >= store.opts.merge_min_dead_bytes
        && dead as f64 >= store.opts.merge_dead_ratio * total as f64
}

/// Runs a merge when one is due, deciding under the merge lock (so a merge that just ran is
/// waited for and not repeated).
pub(super) fn run_if_due(store: &Store) -> Result<()> {
    let one = lock(&store.merge_lock);
    if !due(store) {
        return Ok(());
    }
    run_locked(store, false, one)
}

/// Runs a merge of every immutable file. `roll_first` seals the active file first so that
/// its records are merged too (`compact()`).
pub(super) fn run(store: &Store, roll_first: bool) -> Result<()> {
    run_locked(store, roll_first, lock(&store.merge_lock))
}

fn run_locked(store: &Store, roll_first: bool, _one: MutexGuard<'_, ()>) -> Result<()> {
    if store.stopping.load(Relaxed) {
        return Err(Error::Closed);
    }
    if roll_first {
        loop {
            let w = lock(&store.writer);
            store.check_writable()?;
            if w.records == 0 {
                break;
            }
            let id = w.active.id;
            store.roll_over(w)?;
            if lock(&store.writer).active.id != id {
                break;
            }
        }
    }
    // A file rolled away from is taken once it is durable.
    store.sync_sealed()?;
    let mut inputs: Vec<(u32, Arc<File>, u64)> = read(&store.segs)
        .iter()
        .filter_map(|(id, s)| s.sealed_len.map(|len| (*id, s.file.clone(), len)))
        .collect();
    if inputs.is_empty() {
        return Ok(());
    }
    inputs.sort_by_key(|i| i.0);
    crash_point("bitcask.merge.start");
    let mut out = Output {
        store,
        cur: None,
        buf: Vec::new(),
        done: Vec::new(),
        created: Vec::new(),
        bytes_written: 0,
    };
    let mut moved: Vec<(Box<[u8]>, Entry, Entry)> = Vec::new();
    let copied = newest_in_inputs(store, &inputs)
        .and_then(|newest| copy_live(store, &inputs, &newest, &mut out, &mut moved))
        .and_then(|()| {
            out.finish_current()?;
            crash_point("bitcask.merge.copied");
            store.io.sync_dir(&store.dir)?;
            crash_point("bitcask.merge.synced");
            let input_ids: Vec<u32> = inputs.iter().map(|i| i.0).collect();
            let output_ids: Vec<u32> = out.done.iter().map(|o| o.0).collect();
            store
                .io
                .write_file_atomic(&store.dir, COMMIT, &encode_commit(&input_ids, &output_ids))
        });
    if let Err(e) = copied {
        // Not committed: the inputs stay, the outputs go (open would remove them too).
        drop(out.cur.take());
        for &id in &out.created {
            let _ = store.io.remove(&store.path(id, FileType::Merging));
            let _ = store.io.remove(&store.path(id, FileType::Hint));
        }
        return Err(e);
    }
    crash_point("bitcask.merge.committed");
    // Past the commit point a failure leaves memory and disk apart: stop until reopen
    // (which finishes the merge from the commit file).
    let finished = install(store, &inputs, &out, moved);
    if let Err(e) = &finished {
        store.poison(format!("finishing a committed merge failed: {e}"));
    }
    finished?;
    store.merges.fetch_add(1, Relaxed);
    store.merge_bytes.fetch_add(out.bytes_written, Relaxed);
    crash_point("bitcask.merge.done");
    Ok(())
}

/// Pass 1: the highest sequence number of every key among the inputs (from hint files where
/// valid, else from the data files).
fn newest_in_inputs(store: &Store, inputs: &[(u32, Arc<File>, u64)]) -> Result<NewestMap> {
    let mut newest = NewestMap::default();
    let mut note = |key: &[u8], seq: u64| match newest.get_mut(key) {
        Some(s) => *s = (*s).max(seq),
        None => {
            newest.insert(key.into(), seq);
        }
    };
    for (id, file, len) in inputs {
        if store.stopping.load(Relaxed) {
            return Err(Error::Closed);
        }
        if let Some(entries) = hint::read(&store.io, &store.dir, *id, *len)? {
            for (key, e) in entries {
                note(&key, e.seq);
            }
            continue;
        }
        segment::scan(file, *id, Trust::Whole, |_, _, r| {
            note(r.key, r.seq);
            Ok(())
        })?;
    }
    Ok(newest)
}

type NewestMap = HashMap<Box<[u8]>, u64, FxBuild>;

/// Pass 2: copies every put that is the newest record of its key among the inputs. A record
/// superseded only by a newer file's record is kept: dropping it would make the store depend
/// on that newer file's tail, which may be cut as torn (and then no prefix of the writes
/// would match). Tombstones go: every older record of their key is in the inputs and goes too.
fn copy_live(
    store: &Store,
    inputs: &[(u32, Arc<File>, u64)],
    newest: &NewestMap,
    out: &mut Output<'_>,
    moved: &mut Vec<(Box<[u8]>, Entry, Entry)>,
) -> Result<()> {
    for (id, file, len) in inputs {
        let id = *id;
        let s = segment::scan(file, id, Trust::Whole, |at, payload, r| {
            if store.stopping.load(Relaxed) {
                return Err(Error::Closed);
            }
            if r.tombstone || newest.get(r.key) != Some(&r.seq) {
                return Ok(());
            }
            let from = Entry {
                seq: r.seq,
                offset: at,
                file: id,
                len: log::frame_len(payload.len()) as u32,
            };
            let to = out.append(payload, r.key, r.seq)?;
            moved.push((r.key.into(), from, to));
            Ok(())
        })?;
        if !s.sealed || s.tail.torn || s.tail.valid_len != *len {
            return Err(Error::corruption(
                file.path(),
                s.tail.valid_len,
                "an immutable data file ends early (it is not sealed)",
            ));
        }
    }
    Ok(())
}

/// Steps 5 to 7 in a running engine.
fn install(
    store: &Store,
    inputs: &[(u32, Arc<File>, u64)],
    out: &Output<'_>,
    moved: Vec<(Box<[u8]>, Entry, Entry)>,
) -> Result<()> {
    let mut opened = Vec::with_capacity(out.done.len());
    for &(id, len) in &out.done {
        let to = store.path(id, FileType::Merged);
        store.io.rename(&store.path(id, FileType::Merging), &to)?;
        opened.push((id, len, Arc::new(store.io.open_read(&to)?)));
    }
    store.io.sync_dir(&store.dir)?;
    crash_point("bitcask.merge.renamed");
    {
        let mut segs = write(&store.segs);
        for (id, len, file) in opened {
            segs.insert(
                id,
                Seg {
                    file,
                    sealed_len: Some(len),
                },
            );
        }
    }
    for batch in moved.chunks(REPOINT_BATCH) {
        let mut kd = write(&store.keydir);
        for (key, from, to) in batch {
            kd.repoint(key, *from, *to);
        }
    }
    {
        // Lock order: keydir before segs (as `Store::get` takes them).
        let mut kd = write(&store.keydir);
        let mut segs = write(&store.segs);
        for (id, _, _) in inputs {
            segs.remove(id);
            kd.forget_file(*id);
        }
    }
    let in_bytes: u64 = inputs.iter().map(|i| i.2).sum();
    let out_bytes: u64 = out.done.iter().map(|o| o.1).sum();
    store.data_bytes.fetch_add(out_bytes, Relaxed);
    store.data_bytes.fetch_sub(in_bytes, Relaxed);
    let ids: Vec<u32> = inputs.iter().map(|i| i.0).collect();
    lock(&store.need_hints).retain(|id| !ids.contains(id));
    remove_inputs(&store.io, &store.dir, &ids)?;
    store.io.remove(&store.dir.join(COMMIT))?;
    store.io.sync_dir(&store.dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_record_round_trips_and_rejects_garbage() {
        let buf = encode_commit(&[1, 2, 5], &[9]);
        let p = &buf[log::HEADER_LEN..];
        assert_eq!(decode_commit(p), Some((vec![1, 2, 5], vec![9])));
        assert_eq!(decode_commit(&p[..p.len() - 4]), None);
        assert_eq!(decode_commit(&p[..p.len() - 1]), None);
        let mut long = p.to_vec();
        long.extend_from_slice(&[0; 4]);
        assert_eq!(decode_commit(&long), None);
        assert_eq!(decode_commit(b"nonsense"), None);
    }
}
