//! The conformance kit: one suite every engine must pass, ours and outside ones alike.
//!
//! Parts (each a module, each test a function taking a [`Kit`]):
//! * [`basic`]: put/get/delete/overwrite, binary keys and values, the size limits, 1 MiB and
//!   16 MiB values, use after close;
//! * [`scan`]: order, inclusive start, exclusive end, limit, empty and out-of-range ranges,
//!   deleted keys skipped, newest versions shown, before and after compaction and reopen;
//! * [`persist`]: close and reopen several times, 100,000 keys read back, foreign directories
//!   refused;
//! * [`concurrency`]: writer threads on disjoint keys with readers running alongside;
//! * [`model`]: proptest sequences of put/get/delete/scan/sync/compact/reopen checked step by
//!   step against the `memory` engine;
//! * [`crash`]: a child process writes and acknowledges through a pipe; the parent SIGKILLs it
//!   at a random moment, or has it cut its own power (unsynced blocks lost out of order,
//!   un-fsynced names undone: [`crate::io::power`]), and checks that the store reopens to a
//!   prefix of the writes that holds every acknowledged one (sync, none and group modes);
//! * [`close_race`]: `close()` (once or twice at a time) while other threads put, get, scan,
//!   sync and compact: nothing changes in the directory after it returns, the others see only
//!   `Closed`, the store reopens with every acknowledged write;
//! * [`settle`]: `settle()` leaves every write readable and the engine idle;
//! * [`corruption`]: bytes flipped and files truncated at many offsets of a closed store; every
//!   read is then right or an error, never a panic or a wrong value;
//! * [`faults`]: a full disk and a failed fsync, injected through the I/O layer;
//! * [`failed_writes`]: the same failures under concurrent writers and readers: no reader sees
//!   a value go backwards, the instance refuses writes after a failed fsync, the reopened
//!   store holds every durable write.
//!
//! Use it from an integration test with one line per engine:
//!
//! ```ignore
//! engines::conformance_suite!(bitcask, engines::conformance::Kit::for_kind(engines::EngineKind::Bitcask));
//! ```
//!
//! An outside engine builds its kit with [`Kit::new`] and a function that opens it. Engines
//! without files pass `no_files` as a third argument, which leaves out the parts about
//! persistence, crashes, corruption and I/O faults; the other flags are listed at
//! [`conformance_suite!`](crate::conformance_suite).
//!
//! The crash tests re-run the test binary as the child (the `crash_child` test, ignored in
//! normal runs). `KVBENCH_CRASH_CYCLES` sets the number of kill cycles per mode (default 20),
//! `KVBENCH_POWER_CYCLES` the number of power cuts (default 150, modes rotating),
//! `KVBENCH_CLOSE_ROUNDS` and `KVBENCH_FAULT_ROUNDS` the rounds of the close-race and
//! failed-write parts.

use std::path::Path;
use std::sync::Arc;

use crate::{Engine, EngineKind, Options, Result};

pub mod basic;
pub mod close_race;
pub mod concurrency;
pub mod corruption;
pub mod crash;
pub mod failed_writes;
pub mod faults;
mod history;
pub mod model;
pub mod persist;
pub mod scan;
pub mod settle;

/// Environment variable with the number of SIGKILL cycles each crash test runs.
pub const CRASH_CYCLES_ENV: &str = "KVBENCH_CRASH_CYCLES";
const DEFAULT_CRASH_CYCLES: usize = 20;
/// Environment variable with the number of power cuts the power-cut test runs.
pub const POWER_CYCLES_ENV: &str = "KVBENCH_POWER_CYCLES";
const DEFAULT_POWER_CYCLES: usize = 150;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

type OpenFn = dyn Fn(&Path, &Options) -> Result<Box<dyn Engine>> + Send + Sync;

/// An engine under test: how to open it and with which options.
#[derive(Clone)]
pub struct Kit {
    pub name: String,
    open: Arc<OpenFn>,
    /// Options for every open; engines pass small sizes here (segments, memtables, caches)
    /// so that rollover, flushes and compaction happen inside the kit's small workloads.
    pub options: Options,
    /// The engine keeps its data in files.
    pub persistent: bool,
    /// SIGKILL cycles per crash test.
    pub crash_cycles: usize,
    /// Simulated power cuts in the power-cut test.
    pub power_cycles: usize,
    /// The engine's file I/O goes through [`crate::io`], so its counters can be checked
    /// (false for engines that do their own I/O, such as the production engines).
    pub counts_io: bool,
}

impl Kit {
    /// A kit for an engine outside this crate.
    pub fn new(
        name: impl Into<String>,
        persistent: bool,
        open: impl Fn(&Path, &Options) -> Result<Box<dyn Engine>> + Send + Sync + 'static,
    ) -> Self {
        Kit {
            name: name.into(),
            open: Arc::new(open),
            options: Options::default(),
            persistent,
            crash_cycles: env_count(CRASH_CYCLES_ENV, DEFAULT_CRASH_CYCLES),
            power_cycles: env_count(POWER_CYCLES_ENV, DEFAULT_POWER_CYCLES),
            counts_io: true,
        }
    }

    /// A kit for one of this crate's engines, opened with [`crate::open`].
    pub fn for_kind(kind: EngineKind) -> Self {
        Kit::new(kind.name(), kind.persistent(), move |dir, options| {
            crate::open(kind, dir, options)
        })
    }

    /// For an engine whose file I/O bypasses [`crate::io`]: its I/O counters stay zero, so
    /// the kit does not check them (the suite flag `no_fault_injection` sets this).
    pub fn with_io_outside_kit(mut self) -> Self {
        self.counts_io = false;
        self
    }

    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Opens the engine. (A store just closed while another test thread forks may look
    /// locked for a moment; [`crate::store_dir::claim`] waits that out.)
    pub fn try_open(&self, dir: &Path, options: &Options) -> Result<Box<dyn Engine>> {
        (self.open)(dir, options)
    }

    /// Opens with the kit's options; a failure fails the test.
    pub fn open(&self, dir: &Path) -> Box<dyn Engine> {
        self.open_with(dir, &self.options)
    }

    pub fn open_with(&self, dir: &Path, options: &Options) -> Box<dyn Engine> {
        self.try_open(dir, options)
            .unwrap_or_else(|e| panic!("{}: open {}: {e}", self.name, dir.display()))
    }
}

/// A fresh temporary directory for one test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("kvbench-kit-")
        .tempdir()
        .expect("creating a temporary directory")
}

/// The libtest name of the crash child inside the suite module `module_path` (the crate
/// segment dropped, as libtest names tests).
pub fn child_test_name(module_path: &str) -> String {
    let path = module_path.split_once("::").map_or("", |(_, rest)| rest);
    if path.is_empty() {
        "crash_child".to_string()
    } else {
        format!("{path}::crash_child")
    }
}

/// Generates the kit's tests for one engine in a module named `$name`. See the module docs.
///
/// Flags after the kit leave parts out, each for a stated reason the README records:
/// * `no_files`: an engine without files (no persistence, crash, corruption or fault parts);
/// * `no_fault_injection`: an engine whose file I/O does not go through [`crate::io`] (the
///   production engines): no fault can be injected and no power cut simulated, and its I/O
///   counters are not checked;
/// * `no_byte_flips`, `no_truncations`: an engine whose format cannot detect that damage
///   (no checksums on some pages), so it may return wrong data there.
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $kit:expr $(, $flag:ident)* $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::conformance as kit_parts;
            fn kit() -> $crate::conformance::Kit {
                let kit = $kit;
                $crate::conformance_suite!(@kit kit [$($flag)*])
            }
            $crate::conformance_suite!(@common);
            $crate::conformance_suite!(@files [$($flag)*]);
            $crate::conformance_suite!(@byte_flips [$($flag)*]);
            $crate::conformance_suite!(@truncations [$($flag)*]);
            $crate::conformance_suite!(@faults [$($flag)*]);
        }
    };
    // Flags that change the kit itself.
    (@kit $kit:ident []) => { $kit };
    (@kit $kit:ident [no_fault_injection $($rest:ident)*]) => {
        $crate::conformance_suite!(@kit {$kit.with_io_outside_kit()} [$($rest)*])
    };
    (@kit $kit:ident [$other:ident $($rest:ident)*]) => {
        $crate::conformance_suite!(@kit $kit [$($rest)*])
    };
    (@kit {$kit:expr} []) => { $kit };
    (@kit {$kit:expr} [$other:ident $($rest:ident)*]) => {
        $crate::conformance_suite!(@kit {$kit} [$($rest)*])
    };
    // Persistence and crashes: every engine with files.
    (@files [no_files $($rest:ident)*]) => {};
    (@files [$other:ident $($rest:ident)*]) => { $crate::conformance_suite!(@files [$($rest)*]); };
    (@files []) => {
        #[test] fn persist_reopen_cycles() { kit_parts::persist::reopen_cycles(&kit()) }
        #[test] fn persist_100k_keys() { kit_parts::persist::hundred_thousand_keys(&kit()) }
        #[test] fn persist_foreign_dirs_refused() { kit_parts::persist::foreign_dirs(&kit()) }
        #[test] fn crash_cycles_sync() {
            let child = kit_parts::child_test_name(module_path!());
            kit_parts::crash::cycles(&kit(), &child, $crate::Durability::Sync)
        }
        #[test] fn crash_unsynced_loss_is_a_prefix() {
            let child = kit_parts::child_test_name(module_path!());
            kit_parts::crash::cycles(&kit(), &child, $crate::Durability::None)
        }
        #[test] fn crash_group_mode() {
            let child = kit_parts::child_test_name(module_path!());
            kit_parts::crash::cycles(&kit(), &child, $crate::Durability::Group)
        }
        #[test]
        #[ignore = "the child process of the crash tests; they run it themselves"]
        fn crash_child() { kit_parts::crash::child(&kit()) }
    };
    (@byte_flips [no_files $($rest:ident)*]) => {};
    (@byte_flips [no_byte_flips $($rest:ident)*]) => {};
    (@byte_flips [$other:ident $($rest:ident)*]) => { $crate::conformance_suite!(@byte_flips [$($rest)*]); };
    (@byte_flips []) => {
        #[test] fn corruption_byte_flips() { kit_parts::corruption::byte_flips(&kit()) }
    };
    (@truncations [no_files $($rest:ident)*]) => {};
    (@truncations [no_truncations $($rest:ident)*]) => {};
    (@truncations [$other:ident $($rest:ident)*]) => { $crate::conformance_suite!(@truncations [$($rest)*]); };
    (@truncations []) => {
        #[test] fn corruption_truncations() { kit_parts::corruption::truncations(&kit()) }
    };
    (@faults [no_files $($rest:ident)*]) => {};
    (@faults [no_fault_injection $($rest:ident)*]) => {};
    (@faults [$other:ident $($rest:ident)*]) => { $crate::conformance_suite!(@faults [$($rest)*]); };
    (@faults []) => {
        #[test] fn fault_disk_full() { kit_parts::faults::disk_full(&kit()) }
        #[test] fn fault_fsync_failure() { kit_parts::faults::fsync_failure(&kit()) }
        #[test] fn fault_failed_writes_under_writers() { kit_parts::failed_writes::under_concurrent_writers(&kit()) }
        #[test] fn power_cut_cycles() {
            let child = kit_parts::child_test_name(module_path!());
            kit_parts::crash::power_cycles(&kit(), &child)
        }
    };
    (@common) => {
        #[test] fn basic_ops() { $crate::conformance::basic::ops(&kit()) }
        #[test] fn basic_binary_keys_and_values() { $crate::conformance::basic::binary(&kit()) }
        #[test] fn basic_limits() { $crate::conformance::basic::limits(&kit()) }
        #[test] fn basic_large_values() { $crate::conformance::basic::large_values(&kit()) }
        #[test] fn basic_closed_engine() { $crate::conformance::basic::closed(&kit()) }
        #[test] fn scan_semantics() { $crate::conformance::scan::semantics(&kit()) }
        #[test] fn concurrency_writers_and_readers() { $crate::conformance::concurrency::writers_and_readers(&kit()) }
        #[test] fn model_against_memory_engine() { $crate::conformance::model::against_memory(&kit()) }
        #[test] fn close_race_during_work() { $crate::conformance::close_race::close_during_work(&kit()) }
        #[test] fn settle_rests() { $crate::conformance::settle::rests(&kit()) }
    };
}
