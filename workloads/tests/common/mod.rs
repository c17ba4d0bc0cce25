//! Test engines for the runner's own tests.
//!
//! * [`LogEngine`]: the memory engine's counterpart with files: every put and delete is
//!   appended to one log through `engines::io` (so the engine's counters count it) and, in
//!   `sync` mode, fsynced before it returns. An index in memory answers reads; a reopen
//!   replays the log into it.
//! * [`SleepyEngine`]: the memory engine, except that one chosen operation sleeps, to show
//!   what open and closed loops make of a stall.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use engines::io::{File, Io};
use engines::memory::MemoryEngine;
use engines::{Durability, Engine, EngineStats, Options, Result};
use workloads::result::EngineInfo;
use workloads::runner::EngineUnderTest;

/// The log's end offset and the index of live pairs.
type LogState = (u64, BTreeMap<Vec<u8>, Vec<u8>>);

pub struct LogEngine {
    io: Io,
    file: File,
    sync: bool,
    /// A side file written behind the I/O layer's back (uncounted), to provoke a mismatch
    /// between the engine's write counter and the kernel's.
    uncounted: Option<std::fs::File>,
    state: Mutex<LogState>,
    _dir: engines::store_dir::StoreDir,
}

impl LogEngine {
    pub fn open(dir: &Path, options: &Options) -> Result<LogEngine> {
        LogEngine::open_with(dir, options, false)
    }

    pub fn open_with(dir: &Path, options: &Options, sneaky: bool) -> Result<LogEngine> {
        let io = Io::new();
        let store = engines::store_dir::claim(&io, dir, "testlog", 1)?;
        let path = dir.join("log");
        let mut state: LogState = (0, BTreeMap::new());
        let file = if path.exists() {
            let file = io.open(&path)?;
            let mut scan = engines::log::Scanner::new(&file, 0)?;
            while let Some((_, p)) = scan.next_record()? {
                let klen = u32::from_le_bytes([p[1], p[2], p[3], p[4]]) as usize;
                let key = p[5..5 + klen].to_vec();
                match p[0] {
                    1 => state.1.insert(key, p[5 + klen..].to_vec()),
                    _ => state.1.remove(&key),
                };
            }
            state.0 = scan.tail().map_or(0, |t| t.valid_len);
            drop(scan);
            file
        } else {
            let file = io.create(&path)?;
            io.sync_dir(dir)?;
            file
        };
        let uncounted = if sneaky {
            Some(std::fs::File::create(dir.join("side"))?)
        } else {
            None
        };
        Ok(LogEngine {
            io,
            file,
            uncounted,
            sync: options.durability == Durability::Sync,
            state: Mutex::new(state),
            _dir: store,
        })
    }

    fn append(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let mut frame = Vec::with_capacity(key.len() + value.map_or(0, |v| v.len()) + 16);
        engines::log::encode_with(&mut frame, |b| {
            b.push(u8::from(value.is_some()));
            b.extend_from_slice(&(key.len() as u32).to_le_bytes());
            b.extend_from_slice(key);
            if let Some(v) = value {
                b.extend_from_slice(v);
            }
        });
        let mut st = self.state.lock().unwrap();
        self.file.write_all_at(&frame, st.0)?;
        if let Some(side) = &self.uncounted {
            std::io::Write::write_all(&mut &*side, &frame)?;
        }
        st.0 += frame.len() as u64;
        match value {
            Some(v) => st.1.insert(key.to_vec(), v.to_vec()),
            None => st.1.remove(key),
        };
        drop(st);
        if self.sync {
            self.file.sync()?;
        }
        Ok(())
    }
}

impl Engine for LogEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        engines::limits::check_put(key, value)?;
        self.append(key, Some(value))
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.state.lock().unwrap().1.get(key).cloned())
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        self.append(key, None)
    }
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let st = self.state.lock().unwrap();
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(st
            .1
            .range::<[u8], _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    fn sync(&self) -> Result<()> {
        self.file.sync()
    }
    fn close(&self) -> Result<()> {
        self.file.sync()
    }
    fn compact(&self) -> Result<()> {
        Ok(())
    }
    fn stats(&self) -> EngineStats {
        let st = self.state.lock().unwrap();
        EngineStats {
            io: self.io.snapshot(),
            live_keys: Some(st.1.len() as u64),
            disk_bytes: st.0,
            // Pretend a compaction runs every 64 appended KiB, so the runner's timeline
            // has engine events to mark.
            compactions: st.0 / (64 << 10),
            compaction_bytes_written: st.0 / (64 << 10) * 4096,
            ..EngineStats::default()
        }
    }
}

pub fn log_engine() -> EngineUnderTest {
    log_engine_with(false)
}

/// The log engine, writing every record a second time behind its I/O layer's back when
/// `sneaky`.
pub fn log_engine_with(sneaky: bool) -> EngineUnderTest {
    EngineUnderTest {
        info: EngineInfo {
            name: "testlog".into(),
            family: "log+hash".into(),
            description: "test: append-only log, index in memory".into(),
            persistent: true,
            counts_io: true,
            options: Options::default(),
        },
        open: Box::new(move |dir, opts| Ok(Box::new(LogEngine::open_with(dir, opts, sneaky)?))),
    }
}

/// The memory engine, but operation number `stall_at` (counting every call) sleeps for
/// `stall` first.
pub struct SleepyEngine {
    inner: MemoryEngine,
    calls: AtomicU64,
    stall_at: u64,
    stall: Duration,
}

impl SleepyEngine {
    fn tick(&self) {
        if self.calls.fetch_add(1, Ordering::Relaxed) == self.stall_at {
            std::thread::sleep(self.stall);
        }
    }
}

impl Engine for SleepyEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.tick();
        self.inner.put(key, value)
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.tick();
        self.inner.get(key)
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        self.tick();
        self.inner.delete(key)
    }
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan(start, end, limit)
    }
    fn sync(&self) -> Result<()> {
        self.inner.sync()
    }
    fn close(&self) -> Result<()> {
        self.inner.close()
    }
    fn compact(&self) -> Result<()> {
        self.inner.compact()
    }
    fn stats(&self) -> EngineStats {
        self.inner.stats()
    }
}

pub fn sleepy_engine(stall_at: u64, stall: Duration) -> EngineUnderTest {
    EngineUnderTest {
        info: EngineInfo {
            name: "sleepy".into(),
            family: "reference".into(),
            description: "test: memory engine with one stall".into(),
            persistent: false,
            counts_io: true,
            options: Options::default(),
        },
        open: Box::new(move |_, _| {
            Ok(Box::new(SleepyEngine {
                inner: MemoryEngine::new(),
                calls: AtomicU64::new(0),
                stall_at,
                stall,
            }))
        }),
    }
}

/// The memory engine, but every get after the first `after` panics.
pub struct PanickyEngine {
    inner: MemoryEngine,
    gets: AtomicU64,
    after: u64,
}

impl Engine for PanickyEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner.put(key, value)
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if self.gets.fetch_add(1, Ordering::Relaxed) >= self.after {
            panic!("deliberate test panic in get");
        }
        self.inner.get(key)
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        self.inner.delete(key)
    }
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan(start, end, limit)
    }
    fn sync(&self) -> Result<()> {
        self.inner.sync()
    }
    fn close(&self) -> Result<()> {
        self.inner.close()
    }
    fn compact(&self) -> Result<()> {
        self.inner.compact()
    }
    fn stats(&self) -> EngineStats {
        self.inner.stats()
    }
}

pub fn panicky_engine(after: u64) -> EngineUnderTest {
    EngineUnderTest {
        info: EngineInfo {
            name: "panicky".into(),
            family: "reference".into(),
            description: "test: memory engine whose gets panic".into(),
            persistent: false,
            counts_io: true,
            options: Options::default(),
        },
        open: Box::new(move |_, _| {
            Ok(Box::new(PanickyEngine {
                inner: MemoryEngine::new(),
                gets: AtomicU64::new(0),
                after,
            }))
        }),
    }
}

/// The memory engine, but every `every`-th put fails with an I/O error (a full disk).
pub struct FlakyEngine {
    inner: MemoryEngine,
    puts: AtomicU64,
    every: u64,
}

impl Engine for FlakyEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        if (self.puts.fetch_add(1, Ordering::Relaxed) + 1) % self.every == 0 {
            return Err(engines::Error::Io(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (test)",
            )));
        }
        self.inner.put(key, value)
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        self.inner.delete(key)
    }
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan(start, end, limit)
    }
    fn sync(&self) -> Result<()> {
        self.inner.sync()
    }
    fn close(&self) -> Result<()> {
        self.inner.close()
    }
    fn compact(&self) -> Result<()> {
        self.inner.compact()
    }
    fn stats(&self) -> EngineStats {
        self.inner.stats()
    }
}

pub fn flaky_engine(every: u64) -> EngineUnderTest {
    EngineUnderTest {
        info: EngineInfo {
            name: "flaky".into(),
            family: "reference".into(),
            description: "test: memory engine whose puts sometimes fail".into(),
            persistent: false,
            counts_io: true,
            options: Options::default(),
        },
        open: Box::new(move |_, _| {
            Ok(Box::new(FlakyEngine {
                inner: MemoryEngine::new(),
                puts: AtomicU64::new(0),
                every,
            }))
        }),
    }
}

/// What a [`CountingEngine`] saw between two `settle()` calls (the runner settles the engine
/// at the end of every phase, so epoch 0 is the load and epoch 1 the run phase, without
/// warm-up).
#[derive(Debug, Default, Clone)]
pub struct Calls {
    pub gets: u64,
    pub puts: u64,
    pub scans: u64,
    pub deletes: u64,
    pub scanned_items: u64,
    /// Bytes of keys and values put.
    pub put_bytes: u64,
    /// For each put over a stored YCSB record: how many of its fields changed.
    pub fields_changed: Vec<usize>,
    /// Lengths of the values put.
    pub put_lens: Vec<usize>,
    /// When each get was called.
    pub get_times: Vec<std::time::Instant>,
}

/// The memory engine, counting its calls per epoch (see [`Calls`]).
pub struct CountingEngine {
    inner: MemoryEngine,
    epochs: std::sync::Arc<Mutex<Vec<Calls>>>,
}

impl CountingEngine {
    fn with<T>(&self, f: impl FnOnce(&mut Calls) -> T) -> T {
        let mut e = self.epochs.lock().unwrap();
        if e.is_empty() {
            e.push(Calls::default());
        }
        f(e.last_mut().unwrap())
    }
}

impl Engine for CountingEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let old = self.inner.get(key)?;
        self.with(|c| {
            c.puts += 1;
            c.put_bytes += (key.len() + value.len()) as u64;
            c.put_lens.push(value.len());
            let fields = workloads::generator::values::record_fields;
            if let (Some(old), Some(new)) = (old.as_deref().and_then(fields), fields(value)) {
                let changed = old.iter().zip(&new).filter(|(a, b)| a != b).count()
                    + old.len().abs_diff(new.len());
                c.fields_changed.push(changed);
            }
        });
        self.inner.put(key, value)
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let now = std::time::Instant::now();
        self.with(|c| {
            c.gets += 1;
            c.get_times.push(now);
        });
        self.inner.get(key)
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        self.with(|c| c.deletes += 1);
        self.inner.delete(key)
    }
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let items = self.inner.scan(start, end, limit)?;
        self.with(|c| {
            c.scans += 1;
            c.scanned_items += items.len() as u64;
        });
        Ok(items)
    }
    fn sync(&self) -> Result<()> {
        self.inner.sync()
    }
    fn settle(&self) -> Result<()> {
        self.epochs.lock().unwrap().push(Calls::default());
        self.inner.settle()
    }
    fn close(&self) -> Result<()> {
        self.inner.close()
    }
    fn compact(&self) -> Result<()> {
        self.inner.compact()
    }
    fn stats(&self) -> EngineStats {
        self.inner.stats()
    }
}

/// A counting engine and the calls it will have seen, per epoch.
pub fn counting_engine() -> (EngineUnderTest, std::sync::Arc<Mutex<Vec<Calls>>>) {
    let epochs = std::sync::Arc::new(Mutex::new(Vec::new()));
    let seen = epochs.clone();
    let eut = EngineUnderTest {
        info: EngineInfo {
            name: "counting".into(),
            family: "reference".into(),
            description: "test: memory engine counting its calls".into(),
            persistent: false,
            counts_io: true,
            options: Options::default(),
        },
        open: Box::new(move |_, _| {
            Ok(Box::new(CountingEngine {
                inner: MemoryEngine::new(),
                epochs: epochs.clone(),
            }))
        }),
    };
    (eut, seen)
}
