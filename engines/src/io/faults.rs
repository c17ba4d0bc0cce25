//! Test hooks every engine shares through the I/O layer: injected faults (failed fsyncs, a
//! full disk) and named crash points.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

/// A failure the I/O layer can be told to produce, for tests of error paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every fsync (file or directory) fails with EIO until cleared.
    FailSync,
    /// Writes succeed for this many more bytes, then fail with ENOSPC until cleared.
    DiskFullAfter(u64),
}

struct FaultEntry {
    dir: PathBuf,
    fail_sync: bool,
    /// Bytes writes may still take; `None` means unlimited.
    budget: Option<u64>,
}

static FAULTS_ARMED: AtomicBool = AtomicBool::new(false);
static FAULTS: Mutex<Vec<FaultEntry>> = Mutex::new(Vec::new());

/// Arms `fault` for every file under `dir` (all engines, all `Io` handles), until
/// [`clear_faults`] is called for that directory.
pub fn inject_fault(dir: &Path, fault: Fault) {
    let mut faults = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
    let pos = match faults.iter().position(|f| f.dir == dir) {
        Some(pos) => pos,
        None => {
            faults.push(FaultEntry {
                dir: dir.to_path_buf(),
                fail_sync: false,
                budget: None,
            });
            faults.len() - 1
        }
    };
    match fault {
        Fault::FailSync => faults[pos].fail_sync = true,
        Fault::DiskFullAfter(n) => faults[pos].budget = Some(n),
    }
    FAULTS_ARMED.store(true, Relaxed);
}

/// Removes the faults armed for `dir`.
pub fn clear_faults(dir: &Path) {
    let mut faults = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
    faults.retain(|f| f.dir != dir);
    FAULTS_ARMED.store(!faults.is_empty(), Relaxed);
}

pub(super) fn sync_fault(path: &Path) -> bool {
    if !FAULTS_ARMED.load(Relaxed) {
        return false;
    }
    let faults = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
    faults
        .iter()
        .any(|f| f.fail_sync && path.starts_with(&f.dir))
}

/// How many of `want` bytes the write budget lets through to `path`.
pub(super) fn write_allowance(path: &Path, want: usize) -> usize {
    if !FAULTS_ARMED.load(Relaxed) {
        return want;
    }
    let mut faults = FAULTS.lock().unwrap_or_else(|p| p.into_inner());
    let mut allowed = want;
    for f in faults.iter_mut().filter(|f| path.starts_with(&f.dir)) {
        if let Some(budget) = f.budget.as_mut() {
            let grant = (*budget).min(allowed as u64);
            *budget -= grant;
            allowed = grant as usize;
        }
    }
    allowed
}

/// Name of the environment variable that arms [`crash_point`].
pub const CRASH_AT_ENV: &str = "KVBENCH_CRASH_AT";

/// A named step at which tests may crash the process. When `KVBENCH_CRASH_AT` equals `name`
/// the process kills itself with SIGKILL: no destructors run and nothing is flushed, exactly
/// like a crash. Costs one comparison when the variable is unset.
pub fn crash_point(name: &str) {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| std::env::var(CRASH_AT_ENV).ok());
    if armed.as_deref() == Some(name) {
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, so this does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
}
