//! The conformance kit run on a minimal engine written the way an outside author would: one
//! append-only log (shared `engines::log` framing, `Committer` group commit, `store_dir`
//! claim) replayed into an in-memory map at open. It checks the kit's file parts (crash
//! cycles, corruption sweeps, injected faults) against an engine small enough to trust, and
//! shows how `Kit::new` plugs in an engine that is not in `EngineKind`.
//!
//! Log payload: `seq u64 | op u8 (1 put, 0 delete) | key len u32 | key | value`, LE. The log
//! has the shared synced-length watermark header, recorded after each fsync, so a power cut
//! that leaves holes or torn sectors in the unsynced tail opens with the synced prefix.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex};

use engines::conformance::Kit;
use engines::durability::Committer;
use engines::io::{File, Io};
use engines::limits::{check_key, check_put};
use engines::store_dir::{self, StoreDir};
use engines::{log, Engine, EngineStats, Error, Options, Result};

struct Inner {
    log: File,
    mark: log::SyncedMark,
    end: u64,
    seq: u64,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    _store: StoreDir,
}

struct LogMap {
    io: Io,
    inner: Mutex<Option<Inner>>,
    committer: Arc<Committer>,
}

fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    let io = Io::new();
    let store = store_dir::claim(&io, dir, "logmap", 1)?;
    let path = store.join("data.log");
    let (log, mark) = if path.exists() {
        let f = io.open(&path)?;
        let mark = log::SyncedMark::read(&f)?;
        (f, mark)
    } else {
        let f = io.create(&path)?;
        let mark = log::create_log(&f)?;
        io.sync_dir(dir)?;
        (f, mark)
    };
    let mut map = BTreeMap::new();
    let mut seq = 0;
    let mut scan = log::Scanner::log(&log)?;
    while let Some((at, p)) = scan.next_record()? {
        let bad = |d: &str| Error::corruption(&path, at, d);
        if p.len() < 13 {
            return Err(bad("short record"));
        }
        let s = u64::from_le_bytes(p[0..8].try_into().unwrap());
        let klen = u32::from_le_bytes(p[9..13].try_into().unwrap()) as usize;
        let key = p
            .get(13..13 + klen)
            .ok_or_else(|| bad("key past the record"))?;
        match p[8] {
            1 => map.insert(key.to_vec(), p[13 + klen..].to_vec()),
            0 => map.remove(key),
            _ => return Err(bad("unknown op")),
        };
        seq = seq.max(s);
    }
    let tail = scan.tail().unwrap();
    log::truncate_tail(&log, tail)?;
    let committer = Committer::new(options.durability, options.group_commit, seq);
    let db = Arc::new(LogMap {
        io,
        inner: Mutex::new(Some(Inner {
            log,
            mark,
            end: tail.valid_len,
            seq,
            map,
            _store: store,
        })),
        committer,
    });
    let weak = Arc::downgrade(&db);
    db.committer
        .start_flusher(move || weak.upgrade().map(|db| db.fsync()));
    Ok(Box::new(ArcEngine(db)))
}

impl LogMap {
    /// Fsyncs the log and records what it covered. Under the lock, for simplicity: `close()`
    /// then cannot return while an fsync or its watermark write is under way.
    fn fsync(&self) -> Result<()> {
        let guard = self.inner.lock().unwrap();
        let Some(i) = guard.as_ref() else {
            return Ok(()); // closed: close() synced everything
        };
        i.log.sync()?;
        i.mark.record(&i.log, i.end)
    }

    fn write(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let seq = {
            let mut guard = self.inner.lock().unwrap();
            let inner = guard.as_mut().ok_or(Error::Closed)?;
            self.committer.check()?;
            let seq = inner.seq + 1;
            let mut buf = Vec::with_capacity(32 + key.len() + value.map_or(0, |v| v.len()));
            log::encode_with(&mut buf, |p| {
                p.extend_from_slice(&seq.to_le_bytes());
                p.push(value.is_some() as u8);
                p.extend_from_slice(&(key.len() as u32).to_le_bytes());
                p.extend_from_slice(key);
                p.extend_from_slice(value.unwrap_or_default());
            });
            if let Err(e) = inner.log.write_all_at(&buf, inner.end) {
                // A partial append may be on disk: cut it off so the log stays a prefix.
                let _ = inner.log.set_len(inner.end);
                return Err(e);
            }
            inner.end += buf.len() as u64;
            inner.seq = seq;
            match value {
                Some(v) => inner.map.insert(key.to_vec(), v.to_vec()),
                None => inner.map.remove(key),
            };
            self.committer.appended(seq, buf.len() as u64);
            seq
        };
        self.committer.commit(seq, &|| self.fsync())
    }
}

struct ArcEngine(Arc<LogMap>);

impl Engine for ArcEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_put(key, value)?;
        self.0.write(key, Some(value))
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let g = self.0.inner.lock().unwrap();
        Ok(g.as_ref().ok_or(Error::Closed)?.map.get(key).cloned())
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.0.write(key, None)
    }
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let g = self.0.inner.lock().unwrap();
        let map = &g.as_ref().ok_or(Error::Closed)?.map;
        if end.is_some_and(|e| e <= start) {
            return Ok(Vec::new());
        }
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(map
            .range::<[u8], _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    fn sync(&self) -> Result<()> {
        if self.0.inner.lock().unwrap().is_none() {
            return Err(Error::Closed);
        }
        self.0.committer.sync_all(&|| self.0.fsync())
    }
    fn close(&self) -> Result<()> {
        let r = self.sync();
        self.0.committer.shutdown();
        self.0.inner.lock().unwrap().take();
        match r {
            Err(Error::Closed) => Ok(()),
            r => r,
        }
    }
    fn compact(&self) -> Result<()> {
        self.0
            .inner
            .lock()
            .unwrap()
            .as_ref()
            .ok_or(Error::Closed)
            .map(|_| ())
    }
    fn stats(&self) -> EngineStats {
        EngineStats {
            io: self.0.io.snapshot(),
            ..EngineStats::default()
        }
    }
}

impl Drop for ArcEngine {
    fn drop(&mut self) {
        self.0.committer.shutdown();
    }
}

engines::conformance_suite!(logmap, Kit::new("logmap", true, open));
