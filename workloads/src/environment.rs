//! The machine, the build and the time of a run, for the result file's `environment`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::result::Environment;

/// Captures the environment of a run whose data lives in `data_dir`.
pub fn capture(data_dir: &Path) -> Environment {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (filesystem, device) = mount_of(data_dir);
    Environment {
        cpu_model: cpu_model(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        memory_bytes: mem_total(),
        kernel: kernel(),
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        data_dir: data_dir.display().to_string(),
        filesystem,
        device,
        build_profile: if cfg!(debug_assertions) {
            "debug".into()
        } else {
            "release".into()
        },
        rustc_version: env!("KVBENCH_RUSTC_VERSION").into(),
        git_commit: env!("KVBENCH_GIT_COMMIT").into(),
        started_at: rfc3339(now),
        started_unix: now,
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kib| kib.parse::<u64>().ok())
                })
        })
        .map_or(0, |kib| kib * 1024)
}

fn kernel() -> String {
    // SAFETY: uname fills the struct; zeroed is valid for it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!("{} {}", field(&u.sysname), field(&u.release))
}

/// File system type and source of the mount holding `path` (longest matching mount point
/// in `/proc/mounts`).
pub fn mount_of(path: &Path) -> (String, String) {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return ("unknown".into(), "unknown".into());
    };
    let mut best: Option<(usize, String, String)> = None;
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(src), Some(point), Some(fstype)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let point = point.replace("\\040", " ");
        if path.starts_with(&point) && best.as_ref().is_none_or(|b| point.len() >= b.0) {
            best = Some((point.len(), fstype.to_string(), src.to_string()));
        }
    }
    best.map_or(("unknown".into(), "unknown".into()), |(_, t, s)| (t, s))
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `secs` since the epoch as `YYYYMMDDTHHMMSSZ` (for file names).
pub fn compact_time(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Civil date and time of a Unix time (Howard Hinnant's days-from-civil inverse).
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(compact_time(1_795_000_000), "20261118T110640Z");
    }

    #[test]
    fn captures_this_machine() {
        let d = tempfile::tempdir().unwrap();
        let e = capture(d.path());
        assert!(e.cores >= 1);
        assert!(e.memory_bytes > 0);
        assert!(e.kernel.starts_with("Linux"), "{}", e.kernel);
        assert_ne!(e.filesystem, "unknown");
        assert!(e.rustc_version.starts_with("rustc"), "{}", e.rustc_version);
    }
}
