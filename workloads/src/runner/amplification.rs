//! Write, read and space amplification of a phase, as design.md defines them, and the
//! cross-check of the engine's own write counter against the kernel's.
//!
//! Each byte figure is named for what it counts: the engine's counters (bytes through its
//! I/O layer), the kernel's syscall counters (`wchar`/`rchar`: bytes handed to write and read
//! calls) and the kernel's device counters (`write_bytes` less `cancelled_write_bytes`, and
//! `read_bytes`: bytes that reached or came from the block device; page-sized, and an
//! overwrite of a page still dirty in the cache is not counted again). The engine's counter
//! is cross-checked against the syscall counter, which counts the same thing.
//!
//! The main figures are *settled*: the window closes after the engine was brought to rest,
//! so the writes it deferred are in. The same figures before the rest are kept beside them
//! (`in_window`). A phase that wrote little next to what the engine may hold in memory has
//! not reached a steady state, and is flagged.

use engines::{Engine, IoSnapshot};

use crate::files::DiskUsage;
use crate::result::{Amplification, InWindow, ProcIo};

/// Below this difference the two write figures are taken to agree whatever the ratio: the
/// harness itself writes a little (progress lines), which the kernel counts.
pub const MISMATCH_FLOOR_BYTES: u64 = 64 << 10;
/// Relative difference above which the two write figures are said to disagree.
pub const MISMATCH_RATIO: f64 = 0.10;
/// A phase is in a steady state once it has written this many times what the engine may
/// hold in memory before writing it (memtable, dirty pages): before that, filling the
/// buffer, not the design, decides what reaches the files.
pub const STEADY_BUFFERS: u64 = 4;

/// What the workers counted over the phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserBytes {
    pub written: u64,
    pub read: u64,
    pub logical_reads: u64,
}

/// What the engine and the kernel counted over one window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub engine: IoSnapshot,
    pub proc: Option<ProcIo>,
}

impl Window {
    /// Bytes that reached the device: `write_bytes` less the writes cancelled before
    /// writeback (a file deleted or truncated while dirty).
    pub fn device_written(&self) -> Option<u64> {
        self.proc
            .map(|p| p.write_bytes.saturating_sub(p.cancelled_write_bytes))
    }
}

/// Live key + value bytes and keys, by a full scan in pages. After the first page, a page
/// holds about `PAGE_BYTES`: a hash-indexed engine (bitcask) looks at every key for each
/// page, so pages of a fixed 10,000 made this quadratic (not done in 20 minutes at 10M keys).
pub fn live_data(db: &dyn Engine) -> engines::Result<(u64, u64)> {
    const FIRST_PAGE: usize = 1_000;
    const MAX_PAGE: usize = 1 << 20;
    const PAGE_BYTES: u64 = 64 << 20;
    /// Bytes of a pair beside its key and value: its two `Vec` headers.
    const PAIR_OVERHEAD: u64 = std::mem::size_of::<(Vec<u8>, Vec<u8>)>() as u64;
    let (mut bytes, mut keys) = (0u64, 0u64);
    let mut start = vec![0u8];
    let mut page_len = FIRST_PAGE;
    loop {
        let page = db.scan(&start, None, page_len)?;
        let page_bytes: u64 = page.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
        bytes += page_bytes;
        keys += page.len() as u64;
        match page.last() {
            Some((k, _)) if page.len() == page_len => {
                start.clear();
                start.extend_from_slice(k);
                start.push(0);
                let per_pair = page_bytes / page.len() as u64 + PAIR_OVERHEAD;
                page_len = usize::try_from(super::harness_bytes(PAGE_BYTES) / per_pair)
                    .unwrap_or(MAX_PAGE)
                    .clamp(FIRST_PAGE, MAX_PAGE);
            }
            _ => return Ok((bytes, keys)),
        }
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The amplification figures of a phase, and the notes a reader must see beside them. An
/// engine whose I/O our counters do not see (`counts_io` false) gets no engine-counted
/// figures and no cross-check: its write amplification is the kernel's alone.
#[allow(clippy::too_many_arguments)]
pub fn compute(
    user: UserBytes,
    settled: &Window,
    in_window: Option<&Window>,
    usage: DiskUsage,
    live: Option<(u64, u64)>,
    persistent: bool,
    counts_io: bool,
    write_buffer_bytes: u64,
) -> (Amplification, Vec<String>) {
    let engine = settled.engine;
    let proc = settled.proc;
    let device = settled.device_written();
    let mut a = Amplification {
        user_bytes_written: user.written,
        user_bytes_read: user.read,
        logical_reads: user.logical_reads,
        engine_bytes_written: engine.bytes_written,
        engine_bytes_read: engine.bytes_read,
        proc_wchar: proc.map(|p| p.wchar),
        proc_write_bytes: proc.map(|p| p.write_bytes),
        proc_rchar: proc.map(|p| p.rchar),
        proc_read_bytes: proc.map(|p| p.read_bytes),
        device_bytes_written: device,
        write_amp_engine: ratio(engine.bytes_written, user.written).filter(|_| counts_io),
        write_amp_proc: proc.and_then(|p| ratio(p.wchar, user.written)),
        write_amp_device: device.and_then(|d| ratio(d, user.written)),
        write_amp_mismatch: false,
        read_amp_bytes_per_read: ratio(engine.bytes_read, user.logical_reads).filter(|_| counts_io),
        read_amp: ratio(engine.bytes_read, user.read).filter(|_| counts_io),
        device_read_bytes_per_read: proc.and_then(|p| ratio(p.read_bytes, user.logical_reads)),
        disk_bytes: usage.apparent,
        allocated_bytes: Some(usage.allocated),
        live_bytes: live.map(|l| l.0),
        live_keys: live.map(|l| l.1),
        space_amp: None,
        space_amp_apparent: None,
        settled: in_window.is_some(),
        in_window: in_window.map(|w| {
            let device = w.device_written();
            InWindow {
                engine_bytes_written: w.engine.bytes_written,
                proc_wchar: w.proc.map(|p| p.wchar),
                device_bytes_written: device,
                write_amp_engine: ratio(w.engine.bytes_written, user.written).filter(|_| counts_io),
                write_amp_proc: w.proc.and_then(|p| ratio(p.wchar, user.written)),
                write_amp_device: device.and_then(|d| ratio(d, user.written)),
            }
        }),
        write_buffer_bytes,
        not_steady: user.written > 0
            && user.written < STEADY_BUFFERS.saturating_mul(write_buffer_bytes),
    };
    if persistent {
        a.space_amp = live.and_then(|(bytes, _)| ratio(usage.allocated, bytes));
        a.space_amp_apparent = live.and_then(|(bytes, _)| ratio(usage.apparent, bytes));
    }
    let mut notes = Vec::new();
    if let Some(wchar) = a.proc_wchar.filter(|_| counts_io) {
        let e = engine.bytes_written;
        let diff = e.abs_diff(wchar);
        if diff > MISMATCH_FLOOR_BYTES && diff as f64 > MISMATCH_RATIO * e.max(wchar) as f64 {
            a.write_amp_mismatch = true;
            notes.push(format!(
                "write figures disagree by more than 10%: the engine counted {e} bytes written, the kernel's syscall count (/proc/self/io wchar) {wchar}; {}",
                if wchar > e {
                    "the process wrote outside the engine's I/O layer"
                } else {
                    "the engine counted writes the kernel did not see"
                }
            ));
        }
    }
    if a.not_steady {
        notes.push(format!(
            "not in a steady state: the phase wrote {} user bytes, less than {STEADY_BUFFERS} x the {} bytes the engine may hold in memory before writing them; the settled write amplification includes what it held, the in-window figure does not",
            user.written, write_buffer_bytes
        ));
    }
    (a, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(engine_written: u64, engine_read: u64, proc: Option<ProcIo>) -> Window {
        Window {
            engine: IoSnapshot {
                bytes_written: engine_written,
                bytes_read: engine_read,
                ..IoSnapshot::default()
            },
            proc,
        }
    }

    #[test]
    fn ratios_and_mismatch_rule() {
        let user = UserBytes {
            written: 1_000_000,
            read: 500_000,
            logical_reads: 100,
        };
        let agree = ProcIo {
            wchar: 3_100_000,
            write_bytes: 3_200_000,
            cancelled_write_bytes: 200_000,
            read_bytes: 409_600,
            ..ProcIo::default()
        };
        let usage = DiskUsage {
            allocated: 2_000_000,
            apparent: 8_000_000,
            files: 2,
        };
        let settled = window(3_000_000, 1_000_000, Some(agree));
        let early = window(1_000_000, 0, Some(ProcIo::default()));
        let (a, notes) = compute(
            user,
            &settled,
            Some(&early),
            usage,
            Some((1_000_000, 10)),
            true,
            true,
            0,
        );
        assert_eq!(a.write_amp_engine, Some(3.0));
        assert_eq!(
            a.write_amp_device,
            Some(3.0),
            "cancelled writes never reached it"
        );
        assert_eq!(a.read_amp_bytes_per_read, Some(10_000.0));
        assert_eq!(a.device_read_bytes_per_read, Some(4096.0));
        assert_eq!(a.read_amp, Some(2.0));
        assert_eq!(a.space_amp, Some(2.0), "allocated blocks");
        assert_eq!(a.space_amp_apparent, Some(8.0));
        let w = a.in_window.as_ref().unwrap();
        assert_eq!(
            (w.write_amp_engine, w.write_amp_device),
            (Some(1.0), Some(0.0))
        );
        assert!(a.settled && !a.write_amp_mismatch && !a.not_steady && notes.is_empty());

        let off = ProcIo {
            wchar: 4_000_000,
            ..ProcIo::default()
        };
        let (a, notes) = compute(
            user,
            &window(3_000_000, 0, Some(off)),
            None,
            DiskUsage::default(),
            None,
            true,
            true,
            0,
        );
        assert!(a.write_amp_mismatch && !a.settled);
        assert!(notes[0].contains("outside the engine"));

        // An engine doing its own I/O: the kernel's figures only, nothing to check.
        let (a, notes) = compute(
            user,
            &window(0, 0, Some(off)),
            None,
            DiskUsage::default(),
            None,
            true,
            false,
            0,
        );
        assert_eq!(a.write_amp_proc, Some(4.0));
        assert_eq!(a.write_amp_engine, None);
        assert_eq!((a.read_amp, a.read_amp_bytes_per_read), (None, None));
        assert!(!a.write_amp_mismatch && notes.is_empty());

        // Small absolute differences (terminal output) are not a mismatch.
        let tiny = ProcIo {
            wchar: 3_000,
            ..ProcIo::default()
        };
        let (a, _) = compute(
            user,
            &window(0, 0, Some(tiny)),
            None,
            DiskUsage::default(),
            None,
            false,
            true,
            0,
        );
        assert!(!a.write_amp_mismatch);
        assert_eq!(a.space_amp, None);
    }

    #[test]
    fn little_written_next_to_the_buffer_is_not_steady() {
        let user = UserBytes {
            written: 3 << 20,
            ..UserBytes::default()
        };
        let w = window(3 << 20, 0, None);
        let run = |buffer| {
            compute(
                user,
                &w,
                None,
                DiskUsage::default(),
                None,
                true,
                true,
                buffer,
            )
        };
        let (a, notes) = run(1 << 20);
        assert!(a.not_steady, "3 MiB written, 4 x 1 MiB needed");
        assert!(notes[0].starts_with("not in a steady state"));
        assert!(!run(512 << 10).0.not_steady);
        assert!(!run(0).0.not_steady, "an engine that holds nothing");
    }

    #[test]
    fn live_data_scans_everything() {
        let db = engines::memory::MemoryEngine::new();
        for i in 0..25_000u32 {
            db.put(format!("k{i:06}").as_bytes(), b"vv").unwrap();
        }
        assert_eq!(live_data(&db).unwrap(), (25_000 * 9, 25_000));
    }
}
