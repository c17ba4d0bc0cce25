//! `settle()` brings an engine to rest. After enough writes to fill memtables and start
//! background work, `settle()` returns with every write readable, and an engine whose I/O the
//! kit counts then writes nothing while idle: no file changes, no byte through its I/O
//! layer. (That `settle()` makes writes durable is checked by the crash and power-cut
//! cycles, whose child acknowledges after each `settle()`.)

use std::time::Duration;

use super::close_race::dir_state;
use super::{temp_dir, Kit};
use crate::Error;

pub fn rests(kit: &Kit) {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    let value = |i: usize| format!("{i:08}").repeat(1 + i % 24).into_bytes();
    for i in 0..3000 {
        db.put(
            format!("settle-{:05}", (i * 7919) % 3000).as_bytes(),
            &value(i),
        )
        .unwrap();
        if i % 1000 == 999 {
            db.compact().unwrap();
        }
    }
    db.settle()
        .unwrap_or_else(|e| panic!("{}: settle: {e}", kit.name));
    let (io, files) = (db.stats().io, dir_state(dir.path()));
    std::thread::sleep(Duration::from_millis(300));
    if kit.persistent && kit.counts_io {
        let later = db.stats().io;
        assert_eq!(
            later.bytes_written, io.bytes_written,
            "{}: the engine wrote while idle after settle()",
            kit.name
        );
        assert!(
            dir_state(dir.path()) == files,
            "{}: files changed while idle after settle()",
            kit.name
        );
    }
    for i in 0..3000 {
        let k = format!("settle-{:05}", (i * 7919) % 3000);
        assert_eq!(
            db.get(k.as_bytes()).unwrap().as_deref(),
            Some(&value(i)[..]),
            "{}: {k} after settle()",
            kit.name
        );
    }
    db.close().unwrap();
    assert!(
        matches!(db.settle(), Err(Error::Closed)),
        "{}: settle() on a closed engine must be Closed",
        kit.name
    );
}
