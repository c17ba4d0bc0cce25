//! SQLite (bundled, through rusqlite): one table in WAL mode in `<dir>/data.sqlite`.
//!
//! ```sql
//! CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID
//! ```
//!
//! ```text
//! data.sqlite:      | 100-byte header | pages: one B-tree (WITHOUT ROWID keeps the rows in
//!                   | the primary-key index itself), free-list pages                        |
//! data.sqlite-wal:  | 32-byte header (magic, page size, checkpoint seq, salts, checksum)   |
//!                   | frames: 24-byte header (page no, commit size, salts, running checksum) |
//!                   |         + one page image                                              |
//! data.sqlite-shm:  the WAL index (shared memory), rebuilt from the WAL when needed
//! ```
//!
//! A commit appends the changed pages to the WAL; its last frame carries the database size,
//! marking the commit. Checkpoints copy pages back into the database file. Recovery: the
//! WAL is replayed up to the last commit frame whose running checksum (and salts) are
//! valid, so a torn or half-written commit at the tail is dropped. Database pages carry no
//! checksums: a flipped byte in the database file may read back as data, so the corruption
//! sweep is left out for SQLite.
//!
//! One writer connection (behind a mutex: SQLite has one writer at a time) and a pool of
//! reader connections (WAL readers do not block the writer or each other).
//!
//! Durability: `sync` = `PRAGMA synchronous=FULL` (the WAL is fsynced at every commit);
//! `none` and `group` = `synchronous=OFF` (commits reach the OS page cache, which a process
//! kill does not lose). SQLite has no "fsync now" call, so `persist` fsyncs the files SQLite
//! wrote, the database file first, then the WAL, then the directory (a checkpoint may have
//! moved WAL pages into the database file before the WAL was reset). The adapter's committer
//! calls it every `group_commit.interval` in `group` mode. `compact` is a WAL checkpoint
//! (`wal_checkpoint(TRUNCATE)`), SQLite's way of folding its log into the tree. `settle`
//! is that checkpoint (it must complete: a busy one is an error) followed by `persist`.
//! The deferred work is the checkpoint, which SQLite runs once the WAL holds
//! `wal_autocheckpoint` pages: `write_buffer_bytes` is that many pages (read from the
//! connection at open; 1000 x 4 KiB by default).
//!
//! `extra`: `sqlite_page_size`, `sqlite_page_count` (database file in pages),
//! `sqlite_freelist_pages` (free pages inside it), `sqlite_wal_bytes` (WAL file size).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, ErrorCode, OpenFlags};

use super::{engine_corruption, engine_error, extra, open_adapter, Backend};
use crate::io::Io;
use crate::{Durability, Engine, EngineKind, EngineStats, Error, Options, Result};

const FILE: &str = "data.sqlite";
const WAL: &str = "data.sqlite-wal";
const PUT: &str = "INSERT INTO kv (key, value) VALUES (?1, ?2) \
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM kv WHERE key = ?1";
const GET: &str = "SELECT value FROM kv WHERE key = ?1";
const SCAN_FROM: &str = "SELECT key, value FROM kv WHERE key >= ?1 ORDER BY key LIMIT ?2";
const SCAN_RANGE: &str =
    "SELECT key, value FROM kv WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3";
/// Readers kept open for reuse; more may exist while many threads read at once.
const MAX_POOLED_READERS: usize = 16;

pub fn open(dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
    open_adapter(EngineKind::Sqlite, dir, options, |store| {
        let file = store.join(FILE);
        // SQLite's page cache is per connection: the writer and a reader (one per worker
        // thread at a time) each get half of `production.cache_bytes`.
        let cache_kib = options
            .production
            .cache_bytes
            .map(|b| (b / 2 / 1024).max(1) as i64);
        let writer = connect(&file, cache_kib)?;
        let synchronous = match options.durability {
            Durability::Sync => "FULL",
            Durability::None | Durability::Group => "OFF",
        };
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| map(&file, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(engine_error(
                "sqlite",
                format!("journal_mode is {mode}, not wal"),
            ));
        }
        writer
            .pragma_update(None, "synchronous", synchronous)
            .map_err(|e| map(&file, e))?;
        writer
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
            )
            .map_err(|e| map(&file, e))?;
        Io::new().sync_dir(store.path())?;
        let pragma = |name: &str| -> Result<u64> {
            let v: i64 = writer
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .map_err(|e| map(&file, e))?;
            Ok(v.max(0) as u64)
        };
        let checkpoint_bytes = pragma("wal_autocheckpoint")? * pragma("page_size")?;
        Ok(Sqlite {
            checkpoint_bytes,
            cache_kib,
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
            dir: store.path().to_path_buf(),
            file,
        })
    })
}

/// A connection to `file`, with a page cache of `cache_kib` KiB when given (else SQLite's
/// default, about 2 MB).
fn connect(file: &Path, cache_kib: Option<i64>) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(file, flags).map_err(|e| map(file, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| map(file, e))?;
    if let Some(kib) = cache_kib {
        // A negative cache_size is a size in KiB.
        conn.pragma_update(None, "cache_size", -kib)
            .map_err(|e| map(file, e))?;
    }
    Ok(conn)
}

pub(crate) struct Sqlite {
    /// WAL bytes after which SQLite checkpoints on its own.
    checkpoint_bytes: u64,
    /// Page cache of each connection, KiB (`None`: SQLite's default).
    cache_kib: Option<i64>,
    /// `None` after close.
    writer: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    dir: PathBuf,
    file: PathBuf,
}

fn map(file: &Path, e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            engine_corruption(file, format!("sqlite: {e}"))
        }
        Some(ErrorCode::SystemIoFailure | ErrorCode::DiskFull | ErrorCode::CannotOpen) => {
            Error::Io(std::io::Error::other(format!("sqlite: {e}")))
        }
        _ => engine_error("sqlite", e),
    }
}

impl Sqlite {
    fn write(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<usize>) -> Result<()> {
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let conn = guard.as_ref().ok_or(Error::Closed)?;
        f(conn).map(|_| ()).map_err(|e| map(&self.file, e))
    }

    /// Runs `f` on a pooled reader connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => connect(&self.file, self.cache_kib)?,
        };
        let r = f(&conn).map_err(|e| map(&self.file, e));
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < MAX_POOLED_READERS {
            pool.push(conn);
        }
        r
    }
}

impl Backend for Sqlite {
    const SYNCS_ITSELF: bool = true;

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(|c| c.prepare_cached(PUT)?.execute(params![key, value]))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.write(|c| c.prepare_cached(DELETE)?.execute(params![key]))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(GET)?;
            let mut rows = stmt.query(params![key])?;
            match rows.next()? {
                Some(row) => Ok(Some(row.get::<_, Vec<u8>>(0)?)),
                None => Ok(None),
            }
        })
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut out = Vec::new();
            let mut push = |row: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
                out.push((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?));
                Ok(())
            };
            match end {
                Some(end) => {
                    let mut stmt = c.prepare_cached(SCAN_RANGE)?;
                    let mut rows = stmt.query(params![start, end, limit])?;
                    while let Some(row) = rows.next()? {
                        push(row)?;
                    }
                }
                None => {
                    let mut stmt = c.prepare_cached(SCAN_FROM)?;
                    let mut rows = stmt.query(params![start, limit])?;
                    while let Some(row) = rows.next()? {
                        push(row)?;
                    }
                }
            }
            Ok(out)
        })
    }

    fn persist(&self) -> Result<()> {
        let io = Io::new();
        for name in [FILE, WAL] {
            match io.open_read(&self.dir.join(name)) {
                Ok(f) => f.sync()?,
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        io.sync_dir(&self.dir)
    }

    fn compact(&self) -> Result<()> {
        self.write(|c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(0)
        })
    }

    fn settle(&self) -> Result<()> {
        let mut busy = 0i64;
        self.write(|c| {
            busy = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            Ok(0)
        })?;
        if busy != 0 {
            return Err(engine_error(
                "sqlite",
                "the WAL checkpoint could not finish (a reader held an old snapshot)",
            ));
        }
        self.persist()
    }

    fn write_buffer_bytes(&self) -> u64 {
        self.checkpoint_bytes
    }

    fn stats(&self, stats: &mut EngineStats) {
        let pragma = |name: &'static str| {
            self.read(|c| c.query_row(name, [], |r| r.get::<_, i64>(0)))
                .ok()
        };
        if let Some(n) = pragma("PRAGMA page_size") {
            extra(stats, "sqlite_page_size", n as f64);
        }
        if let Some(n) = pragma("PRAGMA page_count") {
            extra(stats, "sqlite_page_count", n as f64);
        }
        if let Some(n) = pragma("PRAGMA freelist_count") {
            extra(stats, "sqlite_freelist_pages", n as f64);
        }
        if let Ok(m) = std::fs::metadata(self.dir.join(WAL)) {
            extra(stats, "sqlite_wal_bytes", m.len() as f64);
        }
    }

    fn close(&self) -> Result<()> {
        let readers = std::mem::take(&mut *self.readers.lock().unwrap_or_else(|p| p.into_inner()));
        for r in readers {
            r.close().map_err(|(_, e)| map(&self.file, e))?;
        }
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        match writer {
            Some(w) => w.close().map_err(|(_, e)| map(&self.file, e)),
            None => Err(Error::Closed),
        }
    }
}
