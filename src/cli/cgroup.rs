//! A memory cgroup of its own for one run's child process (`--memory-limit`): resident memory
//! and page cache together are held to the limit, so a store larger than it is read from
//! the device. cgroup v2 where its memory controller is enabled (`memory.max`, `memory.peak`,
//! `io.stat`), else v1 (`memory.limit_in_bytes`, `memory.max_usage_in_bytes`, and a blkio
//! group beside it for the device read counts).
//!
//! The group is made under the memory group kvbench itself runs in (from `/proc/self/cgroup`)
//! or, where that cannot be written, at the hierarchy's root; `KVBENCH_CGROUP_ROOT` names
//! the directory to make it in instead (tests point it where nothing can be made). The child
//! joins the group in `pre_exec`, before it runs a line of kvbench, by writing `0` (itself)
//! to `cgroup.procs` with raw `open`/`write`. The group is removed when the [`Group`] is
//! dropped, after the child has ended (v1: `memory.force_empty`, then `rmdir`, retried
//! while the kernel still counts the exiting child); groups that an earlier kvbench left
//! behind (killed by a second Ctrl-C) are removed when their process is gone.
//!
//! v1 has no writeback per group: the kernel's dirty limits are a share of the machine's
//! memory, so a writer in a small group fills it with dirty page cache that reclaim cannot
//! drop, and the OOM killer ends it. v2 throttles writers against the group's own memory.
//! On v1, [`Group::dirty_bytes`] and [`start_writeback`] let the parent do what v2 does:
//! start writeback of the data directory's files when the group's dirty pages pass
//! [`DIRTY_SHARE`] of the limit (like `dirty_background_ratio`).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use workloads::device_reads::DeviceCounters;
use workloads::result::DeviceReadCount;

/// Read limit set on the device in a v1 blkio group so that the kernel counts the group's
/// reads; no device comes near it.
const UNREACHED_BPS: u64 = 1 << 40;
/// v1: writeback of the run's files starts when the group's dirty pages pass
/// `limit / DIRTY_SHARE`.
pub const DIRTY_SHARE: u64 = 8;
/// Prefix of the groups kvbench makes: `kvbench-<pid of the parent>-<n>`.
const PREFIX: &str = "kvbench-";

/// One cgroup (and in v1 its blkio twin) holding one run's child process.
#[derive(Debug)]
pub struct Group {
    version: u8,
    /// The group's directory in the memory hierarchy (v2: the group).
    memory: PathBuf,
    /// v1: the blkio group, when one could be made.
    blkio: Option<PathBuf>,
    /// `MAJ:MIN` of the disk under the data directory.
    device: Option<String>,
    limit: u64,
    /// `cgroup.procs` of each group the child joins.
    procs: Vec<CString>,
}

impl Group {
    /// Makes a group limited to `limit` bytes for a run whose data lives in `data_dir`.
    pub fn create(limit: u64, data_dir: &Path) -> Result<Group, String> {
        let device = disk_of(data_dir);
        let mut tried = Vec::new();
        if let Some(root) = std::env::var_os("KVBENCH_CGROUP_ROOT") {
            let root = PathBuf::from(root);
            let version = if root.join("cgroup.controllers").exists() {
                2
            } else {
                1
            };
            return Group::make(version, &root, None, limit, device, &mut tried)
                .ok_or_else(|| no_group(&tried));
        }
        let own = OwnGroups::read();
        if let Some(v2) = mount_of("cgroup2", None).filter(|m| v2_has_memory(m)) {
            for parent in candidates(&v2, own.unified.as_deref()) {
                if let Some(g) = Group::make(2, &parent, None, limit, device.clone(), &mut tried) {
                    return Ok(g);
                }
            }
        }
        match mount_of("cgroup", Some("memory")) {
            Some(mem) => {
                let blkio = mount_of("cgroup", Some("blkio"));
                for parent in candidates(&mem, own.memory.as_deref()) {
                    let blkio_parents = blkio
                        .as_ref()
                        .map(|b| candidates(b, own.blkio.as_deref()))
                        .unwrap_or_default();
                    if let Some(g) = Group::make(
                        1,
                        &parent,
                        Some(&blkio_parents),
                        limit,
                        device.clone(),
                        &mut tried,
                    ) {
                        return Ok(g);
                    }
                }
            }
            None => tried.push("no cgroup v1 memory hierarchy in /proc/mounts".into()),
        }
        Err(no_group(&tried))
    }

    fn make(
        version: u8,
        parent: &Path,
        blkio_parents: Option<&[PathBuf]>,
        limit: u64,
        device: Option<String>,
        tried: &mut Vec<String>,
    ) -> Option<Group> {
        remove_stale(parent);
        let name = unique_name();
        let memory = parent.join(&name);
        if let Err(e) = std::fs::create_dir(&memory) {
            tried.push(format!("mkdir {}: {e}", memory.display()));
            return None;
        }
        let mut g = Group {
            version,
            memory,
            blkio: None,
            device,
            limit,
            procs: Vec::new(),
        };
        let limit_file = if version == 2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        if !g.memory.join(limit_file).exists() {
            tried.push(format!(
                "{}: not a cgroup (no {limit_file})",
                parent.display()
            ));
            return None;
        }
        if let Err(e) = std::fs::write(g.memory.join(limit_file), limit.to_string()) {
            tried.push(format!("{}/{limit_file}: {e}", g.memory.display()));
            return None; // dropping `g` removes the directory
        }
        if version == 1 {
            // v1 keeps swap apart; where the swap limit exists, cap memory and swap together
            // so the group cannot page out to swap instead of dropping its page cache.
            let _ = std::fs::write(
                g.memory.join("memory.memsw.limit_in_bytes"),
                limit.to_string(),
            );
            for bp in blkio_parents.unwrap_or_default() {
                remove_stale(bp);
                let dir = bp.join(&name);
                if std::fs::create_dir(&dir).is_ok() {
                    g.blkio = Some(dir);
                    break;
                }
            }
            if let (Some(b), Some(d)) = (&g.blkio, &g.device) {
                let rule = format!("{d} {UNREACHED_BPS}");
                let _ = std::fs::write(b.join("blkio.throttle.read_bps_device"), rule);
            }
        }
        g.procs = std::iter::once(&g.memory)
            .chain(g.blkio.as_ref())
            .filter_map(|d| CString::new(d.join("cgroup.procs").as_os_str().as_bytes()).ok())
            .collect();
        Some(g)
    }

    pub fn version(&self) -> u8 {
        self.version
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Where the child reads its device read counters, when the group has them.
    pub fn device_counters(&self) -> Option<DeviceCounters> {
        let dir = match self.version {
            2 => self.memory.clone(),
            _ => self.blkio.clone()?,
        };
        Some(DeviceCounters {
            cgroup_version: self.version,
            dir,
            device: self.device.clone()?,
        })
    }

    /// Device reads of the group so far.
    pub fn device_reads(&self) -> Option<DeviceReadCount> {
        workloads::device_reads::read_counters(&self.device_counters()?)
    }

    /// Highest memory use of the group so far, bytes.
    pub fn peak_bytes(&self) -> Option<u64> {
        let file = match self.version {
            2 => "memory.peak",
            _ => "memory.max_usage_in_bytes",
        };
        read_u64(&self.memory.join(file))
    }

    /// A handle that reads the group's dirty pages from another thread.
    pub fn clone_handle(&self) -> Watch {
        Watch {
            version: self.version,
            memory: self.memory.clone(),
            limit: self.limit,
        }
    }

    /// True where the parent must start writeback itself (v1; see the module comment).
    pub fn needs_writeback_help(&self) -> bool {
        self.version == 1
    }

    /// Processes the kernel's OOM killer ended in the group.
    pub fn oom_kills(&self) -> Option<u64> {
        let (file, key) = match self.version {
            2 => ("memory.events", "oom_kill"),
            _ => ("memory.oom_control", "oom_kill"),
        };
        let text = std::fs::read_to_string(self.memory.join(file)).ok()?;
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok())?
        })
    }

    /// Puts the calling process into the group. Runs in the child between fork and exec:
    /// only async-signal-safe calls (open, write, close) on paths made before the fork.
    pub fn join_from_pre_exec(procs: &[CString]) -> std::io::Result<()> {
        for p in procs {
            // SAFETY: `p` is a valid NUL-terminated path; open/write/close are
            // async-signal-safe and touch no memory of ours beyond the buffers passed.
            unsafe {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = std::io::Error::last_os_error();
                libc::close(fd);
                if n != 1 {
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    /// The `cgroup.procs` files the child writes itself into.
    pub fn procs(&self) -> Vec<CString> {
        self.procs.clone()
    }

    /// The group's directory in the memory hierarchy.
    pub fn path(&self) -> &Path {
        &self.memory
    }
}

/// Reads a group's memory figures; removes nothing.
pub struct Watch {
    version: u8,
    memory: PathBuf,
    pub limit: u64,
}

impl Watch {
    /// Dirty page-cache bytes of the group now (v1 `dirty`, v2 `file_dirty` of
    /// `memory.stat`).
    pub fn dirty_bytes(&self) -> Option<u64> {
        let key = if self.version == 2 {
            "file_dirty"
        } else {
            "dirty"
        };
        let text = std::fs::read_to_string(self.memory.join("memory.stat")).ok()?;
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok())?
        })
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.version == 1 {
            // Hands the group's page-cache charges back so rmdir finds it empty; the pages
            // themselves stay cached where memory allows.
            let f = self.memory.join("memory.force_empty");
            if f.exists() {
                let _ = std::fs::write(f, "0");
            }
        }
        for dir in std::iter::once(&self.memory).chain(self.blkio.as_ref()) {
            remove_dir_retrying(dir);
        }
    }
}

/// `rmdir`, retried for up to 2 s while the kernel still counts an exiting process in it.
fn remove_dir_retrying(dir: &Path) {
    for _ in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => {
                eprintln!("kvbench: cannot remove the cgroup {}: {e}", dir.display());
                return;
            }
        }
    }
    eprintln!(
        "kvbench: cannot remove the cgroup {}: still busy after 2 s",
        dir.display()
    );
}

fn no_group(tried: &[String]) -> String {
    let what = if tried.is_empty() {
        "nothing to try".to_string()
    } else {
        tried.join("; ")
    };
    format!("--memory-limit: no usable memory cgroup (needs root and a cgroup v2 memory controller or a v1 memory hierarchy); tried: {what}")
}

/// `kvbench-<pid>-<n>`, unique within this process and across live processes.
fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{PREFIX}{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes groups `kvbench-<pid>-*` in `parent` whose kvbench process no longer exists.
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let f = e.path().join("memory.force_empty");
            if f.exists() {
                let _ = std::fs::write(f, "0");
            }
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// The groups this process is in, by hierarchy (paths relative to each mount).
struct OwnGroups {
    memory: Option<String>,
    blkio: Option<String>,
    unified: Option<String>,
}

impl OwnGroups {
    fn read() -> OwnGroups {
        let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut g = OwnGroups {
            memory: None,
            blkio: None,
            unified: None,
        };
        for line in text.lines() {
            let mut f = line.splitn(3, ':');
            let (Some(id), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let path = Some(path.to_string());
            if id == "0" && ctrl.is_empty() {
                g.unified = path;
            } else if ctrl.split(',').any(|c| c == "memory") {
                g.memory = path;
            } else if ctrl.split(',').any(|c| c == "blkio") {
                g.blkio = path;
            }
        }
        g
    }
}

/// Where to try making the group: under the process's own group, then at the root.
fn candidates(mount: &Path, own: Option<&str>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(own) = own
        .map(|o| o.trim_start_matches('/'))
        .filter(|o| !o.is_empty())
    {
        v.push(mount.join(own));
    }
    v.push(mount.to_path_buf());
    v
}

/// The mount point of a cgroup file system of type `fstype` (with controller `option` for
/// v1), from `/proc/mounts`.
fn mount_of(fstype: &str, option: Option<&str>) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/mounts").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 || f[2] != fstype {
            return None;
        }
        match option {
            Some(o) if !f[3].split(',').any(|x| x == o) => None,
            _ => Some(PathBuf::from(f[1])),
        }
    })
}

/// True when the v2 hierarchy at `mount` offers the memory controller to new groups.
fn v2_has_memory(mount: &Path) -> bool {
    std::fs::read_to_string(mount.join("cgroup.subtree_control"))
        .is_ok_and(|t| t.split_whitespace().any(|c| c == "memory"))
}

/// `MAJ:MIN` of the whole disk holding `dir` (a partition's disk for a partition).
fn disk_of(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(dir).ok()?.dev();
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    let sys = PathBuf::from(format!("/sys/dev/block/{maj}:{min}"));
    if sys.join("partition").exists() {
        let parent = std::fs::canonicalize(&sys).ok()?.parent()?.join("dev");
        return std::fs::read_to_string(parent)
            .ok()
            .map(|s| s.trim().to_string());
    }
    sys.exists().then(|| format!("{maj}:{min}"))
}

/// Starts writeback of every file under `dir` (`sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`: no wait, no cache flush, durability unchanged).
pub fn start_writeback(dir: &Path) {
    use std::os::fd::AsRawFd;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            start_writeback(&e.path());
        } else if t.is_file() {
            if let Ok(f) = std::fs::File::open(e.path()) {
                // SAFETY: a valid descriptor for the call; the kernel reads no memory of ours.
                unsafe { libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
            }
        }
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Parses a size: plain bytes or a number with K, M, G, T (powers of 1024; `KiB`, `MB`,
/// `MiB` and the like are read the same).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("'{text}': expected a size such as 268435456, 256M or 64MiB");
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad()),
    };
    let bytes = n * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > (1u64 << 50) as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert_eq!(parse_size("4096"), Ok(4096));
        for bad in ["", "M", "12X", "-5M", "0"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn own_group_first_then_root() {
        let c = candidates(Path::new("/m"), Some("/a/b"));
        assert_eq!(c, [PathBuf::from("/m/a/b"), PathBuf::from("/m")]);
        assert_eq!(
            candidates(Path::new("/m"), Some("/")),
            [PathBuf::from("/m")]
        );
    }

    #[test]
    fn no_group_where_none_can_be_made() {
        let dir = tempfile::tempdir().unwrap();
        // A file is no directory to make a group in.
        let file = dir.path().join("f");
        std::fs::write(&file, b"").unwrap();
        let mut tried = Vec::new();
        assert!(Group::make(1, &file, None, 1 << 20, None, &mut tried).is_none());
        let msg = no_group(&tried);
        assert!(
            msg.contains("no usable memory cgroup") && msg.contains("mkdir"),
            "{msg}"
        );
    }
}
