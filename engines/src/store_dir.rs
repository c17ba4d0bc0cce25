//! Claiming a store directory: the marker file that says which engine and format version a
//! directory holds, and the lock that keeps two instances off one store.
//!
//! The marker `KVBENCH` is a few text lines, written atomically before any engine file:
//!
//! ```text
//! kvbench-store
//! engine=bitcask
//! version=1
//! ```
//!
//! Opening checks it: another engine's store, another format version, or a non-empty directory
//! without a marker (someone else's files) is `Error::Incompatible`, and nothing is written.
//! The lock is an exclusive `flock` on the file `LOCK`, held until the [`StoreDir`] is
//! dropped; the kernel releases it when a process dies, so a crashed store opens at once.
//! A second claim from the same process is refused at once (a set of held paths). A claim
//! that finds the flock taken by someone else retries for a moment before refusing: a
//! process forked by another thread of this process holds copies of our descriptors, the
//! lock's included, until it execs, so a store just closed here can look taken briefly.

use std::collections::BTreeSet;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::io::Io;
use crate::{Error, Result};

pub const MARKER: &str = "KVBENCH";
pub const LOCK: &str = "LOCK";

/// A claimed, locked store directory. Dropping it releases the lock.
#[derive(Debug)]
pub struct StoreDir {
    path: PathBuf,
    /// The store was created by this claim (the directory held no store before).
    pub created: bool,
    // Fields drop in order: the process-local claim goes first, then the flock.
    _held: Held,
    _lock: fs::File,
}

/// Canonical paths of the stores this process has claimed.
static HELD: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// This process's claim on a path; dropped (before the lock file closes) with the StoreDir.
#[derive(Debug)]
struct Held(PathBuf);

impl Held {
    fn take(path: PathBuf) -> Option<Held> {
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        // Build the guard only on success: a guard dropped here would deadlock on HELD and
        // remove the other claimant's entry.
        if held.insert(path.clone()) {
            Some(Held(path))
        } else {
            None
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        HELD.lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}

/// How long a claim waits for an flock held by someone else (see the module comment).
const LOCK_PATIENCE: Duration = Duration::from_secs(2);

impl StoreDir {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `self.path()/name`.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

/// Claims `dir` for `engine` at format `version`, creating it (and the marker) if needed.
pub fn claim(io: &Io, dir: &Path, engine: &str, version: u32) -> Result<StoreDir> {
    // Each directory created here is made durable in its parent before any file goes in.
    io.create_dir_all(dir)?;
    let in_use = || {
        Error::Incompatible(format!(
            "{} is in use by another open engine (lock held on {LOCK})",
            dir.display()
        ))
    };
    let held = Held::take(fs::canonicalize(dir)?).ok_or_else(in_use)?;
    let lock_path = dir.join(LOCK);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", lock_path.display()),
            ))
        })?;
    let started = std::time::Instant::now();
    // SAFETY: flock on a descriptor we own; no memory is passed.
    while unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        if started.elapsed() >= LOCK_PATIENCE {
            return Err(in_use());
        }
        std::thread::sleep(Duration::from_millis(5));
    }

    let marker = dir.join(MARKER);
    let created = match fs::read_to_string(&marker) {
        Ok(text) => {
            check_marker(dir, &text, engine, version)?;
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let foreign: Vec<String> = fs::read_dir(dir)?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != LOCK && n != &format!("{MARKER}.tmp"))
                .collect();
            if !foreign.is_empty() {
                return Err(Error::Incompatible(format!(
                    "{} is not empty and holds no kvbench store (found {}); refusing to write into it",
                    dir.display(),
                    foreign.join(", ")
                )));
            }
            let text = format!("kvbench-store\nengine={engine}\nversion={version}\n");
            io.write_file_atomic(dir, MARKER, text.as_bytes())?;
            true
        }
        Err(e) => return Err(e.into()),
    };
    Ok(StoreDir {
        path: dir.to_path_buf(),
        created,
        _held: held,
        _lock: lock,
    })
}

fn check_marker(dir: &Path, text: &str, engine: &str, version: u32) -> Result<()> {
    let bad = || {
        Error::Incompatible(format!(
            "{} has a damaged or unknown {MARKER} marker file",
            dir.join(MARKER).display()
        ))
    };
    let mut lines = text.lines();
    if lines.next() != Some("kvbench-store") {
        return Err(bad());
    }
    let mut found_engine = None;
    let mut found_version = None;
    for line in lines {
        match line.split_once('=') {
            Some(("engine", v)) => found_engine = Some(v.to_string()),
            Some(("version", v)) => found_version = Some(v.parse::<u32>().map_err(|_| bad())?),
            _ => return Err(bad()),
        }
    }
    let (found_engine, found_version) = (
        found_engine.ok_or_else(bad)?,
        found_version.ok_or_else(bad)?,
    );
    if found_engine != engine {
        return Err(Error::Incompatible(format!(
            "{} holds a {found_engine} store, not a {engine} store",
            dir.display()
        )));
    }
    if found_version != version {
        return Err(Error::Incompatible(format!(
            "{} holds {engine} format version {found_version}; this build reads version {version} only (load the data into a new store)",
            dir.display()
        )));
    }
    Ok(())
}

/// Total size in bytes of the files under `dir` (recursively), for space amplification.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_rules() {
        let d = tempfile::tempdir().unwrap();
        let io = Io::new();
        let s = claim(&io, d.path(), "bitcask", 1).unwrap();
        assert!(s.created);
        assert!(matches!(
            claim(&io, d.path(), "bitcask", 1),
            Err(Error::Incompatible(m)) if m.contains("in use")
        ));
        drop(s);
        assert!(!claim(&io, d.path(), "bitcask", 1).unwrap().created);
        let e = claim(&io, d.path(), "lsm", 1).unwrap_err().to_string();
        assert!(e.contains("holds a bitcask store"), "{e}");
        fs::write(
            d.path().join(MARKER),
            "kvbench-store\nengine=bitcask\nversion=9\n",
        )
        .unwrap();
        let e = claim(&io, d.path(), "bitcask", 1).unwrap_err().to_string();
        assert!(e.contains("version 9"), "{e}");
        let e = claim(&io, d.path(), "bitcask", 10).unwrap_err().to_string();
        assert!(
            e.contains("version 9") && e.contains("version 10 only"),
            "{e}"
        );

        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join("photo.jpg"), b"x").unwrap();
        let e = claim(&io, other.path(), "lsm", 1).unwrap_err().to_string();
        assert!(e.contains("photo.jpg"), "{e}");
    }

    #[test]
    fn a_lock_copy_held_briefly_elsewhere_is_waited_out() {
        let d = tempfile::tempdir().unwrap();
        let io = Io::new();
        let s = claim(&io, d.path(), "bitcask", 1).unwrap();
        // A forked child's copy of the descriptor shares the open file description, as a dup does.
        // SAFETY: dup of a descriptor we own; the copy is closed below.
        let copy = unsafe { libc::dup(s._lock.as_raw_fd()) };
        assert!(copy >= 0);
        drop(s);
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: closes the descriptor dup returned, once.
            unsafe { libc::close(copy) };
        });
        let again = claim(&io, d.path(), "bitcask", 1).expect("the copy closed within the wait");
        closer.join().unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(
            claim(&io, d.path(), "bitcask", 1),
            Err(Error::Incompatible(_))
        ));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a second claim by this process is refused at once"
        );
        drop(again);
    }
}
