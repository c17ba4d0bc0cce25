//! Device read requests of this process's own cgroup: how many reads (and bytes) reached the
//! block device, which `/proc/self/io` (bytes only) cannot tell. A parent kvbench that puts a
//! run's process into a cgroup of its own (`--memory-limit`) names the counters in the job;
//! the runner then reads them at the same moments as `/proc/self/io` and records the
//! difference per phase ([`crate::result::PhaseResult::device_reads`]).
//!
//! * cgroup v1: `blkio.throttle.io_serviced` and `blkio.throttle.io_service_bytes` of the
//!   run's blkio group, line `MAJ:MIN Read N`. The kernel counts there only on a device with
//!   a throttle rule, so the parent sets a read limit no device reaches (1 TiB/s).
//! * cgroup v2: `io.stat` of the run's group, line `MAJ:MIN rbytes=N wbytes=N rios=N ...`.
//!
//! A read here is a request (a bio) as the block layer received it: read-ahead makes one
//! request of many pages, so bytes per read vary.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub use crate::result::DeviceReadCount;

/// Where the device read counters of the process's own cgroup are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCounters {
    /// 1 or 2: the cgroup version whose file format to read.
    pub cgroup_version: u8,
    /// The group's directory (v1: in the blkio hierarchy).
    pub dir: PathBuf,
    /// `MAJ:MIN` of the whole disk under the data directory.
    pub device: String,
}

static WATCHED: OnceLock<DeviceCounters> = OnceLock::new();

/// Makes [`read`] read `counters` from now on (once per process; later calls are ignored).
pub fn watch(counters: DeviceCounters) {
    let _ = WATCHED.set(counters);
}

/// The counters now, when a parent named them and they are readable.
pub fn read() -> Option<DeviceReadCount> {
    read_counters(WATCHED.get()?)
}

/// Reads `c` once.
pub fn read_counters(c: &DeviceCounters) -> Option<DeviceReadCount> {
    let text = |name: &str| std::fs::read_to_string(c.dir.join(name)).ok();
    match c.cgroup_version {
        1 => Some(DeviceReadCount {
            reads: parse_v1(&text("blkio.throttle.io_serviced")?, &c.device)?,
            bytes: parse_v1(&text("blkio.throttle.io_service_bytes")?, &c.device)?,
        }),
        _ => parse_v2(&text("io.stat")?, &c.device),
    }
}

/// The `Read` figure of `device` in a v1 `blkio.throttle.*` file; 0 when the device has no
/// line yet (nothing read since the group was made).
pub fn parse_v1(text: &str, device: &str) -> Option<u64> {
    let mut seen_total = false;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        match (f.next(), f.next(), f.next()) {
            (Some(d), Some("Read"), Some(n)) if d == device => return n.parse().ok(),
            (Some("Total"), Some(_), None) => seen_total = true,
            _ => {}
        }
    }
    seen_total.then_some(0)
}

/// `rios` and `rbytes` of `device` in a v2 `io.stat`; zeros when the device has no line.
pub fn parse_v2(text: &str, device: &str) -> Option<DeviceReadCount> {
    let mut count = DeviceReadCount::default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        if f.next() != Some(device) {
            continue;
        }
        for kv in f {
            match kv.split_once('=') {
                Some(("rios", n)) => count.reads = n.parse().ok()?,
                Some(("rbytes", n)) => count.bytes = n.parse().ok()?,
                _ => {}
            }
        }
    }
    Some(count)
}

impl DeviceReadCount {
    /// Counter-wise `self - earlier` (saturating).
    pub fn since(&self, earlier: &DeviceReadCount) -> DeviceReadCount {
        DeviceReadCount {
            reads: self.reads.saturating_sub(earlier.reads),
            bytes: self.bytes.saturating_sub(earlier.bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1_throttle_files() {
        let text = "254:0 Read 245\n254:0 Write 3\n254:0 Sync 245\n254:0 Total 248\n8:0 Read 9\nTotal 257\n";
        assert_eq!(parse_v1(text, "254:0"), Some(245));
        assert_eq!(parse_v1(text, "8:0"), Some(9));
        assert_eq!(parse_v1("Total 0\n", "254:0"), Some(0), "no line yet: 0");
        assert_eq!(parse_v1("garbage", "254:0"), None);
    }

    #[test]
    fn parses_v2_io_stat() {
        let text = "8:16 rbytes=1 wbytes=2 rios=3 wios=4\n254:0 rbytes=4096 wbytes=0 rios=2 wios=0 dbytes=0 dios=0\n";
        let c = parse_v2(text, "254:0").unwrap();
        assert_eq!((c.reads, c.bytes), (2, 4096));
        assert_eq!(parse_v2("", "254:0"), Some(DeviceReadCount::default()));
        let later = DeviceReadCount {
            reads: 5,
            bytes: 10000,
        };
        assert_eq!(later.since(&c).reads, 3);
    }
}
