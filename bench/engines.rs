//! Criterion benchmarks of the engines' point operations. Grows with the runner (issue 7).

use criterion::{criterion_group, criterion_main, Criterion};
use engines::{EngineKind, Options};

fn point_ops(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = engines::open(EngineKind::Memory, dir.path(), &Options::default()).unwrap();
    for i in 0..100_000u32 {
        db.put(format!("user{i:012}").as_bytes(), &[7u8; 100])
            .unwrap();
    }
    let mut i = 0u32;
    c.bench_function("memory/get-hit", |b| {
        b.iter(|| {
            i = (i + 7919) % 100_000;
            db.get(format!("user{i:012}").as_bytes()).unwrap()
        })
    });
}

criterion_group!(benches, point_ops);
criterion_main!(benches);
