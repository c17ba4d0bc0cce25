//! Criterion benchmarks of every engine's point operations and short scans on a store
//! preloaded with 100,000 records, with keys and values from the runner's own generators
//! (YCSB keys, hashed insert order, 100-byte values).
//!
//! `cargo bench` runs every engine this build can open (others are skipped with a line);
//! `cargo bench -- lsm` runs one engine. Benchmarks are named `<engine>/<operation>`:
//! `put` (overwrite of an existing key), `get-hit`, `get-miss` (a key never inserted) and
//! `scan-100` (100 keys from an existing key).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use engines::{EngineKind, Options};
use workloads::generator::{KeyBuilder, LoadStream, Rng, ValuePool};
use workloads::spec::{InsertOrder, KeySpec, SizeSpec, WorkloadSpec};

const RECORDS: u64 = 100_000;

fn spec() -> WorkloadSpec {
    WorkloadSpec {
        name: "bench".into(),
        record_count: RECORDS,
        key: KeySpec::default(),
        value_size: SizeSpec::Fixed { bytes: 100 },
        insert_order: InsertOrder::Hashed,
        ..WorkloadSpec::default()
    }
}

fn engine_ops(c: &mut Criterion) {
    let spec = spec();
    let keys = KeyBuilder::new(&spec.key, spec.insert_order);
    let values = ValuePool::new(&spec);
    // A filter that names engines (`cargo bench -- lsm`, `-- btree/get`) limits the preloads
    // to those engines; any other filter (`-- get-hit`) is left to criterion.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let named: Vec<EngineKind> = EngineKind::ALL
        .iter()
        .copied()
        .filter(|k| filter.as_deref().is_some_and(|f| f.contains(k.name())))
        .collect();
    for &kind in EngineKind::ALL {
        let name = kind.name();
        if !named.is_empty() && !named.contains(&kind) {
            continue;
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = match engines::open(kind, dir.path(), &Options::default()) {
            Ok(db) => db,
            Err(e) => {
                eprintln!("{name}: skipped ({e})");
                continue;
            }
        };
        let mut key = Vec::new();
        for op in LoadStream::new(&spec, 0) {
            keys.build(op.record, &mut key);
            db.put(&key, values.value(&op)).expect("preload");
        }
        let mut g = c.benchmark_group(name);
        g.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .sample_size(50);
        let mut rng = Rng::new(7, 0);
        let value = vec![0x5Au8; 100];
        g.bench_function("put", |b| {
            b.iter(|| {
                keys.build(rng.below(RECORDS), &mut key);
                db.put(&key, &value).unwrap()
            })
        });
        g.bench_function("get-hit", |b| {
            b.iter(|| {
                keys.build(rng.below(RECORDS), &mut key);
                black_box(db.get(&key).unwrap().expect("a loaded key"))
            })
        });
        g.bench_function("get-miss", |b| {
            b.iter(|| {
                keys.build(RECORDS + rng.below(RECORDS), &mut key);
                black_box(db.get(&key).unwrap())
            })
        });
        g.bench_function("scan-100", |b| {
            b.iter(|| {
                keys.build(rng.below(RECORDS), &mut key);
                black_box(db.scan(&key, None, 100).unwrap())
            })
        });
        g.finish();
        if let Err(e) = db.close() {
            eprintln!("{name}: close failed: {e}");
        }
    }
}

criterion_group!(benches, engine_ops);
criterion_main!(benches);
