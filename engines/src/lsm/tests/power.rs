//! Power cuts: after one, the unsynced tail of a WAL may come back with a zeroed 4 KiB block
//! followed by blocks that did reach the disk, or with one torn 512-byte sector. The store
//! is copied while the engine is open (the page cache holds every byte, as a disk that
//! lost nothing would), the copy's WAL is damaged the way a power cut damages it, and the
//! copy must open with every synced write and a prefix of the rest. Damage inside synced
//! data stays corruption.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{apply, small, state_after};
use crate::io::Io;
use crate::log::{self, LOG_START};
use crate::lsm::db::lock;
use crate::lsm::{CompactionPolicy, LsmEngine, FORMAT_VERSION};
use crate::{Engine, Error, Options};

/// Options under which `n` writes stay in one memtable (and so one WAL).
fn one_wal() -> Options {
    let mut o = small(CompactionPolicy::Leveled);
    o.lsm.memtable_bytes = 4 << 20;
    o
}

fn copy_store(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.path().join(e.file_name())).unwrap();
    }
    to
}

/// The WALs of `dir` holding records, oldest first.
fn wals_with_records(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .filter(|p| std::fs::metadata(p).unwrap().len() > LOG_START)
        .collect();
    out.sort();
    out
}

fn synced_len(path: &Path) -> u64 {
    log::read_synced_len(&Io::new().open_read(path).unwrap()).unwrap()
}

fn damage(path: &Path, at: u64, bytes: &[u8]) {
    Io::new()
        .open(path)
        .unwrap()
        .write_all_at(bytes, at)
        .unwrap();
}

/// A large last write, so that a whole sector lies inside its record.
const LAST: &[u8] = b"~last";

/// Opens `dir` and returns the `n` in `lo..=hi` whose state it holds, and whether it holds
/// the `LAST` write too.
fn prefix_held(dir: &Path, o: &Options, lo: u64, hi: u64) -> crate::Result<(u64, bool)> {
    let db = LsmEngine::open(dir, o)?;
    let mut got: BTreeMap<Vec<u8>, Vec<u8>> = db.scan(b"", None, usize::MAX)?.into_iter().collect();
    db.close()?;
    let last = got.remove(LAST).is_some();
    let n = (lo..=hi).rev().find(|&n| state_after(n) == got);
    let n = n.unwrap_or_else(|| panic!("the store holds no prefix of {lo}..={hi} writes"));
    Ok((n, last))
}

/// Writes `synced` ops and syncs, then `more` ops without a sync; returns the open engine,
/// the WAL path and the end of the first unsynced record.
fn written(dir: &Path, o: &Options, synced: u64, more: u64) -> (LsmEngine, PathBuf, u64) {
    let db = LsmEngine::open(dir, o).unwrap();
    for i in 0..synced {
        apply(&db, i).unwrap();
    }
    db.sync().unwrap();
    let wal = wals_with_records(dir).pop().unwrap();
    let synced_to = std::fs::metadata(&wal).unwrap().len();
    assert_eq!(
        synced_len(&wal),
        synced_to,
        "sync() records the synced length"
    );
    for i in synced..synced + more {
        apply(&db, i).unwrap();
    }
    (db, wal, synced_to)
}

#[test]
fn a_zeroed_block_or_a_torn_sector_beyond_the_synced_length_keeps_the_synced_prefix() {
    const N: u64 = 300;
    const M: u64 = 300;
    let o = one_wal();
    let dir = tempfile::tempdir().unwrap();
    let (db, wal, synced_to) = written(dir.path(), &o, N, M);
    db.put(LAST, &[7; 3000]).unwrap();
    let end = std::fs::metadata(&wal).unwrap().len();
    let name = wal.file_name().unwrap();
    assert!(end > synced_to + 3 * 4096, "the unsynced tail spans blocks");

    // A 4 KiB block in the middle of the unsynced tail reads as zeros; later blocks, with
    // valid records, did reach the disk.
    let copy = copy_store(dir.path());
    let hole = (synced_to + 4096).next_multiple_of(4096);
    assert!(hole + 4096 < end - 3000);
    damage(&copy.path().join(name), hole, &[0; 4096]);
    let (n, last) = prefix_held(copy.path(), &o, N, N + M).unwrap();
    assert!(n < N + M && !last, "writes past the hole were kept");

    // One 512-byte sector inside the last record is garbage: all but that record are kept.
    let copy = copy_store(dir.path());
    let sector = (end - 2000).next_multiple_of(512);
    damage(&copy.path().join(name), sector, &[0x5a; 512]);
    let held = prefix_held(copy.path(), &o, N, N + M).unwrap();
    assert_eq!(held, (N + M, false));

    // The same damage inside the synced records is corruption, not a torn tail.
    for at in [LOG_START + 700, synced_to - 600] {
        let copy = copy_store(dir.path());
        damage(&copy.path().join(name), at, &[0; 512]);
        let r = LsmEngine::open(copy.path(), &o);
        assert!(
            matches!(r, Err(Error::Corruption { .. })),
            "damage at {at} inside synced data: {:?}",
            r.err()
        );
    }
    // The undamaged copy holds every write (the page cache had them all).
    let copy = copy_store(dir.path());
    assert_eq!(
        prefix_held(copy.path(), &o, N, N + M).unwrap(),
        (N + M, true)
    );
    db.close().unwrap();
}

/// A rotated-out WAL whose END record never reached the disk ends the log: the writes in a
/// newer WAL came after it and were never synced, so they are dropped with it.
#[test]
fn an_older_wal_cut_short_beyond_its_synced_length_ends_the_log() {
    const N: u64 = 100;
    let mut o = small(CompactionPolicy::Leveled);
    o.lsm.max_immutable_memtables = 4;
    let dir = tempfile::tempdir().unwrap();
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    for i in 0..N {
        apply(&db, i).unwrap();
    }
    db.settle().unwrap();
    // Hold back the fsync of retired WALs and the flush, rotate once, write on.
    let copy = {
        let _no_sync = lock(&db.inner.wals.retire_sync);
        let _no_flush = lock(&db.inner.flush_lock);
        let mut i = N;
        while db.inner.view().imms.is_empty() {
            apply(&db, i).unwrap();
            i += 1;
        }
        for _ in 0..20 {
            apply(&db, i).unwrap();
            i += 1;
        }
        let copy = copy_store(dir.path());
        let wals = wals_with_records(copy.path());
        assert_eq!(wals.len(), 2, "{wals:?}");
        let (old, new) = (&wals[0], &wals[1]);
        assert_eq!(synced_len(new), LOG_START, "the newer WAL was never synced");
        let synced = synced_len(old);
        let len = std::fs::metadata(old).unwrap().len();
        assert!(synced < len, "the older WAL's tail is unsynced");
        // Its last unsynced sector, with the END record, comes back as zeros.
        let at = (len - 1) / 512 * 512;
        assert!(at >= synced);
        damage(old, at, &vec![0; (len - at) as usize]);
        (copy, i)
    };
    let (copy, written) = copy;
    let (n, _) = prefix_held(copy.path(), &o, N, written).unwrap();
    assert!(
        n < written,
        "writes of the newer WAL were replayed after a gap"
    );
    assert_eq!(
        wals_with_records(copy.path()).len(),
        1,
        "the newer WAL is gone"
    );
    // The copy takes writes again and keeps them.
    let again = LsmEngine::open(copy.path(), &o).unwrap();
    again.put(b"after", b"cut").unwrap();
    again.close().unwrap();
    let again = LsmEngine::open(copy.path(), &o).unwrap();
    assert_eq!(again.get(b"after").unwrap().as_deref(), Some(&b"cut"[..]));
    again.close().unwrap();
    db.close().unwrap();
}

/// A newer WAL that recorded a synced length proves that the older one was durable to its
/// END record (retired WALs are fsynced first): the older one cut short is then damage, even
/// where its own header lost the last synced-length update.
#[test]
fn an_older_wal_cut_short_before_a_synced_newer_one_is_corruption() {
    let o = small(CompactionPolicy::Leveled);
    let dir = tempfile::tempdir().unwrap();
    let db = LsmEngine::open(dir.path(), &o).unwrap();
    let no_flush = lock(&db.inner.flush_lock);
    let mut i = 0;
    while db.inner.view().imms.is_empty() {
        apply(&db, i).unwrap();
        i += 1;
    }
    apply(&db, i).unwrap();
    let wals = wals_with_records(dir.path());
    assert_eq!(wals.len(), 2, "{wals:?}");
    let old_name = wals[0].file_name().unwrap().to_owned();
    let unsynced_header = std::fs::read(&wals[0]).unwrap()[..LOG_START as usize].to_vec();
    db.sync().unwrap();
    let copy = copy_store(dir.path());
    drop(no_flush);
    db.close().unwrap();

    let old = copy.path().join(old_name);
    let new = wals_with_records(copy.path()).pop().unwrap();
    assert!(synced_len(&new) > LOG_START);
    // The older WAL's header as before the sync (its slot update lost), its END record gone.
    damage(&old, 0, &unsynced_header);
    let len = std::fs::metadata(&old).unwrap().len();
    assert!(synced_len(&old) < len - 5);
    Io::new().open(&old).unwrap().set_len(len - 5).unwrap();
    let r = LsmEngine::open(copy.path(), &o);
    assert!(
        matches!(&r, Err(Error::Corruption { detail, .. }) if detail.contains("older WAL")),
        "{:?}",
        r.err()
    );
}

#[test]
fn a_store_of_the_previous_format_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join(crate::store_dir::MARKER);
    std::fs::write(&marker, "kvbench-store\nengine=lsm\nversion=1\n").unwrap();
    std::fs::write(dir.path().join("MANIFEST"), b"an old manifest").unwrap();
    let e = match LsmEngine::open(dir.path(), &small(CompactionPolicy::Leveled)) {
        Err(e) => e,
        Ok(_) => panic!("a version-1 store opened"),
    };
    let msg = e.to_string();
    assert!(
        matches!(e, Error::Incompatible(_)) && msg.contains("format version 1"),
        "{msg}"
    );
    assert!(msg.contains(&format!("version {FORMAT_VERSION}")), "{msg}");
    assert_eq!(
        std::fs::read(dir.path().join("MANIFEST")).unwrap(),
        b"an old manifest",
        "nothing was written"
    );
}
