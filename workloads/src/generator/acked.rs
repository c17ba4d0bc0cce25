//! The shared counter of run-phase inserts, as YCSB's `AcknowledgedCounterGenerator`: each
//! insert takes the next record number when it is issued, and acknowledges it when the engine
//! has returned; `latest` and the zipfians choose only among records whose insert, and every
//! insert before it, has been acknowledged. So with several threads the newest records are
//! those of all threads together, and a read never names a record still being inserted.
//!
//! Acknowledgements arrive out of order; each is marked in a window of slots (slot `r %
//! WINDOW` holds `r + 1`), and whoever acknowledges moves the limit over the contiguous run of
//! marks (one thread at a time, the others leave their mark and go on, as YCSB's `tryLock`
//! does). An insert held up while a whole window of later ones returns would share its slot
//! with one of them (YCSB gives up with an error there): the later mark then goes to a small
//! overflow list instead, so the limit never passes a record still in flight.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Inserts that may be marked in the window at once, beyond the oldest one not yet
/// acknowledged (as YCSB's window: 2^20); more go to the overflow list.
const WINDOW: u64 = 1 << 20;

#[derive(Debug)]
pub struct InsertCounter {
    /// The next record number to hand out.
    next: AtomicU64,
    /// Every record below this number is inserted (loaded, or acknowledged).
    below: AtomicU64,
    /// `r + 1` in slot `r % WINDOW` once record `r` is acknowledged and the limit has not yet
    /// moved past it; 0 when free.
    window: Box<[AtomicU64]>,
    /// Acknowledged records whose slot was taken by another, and how many there are.
    overflow: Mutex<Vec<u64>>,
    overflowed: AtomicUsize,
    moving: AtomicBool,
}

/// The window, from zeroed memory the kernel maps on first touch: a run with few inserts
/// does not make 8 MiB resident (the process's memory figure is the engine's).
fn zeroed_window() -> Box<[AtomicU64]> {
    const _: () = assert!(
        std::mem::size_of::<u64>() == std::mem::size_of::<AtomicU64>()
            && std::mem::align_of::<u64>() == std::mem::align_of::<AtomicU64>()
    );
    let zeros: Box<[u64]> = vec![0u64; WINDOW as usize].into_boxed_slice();
    // SAFETY: `AtomicU64` has the size, alignment and bit validity of `u64` (asserted above,
    // so the allocation's layout is the same), and the box is moved, so nothing else refers
    // to the memory.
    unsafe { Box::from_raw(Box::into_raw(zeros) as *mut [AtomicU64]) }
}

impl InsertCounter {
    /// A counter whose first insert is record `start`; records below it exist.
    pub fn new(start: u64) -> InsertCounter {
        InsertCounter {
            next: AtomicU64::new(start),
            below: AtomicU64::new(start),
            window: zeroed_window(),
            overflow: Mutex::new(Vec::new()),
            overflowed: AtomicUsize::new(0),
            moving: AtomicBool::new(false),
        }
    }

    /// The record the next insert writes.
    #[inline]
    pub fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Records below this number exist (YCSB's `lastValue() + 1`).
    #[inline]
    pub fn below(&self) -> u64 {
        self.below.load(Ordering::Acquire)
    }

    fn slot(&self, record: u64) -> &AtomicU64 {
        &self.window[(record % WINDOW) as usize]
    }

    /// The insert of `record` has returned (successfully or not: a failed insert must not
    /// hold back every later one, YCSB acknowledges it too).
    pub fn acknowledge(&self, record: u64) {
        let mark = record + 1;
        if self
            .slot(record)
            .compare_exchange(0, mark, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            let mut o = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
            o.push(record);
            self.overflowed.store(o.len(), Ordering::SeqCst);
        }
        loop {
            if self
                .moving
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
            {
                return; // the thread moving the limit will see the mark, or the next one will
            }
            let mut b = self.below.load(Ordering::Relaxed);
            while self.take(b) {
                b += 1;
            }
            self.below.store(b, Ordering::Release);
            self.moving.store(false, Ordering::SeqCst);
            // A mark left while we held the flag would otherwise wait for the next insert
            // (SeqCst on both sides: a marker that found the flag held sees it released here,
            // or this sees its mark).
            if !self.is_marked(b) {
                return;
            }
        }
    }

    /// Frees the mark of record `b`, if it was acknowledged.
    fn take(&self, b: u64) -> bool {
        let slot = self.slot(b);
        if slot.load(Ordering::Acquire) == b + 1 {
            slot.store(0, Ordering::Release);
            return true;
        }
        if self.overflowed.load(Ordering::Acquire) == 0 {
            return false;
        }
        let mut o = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
        let Some(i) = o.iter().position(|&r| r == b) else {
            return false;
        };
        o.swap_remove(i);
        self.overflowed.store(o.len(), Ordering::Release);
        true
    }

    fn is_marked(&self, b: u64) -> bool {
        self.slot(b).load(Ordering::SeqCst) == b + 1
            || (self.overflowed.load(Ordering::SeqCst) > 0
                && self
                    .overflow
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .contains(&b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_limit_follows_the_contiguous_acknowledgements() {
        let c = InsertCounter::new(100);
        assert_eq!(c.below(), 100);
        let (a, b, d) = (c.next(), c.next(), c.next());
        assert_eq!((a, b, d), (100, 101, 102));
        c.acknowledge(101);
        assert_eq!(c.below(), 100, "100 is still in flight");
        c.acknowledge(100);
        assert_eq!(c.below(), 102);
        c.acknowledge(102);
        assert_eq!(c.below(), 103);
    }

    /// One insert held up while more than a window of later ones are acknowledged: the
    /// limit stays below the held one (a later record that shares its slot must not pass for
    /// it), and moves past all of them once it returns.
    #[test]
    fn a_held_insert_holds_the_limit_beyond_a_window() {
        let c = InsertCounter::new(0);
        let held = c.next();
        for _ in 0..WINDOW + 5 {
            let r = c.next();
            c.acknowledge(r);
        }
        assert_eq!(
            c.below(),
            held,
            "the limit passed the insert still in flight"
        );
        c.acknowledge(held);
        assert_eq!(c.below(), WINDOW + 6);
    }

    /// Four threads inserting and acknowledging at once: at the end every record is below the
    /// limit, and the limit never passed a record not yet acknowledged.
    #[test]
    fn concurrent_acknowledgements_leave_nothing_behind() {
        let c = Arc::new(InsertCounter::new(0));
        let acked: Arc<Vec<AtomicBool>> =
            Arc::new((0..40_000).map(|_| AtomicBool::new(false)).collect());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (c, acked) = (c.clone(), acked.clone());
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let r = c.next();
                        let below = c.below();
                        assert!(below <= r, "the limit passed {r} before its insert");
                        acked[r as usize].store(true, Ordering::SeqCst);
                        c.acknowledge(r);
                        let below = c.below();
                        assert!(below == 0 || acked[below as usize - 1].load(Ordering::SeqCst));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(c.below(), 40_000);
    }
}
