//! The conformance kit on the production engines (issue 9), one line per adapter.
//!
//! Their file I/O does not go through `engines::io`, so no fault can be injected into it
//! (`no_fault_injection`). LMDB and SQLite keep no checksums on their data pages, so a
//! flipped byte there can be read back as data: the byte-flip sweep is left out for them
//! (README, "Production engines", says what each engine does and does not guarantee).
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
engines::conformance_suite!(redb, Kit::for_kind(EngineKind::Redb), no_fault_injection);
#[cfg(feature = "fjall")]
engines::conformance_suite!(fjall, Kit::for_kind(EngineKind::Fjall), no_fault_injection);
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
    no_fault_injection
);
#[cfg(feature = "sqlite")]
engines::conformance_suite!(
    sqlite,
    Kit::for_kind(EngineKind::Sqlite),
    no_fault_injection,
    no_byte_flips
);
