//! Simulated power cuts, for tests. A process kill leaves every written byte in the page
//! cache; a power cut keeps only what an fsync made durable, and the rest comes back in any
//! order. This module tracks, for every file under an armed directory tree, what the last
//! fsync covered, and [`cut`] then makes the unsynced part disappear the way a disk does
//! (the model of LevelDB's fault-injection env and RocksDB's `FaultInjectionTestFS`, made
//! harsher: unsynced blocks are lost out of order, not only as a clean suffix):
//!
//! * **Data.** Each 4 KiB block written since its file's last fsync comes back either new,
//!   old (its content at the last fsync: zeros where the file had no durable bytes), or torn
//!   (each 512-byte sector old or new at random). The file's length is its durable length,
//!   its current length, or a block boundary between them; a block beyond the current length
//!   can only come back old.
//! * **Names.** File and directory creations, renames and removals since the last fsync of
//!   the directory holding them are undone from some point on (a random suffix of them, in
//!   reverse order: journalled file systems commit name changes in order). An undone creation
//!   removes the file, an undone rename puts both names back as they were (the replaced file
//!   included), an undone removal brings the file back.
//!
//! To make undoing possible, a tracked removal moves the file into a graveyard folder
//! (`<root>/.powercut`) instead of unlinking it, and a rename over an existing file keeps a
//! hard link to the replaced one there. Undo images are read before a block is first
//! overwritten after an fsync. All of this runs only for armed trees; the hot path of every
//! other file pays one relaxed load.
//!
//! After [`cut`], every tracked operation on the tree blocks forever: nothing the process
//! does afterwards reaches the files, as after a real power cut, and no call that started
//! before the cut can report success. The conformance kit's child process cuts and then
//! kills itself; the parent reopens the store.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::Result;

/// The unit in which unsynced data is lost.
pub const BLOCK: u64 = 4096;
/// The unit in which a block may be torn.
pub const SECTOR: usize = 512;
/// Folder under the armed root that holds removed and replaced files until a cut.
pub const GRAVEYARD: &str = ".powercut";
/// When this environment variable is set, every tracked operation and every cut's choices
/// are appended to `<root>/.powercut/trace`, for debugging a failure.
pub const TRACE_ENV: &str = "KVBENCH_POWER_TRACE";

static ARMED: AtomicBool = AtomicBool::new(false);
static TRACKERS: Mutex<Vec<Tracker>> = Mutex::new(Vec::new());

struct Tracker {
    root: PathBuf,
    graveyard: PathBuf,
    trace: Option<fs::File>,
    seed: u64,
    cut: bool,
    /// By inode, so that writes through a handle opened before a rename are tracked too.
    files: HashMap<u64, FileState>,
    /// Name changes not yet made durable by a directory fsync, in order, with a sequence.
    pending: Vec<(u64, NameOp)>,
    next_seq: u64,
    next_grave: u64,
}

#[derive(Debug, Default)]
struct FileState {
    /// The file's name now (a removed file's is in the graveyard).
    path: PathBuf,
    /// Length at the last successful fsync.
    durable_len: u64,
    /// Length now.
    len: u64,
    /// Blocks written since the last fsync, with their content at that fsync.
    dirty: BTreeMap<u64, Box<[u8]>>,
}

#[derive(Debug)]
enum NameOp {
    Create(PathBuf),
    MkDir(PathBuf),
    Rename {
        from: PathBuf,
        to: PathBuf,
        replaced: Option<PathBuf>,
    },
    Remove {
        path: PathBuf,
        grave: PathBuf,
    },
}

impl NameOp {
    /// The directory whose fsync makes this change durable.
    fn dir(&self) -> Option<&Path> {
        match self {
            NameOp::Create(p) | NameOp::MkDir(p) | NameOp::Remove { path: p, .. } => p.parent(),
            NameOp::Rename { to, .. } => to.parent(),
        }
    }
}

/// What a cut did, for the test's log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CutReport {
    pub blocks_new: u64,
    pub blocks_old: u64,
    pub blocks_torn: u64,
    pub files_resized: u64,
    pub names_pending: u64,
    pub names_undone: u64,
}

impl CutReport {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &CutReport) {
        self.blocks_new += other.blocks_new;
        self.blocks_old += other.blocks_old;
        self.blocks_torn += other.blocks_torn;
        self.files_resized += other.files_resized;
        self.names_pending += other.names_pending;
        self.names_undone += other.names_undone;
    }

    /// The counts as `name=value` words, the form [`CutReport::parse`] reads.
    pub fn to_words(&self) -> String {
        format!(
            "blocks_new={} blocks_old={} blocks_torn={} files_resized={} names_pending={} names_undone={}",
            self.blocks_new, self.blocks_old, self.blocks_torn, self.files_resized,
            self.names_pending, self.names_undone
        )
    }

    /// Reads the words of [`CutReport::to_words`]; unknown words are skipped.
    pub fn parse(words: &str) -> CutReport {
        let mut r = CutReport::default();
        for (k, v) in words.split_whitespace().filter_map(|w| w.split_once('=')) {
            let v = v.parse().unwrap_or(0);
            match k {
                "blocks_new" => r.blocks_new = v,
                "blocks_old" => r.blocks_old = v,
                "blocks_torn" => r.blocks_torn = v,
                "files_resized" => r.files_resized = v,
                "names_pending" => r.names_pending = v,
                "names_undone" => r.names_undone = v,
                _ => {}
            }
        }
        r
    }
}

fn trackers() -> MutexGuard<'static, Vec<Tracker>> {
    TRACKERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts tracking every file and directory under `root` (files already there count as
/// durable). `seed` makes the damage of a later [`cut`] reproducible.
pub fn arm(root: &Path, seed: u64) -> Result<()> {
    let graveyard = root.join(GRAVEYARD);
    fs::create_dir_all(&graveyard)?;
    let mut t = trackers();
    t.retain(|t| t.root != root);
    let trace = match std::env::var_os(TRACE_ENV) {
        Some(_) => Some(
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(graveyard.join("trace"))?,
        ),
        None => None,
    };
    t.push(Tracker {
        root: root.to_path_buf(),
        graveyard,
        trace,
        seed,
        cut: false,
        files: HashMap::new(),
        pending: Vec::new(),
        next_seq: 0,
        next_grave: 0,
    });
    ARMED.store(true, Relaxed);
    Ok(())
}

/// Stops tracking `root` (the graveyard stays; remove `root` to clean up).
pub fn disarm(root: &Path) {
    let mut t = trackers();
    t.retain(|t| t.root != root);
    ARMED.store(!t.is_empty(), Relaxed);
}

/// Cuts the power of `root`: from now on every tracked operation under it blocks forever,
/// and the files are left as a disk would leave them (see the module comment).
pub fn cut(root: &Path) -> Result<CutReport> {
    let mut guard = trackers();
    let t = guard
        .iter_mut()
        .find(|t| t.root == root)
        .ok_or_else(|| std::io::Error::other(format!("{} is not armed", root.display())))?;
    t.cut = true;
    let mut rng = StdRng::seed_from_u64(t.seed);
    let mut report = CutReport::default();
    let mut files: Vec<&FileState> = t.files.values().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut trace = Vec::new();
    for st in files {
        damage_file(st, &mut rng, &mut report, &mut trace)?;
    }
    for line in trace {
        t.log(format_args!("cut {line}"));
    }
    let n = t.pending.len();
    report.names_pending = n as u64;
    let keep = if rng.gen_bool(0.25) {
        n
    } else {
        rng.gen_range(0..=n)
    };
    let undone: Vec<String> = t.pending[keep..]
        .iter()
        .map(|(_, op)| format!("{op:?}"))
        .collect();
    for (_, op) in t.pending[keep..].iter().rev() {
        undo(op, &t.graveyard, &mut t.next_grave);
        report.names_undone += 1;
    }
    for op in undone {
        t.log(format_args!("cut undo {op}"));
    }
    Ok(report)
}

fn damage_file(
    st: &FileState,
    rng: &mut StdRng,
    report: &mut CutReport,
    trace: &mut Vec<String>,
) -> Result<()> {
    if st.dirty.is_empty() && st.len == st.durable_len {
        return Ok(());
    }
    let Ok(f) = fs::OpenOptions::new().read(true).write(true).open(&st.path) else {
        return Ok(()); // removed for good, or moved by a name change: nothing to damage here
    };
    let (lo, hi) = (st.durable_len.min(st.len), st.durable_len.max(st.len));
    let final_len = match rng.gen_range(0..3) {
        0 => st.durable_len,
        1 => st.len,
        _ => rng.gen_range(lo..=hi).next_multiple_of(BLOCK).min(hi),
    };
    if final_len != st.len {
        report.files_resized += 1;
    }
    trace.push(format!(
        "{}: durable {} len {} -> {final_len}",
        st.path.display(),
        st.durable_len,
        st.len
    ));
    f.set_len(final_len)?;
    for (&block, image) in &st.dirty {
        let start = block * BLOCK;
        if start >= final_len {
            continue;
        }
        let n = (final_len - start).min(BLOCK) as usize;
        // The block's durable content: its image up to the durable length, zeros after.
        let mut old = image.to_vec();
        old[st.durable_len.saturating_sub(start).min(BLOCK) as usize..].fill(0);
        // Where the cut keeps more than the current length (an unsynced truncation undone),
        // the bytes past it were never new: such a block comes back old.
        let only_old = start + BLOCK > st.len && final_len > st.len;
        let pick = if only_old { 2 } else { rng.gen_range(0..5) };
        trace.push(format!(
            "  block {block}: {}",
            ["new", "new", "old", "old", "torn"][pick]
        ));
        match pick {
            0 | 1 => report.blocks_new += 1,
            2 | 3 => {
                f.write_all_at(&old[..n], start)?;
                report.blocks_old += 1;
            }
            _ => {
                for s in (0..n).step_by(SECTOR) {
                    if rng.gen_bool(0.5) {
                        let e = (s + SECTOR).min(n);
                        f.write_all_at(&old[s..e], start + s as u64)?;
                    }
                }
                report.blocks_torn += 1;
            }
        }
    }
    Ok(())
}

fn undo(op: &NameOp, graveyard: &Path, next_grave: &mut u64) {
    // Best effort: a name an earlier undo already moved is simply not there.
    let _ = match op {
        NameOp::Create(p) => fs::remove_file(p),
        NameOp::MkDir(p) => fs::rename(p, grave_path(graveyard, next_grave, p)),
        NameOp::Rename { from, to, replaced } => {
            fs::rename(to, from).and_then(|_| match replaced {
                Some(r) => fs::rename(r, to),
                None => Ok(()),
            })
        }
        NameOp::Remove { path, grave } => fs::rename(grave, path),
    };
}

/// A fresh name in the graveyard for `of`, unique across the processes that share the
/// graveyard (each child of a power-cut test arms the same root again).
fn grave_path(graveyard: &Path, next: &mut u64, of: &Path) -> PathBuf {
    *next += 1;
    let name = of
        .file_name()
        .map_or_else(|| "unnamed".into(), |n| n.to_string_lossy().into_owned());
    graveyard.join(format!("{}-{next:06}-{name}", std::process::id()))
}

/// The tracker for `path` (locked), or `None` when `path` is not under an armed root. After a
/// cut the calling thread blocks here forever.
fn tracker_for(path: &Path) -> Option<(MutexGuard<'static, Vec<Tracker>>, usize)> {
    if !ARMED.load(Relaxed) {
        return None;
    }
    let guard = trackers();
    let i = guard
        .iter()
        .position(|t| path.starts_with(&t.root) && !path.starts_with(&t.graveyard))?;
    if guard[i].cut {
        drop(guard);
        loop {
            std::thread::park();
        }
    }
    Some((guard, i))
}

/// The content of `block` of `file` now, which is its content at the last fsync while the
/// block is clean (or, while an fsync runs, the content that fsync covers). Bytes past the
/// durable length are zeroed only at the cut, by the durable length then: an fsync running
/// now may still make them durable.
fn undo_image(file: &fs::File, block: u64) -> std::io::Result<Box<[u8]>> {
    let mut buf = vec![0u8; BLOCK as usize];
    let start = block * BLOCK;
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], start + done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    Ok(buf.into_boxed_slice())
}

fn inode(file: &fs::File) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.ino())
}

/// The state of `file` (first seen: all of it durable, as it is on disk).
fn state<'a>(
    t: &'a mut Tracker,
    path: &Path,
    file: &fs::File,
) -> std::io::Result<&'a mut FileState> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    Ok(t.files.entry(meta.ino()).or_insert_with(|| FileState {
        path: path.to_path_buf(),
        durable_len: meta.len(),
        len: meta.len(),
        dirty: BTreeMap::new(),
    }))
}

/// Follows a name change of the tracked file called `from` to `to` (after the change).
fn moved(t: &mut Tracker, from: &Path, to: &Path) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = fs::metadata(to) {
        if let Some(st) = t.files.get_mut(&meta.ino()) {
            if st.path == from {
                st.path = to.to_path_buf();
            }
        }
    }
}

/// Records undo images for the blocks of `[from, to)` that are clean.
fn touch(st: &mut FileState, file: &fs::File, from: u64, to: u64) -> std::io::Result<()> {
    if to <= from {
        return Ok(());
    }
    for block in from / BLOCK..to.div_ceil(BLOCK) {
        if let std::collections::btree_map::Entry::Vacant(v) = st.dirty.entry(block) {
            v.insert(undo_image(file, block)?);
        }
    }
    Ok(())
}

/// Runs a positioned write of `len` bytes at `offset` (tracked when armed).
pub(super) fn write(
    path: &Path,
    file: &fs::File,
    offset: u64,
    len: u64,
    op: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let Some((mut guard, i)) = tracker_for(path) else {
        return op();
    };
    let t = &mut guard[i];
    let st = state(t, path, file)?;
    touch(st, file, offset, offset + len)?;
    let r = op();
    st.len = file.metadata()?.len();
    let (durable, now) = (st.durable_len, st.len);
    t.log(format_args!(
        "write {} at {offset} len {len} -> len {now} (durable {durable}) {}",
        path.display(),
        if r.is_ok() { "ok" } else { "failed" }
    ));
    r
}

/// Runs a truncation or extension to `new_len` (tracked when armed).
pub(super) fn set_len(
    path: &Path,
    file: &fs::File,
    new_len: u64,
    op: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let Some((mut guard, i)) = tracker_for(path) else {
        return op();
    };
    let t = &mut guard[i];
    let st = state(t, path, file)?;
    let (lo, hi) = (st.len.min(new_len), st.len.max(new_len));
    touch(st, file, lo, hi)?;
    let r = op();
    st.len = file.metadata()?.len();
    t.log(format_args!("set_len {} to {new_len}", path.display()));
    r
}

/// Runs an fsync of a file (tracked when armed): on success, what was written before it
/// began is durable.
pub(super) fn sync(path: &Path, file: &fs::File, op: impl FnOnce() -> Result<()>) -> Result<()> {
    let Some((mut guard, i)) = tracker_for(path) else {
        return op();
    };
    let st = state(&mut guard[i], path, file)?;
    let covered = std::mem::take(&mut st.dirty);
    let len = st.len;
    let ino = inode(file)?;
    drop(guard);
    let r = op();
    let (mut guard, i) = tracker_for(path).expect("a tracked root stays armed until disarmed");
    let t = &mut guard[i];
    if let Some(st) = t.files.get_mut(&ino) {
        match r {
            Ok(()) => st.durable_len = len,
            // The older undo image is the content at the last successful fsync.
            Err(_) => st.dirty.extend(covered),
        }
    }
    t.log(format_args!(
        "fsync {} durable {len} {}",
        path.display(),
        if r.is_ok() { "ok" } else { "failed" }
    ));
    r
}

/// Runs the creation of a file (tracked when armed).
pub(super) fn create(path: &Path, op: impl FnOnce() -> Result<fs::File>) -> Result<fs::File> {
    let Some((mut guard, i)) = tracker_for(path) else {
        return op();
    };
    let f = op()?;
    let t = &mut guard[i];
    t.files.insert(
        inode(&f)?,
        FileState {
            path: path.to_path_buf(),
            ..FileState::default()
        },
    );
    push(t, NameOp::Create(path.to_path_buf()));
    Ok(f)
}

/// Runs the creation of one directory (tracked when armed).
pub(super) fn mkdir(path: &Path, op: impl FnOnce() -> Result<()>) -> Result<()> {
    let Some((mut guard, i)) = tracker_for(path) else {
        return op();
    };
    op()?;
    push(&mut guard[i], NameOp::MkDir(path.to_path_buf()));
    Ok(())
}

/// Removes a file; tracked, it moves to the graveyard so a cut can bring it back.
pub(super) fn remove(path: &Path, op: impl FnOnce() -> Result<()>) -> Result<()> {
    let Some((mut guard, i)) = tracker_for(path) else {
        return op();
    };
    let t = &mut guard[i];
    let grave = grave_path(&t.graveyard, &mut t.next_grave, path);
    fs::rename(path, &grave)?;
    moved(t, path, &grave);
    push(
        t,
        NameOp::Remove {
            path: path.to_path_buf(),
            grave,
        },
    );
    Ok(())
}

/// Renames `from` to `to`; tracked, a replaced `to` is kept in the graveyard.
pub(super) fn rename(from: &Path, to: &Path, op: impl FnOnce() -> Result<()>) -> Result<()> {
    let Some((mut guard, i)) = tracker_for(to) else {
        return op();
    };
    let t = &mut guard[i];
    let replaced = if to.exists() {
        let keep = grave_path(&t.graveyard, &mut t.next_grave, to);
        fs::hard_link(to, &keep)?;
        Some(keep)
    } else {
        None
    };
    if let Some(keep) = &replaced {
        moved(t, to, keep);
    }
    op()?;
    moved(t, from, to);
    push(
        t,
        NameOp::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            replaced,
        },
    );
    Ok(())
}

/// Runs an fsync of directory `dir` (tracked when armed): on success, the name changes in
/// it made before the fsync began are durable.
pub(super) fn sync_dir(dir: &Path, op: impl FnOnce() -> Result<()>) -> Result<()> {
    let Some((guard, i)) = tracker_for(dir) else {
        return op();
    };
    let before = guard[i].next_seq;
    drop(guard);
    op()?;
    let (mut guard, i) = tracker_for(dir).expect("a tracked root stays armed until disarmed");
    let t = &mut guard[i];
    t.pending
        .retain(|(seq, op)| *seq >= before || op.dir() != Some(dir));
    t.log(format_args!(
        "fsync dir {} (names before {before})",
        dir.display()
    ));
    Ok(())
}

impl Tracker {
    fn log(&mut self, line: std::fmt::Arguments<'_>) {
        if let Some(f) = &mut self.trace {
            use std::io::Write;
            let _ = writeln!(f, "{line}");
        }
    }
}

fn push(t: &mut Tracker, op: NameOp) {
    t.log(format_args!("name {:?}", op));
    t.pending.push((t.next_seq, op));
    t.next_seq += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Io;

    const B: usize = BLOCK as usize;

    /// A file of 3 synced blocks (0x11, 0x22, 0x33), then block 1 overwritten with 0xbb and
    /// blocks 3 and 4 appended (0xcc, 0xdd) without an fsync; cut with `seed`.
    fn cut_one(seed: u64) -> (CutReport, Vec<u8>) {
        let root = tempfile::tempdir().unwrap();
        arm(root.path(), seed).unwrap();
        let io = Io::new();
        let path = root.path().join("f");
        let f = io.create(&path).unwrap();
        let synced: Vec<u8> = [0x11u8, 0x22, 0x33]
            .iter()
            .flat_map(|&b| vec![b; B])
            .collect();
        f.write_all_at(&synced, 0).unwrap();
        f.sync().unwrap();
        io.sync_dir(root.path()).unwrap();
        f.write_all_at(&[0xbb; B], BLOCK).unwrap();
        f.write_all_at(&[0xcc; B], 3 * BLOCK).unwrap();
        f.write_all_at(&[0xdd; B], 4 * BLOCK).unwrap();
        let report = cut(root.path()).unwrap();
        disarm(root.path());
        (report, std::fs::read(&path).unwrap())
    }

    #[test]
    fn unsynced_blocks_come_back_new_old_or_torn_and_synced_ones_stay() {
        let (mut lens, mut holes, mut torn) = (std::collections::BTreeSet::new(), 0, 0);
        for seed in 0..64 {
            let (report, bytes) = cut_one(seed);
            lens.insert(bytes.len());
            assert!([3 * B, 4 * B, 5 * B].contains(&bytes.len()), "seed {seed}");
            assert!(
                bytes[..B].iter().all(|&b| b == 0x11),
                "seed {seed}: synced block 0"
            );
            assert!(
                bytes[2 * B..3 * B].iter().all(|&b| b == 0x33),
                "seed {seed}: block 2"
            );
            for (s, sector) in bytes[B..2 * B].chunks(SECTOR).enumerate() {
                let v = sector[0];
                assert!(
                    v == 0x22 || v == 0xbb,
                    "seed {seed}: block 1 sector {s} is {v:#x}"
                );
                assert!(
                    sector.iter().all(|&b| b == v),
                    "seed {seed}: a sector is atomic"
                );
            }
            for (block, new) in [(3usize, 0xcc), (4, 0xdd)] {
                let Some(blk) = bytes.get(block * B..(block + 1) * B) else {
                    continue;
                };
                assert!(
                    blk.iter().all(|&b| b == 0 || b == new),
                    "seed {seed}: block {block}"
                );
                holes += usize::from(
                    block == 3 && blk[0] == 0 && bytes.len() == 5 * B && bytes[4 * B] == 0xdd,
                );
            }
            torn += report.blocks_torn;
        }
        assert_eq!(
            lens.len(),
            3,
            "every length is chosen for some seed: {lens:?}"
        );
        assert!(
            holes > 0,
            "a zeroed block followed by one that reached the disk"
        );
        assert!(torn > 0);
    }

    #[test]
    fn names_not_made_durable_by_a_directory_fsync_may_be_undone() {
        let (mut created_lost, mut rename_undone, mut durable_lost) = (0, 0, 0);
        for seed in 0..40 {
            let root = tempfile::tempdir().unwrap();
            let store = root.path().join("store");
            arm(root.path(), seed).unwrap();
            let io = Io::new();
            io.create_dir_all(&store).unwrap(); // fsyncs the root: durable
            io.write_file_atomic(&store, "CURRENT", b"one").unwrap(); // durable
            let durable = io.create(&store.join("a")).unwrap();
            durable.sync().unwrap();
            io.sync_dir(&store).unwrap();
            io.create(&store.join("b")).unwrap(); // not durable
            std::fs::write(store.join("CURRENT.tmp"), b"two").unwrap();
            io.rename(&store.join("CURRENT.tmp"), &store.join("CURRENT"))
                .unwrap();
            io.remove(&store.join("a")).unwrap();
            cut(root.path()).unwrap();
            disarm(root.path());
            let current = std::fs::read(store.join("CURRENT")).unwrap();
            assert!(current == b"one" || current == b"two", "seed {seed}");
            created_lost += usize::from(!store.join("b").exists());
            rename_undone += usize::from(current == b"one");
            durable_lost += usize::from(!store.join("a").exists() && current == b"one");
            if current == b"one" {
                assert!(
                    store.join("a").exists(),
                    "seed {seed}: undone in order, so a is back"
                );
            }
        }
        assert!(created_lost > 0 && created_lost < 40);
        assert!(rename_undone > 0 && rename_undone < 40);
        assert_eq!(durable_lost, 0);
    }

    #[test]
    fn a_directory_whose_parent_was_never_synced_may_vanish() {
        let mut vanished = 0;
        for seed in 0..20 {
            let root = tempfile::tempdir().unwrap();
            arm(root.path(), seed).unwrap();
            let dir = root.path().join("store");
            std::fs::create_dir(&dir).unwrap();
            power_mkdir_unsynced(&dir);
            let f = Io::new().create(&dir.join("data")).unwrap();
            f.write_all_at(b"x", 0).unwrap();
            f.sync().unwrap();
            Io::new().sync_dir(&dir).unwrap();
            cut(root.path()).unwrap();
            disarm(root.path());
            vanished += usize::from(!dir.exists());
        }
        assert!(
            vanished > 0,
            "an un-fsynced directory entry is lost for some seed"
        );
    }

    #[test]
    fn writes_through_a_handle_opened_before_a_rename_are_tracked() {
        let mut lost = 0;
        for seed in 0..20 {
            let root = tempfile::tempdir().unwrap();
            arm(root.path(), seed).unwrap();
            let io = Io::new();
            let f = io.create(&root.path().join("a.tmp")).unwrap();
            f.write_all_at(&[1; B], 0).unwrap();
            f.sync().unwrap();
            io.rename(&root.path().join("a.tmp"), &root.path().join("a"))
                .unwrap();
            io.sync_dir(root.path()).unwrap();
            f.write_all_at(&[2; B], BLOCK).unwrap(); // through the old name's handle
            cut(root.path()).unwrap();
            disarm(root.path());
            let bytes = std::fs::read(root.path().join("a")).unwrap();
            assert!(bytes[..B].iter().all(|&b| b == 1), "seed {seed}");
            lost += usize::from(bytes.len() == B || bytes[B] == 0);
        }
        assert!(lost > 0, "the unsynced block is lost for some seed");
    }

    #[test]
    fn a_write_during_an_fsync_does_not_undo_what_that_fsync_covers() {
        for seed in 0..32 {
            let root = tempfile::tempdir().unwrap();
            arm(root.path(), seed).unwrap();
            let path = root.path().join("log");
            let f = Io::new().create(&path).unwrap();
            Io::new().sync_dir(root.path()).unwrap();
            f.write_all_at(&[7; 3000], 0).unwrap();
            let raw = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            // The fsync covers bytes 0..3000; while it runs, bytes 3000..3500 are appended
            // into the same block.
            sync(&path, &raw, || {
                write(&path, &raw, 3000, 500, || {
                    raw.write_all_at(&[9; 500], 3000)?;
                    Ok(())
                })
            })
            .unwrap();
            cut(root.path()).unwrap();
            disarm(root.path());
            let bytes = std::fs::read(&path).unwrap();
            assert!(bytes.len() >= 3000, "seed {seed}: {} bytes", bytes.len());
            assert!(
                bytes[..3000].iter().all(|&b| b == 7),
                "seed {seed}: synced bytes lost"
            );
        }
    }

    /// Records a directory creation the way `Io::create_dir_all` does, minus its parent fsync.
    fn power_mkdir_unsynced(dir: &Path) {
        mkdir(dir, || Ok(())).unwrap();
    }
}
