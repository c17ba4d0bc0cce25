//! The "Capped and in memory" section: a capped result sits beside the in-memory result of
//! the same engine and workload, with its device reads per get; without capped results the
//! section is absent.

mod common;

use workloads::result::{DeviceReadCount, MemoryCap, PhaseKind};

#[test]
fn capped_result_sits_beside_its_in_memory_twin() {
    // ycsb-c: gets only, so device reads are per get.
    let in_memory = common::run_memory("ycsb-c", 1000, 2000, 0.0);
    let plain = reports::render(std::slice::from_ref(&in_memory), None);
    assert!(!plain.contains("Capped and in memory"));

    let mut capped = in_memory.clone();
    capped.run_id.push_str("-capped");
    capped.memory_cap = Some(MemoryCap {
        limit_bytes: 32 << 20,
        cgroup_version: 1,
        peak_bytes: Some(31 << 20),
        ..MemoryCap::default()
    });
    let run = capped
        .phases
        .iter_mut()
        .find(|p| p.phase == PhaseKind::Run)
        .unwrap();
    let gets = run.operations;
    run.device_reads = Some(DeviceReadCount {
        reads: 3 * gets,
        bytes: 3 * 4096 * gets,
    });
    let page = reports::render(&[in_memory, capped], None);
    let start = page.find("Capped and in memory").expect("the section");
    let section = &page[start..];
    assert!(section.contains("32.00 MiB") && section.contains("31.00 MiB"));
    assert!(section.contains("3.00 /get"), "3 device reads per get");
    assert!(section.contains("12.00 KiB /get"), "12 KiB per get");
    assert!(!section.contains("No in-memory run"), "the twin was found");
}
