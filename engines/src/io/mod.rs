//! The counting I/O layer. Every engine does all of its file I/O through [`Io`] and [`File`],
//! so the bytes it writes and reads, its syscalls, fsyncs and file churn are counted in one
//! place; the runner turns the counters into write and read amplification (design.md) and
//! cross-checks them against the kernel's `/proc/self/io`.
//!
//! The layer also carries the test hooks every engine shares:
//! * [`Fault`]s injected with [`inject_fault`] for every file under a directory: fsyncs that
//!   fail (EIO) and a write budget after which writes fail with ENOSPC, as on a full disk (the
//!   part that fits is written first, as a real short write would). Tests reach any engine
//!   this way without an API of its own; the hot path pays one relaxed load while none is set;
//! * [`crash_point`], which kills the process with SIGKILL at a named step when the
//!   environment variable `KVBENCH_CRASH_AT` names it, so tests can crash an engine at each
//!   step of a merge, flush, compaction or checkpoint;
//! * [`power`], which tracks what each fsync made durable under an armed directory and
//!   simulates a power cut there (unsynced blocks lost out of order, un-fsynced names undone).
//!
//! Counting costs a relaxed atomic add per call; errors get the file's path added to them.

mod faults;
pub mod power;

use std::fs;
use std::io::{self, ErrorKind};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Result;
pub use faults::{clear_faults, crash_point, inject_fault, Fault, CRASH_AT_ENV};
use faults::{sync_fault, write_allowance};

/// A point-in-time copy of the I/O counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoSnapshot {
    pub bytes_written: u64,
    pub bytes_read: u64,
    pub write_calls: u64,
    pub read_calls: u64,
    pub fsyncs: u64,
    pub files_created: u64,
    pub files_removed: u64,
}

impl IoSnapshot {
    /// Counter-wise difference `self - earlier` (saturating).
    pub fn since(&self, earlier: &IoSnapshot) -> IoSnapshot {
        IoSnapshot {
            bytes_written: self.bytes_written.saturating_sub(earlier.bytes_written),
            bytes_read: self.bytes_read.saturating_sub(earlier.bytes_read),
            write_calls: self.write_calls.saturating_sub(earlier.write_calls),
            read_calls: self.read_calls.saturating_sub(earlier.read_calls),
            fsyncs: self.fsyncs.saturating_sub(earlier.fsyncs),
            files_created: self.files_created.saturating_sub(earlier.files_created),
            files_removed: self.files_removed.saturating_sub(earlier.files_removed),
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    bytes_written: AtomicU64,
    bytes_read: AtomicU64,
    write_calls: AtomicU64,
    read_calls: AtomicU64,
    fsyncs: AtomicU64,
    files_created: AtomicU64,
    files_removed: AtomicU64,
}

/// Handle to one engine's I/O counters; cheap to clone (all clones count into one set).
#[derive(Debug, Clone)]
pub struct Io {
    shared: Arc<Shared>,
}

impl Default for Io {
    fn default() -> Self {
        Io::new()
    }
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

impl Io {
    pub fn new() -> Self {
        Io {
            shared: Arc::new(Shared::default()),
        }
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> IoSnapshot {
        let s = &self.shared;
        IoSnapshot {
            bytes_written: s.bytes_written.load(Relaxed),
            bytes_read: s.bytes_read.load(Relaxed),
            write_calls: s.write_calls.load(Relaxed),
            read_calls: s.read_calls.load(Relaxed),
            fsyncs: s.fsyncs.load(Relaxed),
            files_created: s.files_created.load(Relaxed),
            files_removed: s.files_removed.load(Relaxed),
        }
    }

    fn file(&self, file: fs::File, path: &Path) -> File {
        File {
            file,
            path: path.to_path_buf(),
            io: self.clone(),
        }
    }

    /// Creates `path` for reading and writing; fails if it exists.
    pub fn create(&self, path: &Path) -> Result<File> {
        let f = power::create(path, || {
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| with_path(path, e).into())
        })?;
        self.shared.files_created.fetch_add(1, Relaxed);
        Ok(self.file(f, path))
    }

    /// Opens an existing file for reading and writing.
    pub fn open(&self, path: &Path) -> Result<File> {
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| with_path(path, e))?;
        Ok(self.file(f, path))
    }

    /// Opens an existing file for reading only.
    pub fn open_read(&self, path: &Path) -> Result<File> {
        let f = fs::File::open(path).map_err(|e| with_path(path, e))?;
        Ok(self.file(f, path))
    }

    /// Removes a file.
    pub fn remove(&self, path: &Path) -> Result<()> {
        power::remove(path, || {
            fs::remove_file(path).map_err(|e| with_path(path, e).into())
        })?;
        self.shared.files_removed.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Renames `from` to `to` (atomic within a file system). Fsync the directory after.
    pub fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        power::rename(from, to, || {
            fs::rename(from, to).map_err(|e| with_path(to, e).into())
        })
    }

    /// Fsyncs a directory, making file creations, renames and removals in it durable.
    pub fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.check_sync(dir)?;
        power::sync_dir(dir, || {
            let d = fs::File::open(dir).map_err(|e| with_path(dir, e))?;
            d.sync_all().map_err(|e| with_path(dir, e))?;
            Ok(())
        })?;
        self.shared.fsyncs.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Creates `dir` and any missing parents, and fsyncs the parent of each directory it
    /// created, so that the new directories survive a power cut.
    pub fn create_dir_all(&self, dir: &Path) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.create_dir_all(parent)?;
        }
        power::mkdir(dir, || match fs::create_dir(dir) {
            Err(e) if e.kind() != ErrorKind::AlreadyExists => Err(with_path(dir, e).into()),
            _ => Ok(()),
        })?;
        match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) => self.sync_dir(parent),
            None => Ok(()),
        }
    }

    /// Reads a whole file.
    pub fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        let bytes = fs::read(path).map_err(|e| with_path(path, e))?;
        self.count_read(bytes.len());
        Ok(bytes)
    }

    /// Writes `bytes` to `dir/name` atomically: a temporary file is written and fsynced,
    /// renamed over `name`, and the directory fsynced.
    pub fn write_file_atomic(&self, dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
        let tmp = dir.join(format!("{name}.tmp"));
        if tmp.exists() {
            self.remove(&tmp)?;
        }
        let f = self.create(&tmp)?;
        f.write_all_at(bytes, 0)?;
        f.sync()?;
        drop(f);
        self.rename(&tmp, &dir.join(name))?;
        self.sync_dir(dir)
    }

    fn count_read(&self, n: usize) {
        self.shared.read_calls.fetch_add(1, Relaxed);
        self.shared.bytes_read.fetch_add(n as u64, Relaxed);
    }

    fn check_sync(&self, path: &Path) -> Result<()> {
        if sync_fault(path) {
            return Err(with_path(path, io::Error::other("injected fsync failure (EIO)")).into());
        }
        Ok(())
    }
}

/// An open file whose I/O is counted. Reads and writes are positioned (`pread`/`pwrite`), so
/// a `File` can be shared between threads without a lock.
#[derive(Debug)]
pub struct File {
    file: fs::File,
    path: PathBuf,
    io: Io,
}

impl File {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes all of `buf` at `offset`.
    pub fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        let allowed = write_allowance(&self.path, buf.len());
        let (part, full) = (&buf[..allowed], allowed == buf.len());
        self.io.shared.write_calls.fetch_add(1, Relaxed);
        power::write(&self.path, &self.file, offset, part.len() as u64, || {
            self.file
                .write_all_at(part, offset)
                .map_err(|e| with_path(&self.path, e).into())
        })?;
        self.io
            .shared
            .bytes_written
            .fetch_add(part.len() as u64, Relaxed);
        if !full {
            let e = io::Error::new(ErrorKind::StorageFull, "no space left on device (injected)");
            return Err(with_path(&self.path, e).into());
        }
        Ok(())
    }

    /// Fills `buf` from `offset`; a file too short is an `UnexpectedEof` I/O error.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| with_path(&self.path, e))?;
        self.io.count_read(buf.len());
        Ok(())
    }

    /// Reads up to `buf.len()` bytes at `offset`, returning how many were read (0 at EOF).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(with_path(&self.path, e).into()),
            }
        }
        self.io.count_read(done);
        Ok(done)
    }

    /// Reads the whole file.
    pub fn read_all(&self) -> Result<Vec<u8>> {
        let len = self.len()?;
        let mut buf = vec![0; len as usize];
        let n = self.read_at(&mut buf, 0)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Forces the file's data (and the metadata needed to read it) to stable storage.
    pub fn sync(&self) -> Result<()> {
        self.io.check_sync(&self.path)?;
        power::sync(&self.path, &self.file, || {
            self.file
                .sync_data()
                .map_err(|e| with_path(&self.path, e).into())
        })?;
        self.io.shared.fsyncs.fetch_add(1, Relaxed);
        Ok(())
    }

    pub fn len(&self) -> Result<u64> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| with_path(&self.path, e))?
            .len())
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Truncates or extends the file to `len` bytes.
    pub fn set_len(&self, len: u64) -> Result<()> {
        power::set_len(&self.path, &self.file, len, || {
            self.file
                .set_len(len)
                .map_err(|e| with_path(&self.path, e).into())
        })
    }
}

/// Asks the kernel to drop the page-cache pages of every file under `dir`, for cold-cache
/// runs. Dirty pages are written first (the files are fsynced), since the kernel keeps dirty
/// pages regardless. Returns how many files were dropped.
pub fn drop_page_cache(dir: &Path) -> Result<usize> {
    let mut count = 0;
    for entry in fs::read_dir(dir).map_err(|e| with_path(dir, e))? {
        let path = entry.map_err(|e| with_path(dir, e))?.path();
        if path.is_dir() {
            count += drop_page_cache(&path)?;
            continue;
        }
        let f = fs::File::open(&path).map_err(|e| with_path(&path, e))?;
        f.sync_all().map_err(|e| with_path(&path, e))?;
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is valid for the lifetime of `f`; fadvise does not touch memory.
        let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if rc != 0 {
            return Err(with_path(&path, io::Error::from_raw_os_error(rc)).into());
        }
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_faults() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let f = io.create(&dir.path().join("a")).unwrap();
        f.write_all_at(b"hello", 0).unwrap();
        let mut buf = [0u8; 5];
        f.read_exact_at(&mut buf, 0).unwrap();
        f.sync().unwrap();
        let s = io.snapshot();
        assert_eq!(
            (s.bytes_written, s.bytes_read, s.fsyncs, s.files_created),
            (5, 5, 1, 1)
        );

        inject_fault(dir.path(), Fault::DiskFullAfter(3));
        let err = f.write_all_at(b"world", 5).unwrap_err();
        assert!(err.to_string().contains("no space"), "{err}");
        assert_eq!(f.len().unwrap(), 8, "the part that fits is written");
        inject_fault(dir.path(), Fault::FailSync);
        assert!(f.sync().is_err());
        assert!(io.sync_dir(dir.path()).is_err());
        clear_faults(dir.path());
        f.sync().unwrap();
        f.write_all_at(b"!", 8).unwrap();
    }

    #[test]
    fn atomic_file_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        io.write_file_atomic(dir.path(), "m", b"one").unwrap();
        io.write_file_atomic(dir.path(), "m", b"two").unwrap();
        assert_eq!(io.read_file(&dir.path().join("m")).unwrap(), b"two");
        assert!(!dir.path().join("m.tmp").exists());
    }
}
