//! The engine's own counters, reported in `EngineStats.extra` to explain write and read
//! amplification and stalls.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct Stats {
    pub wal_bytes_written: Counter,
    pub flush_bytes_written: Counter,
    pub compaction_bytes_written: Counter,
    pub compaction_bytes_read: Counter,
    pub manifest_bytes_written: Counter,
    pub flushes: Counter,
    pub compactions: Counter,
    pub tombstones_dropped: Counter,
    pub bloom_checks: Counter,
    pub bloom_negatives: Counter,
    pub bloom_false_positives: Counter,
    pub tables_probed: Counter,
    pub gets: Counter,
    pub write_slowdowns: Counter,
    pub write_stalls: Counter,
    pub stall_micros: Counter,
}

impl Stats {
    /// `(name, value)` for every counter, for `EngineStats.extra`.
    pub fn named(&self) -> [(&'static str, u64); 16] {
        [
            ("wal_bytes_written", self.wal_bytes_written.get()),
            ("flush_bytes_written", self.flush_bytes_written.get()),
            (
                "compaction_bytes_written",
                self.compaction_bytes_written.get(),
            ),
            ("compaction_bytes_read", self.compaction_bytes_read.get()),
            ("manifest_bytes_written", self.manifest_bytes_written.get()),
            ("flushes", self.flushes.get()),
            ("compactions", self.compactions.get()),
            ("tombstones_dropped", self.tombstones_dropped.get()),
            ("bloom_checks", self.bloom_checks.get()),
            ("bloom_negatives", self.bloom_negatives.get()),
            ("bloom_false_positives", self.bloom_false_positives.get()),
            ("tables_probed", self.tables_probed.get()),
            ("gets", self.gets.get()),
            ("write_slowdowns", self.write_slowdowns.get()),
            ("write_stalls", self.write_stalls.get()),
            ("stall_micros", self.stall_micros.get()),
        ]
    }
}
