//! The conformance kit on the production engines (issue 9), one line per adapter.
//!
//! Their file I/O does not go through `engines::io`, so no fault can be injected into it
//! (`no_fault_injection`). The byte-flip sweep is left out where the engine, by design, can
//! return wrong data after a flipped byte (README, "Production engines", has the table):
//! * LMDB and SQLite keep no checksums on data pages (and LMDB's mmap reads can crash on a
//!   damaged page, so its truncation sweep is left out too);
//! * redb verifies page checksums only while repairing after an unclean shutdown, so a flip
//!   in a cleanly closed file is read back as data;
//! * fjall's journal recovery cuts the journal at the first damaged batch and carries on,
//!   silently dropping the acknowledged writes after it (it has no "fail on corruption"
//!   recovery mode).
//!
//! The truncation sweep is left out for RocksDB: it takes a MANIFEST cut short for a torn
//! last edit and opens the version before it, even when the WAL that edit retired is already
//! deleted, so the flushed writes are silently missing (a cut no crash can produce, since the
//! WAL is deleted only after the edit is synced).
#![cfg(any(
    feature = "redb",
    feature = "fjall",
    feature = "lmdb",
    feature = "rocksdb",
    feature = "sqlite"
))]

#[allow(unused_imports)]
use engines::conformance::Kit;
#[allow(unused_imports)]
use engines::EngineKind;

#[cfg(feature = "redb")]
engines::conformance_suite!(
    redb,
    Kit::for_kind(EngineKind::Redb),
    no_fault_injection,
    no_byte_flips
);
#[cfg(feature = "fjall")]
engines::conformance_suite!(
    fjall,
    Kit::for_kind(EngineKind::Fjall),
    no_fault_injection,
    no_byte_flips
);
#[cfg(feature = "lmdb")]
engines::conformance_suite!(
    lmdb,
    Kit::for_kind(EngineKind::Lmdb),
    no_fault_injection,
    no_byte_flips,
    no_truncations
);
#[cfg(feature = "rocksdb")]
engines::conformance_suite!(
    rocksdb,
    Kit::for_kind(EngineKind::Rocksdb),
    no_fault_injection,
    no_truncations
);
#[cfg(feature = "sqlite")]
engines::conformance_suite!(
    sqlite,
    Kit::for_kind(EngineKind::Sqlite),
    no_fault_injection,
    no_byte_flips
);
