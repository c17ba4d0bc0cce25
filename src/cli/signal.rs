//! Ctrl-C: the first SIGINT (or SIGTERM) sets a flag the runner polls, so the current phase
//! stops cleanly and a partial result is written; a second one ends the process at once (and
//! kills the child process running the current run, if there is one).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Set by SIGINT.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// Pid of the child process running the current run (0: none).
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_sigint(_: libc::c_int) {
    if STOP.swap(true, Ordering::SeqCst) {
        let child = CHILD.load(Ordering::SeqCst);
        // SAFETY: kill and _exit are async-signal-safe; `child` is our own unreaped child.
        unsafe {
            if child > 0 {
                libc::kill(child, libc::SIGKILL);
            }
            libc::_exit(130)
        };
    }
}

/// Installs the handler for SIGINT and SIGTERM.
pub fn install() {
    // SAFETY: the handler only touches atomics and calls kill and _exit, all
    // async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART;
        for sig in [libc::SIGINT, libc::SIGTERM] {
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

pub fn interrupted() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Records the child process running the current run (0 when it has ended).
pub fn set_child(pid: i32) {
    CHILD.store(pid, Ordering::SeqCst);
}
