//! A gate counts the calls inside a region and lets one thread shut it and wait until the
//! last call has left. The engine keeps one around every public call, so that `close()` can
//! refuse new calls and wait for those in flight; each memtable keeps one around the writes
//! whose WAL records it will receive, so that a flush starts only when they are all in.
//!
//! Entering costs two sequentially consistent atomic operations and no lock: a caller first
//! counts itself in, then looks at the door. The closer shuts the door first, then waits for
//! the count to reach zero, so every caller either sees the door shut or is counted.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};

use crate::{Error, Result};

#[derive(Default)]
pub(crate) struct Gate {
    inside: AtomicUsize,
    shut: AtomicBool,
    lock: Mutex<()>,
    left: Condvar,
}

/// Held while inside the gate; leaving is dropping it.
pub(crate) struct Pass<'g>(&'g Gate);

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

impl Gate {
    /// Enters the gate, or `Error::Closed` once it is shut.
    pub fn enter(&self) -> Result<Pass<'_>> {
        self.inside.fetch_add(1, SeqCst);
        if self.shut.load(SeqCst) {
            self.leave();
            return Err(Error::Closed);
        }
        Ok(Pass(self))
    }

    /// Counts a caller in whatever the door says; the caller must call [`Gate::leave`] once.
    /// For a memtable, whose writers enter under the write lock before the gate can shut.
    pub fn enter_unchecked(&self) {
        self.inside.fetch_add(1, SeqCst);
    }

    pub fn leave(&self) {
        if self.inside.fetch_sub(1, SeqCst) == 1 && self.shut.load(SeqCst) {
            let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            self.left.notify_all();
        }
    }

    /// Shuts the door: later [`Gate::enter`] calls fail. Returns false if it was shut already.
    pub fn shut(&self) -> bool {
        !self.shut.swap(true, SeqCst)
    }

    pub fn is_shut(&self) -> bool {
        self.shut.load(SeqCst)
    }

    /// Waits until every caller counted in has left. Call after [`Gate::shut`].
    pub fn wait_empty(&self) {
        let mut g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        while self.inside.load(SeqCst) != 0 {
            g = self.left.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    #[test]
    fn shutting_waits_for_every_caller_inside_and_refuses_new_ones() {
        let gate = Gate::default();
        let done = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    while let Ok(_pass) = gate.enter() {
                        std::thread::sleep(Duration::from_micros(200));
                        done.fetch_add(1, Relaxed);
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(5));
            assert!(gate.shut());
            assert!(!gate.shut(), "shut twice");
            gate.wait_empty();
            let at_close = done.load(Relaxed);
            std::thread::sleep(Duration::from_millis(5));
            assert_eq!(
                done.load(Relaxed),
                at_close,
                "a call ran after the gate emptied"
            );
            assert!(matches!(gate.enter(), Err(Error::Closed)));
        });
    }
}
