//! YCSB's core workload files A to F, read unchanged (sizes set with `-p`, as a YCSB user
//! does) and run on an engine that counts its calls: the observed operation mix is the file's,
//! and the engine sees what YCSB's key-value bindings make of each operation: records of ten
//! 100-byte fields (1,140 bytes serialised), reads of whole records, updates of one field as
//! read + write with exactly one field changed, read-modify-writes recorded as reads (and
//! updates) too, inserts of whole records, scans of 1 to 100 records.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use workloads::result::{PhaseKind, PhaseResult};
use workloads::runner::{run, RunConfig};
use workloads::spec::{KeyDistribution, OpKind};
use workloads::ycsb::Properties;

mod common;

fn quiet(_: &workloads::runner::Progress) {}

const RECORDS: u64 = 2_000;
const OPS: u64 = 6_000;

fn count(p: &PhaseResult, kind: OpKind) -> u64 {
    p.latency_of(Some(kind)).map_or(0, |l| l.summary.count)
}

#[test]
fn core_workloads_a_to_f_run_unchanged_with_ycsbs_mix_and_fields() {
    let stop = AtomicBool::new(false);
    let cfg = RunConfig {
        dir: None,
        temp_parent: None,
        cold_cache: false,
        stop: &stop,
        progress: &quiet,
        calibration: None,
    };
    for letter in ['a', 'b', 'c', 'd', 'e', 'f'] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("ycsb/workload{letter}"));
        let mut props = Properties::read(&path).unwrap();
        assert!(
            props.unknown().is_empty(),
            "{letter}: {:?}",
            props.unknown()
        );
        props
            .set_override(&format!("recordcount={RECORDS}"))
            .unwrap();
        props
            .set_override(&format!("operationcount={OPS}"))
            .unwrap();
        let spec = props.to_spec(&format!("workload{letter}")).unwrap();
        let (eut, calls) = common::counting_engine();
        let r = run(&spec, &eut, &cfg).unwrap();
        assert!(!r.partial, "{letter}: {:?}", r.partial_reason);
        let calls = calls.lock().unwrap().clone();
        let (load, ran) = (&calls[0], &calls[1]);
        let p = r.phase(PhaseKind::Run).unwrap();
        assert_eq!(p.operations, OPS, "{letter}");
        assert_eq!(p.errors, 0, "{letter}: {:?}", p.error_samples);

        // Every record is YCSB's ten 100-byte fields, serialised: 1,140 bytes.
        assert_eq!(load.puts, RECORDS);
        assert!(load.put_lens.iter().all(|&l| l == 1140), "{letter}");
        assert!(ran.put_lens.iter().all(|&l| l == 1140), "{letter}");

        // The mix: each type's own count within 3% (absolute) of its proportion (about 4
        // standard deviations of a proportion of one half over 6,000 operations). The read
        // and write of a read-modify-write are also recorded as a read and an update.
        let rmw = count(p, OpKind::ReadModifyWrite);
        let own = |kind: OpKind| match kind {
            OpKind::Read | OpKind::Update => count(p, kind) - rmw,
            _ => count(p, kind),
        };
        let m = spec.mix;
        for (kind, want) in [
            (OpKind::Read, m.read),
            (OpKind::Update, m.update),
            (OpKind::Insert, m.insert),
            (OpKind::Scan, m.scan),
            (OpKind::ReadModifyWrite, m.read_modify_write),
        ] {
            let got = own(kind) as f64 / OPS as f64;
            assert!(
                (got - want).abs() < 0.03,
                "{letter} {}: {got} vs {want}",
                kind.name()
            );
        }
        let (reads, updates, inserts, scans) = (
            own(OpKind::Read),
            own(OpKind::Update),
            own(OpKind::Insert),
            own(OpKind::Scan),
        );

        // What the engine saw: reads and scans fetch whole records; an update of one field
        // (writeallfields=false) and a read-modify-write are a get and a put of the record
        // with exactly one field changed; inserts are puts of new records.
        assert_eq!(ran.gets, reads + updates + rmw, "{letter}: {ran:?}");
        assert_eq!(ran.puts, updates + rmw + inserts, "{letter}: {ran:?}");
        assert_eq!(ran.scans, scans, "{letter}");
        assert_eq!(ran.fields_changed.len() as u64, updates + rmw, "{letter}");
        assert!(
            ran.fields_changed.iter().all(|&n| n == 1),
            "{letter}: {:?}",
            &ran.fields_changed[..ran.fields_changed.len().min(20)]
        );
        if rmw > 0 {
            let read = p.latency_of(Some(OpKind::Read)).unwrap();
            assert_eq!(
                read.summary.count,
                reads + rmw,
                "{letter}: RMW reads are reads too"
            );
            assert_eq!(read.hits, reads + rmw, "{letter}");
            assert!(r
                .notes
                .iter()
                .any(|n| n.contains("read-modify-write are also recorded")));
        }
        // Reads only name records that exist (latest: acknowledged inserts of all threads).
        if let Some(read) = p.latency_of(Some(OpKind::Read)) {
            assert_eq!(read.misses, 0, "{letter}");
        }
        if scans > 0 {
            let items = p.latency_of(Some(OpKind::Scan)).unwrap().hits;
            let mean = items as f64 / scans as f64;
            // maxscanlength=100, uniform: 50.5 items on average (fewer near the end of the
            // key space); at most 100 each.
            assert!(ran.scanned_items <= 100 * scans, "{letter}");
            assert!(
                (40.0..=55.0).contains(&mean),
                "{letter}: {mean} items per scan"
            );
        }
        if matches!(spec.distribution, KeyDistribution::Latest { .. }) {
            assert!(inserts > 0);
        }
        assert!(
            !r.fidelity.is_empty(),
            "{letter}: the result states what differs"
        );
    }
}
