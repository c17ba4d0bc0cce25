//! A cold cache that is cold: between load and run the engine is closed, its files are
//! dropped from the page cache (checked with `mincore`) and it is opened again, so a cold
//! readrandom reads from the device on every engine with files, the ones that map their file
//! (LMDB) or keep their own cache (btree, redb) included. The kernel's read counters are per
//! process, so this file holds one test (each test file is its own process).

use std::sync::atomic::AtomicBool;

use engines::{EngineKind, Options};
use workloads::presets::preset;
use workloads::result::PhaseKind;
use workloads::runner::{run, EngineUnderTest, RunConfig};

#[test]
fn a_cold_readrandom_reads_from_the_device_on_every_engine_with_files() {
    if workloads::procfs::read_proc_io().is_none() {
        eprintln!("no /proc/self/io here: the device reads cannot be seen");
        return;
    }
    let stop = AtomicBool::new(false);
    let mut spec = preset("readrandom").unwrap();
    spec.record_count = 20_000;
    spec.operation_count = 2_000;
    spec.value_size = workloads::spec::SizeSpec::Fixed { bytes: 400 };
    // The btree keeps the page images of its WAL in memory after open, and debug builds
    // check the whole tree at open through the buffer pool: a WAL checkpointed every MiB and
    // a pool of 1 MiB leave most of the tree in the data file, where a cold get fetches it.
    let mut options = Options::default();
    options.btree.checkpoint_wal_bytes = 1 << 20;
    options.btree.buffer_pool_bytes = 1 << 20;
    for &kind in EngineKind::ALL
        .iter()
        .filter(|k| k.persistent() && **k != EngineKind::Null)
    {
        for cold in [false, true] {
            let cfg = RunConfig {
                dir: None,
                temp_parent: None,
                cold_cache: cold,
                stop: &stop,
                progress: &|_| {},
                calibration: None,
            };
            let r = run(
                &spec,
                &EngineUnderTest::builtin(kind, options.clone()),
                &cfg,
            )
            .unwrap();
            assert!(!r.partial, "{kind}: {:?}", r.partial_reason);
            let fs = r.environment.filesystem.clone();
            if matches!(fs.as_str(), "tmpfs" | "ramfs" | "overlay") {
                eprintln!("the data directory is on {fs}: nothing is read from a device there");
                return;
            }
            let p = r.phase(PhaseKind::Run).unwrap();
            let device = p.amplification.proc_read_bytes.unwrap();
            eprintln!(
                "{kind} cold={cold}: {device} device bytes read by {} gets; {:?}",
                p.amplification.logical_reads, r.cold_cache_check
            );
            if cold {
                let check = r.cold_cache_check.expect("the check is recorded");
                assert!(
                    check.dropped && r.cold_cache,
                    "{kind}: {check:?} {:?}",
                    r.notes
                );
                assert!(
                    device > 0,
                    "{kind}: a cold run read nothing from the device"
                );
            }
        }
    }
}
