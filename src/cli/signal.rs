//! Stop requests: the first SIGINT (Ctrl-C) or SIGTERM sets a flag the runner polls, so the
//! current phase stops cleanly and a partial result is written that names the signal; a second
//! one ends the process at once (and kills the child process running the current run, if
//! there is one).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Set by the first SIGINT or SIGTERM.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// The signal that set `STOP` (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Pid of the child process running the current run (0: none).
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // The first signal is the one the results name.
    let _ = SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    if STOP.swap(true, Ordering::SeqCst) {
        let child = CHILD.load(Ordering::SeqCst);
        // SAFETY: kill and _exit are async-signal-safe; `child` is our own unreaped child.
        unsafe {
            if child > 0 {
                libc::kill(child, libc::SIGKILL);
            }
            libc::_exit(128 + sig)
        };
    }
}

/// Installs the handler for SIGINT and SIGTERM.
pub fn install() {
    // SAFETY: the handler only touches atomics and calls kill and _exit, all
    // async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
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

/// What stopped the run, for messages and partial results: "interrupted by SIGTERM",
/// "interrupted by SIGINT (Ctrl-C)".
pub fn reason() -> String {
    match SIGNAL.load(Ordering::SeqCst) {
        libc::SIGINT => "interrupted by SIGINT (Ctrl-C)".into(),
        libc::SIGTERM => "interrupted by SIGTERM".into(),
        0 => "interrupted".into(),
        sig => format!("interrupted by signal {sig}"),
    }
}

/// The exit code of a run ended by a stop request: 128 + the signal's number, as a shell
/// reports a process a signal ended (130 for SIGINT, 143 for SIGTERM).
pub fn exit_code() -> u8 {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => 130,
        sig => (128 + sig).clamp(0, 255) as u8,
    }
}

/// Records the child process running the current run (0 when it has ended).
pub fn set_child(pid: i32) {
    CHILD.store(pid, Ordering::SeqCst);
}
