//! The shared counter of run-phase inserts, as YCSB's `AcknowledgedCounterGenerator`: each
//! insert takes the next record number when it is issued, and acknowledges it when the engine
//! has returned; `latest` and the zipfians choose only among records whose insert, and every
//! insert before it, has been acknowledged. So with several threads the newest records are
//! those of all threads together, and a read never names a record still being inserted.
//!
//! Acknowledgements arrive out of order; they are marked in a window of flags, and whoever
//! acknowledges moves the limit over the contiguous run of marks (one thread at a time, the
//! others leave their mark and go on, as YCSB's `tryLock` does).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Inserts that may be in flight at once, beyond the oldest one not yet acknowledged (as
/// YCSB's window: 2^20).
const WINDOW: u64 = 1 << 20;

#[derive(Debug)]
pub struct InsertCounter {
    /// The next record number to hand out.
    next: AtomicU64,
    /// Every record below this number is inserted (loaded, or acknowledged).
    below: AtomicU64,
    window: Box<[AtomicBool]>,
    moving: AtomicBool,
}

impl InsertCounter {
    /// A counter whose first insert is record `start`; records below it exist.
    pub fn new(start: u64) -> InsertCounter {
        InsertCounter {
            next: AtomicU64::new(start),
            below: AtomicU64::new(start),
            window: (0..WINDOW).map(|_| AtomicBool::new(false)).collect(),
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

    /// The insert of `record` has returned (successfully or not: a failed insert must not
    /// hold back every later one, YCSB acknowledges it too).
    pub fn acknowledge(&self, record: u64) {
        self.window[(record % WINDOW) as usize].store(true, Ordering::Release);
        loop {
            if self
                .moving
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                return; // the thread moving the limit will see the mark, or the next one will
            }
            let mut b = self.below.load(Ordering::Relaxed);
            while self.window[(b % WINDOW) as usize].swap(false, Ordering::AcqRel) {
                b += 1;
            }
            self.below.store(b, Ordering::Release);
            self.moving.store(false, Ordering::Release);
            // A mark left while we held the flag would otherwise wait for the next insert.
            if !self.window[(b % WINDOW) as usize].load(Ordering::Acquire) {
                return;
            }
        }
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
