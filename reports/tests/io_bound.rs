//! The "Capped and in memory" section: a capped result sits beside the in-memory result of
//! the same engine and workload, with its device reads per get; without capped results the
//! section is absent.

mod common;

use reports::claims::{check_all, Verdict};
use workloads::result::{DeviceReadCount, MemoryCap, PhaseKind, RunResult};

/// `r` as if run under a 32 MiB cap with `reads_per_get` device reads of 4 KiB per get.
fn capped(r: &RunResult, reads_per_get: u64) -> RunResult {
    let mut c = r.clone();
    c.run_id.push_str("-capped");
    c.memory_cap = Some(MemoryCap {
        limit_bytes: 32 << 20,
        cgroup_version: 1,
        peak_bytes: Some(31 << 20),
        ..MemoryCap::default()
    });
    let run = c
        .phases
        .iter_mut()
        .find(|p| p.phase == PhaseKind::Run)
        .unwrap();
    let gets = run.operations;
    run.device_reads = Some(DeviceReadCount {
        reads: reads_per_get * gets,
        bytes: reads_per_get * 4096 * gets,
    });
    c
}

#[test]
fn one_device_read_per_get_is_claim_8() {
    let in_memory = common::run_memory("ycsb-c", 1000, 2000, 0.0);
    let claim8 = |rs: &[RunResult]| {
        check_all(rs, &[])
            .into_iter()
            .find(|c| c.number == 8)
            .unwrap()
    };
    assert_eq!(
        claim8(std::slice::from_ref(&in_memory)).verdict,
        Verdict::NotMeasured
    );
    let one = claim8(&[in_memory.clone(), capped(&in_memory, 1)]);
    assert_eq!(one.verdict, Verdict::Holds, "{:?}", one.checks);
    assert!(
        one.checks[0].figures.contains("1.00 device reads"),
        "{:?}",
        one.checks
    );
    let three = claim8(&[in_memory.clone(), capped(&in_memory, 3)]);
    assert_eq!(three.verdict, Verdict::DoesNotHold);
    // The capped run stays out of the in-memory claims: no pair of memory with itself.
    assert_eq!(
        check_all(&[in_memory.clone(), capped(&in_memory, 1)], &[]).len(),
        8
    );
}

#[test]
fn capped_result_sits_beside_its_in_memory_twin() {
    // ycsb-c: gets only, so device reads are per get.
    let in_memory = common::run_memory("ycsb-c", 1000, 2000, 0.0);
    let plain = reports::render(std::slice::from_ref(&in_memory), None);
    assert!(!plain.contains("Capped and in memory"));

    let capped = capped(&in_memory, 3);
    let page = reports::render(&[in_memory, capped], None);
    let start = page.find("Capped and in memory").expect("the section");
    let section = &page[start..];
    assert!(section.contains("32.00 MiB") && section.contains("31.00 MiB"));
    assert!(section.contains("3.00 /get"), "3 device reads per get");
    assert!(section.contains("12.00 KiB /get"), "12 KiB per get");
    assert!(!section.contains("No in-memory run"), "the twin was found");
}
