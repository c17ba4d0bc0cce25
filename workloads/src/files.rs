//! The data directory as the kernel sees it: the space its files take (allocated blocks and
//! apparent sizes, which differ for sparse and preallocated files), `syncfs` of its file
//! system (so the kernel's device-write counters cover what a phase left dirty), and how much
//! of it sits in the page cache (`mincore`), which is how a cold-cache run checks that the
//! cache really was dropped.

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Space taken by the files under a directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Blocks allocated to the files (`st_blocks` x 512): what the files take on the device.
    pub allocated: u64,
    /// Sum of the files' lengths (`st_size`): a sparse or preallocated file may be much
    /// longer than the blocks it holds.
    pub apparent: u64,
    pub files: u64,
}

/// [`DiskUsage`] of every file under `dir` (recursively; symbolic links are not followed).
/// Files that vanish while it looks (an engine deleting a compacted table) are skipped.
pub fn disk_usage(dir: &Path) -> DiskUsage {
    let mut u = DiskUsage::default();
    let Ok(entries) = fs::read_dir(dir) else {
        return u;
    };
    for e in entries.flatten() {
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        if m.is_dir() {
            let sub = disk_usage(&e.path());
            u.allocated += sub.allocated;
            u.apparent += sub.apparent;
            u.files += sub.files;
        } else if m.is_file() {
            u.allocated += m.blocks() * 512;
            u.apparent += m.len();
            u.files += 1;
        }
    }
    u
}

/// `syncfs(2)` on the file system holding `dir`: every dirty page of it is written to the
/// device before this returns (other processes' too).
pub fn sync_file_system(dir: &Path) -> io::Result<()> {
    let d = fs::File::open(dir)?;
    // SAFETY: a valid descriptor for the duration of the call; syncfs touches no memory of ours.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Bytes of the files under `dir` that are resident in the page cache, by `mincore(2)` on a
/// read-only mapping of each file. Files that cannot be mapped (empty, vanished) count 0.
pub fn cached_bytes(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for e in fs::read_dir(dir)? {
        let path = e?.path();
        let m = match path.symlink_metadata() {
            Ok(m) => m,
            Err(_) => continue,
        };
        if m.is_dir() {
            total += cached_bytes(&path)?;
        } else if m.is_file() && m.len() > 0 {
            let Ok(f) = fs::File::open(&path) else {
                continue;
            };
            total += resident(&f, m.len())?;
        }
    }
    Ok(total)
}

fn resident(f: &fs::File, len: u64) -> io::Result<u64> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = if page > 0 { page as u64 } else { 4096 };
    let len_usize = usize::try_from(len).map_err(io::Error::other)?;
    // SAFETY: a fresh read-only shared mapping of a valid descriptor; we never dereference
    // it, only pass it to mincore, and unmap it below.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len_usize,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let pages = len.div_ceil(page) as usize;
    let mut vec = vec![0u8; pages];
    // SAFETY: `addr` maps `len` bytes; `vec` has one byte per page of it.
    let rc = unsafe { libc::mincore(addr, len_usize, vec.as_mut_ptr()) };
    let err = io::Error::last_os_error();
    // SAFETY: unmapping exactly the mapping made above.
    unsafe { libc::munmap(addr, len_usize) };
    if rc != 0 {
        return Err(err);
    }
    let in_core = vec.iter().filter(|&&b| b & 1 == 1).count() as u64;
    Ok((in_core * page).min(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_files_take_fewer_blocks_than_their_length() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("full"), vec![7u8; 64 << 10]).unwrap();
        let sparse = std::fs::File::create(d.path().join("sparse")).unwrap();
        sparse.set_len(8 << 20).unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/x"), b"abc").unwrap();
        let u = disk_usage(d.path());
        assert_eq!(u.files, 3);
        assert_eq!(u.apparent, (64 << 10) + (8 << 20) + 3);
        // The full file's 64 KiB and a block for the small one; the sparse file holds none
        // (a file system without sparse files would allocate its 8 MiB).
        assert!(u.allocated >= 64 << 10, "{u:?}");
        assert!(u.allocated < 1 << 20, "{u:?}");
        assert_eq!(disk_usage(&d.path().join("missing")), DiskUsage::default());
    }

    #[test]
    fn dropped_files_leave_the_page_cache() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("f"), vec![1u8; 1 << 20]).unwrap();
        sync_file_system(d.path()).unwrap();
        assert!(cached_bytes(d.path()).unwrap() > 0, "just written");
        engines::io::drop_page_cache(d.path()).unwrap();
        let left = cached_bytes(d.path()).unwrap();
        assert!(left < 64 << 10, "{left} bytes still cached");
    }
}
