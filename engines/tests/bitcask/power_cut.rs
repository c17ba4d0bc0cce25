//! Power cuts, simulated on a copy of a live store. While the engine is open, the page cache
//! holds every byte it wrote; a copy taken then and damaged the way a power cut damages the
//! unsynced part of a file (a 4 KiB block that never reached the disk reads as zeros with later
//! blocks intact, a torn 512-byte sector) must open with every synced write and a prefix of
//! the rest. Damage inside synced data stays `Corruption`.

use std::path::PathBuf;

use engines::io::Io;
use engines::log::{read_synced_len, SyncedMark, LOG_START};

use super::*;

/// Write `i` of the stream: a put of one of 64 keys, its value naming `i`.
fn stream_put(i: u32) -> (Vec<u8>, Vec<u8>) {
    let len = if i % 50 == 49 {
        3000
    } else {
        40 + (i * 7 % 200)
    };
    let mut v = format!("write {i}:").into_bytes();
    v.resize(len as usize, b'a' + (i % 26) as u8);
    (format!("key{:02}", i % 64).into_bytes(), v)
}

/// The state after the first `n` writes.
fn state_after(n: u32) -> BTreeMap<Vec<u8>, Vec<u8>> {
    (0..n).map(stream_put).collect()
}

/// The `n` in `lo..=hi` whose state the store at `dir` holds, or a description of why none.
fn prefix_held(dir: &Path, o: &Options, lo: u32, hi: u32) -> Result<u32, String> {
    let db = engines::open(EngineKind::Bitcask, dir, o).map_err(|e| format!("open: {e}"))?;
    let got: BTreeMap<Vec<u8>, Vec<u8>> = db
        .scan(b"", None, usize::MAX)
        .map_err(|e| format!("scan: {e}"))?
        .into_iter()
        .collect();
    let n = (lo..=hi)
        .find(|&n| state_after(n) == got)
        .ok_or_else(|| format!("the store holds no prefix of the writes {lo}..={hi}"))?;
    // The store takes writes after the cut, and they survive.
    db.put(b"after", b"the power cut").unwrap();
    db.close().unwrap();
    let db = open(dir, o);
    assert_eq!(
        db.get(b"after").unwrap().as_deref(),
        Some(&b"the power cut"[..])
    );
    db.close().unwrap();
    Ok(n)
}

/// Copies every file of a live store (the page cache has every byte) to a fresh directory.
/// A file the background worker renames meanwhile (a hint's temporary file) is left out.
fn copy_store(from: &Path) -> tempfile::TempDir {
    let to = kit_dir();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        match std::fs::copy(&p, to.path().join(p.file_name().unwrap())) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("copying {}: {e}", p.display()),
        }
    }
    to
}

fn path_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

fn synced_len(path: &Path) -> u64 {
    read_synced_len(&Io::new().open_read(path).unwrap()).unwrap()
}

fn damage(path: &Path, at: u64, bytes: &[u8]) {
    let f = Io::new().open(path).unwrap();
    f.write_all_at(bytes, at).unwrap();
}

/// `synced` writes, a sync, `unsynced` more; returns the live engine (for copies), its
/// directory, and the data files that held records when the sync ran.
fn live_store(
    o: &Options,
    synced: u32,
    unsynced: u32,
) -> (tempfile::TempDir, Box<dyn Engine>, Vec<String>) {
    let dir = kit_dir();
    let db = open(dir.path(), o);
    for i in 0..synced {
        let (k, v) = stream_put(i);
        db.put(&k, &v).unwrap();
    }
    db.sync().unwrap();
    let holding: Vec<String> = names(dir.path(), ".data")
        .into_iter()
        .filter(|n| std::fs::metadata(dir.path().join(n)).unwrap().len() > LOG_START + 100)
        .collect();
    for i in synced..synced + unsynced {
        let (k, v) = stream_put(i);
        db.put(&k, &v).unwrap();
    }
    (dir, db, holding)
}

#[test]
fn damage_beyond_the_synced_length_of_the_active_file_opens_with_the_synced_prefix() {
    const N: u32 = 200;
    const M: u32 = 200; // ends with write 399, a 3000-byte value
    let o = quiet(1 << 20); // one data file
    let (dir, db, _) = live_store(&o, N, M);
    let active = names(dir.path(), ".data").pop().unwrap();

    // A 4 KiB block in the middle of the unsynced records never reached the disk; the blocks
    // after it did.
    let copy = copy_store(dir.path());
    let file = path_of(copy.path(), &active);
    let (synced, len) = (synced_len(&file), std::fs::metadata(&file).unwrap().len());
    assert!(
        synced > LOG_START && len > synced + 3 * 4096,
        "{synced} {len}"
    );
    let hole = (synced + (len - synced) / 3).next_multiple_of(4096);
    assert!(hole + 2 * 4096 < len);
    damage(&file, hole, &[0u8; 4096]);
    let n = prefix_held(copy.path(), &o, N, N + M).unwrap();
    assert!(n < N + M, "the records in the hole came back");

    // One 512-byte sector inside the last record is torn instead.
    let copy = copy_store(dir.path());
    let file = path_of(copy.path(), &active);
    let sector = (len - 2000).next_multiple_of(512);
    assert!(sector + 512 < len - 100);
    damage(&file, sector, &[0x5a; 512]);
    assert_eq!(prefix_held(copy.path(), &o, N, N + M).unwrap(), N + M - 1);

    // The same damage inside the synced records is corruption, not a silent loss.
    for (at, bytes) in [
        (synced / 2, vec![0u8; 4096]),
        (synced - 700, vec![0x5a; 512]),
    ] {
        let copy = copy_store(dir.path());
        let file = path_of(copy.path(), &active);
        damage(&file, at.next_multiple_of(512), &bytes);
        match engines::open(EngineKind::Bitcask, copy.path(), &o) {
            Err(Error::Corruption { file: f, .. }) => assert_eq!(f, file),
            other => panic!("damage inside synced data: {:?}", other.err()),
        }
    }
    db.close().unwrap();
}

#[test]
fn a_rollover_cut_short_ends_the_log_and_the_later_files_go() {
    const N: u32 = 100;
    const M: u32 = 300;
    let o = quiet(16 << 10);
    let (dir, db, holding) = live_store(&o, N, M);
    let data = names(dir.path(), ".data");
    // data = [sealed ..., F (sealed after the sync), active, prepared]
    assert!(data.len() >= 6, "{data:?}");
    let f_name = &data[data.len() - 3];
    let later = &data[data.len() - 2..];
    assert!(!holding.contains(f_name), "F {f_name} held synced records");

    // The power went before F's rollover fsync: its watermark never named a synced byte and
    // its third 4 KiB block never reached the disk. The files after it were never synced.
    let cut_short = |copy: &Path| {
        let f = path_of(copy, f_name);
        assert!(std::fs::metadata(&f).unwrap().len() > 3 * 4096);
        damage(&f, 0, &[0u8; LOG_START as usize]);
        damage(&f, 2 * 4096, &[0u8; 4096]);
        // Its hint file is written only once it is durable.
        let _ = std::fs::remove_file(copy.join(f_name.replace(".data", ".hint")));
        for l in later {
            assert!(synced_len(&path_of(copy, l)) <= LOG_START + 100, "{l}");
        }
    };
    let copy = copy_store(dir.path());
    cut_short(copy.path());
    let n = prefix_held(copy.path(), &o, N, N + M).unwrap();
    assert!(n < N + M);
    for l in later {
        assert!(
            !copy.path().join(l).exists(),
            "{l} follows the end of the log and holds nothing synced: it goes"
        );
    }

    // Had a later file been synced, F would have been durable first: damage in F then is
    // damage inside synced data.
    let copy = copy_store(dir.path());
    cut_short(copy.path());
    let active = path_of(copy.path(), &later[0]);
    let f = Io::new().open(&active).unwrap();
    let len = f.len().unwrap();
    SyncedMark::read(&f).unwrap().record(&f, len).unwrap();
    match engines::open(EngineKind::Bitcask, copy.path(), &o) {
        Err(Error::Corruption { file, detail, .. }) => {
            assert_eq!(file, path_of(copy.path(), f_name), "{detail}")
        }
        other => panic!("synced records after the end of the log: {:?}", other.err()),
    }

    // A sealed file whose rollover finished is durable whole: any damage is corruption.
    let copy = copy_store(dir.path());
    let first = path_of(copy.path(), &data[0]);
    assert_eq!(synced_len(&first), std::fs::metadata(&first).unwrap().len());
    damage(&first, 4096, &[0u8; 4096]);
    let _ = std::fs::remove_file(copy.path().join(data[0].replace(".data", ".hint")));
    assert!(matches!(
        engines::open(EngineKind::Bitcask, copy.path(), &o),
        Err(Error::Corruption { .. })
    ));
    db.close().unwrap();
}

#[test]
fn a_version_1_store_is_refused_with_a_clear_error() {
    let dir = kit_dir();
    std::fs::write(
        dir.path().join("KVBENCH"),
        "kvbench-store\nengine=bitcask\nversion=1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("00000001.data"), b"old").unwrap();
    match engines::open(EngineKind::Bitcask, dir.path(), &quiet(1 << 20)) {
        Err(Error::Incompatible(m)) => assert!(m.contains("format version 1"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    assert_eq!(
        std::fs::read(dir.path().join("00000001.data")).unwrap(),
        b"old",
        "nothing is written to a store that is refused"
    );
}
