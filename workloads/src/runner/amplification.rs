//! Write, read and space amplification of a phase, as design.md defines them, and the
//! cross-check of the engine's own write counter against the kernel's.

use engines::{Engine, IoSnapshot};

use crate::result::{Amplification, ProcIo};

/// Below this difference the two write figures are taken to agree whatever the ratio: the
/// harness itself writes a little (progress lines, the terminal), which the kernel counts.
pub const MISMATCH_FLOOR_BYTES: u64 = 64 << 10;
/// Relative difference above which the two write figures are said to disagree.
pub const MISMATCH_RATIO: f64 = 0.10;

/// What the workers counted over the phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserBytes {
    pub written: u64,
    pub read: u64,
    pub logical_reads: u64,
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
                page_len = usize::try_from(PAGE_BYTES / per_pair)
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

/// The amplification figures, and a note when the two write figures disagree. An engine whose
/// I/O our counters do not see (`counts_io` false) gets no engine-counted figures and no
/// cross-check: its write amplification is the kernel's alone.
pub fn compute(
    user: UserBytes,
    engine_io: &IoSnapshot,
    proc_io: Option<&ProcIo>,
    disk_bytes: u64,
    live: Option<(u64, u64)>,
    persistent: bool,
    counts_io: bool,
) -> (Amplification, Option<String>) {
    let mut a = Amplification {
        user_bytes_written: user.written,
        user_bytes_read: user.read,
        logical_reads: user.logical_reads,
        engine_bytes_written: engine_io.bytes_written,
        engine_bytes_read: engine_io.bytes_read,
        proc_wchar: proc_io.map(|p| p.wchar),
        proc_write_bytes: proc_io.map(|p| p.write_bytes),
        write_amp_engine: ratio(engine_io.bytes_written, user.written).filter(|_| counts_io),
        write_amp_proc: proc_io.and_then(|p| ratio(p.wchar, user.written)),
        write_amp_device: proc_io.and_then(|p| ratio(p.write_bytes, user.written)),
        write_amp_mismatch: false,
        read_amp_bytes_per_read: ratio(engine_io.bytes_read, user.logical_reads)
            .filter(|_| counts_io),
        read_amp: ratio(engine_io.bytes_read, user.read).filter(|_| counts_io),
        disk_bytes,
        live_bytes: live.map(|l| l.0),
        live_keys: live.map(|l| l.1),
        space_amp: None,
    };
    if persistent {
        a.space_amp = live.and_then(|(bytes, _)| ratio(disk_bytes, bytes));
    }
    let mut note = None;
    if let Some(wchar) = a.proc_wchar.filter(|_| counts_io) {
        let e = engine_io.bytes_written;
        let diff = e.abs_diff(wchar);
        if diff > MISMATCH_FLOOR_BYTES && diff as f64 > MISMATCH_RATIO * e.max(wchar) as f64 {
            a.write_amp_mismatch = true;
            note = Some(format!(
                "write figures disagree by more than 10%: the engine counted {e} bytes written, the kernel (/proc/self/io wchar) {wchar}; {}",
                if wchar > e {
                    "the process wrote outside the engine's I/O layer"
                } else {
                    "the engine counted writes the kernel did not see"
                }
            ));
        }
    }
    (a, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_mismatch_rule() {
        let user = UserBytes {
            written: 1_000_000,
            read: 500_000,
            logical_reads: 100,
        };
        let io = IoSnapshot {
            bytes_written: 3_000_000,
            bytes_read: 1_000_000,
            ..IoSnapshot::default()
        };
        let agree = ProcIo {
            wchar: 3_100_000,
            ..ProcIo::default()
        };
        let (a, note) = compute(
            user,
            &io,
            Some(&agree),
            2_000_000,
            Some((1_000_000, 10)),
            true,
            true,
        );
        assert_eq!(a.write_amp_engine, Some(3.0));
        assert_eq!(a.read_amp_bytes_per_read, Some(10_000.0));
        assert_eq!(a.read_amp, Some(2.0));
        assert_eq!(a.space_amp, Some(2.0));
        assert!(!a.write_amp_mismatch && note.is_none());

        let off = ProcIo {
            wchar: 4_000_000,
            ..ProcIo::default()
        };
        let (a, note) = compute(user, &io, Some(&off), 0, None, true, true);
        assert!(a.write_amp_mismatch);
        assert!(note.unwrap().contains("outside the engine"));

        // An engine doing its own I/O: the kernel's figure only, no engine figure to check.
        let (a, note) = compute(
            user,
            &IoSnapshot::default(),
            Some(&off),
            0,
            None,
            true,
            false,
        );
        assert_eq!(a.write_amp_proc, Some(4.0));
        assert_eq!(a.write_amp_engine, None);
        assert_eq!((a.read_amp, a.read_amp_bytes_per_read), (None, None));
        assert!(!a.write_amp_mismatch && note.is_none());

        // Small absolute differences (terminal output) are not a mismatch.
        let tiny = ProcIo {
            wchar: 3_000,
            ..ProcIo::default()
        };
        let (a, _) = compute(
            user,
            &IoSnapshot::default(),
            Some(&tiny),
            0,
            None,
            false,
            true,
        );
        assert!(!a.write_amp_mismatch);
        assert_eq!(a.space_amp, None);
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
