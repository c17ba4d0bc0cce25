//! Model-based testing: random sequences of operations on small, colliding keys, run on the
//! engine and on the `memory` engine side by side and compared after every step.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::{temp_dir, Kit};
use crate::memory::MemoryEngine;
use crate::Engine;

#[derive(Debug, Clone)]
enum Op {
    Put(u8, Vec<u8>),
    Get(u8),
    Delete(u8),
    Scan(u8, Option<u8>, usize),
    Sync,
    Compact,
    Reopen,
}

/// Twelve keys, one or two bytes, so operations collide often.
fn key(i: u8) -> Vec<u8> {
    if i % 3 == 0 {
        vec![i]
    } else {
        vec![b'k', i]
    }
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..12;
    let value = prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => proptest::collection::vec(any::<u8>(), 4000..6000),
    ];
    prop_oneof![
        6 => (k.clone(), value).prop_map(|(k, v)| Op::Put(k, v)),
        4 => k.clone().prop_map(Op::Get),
        3 => k.clone().prop_map(Op::Delete),
        2 => (k.clone(), proptest::option::of(k), 0usize..8).prop_map(|(a, b, l)| Op::Scan(a, b, l)),
        1 => Just(Op::Sync),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(what()))
    }
}

pub fn against_memory(kit: &Kit) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..120), |ops| {
        let dir = temp_dir();
        let mut db = kit.open(dir.path());
        let model = MemoryEngine::new();
        for (step, op) in ops.iter().enumerate() {
            let at = || format!("step {step} ({op:?})");
            match op {
                Op::Put(k, v) => {
                    db.put(&key(*k), v)
                        .map_err(|e| TestCaseError::fail(format!("{}: {e}", at())))?;
                    model.put(&key(*k), v).unwrap();
                }
                Op::Delete(k) => {
                    db.delete(&key(*k))
                        .map_err(|e| TestCaseError::fail(format!("{}: {e}", at())))?;
                    model.delete(&key(*k)).unwrap();
                }
                Op::Get(k) => {
                    let got = db
                        .get(&key(*k))
                        .map_err(|e| TestCaseError::fail(format!("{}: {e}", at())))?;
                    let want = model.get(&key(*k)).unwrap();
                    check(got == want, || {
                        format!("{}: got {got:?}, want {want:?}", at())
                    })?;
                }
                Op::Scan(a, b, limit) => {
                    let end = b.map(key);
                    let got = db
                        .scan(&key(*a), end.as_deref(), *limit)
                        .map_err(|e| TestCaseError::fail(format!("{}: {e}", at())))?;
                    let want = model.scan(&key(*a), end.as_deref(), *limit).unwrap();
                    check(got == want, || {
                        format!("{}: got {got:?}, want {want:?}", at())
                    })?;
                }
                Op::Sync => db
                    .sync()
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", at())))?,
                Op::Compact => db
                    .compact()
                    .map_err(|e| TestCaseError::fail(format!("{}: {e}", at())))?,
                Op::Reopen => {
                    if kit.persistent {
                        db.close()
                            .map_err(|e| TestCaseError::fail(format!("{}: {e}", at())))?;
                        db = kit
                            .try_open(dir.path(), &kit.options)
                            .map_err(|e| TestCaseError::fail(format!("{}: reopen: {e}", at())))?;
                    }
                }
            }
        }
        let all = db
            .scan(b"", None, usize::MAX)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let want = model.scan(b"", None, usize::MAX).unwrap();
        check(all == want, || {
            "final full scan differs from the model".to_string()
        })?;
        db.close().map_err(|e| TestCaseError::fail(e.to_string()))?;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{}: model test failed: {e}", kit.name);
    }
}
