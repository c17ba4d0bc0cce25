//! Persistence: reopen cycles, 100,000 keys, and directories the engine must refuse.

use super::history::{self, Model};
use super::{temp_dir, Kit};
use crate::{Error, Options};

/// Five rounds of open, check everything so far, write more (with a compaction in some
/// rounds), close.
pub fn reopen_cycles(kit: &Kit) {
    let dir = temp_dir();
    let mut model = Model::default();
    for round in 0..5u64 {
        let db = kit.open(dir.path());
        let seen = history::observe(&*db, |_| false).unwrap();
        let n = history::find_prefix(&model, &seen, model.applied, model.applied)
            .unwrap_or_else(|e| panic!("{}: round {round}: {e}", kit.name));
        assert_eq!(n, model.applied);
        for i in model.applied..model.applied + 700 {
            history::apply(&*db, i).unwrap();
            if round % 2 == 1 && i % 350 == 0 {
                db.compact().unwrap();
            }
        }
        model.advance_to(model.applied + 700);
        db.close().unwrap();
    }
}

fn key(i: u32) -> Vec<u8> {
    format!(
        "user{:012}",
        (i as u64).wrapping_mul(0x9E37_79B9) % 1_000_000_000_000
    )
    .into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    let mut v = vec![(i % 251) as u8; 100];
    v[..4].copy_from_slice(&i.to_le_bytes());
    v
}

/// 100,000 keys (16 bytes, 100-byte values) written, the store reopened, all read back.
pub fn hundred_thousand_keys(kit: &Kit) {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    for i in 0..100_000u32 {
        db.put(&key(i), &value(i)).unwrap();
    }
    db.close().unwrap();
    let db = kit.open(dir.path());
    for i in 0..100_000u32 {
        let got = db.get(&key(i)).unwrap();
        assert!(
            got.as_deref() == Some(&value(i)[..]),
            "key {i} after reopen: {got:?}"
        );
    }
    let mut count = 0;
    let mut start = Vec::new();
    loop {
        let page = db.scan(&start, None, 10_000).unwrap();
        if page.is_empty() {
            break;
        }
        count += page.len();
        start = page.last().unwrap().0.clone();
        start.push(0);
    }
    assert_eq!(count, 100_000, "a full scan after reopen");
    db.close().unwrap();
}

/// A directory with someone else's files, another engine's store or a newer format version
/// is refused with `Error::Incompatible`, and left as it was.
pub fn foreign_dirs(kit: &Kit) {
    let dir = temp_dir();
    std::fs::write(dir.path().join("notes.txt"), b"not a store").unwrap();
    let r = kit.try_open(dir.path(), &kit.options);
    assert!(
        matches!(r, Err(Error::Incompatible(_))),
        "{}: opening a directory with foreign files: {:?}",
        kit.name,
        r.as_ref().err()
    );
    assert_eq!(
        std::fs::read(dir.path().join("notes.txt")).unwrap(),
        b"not a store"
    );

    let dir = temp_dir();
    kit.open(dir.path()).close().unwrap();
    let marker = dir.path().join(crate::store_dir::MARKER);
    let text = std::fs::read_to_string(&marker).expect("the engine writes the store marker");
    let other = text
        .lines()
        .map(|l| {
            if l.starts_with("engine=") {
                "engine=someone-else"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&marker, other).unwrap();
    let r = kit.try_open(dir.path(), &Options::default());
    assert!(
        matches!(r, Err(Error::Incompatible(_))),
        "another engine's store: {:?}",
        r.err()
    );
    let newer = text
        .lines()
        .map(|l| {
            if l.starts_with("version=") {
                "version=4000000"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&marker, newer).unwrap();
    match kit.try_open(dir.path(), &kit.options) {
        Err(Error::Incompatible(m)) => assert!(m.contains("version"), "{m}"),
        r => panic!("a newer format version: {:?}", r.err()),
    }
}
