//! What the kernel says about this process: `/proc/self/io` (bytes through read and write
//! syscalls, and bytes that reached the storage layer) and `getrusage` (CPU time, peak RSS).
//! The runner takes a reading before and after each phase and keeps the difference.

use crate::result::ProcIo;

/// Reads `/proc/self/io`; `None` where it is missing or unreadable (not Linux, restricted
/// container).
pub fn read_proc_io() -> Option<ProcIo> {
    let text = std::fs::read_to_string("/proc/self/io").ok()?;
    parse_proc_io(&text)
}

/// Parses the `name: value` lines of `/proc/<pid>/io`.
pub fn parse_proc_io(text: &str) -> Option<ProcIo> {
    let mut io = ProcIo::default();
    let mut seen = 0;
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<u64>() else {
            continue;
        };
        let slot = match name.trim() {
            "rchar" => &mut io.rchar,
            "wchar" => &mut io.wchar,
            "syscr" => &mut io.syscr,
            "syscw" => &mut io.syscw,
            "read_bytes" => &mut io.read_bytes,
            "write_bytes" => &mut io.write_bytes,
            "cancelled_write_bytes" => &mut io.cancelled_write_bytes,
            _ => continue,
        };
        *slot = v;
        seen += 1;
    }
    (seen >= 2).then_some(io)
}

/// Counter-wise `later - earlier` (saturating).
pub fn proc_io_since(later: &ProcIo, earlier: &ProcIo) -> ProcIo {
    ProcIo {
        rchar: later.rchar.saturating_sub(earlier.rchar),
        wchar: later.wchar.saturating_sub(earlier.wchar),
        syscr: later.syscr.saturating_sub(earlier.syscr),
        syscw: later.syscw.saturating_sub(earlier.syscw),
        read_bytes: later.read_bytes.saturating_sub(earlier.read_bytes),
        write_bytes: later.write_bytes.saturating_sub(earlier.write_bytes),
        cancelled_write_bytes: later
            .cancelled_write_bytes
            .saturating_sub(earlier.cancelled_write_bytes),
    }
}

/// CPU time and peak RSS of the whole process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rusage {
    pub user_secs: f64,
    pub system_secs: f64,
    /// Peak resident set size so far, bytes.
    pub max_rss_bytes: u64,
}

/// `getrusage(RUSAGE_SELF)`.
pub fn rusage() -> Rusage {
    // SAFETY: getrusage fills the struct we pass; zeroed is a valid initial value for it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage struct; RUSAGE_SELF is always valid.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Rusage::default();
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Rusage {
        user_secs: secs(ru.ru_utime),
        system_secs: secs(ru.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss_bytes: (ru.ru_maxrss.max(0) as u64) * 1024,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_io_format() {
        let text = "rchar: 100\nwchar: 200\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
        let io = parse_proc_io(text).unwrap();
        assert_eq!((io.rchar, io.wchar, io.write_bytes), (100, 200, 8192));
        assert!(parse_proc_io("garbage").is_none());
        let later = ProcIo { wchar: 250, ..io };
        assert_eq!(proc_io_since(&later, &io).wchar, 50);
    }

    #[test]
    fn own_writes_show_in_wchar_and_cpu_is_counted() {
        let Some(before) = read_proc_io() else {
            return; // no /proc/self/io here: nothing to check
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![1u8; 1 << 20]).unwrap();
        let after = read_proc_io().unwrap();
        // Other test threads may write too, so only a lower bound holds.
        assert!(proc_io_since(&after, &before).wchar >= 1 << 20);
        let r = rusage();
        assert!(r.user_secs + r.system_secs > 0.0 && r.max_rss_bytes > 0);
    }
}
