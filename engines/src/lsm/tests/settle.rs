//! `settle()` brings the engine to rest: memtables flushed, no compaction due or running,
//! every write durable; an idle engine then writes nothing.

use std::time::Duration;

use super::close::snapshot;
use super::{apply, small, state_after, POLICIES};
use crate::lsm::{compaction, LsmEngine};
use crate::{Durability, Engine};

#[test]
fn after_settle_the_memtables_are_empty_and_an_idle_engine_writes_nothing() {
    for (policy, durability) in [
        (POLICIES[0], Durability::None),
        (POLICIES[1], Durability::Group),
    ] {
        let ctx = format!("{policy:?}, {durability:?}");
        let mut o = small(policy);
        o.durability = durability;
        let dir = tempfile::tempdir().unwrap();
        let db = LsmEngine::open(dir.path(), &o).unwrap();
        for i in 0..3000 {
            apply(&db, i).unwrap();
        }
        db.settle().unwrap();
        let v = db.inner.view();
        assert!(
            v.mem.is_empty() && v.imms.is_empty(),
            "{ctx}: memtables left"
        );
        let mut pointers = db.inner.pointers.lock().unwrap().clone();
        assert!(
            compaction::pick(&v.version, &o.lsm, &mut pointers).is_none(),
            "{ctx}: a compaction is still due"
        );
        let stats = db.stats();
        assert_eq!(
            stats.write_buffer_bytes,
            o.lsm.memtable_bytes * (1 + o.lsm.max_immutable_memtables as u64),
            "{ctx}"
        );
        let (io, files) = (stats.io, snapshot(dir.path()));
        std::thread::sleep(Duration::from_millis(200));
        let idle = db.stats().io.since(&io);
        assert_eq!(
            (idle.bytes_written, idle.write_calls, idle.fsyncs),
            (0, 0, 0),
            "{ctx}: the settled engine wrote while idle"
        );
        assert_eq!((idle.files_created, idle.files_removed), (0, 0), "{ctx}");
        assert!(
            snapshot(dir.path()) == files,
            "{ctx}: the directory changed"
        );
        // Settling a settled engine does nothing.
        db.settle().unwrap();
        let again = db.stats().io.since(&io);
        assert_eq!((again.bytes_written, again.fsyncs), (0, 0), "{ctx}");
        db.close().unwrap();
        let db = LsmEngine::open(dir.path(), &o).unwrap();
        let got: std::collections::BTreeMap<_, _> = db
            .scan(b"", None, usize::MAX)
            .unwrap()
            .into_iter()
            .collect();
        assert!(got == state_after(3000), "{ctx}: the settled store differs");
        db.close().unwrap();
    }
}
