//! I/O faults injected through the I/O layer: a disk that fills up and an fsync that fails.

use super::history::{self, Model};
use super::{temp_dir, Kit};
use crate::io::{clear_faults, inject_fault, Fault};
use crate::{Durability, Error};

/// Writes past a full disk report an error; after the disk has room again the store reopens
/// with every write synced before, the rest a prefix, and takes writes again.
pub fn disk_full(kit: &Kit) {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    for i in 0..300 {
        history::apply(&*db, i).unwrap();
    }
    db.sync().unwrap();
    let mut model = Model::default();
    model.advance_to(300);

    inject_fault(dir.path(), Fault::DiskFullAfter(2000));
    let mut attempted = 300;
    let mut failed = false;
    for i in 300..3300 {
        attempted = i + 1;
        if history::apply(&*db, i).is_err() {
            failed = true;
            break;
        }
    }
    if !failed {
        failed = db.sync().is_err();
    }
    clear_faults(dir.path());
    assert!(
        failed,
        "{}: writes past a full disk never reported an error",
        kit.name
    );
    let _ = db.close();
    drop(db);

    let db = kit.open(dir.path());
    let seen = history::observe(&*db, |_| false).unwrap();
    history::find_prefix(&model, &seen, 300, attempted)
        .unwrap_or_else(|e| panic!("{} after a full disk: {e}", kit.name));
    db.put(b"~probe", b"room again").unwrap();
    assert_eq!(
        db.get(b"~probe").unwrap().as_deref(),
        Some(&b"room again"[..])
    );
    db.close().unwrap();
}

/// In `sync` mode a failed fsync fails the write, and the instance refuses every later write
/// (even once fsync works again) until it is reopened; the reopened store holds every write
/// acknowledged before.
pub fn fsync_failure(kit: &Kit) {
    let dir = temp_dir();
    let mut options = kit.options.clone();
    options.durability = Durability::Sync;
    let db = kit.open_with(dir.path(), &options);
    for i in 0..100 {
        history::apply(&*db, i).unwrap();
    }
    inject_fault(dir.path(), Fault::FailSync);
    let r = history::apply(&*db, 100);
    assert!(
        r.is_err(),
        "{}: a write in sync mode succeeded although fsync failed",
        kit.name
    );
    clear_faults(dir.path());
    let r = history::apply(&*db, 101);
    assert!(
        matches!(r, Err(Error::Poisoned(_))),
        "{}: after a failed fsync, a write must be refused until reopen: {r:?}",
        kit.name
    );
    let _ = db.close();
    drop(db);

    let db = kit.open(dir.path());
    let seen = history::observe(&*db, |_| false).unwrap();
    let mut model = Model::default();
    model.advance_to(100);
    history::find_prefix(&model, &seen, 100, 101)
        .unwrap_or_else(|e| panic!("{} after a failed fsync: {e}", kit.name));
    db.put(b"~probe", b"ok").unwrap();
    db.close().unwrap();
}
