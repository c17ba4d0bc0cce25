//! The gate that makes `close()` a barrier, shared by every engine: each call that may write
//! (and, where an engine wants it, each read) passes through it. Once closing has begun no
//! call gets in (`Error::Closed`), and `close()` waits until the calls already inside have
//! left before it writes its last bytes and releases the directory. A second `close()` waits
//! until the first has finished.
//!
//! Entering and leaving cost one atomic add each: the count of calls inside and the closing
//! flag share one word, so a call that gets in is always counted before `close()` looks.
//!
//! The lower-level parts ([`Gate::enter_unchecked`], [`Gate::leave`], [`Gate::shut`],
//! [`Gate::wait_empty`]) count callers whose entry another lock already orders before the
//! shut, such as the writers of an lsm memtable that a flush must wait for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::{Error, Result};

/// Set in `state` once closing has begun; the low bits count the calls inside.
const CLOSING: u64 = 1 << 63;

pub struct Gate {
    state: AtomicU64,
    /// True once the closing call has finished.
    closed: Mutex<bool>,
    cv: Condvar,
}

/// A call inside the gate; leaves on drop.
pub struct Pass<'a>(&'a Gate);

/// The right and the duty to finish closing; on drop the gate counts as closed and every
/// other `close()` waiting on it returns.
pub struct Closing<'a>(&'a Gate);

impl Gate {
    pub fn new() -> Gate {
        Gate {
            state: AtomicU64::new(0),
            closed: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        self.closed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets a call in, or `Error::Closed` once closing has begun.
    pub fn enter(&self) -> Result<Pass<'_>> {
        let s = self.state.fetch_add(1, Ordering::Acquire);
        let pass = Pass(self);
        if s & CLOSING != 0 {
            return Err(Error::Closed);
        }
        Ok(pass)
    }

    /// True once closing has begun.
    pub fn is_closing(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSING != 0
    }

    /// Begins closing and waits until every call inside has left. Returns `None` when another
    /// `close()` began first, after waiting until it has finished.
    pub fn close(&self) -> Option<Closing<'_>> {
        if !self.shut() {
            let mut closed = self.lock();
            while !*closed {
                closed = self.cv.wait(closed).unwrap_or_else(|p| p.into_inner());
            }
            return None;
        }
        self.wait_empty();
        Some(Closing(self))
    }

    /// Counts a caller in whatever the door says; it must call [`Gate::leave`] once. For a
    /// caller whose entry is ordered before any [`Gate::shut`] by a lock of its own.
    pub fn enter_unchecked(&self) {
        self.state.fetch_add(1, Ordering::Acquire);
    }

    /// Counts a caller out (the drop of a [`Pass`] does this).
    pub fn leave(&self) {
        let s = self.state.fetch_sub(1, Ordering::AcqRel);
        if s == CLOSING | 1 {
            // The last call out while someone waits: wake it (under the lock, so the wake-up
            // cannot fall between its check and its wait).
            let _g = self.lock();
            self.cv.notify_all();
        }
    }

    /// Shuts the door without waiting: later [`Gate::enter`] calls fail. False if it was shut
    /// already.
    pub fn shut(&self) -> bool {
        self.state.fetch_or(CLOSING, Ordering::AcqRel) & CLOSING == 0
    }

    /// Waits until every caller counted in has left. Call after [`Gate::shut`].
    pub fn wait_empty(&self) {
        let mut g = self.lock();
        while self.state.load(Ordering::Acquire) & !CLOSING != 0 {
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        *self.0.lock() = true;
        self.0.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn close_waits_for_calls_inside_and_shuts_the_door() {
        let gate = Arc::new(Gate::new());
        let inside = gate.enter().unwrap();
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (g, f) = (Arc::clone(&gate), Arc::clone(&finished));
        let closer = std::thread::spawn(move || {
            let c = g.close();
            assert!(c.is_some());
            std::thread::sleep(Duration::from_millis(20));
            f.store(true, Ordering::SeqCst);
            drop(c);
        });
        while !gate.is_closing() {
            std::thread::yield_now();
        }
        assert!(matches!(gate.enter(), Err(Error::Closed)));
        std::thread::sleep(Duration::from_millis(10));
        assert!(!closer.is_finished(), "close() returned with a call inside");
        drop(inside);
        // A second close returns only after the first has finished.
        assert!(gate.close().is_none());
        assert!(
            finished.load(Ordering::SeqCst),
            "the second close() returned first"
        );
        closer.join().unwrap();
    }
}
