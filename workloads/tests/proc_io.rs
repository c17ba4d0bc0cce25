//! The engine's write counter against the kernel's: a sync-heavy run on a file-backed test
//! engine (an fsync per write) must give write figures that agree within 10%; an engine that
//! writes behind its I/O layer's back must be caught. This is the only test in this file,
//! so no other test of this process writes while it measures (`cargo test` runs each test
//! file as its own process).

mod common;

use std::sync::atomic::AtomicBool;

use engines::Durability;
use workloads::presets::preset;
use workloads::result::PhaseKind;
use workloads::runner::{run, RunConfig};

#[test]
fn engine_and_kernel_write_figures_agree() {
    if workloads::procfs::read_proc_io().is_none() {
        eprintln!("no /proc/self/io on this system: nothing to compare");
        return;
    }
    let stop = AtomicBool::new(false);
    let mut spec = preset("write-heavy").unwrap();
    spec.record_count = 500;
    spec.operation_count = 1500;
    spec.durability = Durability::Sync;
    spec.threads = 2;
    let cfg = RunConfig {
        dir: None,
        temp_parent: None,
        cold_cache: false,
        stop: &stop,
        progress: &|_| {},
        calibration: None,
    };
    let r = run(&spec, &common::log_engine(), &cfg).unwrap();
    for kind in [PhaseKind::Load, PhaseKind::Run] {
        let p = r.phase(kind).unwrap();
        let a = &p.amplification;
        let engine = a.write_amp_engine.unwrap();
        let kernel = a.write_amp_proc.unwrap();
        eprintln!("{kind:?}: write amplification engine {engine:.4}, /proc/self/io {kernel:.4}");
        assert!(
            engine > 1.0,
            "{kind:?}: framing makes the log bigger than the user bytes"
        );
        assert!(
            (engine - kernel).abs() / engine <= 0.10,
            "{kind:?}: engine {engine:.4} vs /proc/self/io {kernel:.4}"
        );
        assert!(!a.write_amp_mismatch, "{kind:?}: {:?}", r.notes);
        let reads = p
            .latency_of(Some(workloads::OpKind::Read))
            .map_or(0, |l| l.summary.count);
        assert!(
            p.engine_io.fsyncs >= p.operations - reads,
            "{kind:?}: an fsync per write"
        );
    }
    let run_phase = r.phase(PhaseKind::Run).unwrap();
    let a = &run_phase.amplification;
    assert!(a.disk_bytes >= a.live_bytes.unwrap());
    assert!(a.space_amp.unwrap() > 1.0);

    // The same run on an engine that writes every record twice, once uncounted: the kernel
    // sees about twice what the engine counted, and the result says so.
    let r = run(&spec, &common::log_engine_with(true), &cfg).unwrap();
    let a = &r.phase(PhaseKind::Run).unwrap().amplification;
    let (engine, kernel) = (a.write_amp_engine.unwrap(), a.write_amp_proc.unwrap());
    assert!(
        kernel > 1.8 * engine,
        "engine {engine:.3} vs kernel {kernel:.3}"
    );
    assert!(a.write_amp_mismatch);
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("run: write figures disagree")),
        "{:?}",
        r.notes
    );
}
