//! Did the engines of a comparison run the same work? Results of one workload spec must show
//! the same operation stream digests, phase by phase and thread by thread: then their
//! latencies, amplification and space figures cover the same operations on the same data.
//! A partial result (interrupted, or cut by its time cap) ran a prefix only and is left out
//! of the check, and named.

use std::collections::BTreeMap;

use crate::result::{PhaseKind, RunResult};

/// What the check found.
#[derive(Debug, Default, PartialEq)]
pub struct SameWork {
    /// One line per workload whose complete results ran different streams: an error.
    pub mismatches: Vec<String>,
    /// One line per partial result left out of the check.
    pub left_out: Vec<String>,
}

/// Checks that the complete results of each workload spec (same spec, same seed) ran the
/// same operation streams.
pub fn check(results: &[RunResult]) -> SameWork {
    let mut out = SameWork::default();
    let mut by_spec: BTreeMap<String, Vec<&RunResult>> = BTreeMap::new();
    for r in results {
        if r.partial {
            out.left_out.push(format!(
                "{} on {}: partial ({}), ran a shorter stream",
                r.spec.name,
                r.engine.name,
                r.partial_reason.as_deref().unwrap_or("no reason given")
            ));
            continue;
        }
        let key = serde_json::to_string(&r.spec).unwrap_or_else(|_| r.spec.name.clone());
        by_spec.entry(key).or_default().push(r);
    }
    for rs in by_spec.values() {
        let Some(first) = rs.first() else { continue };
        for kind in [PhaseKind::Load, PhaseKind::Run] {
            let digests = |r: &RunResult| r.phase(kind).map(|p| p.op_stream_digests.clone());
            let want = digests(first);
            let odd: Vec<&str> = rs
                .iter()
                .filter(|r| digests(r) != want)
                .map(|r| r.engine.name.as_str())
                .collect();
            if !odd.is_empty() {
                out.mismatches.push(format!(
                    "workload {}: the {} phase of {} ran another operation stream than {}'s (digests differ): their figures are not comparable",
                    first.spec.name,
                    match kind {
                        PhaseKind::Load => "load",
                        PhaseKind::Run => "run",
                    },
                    odd.join(", "),
                    first.engine.name
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(engine: &str, run: Vec<u64>) -> RunResult {
        let mut r = crate::result::tests::sample();
        r.engine.name = engine.into();
        r.partial = false;
        r.partial_reason = None;
        r.phases[0].op_stream_digests = run;
        r
    }

    #[test]
    fn equal_streams_pass_and_a_different_one_is_an_error() {
        let a = result("a", vec![1, 2]);
        let b = result("b", vec![1, 2]);
        assert_eq!(check(&[a.clone(), b.clone()]), SameWork::default());
        let odd = result("odd", vec![1, 3]);
        let found = check(&[a.clone(), b, odd]);
        assert_eq!(found.mismatches.len(), 1);
        assert!(
            found.mismatches[0].contains("odd ran another operation stream than a's"),
            "{found:?}"
        );
        // Another spec is another workload: not compared.
        let mut other = result("c", vec![9]);
        other.spec.seed += 1;
        assert!(check(&[a.clone(), other]).mismatches.is_empty());
        // A partial result ran a prefix: left out, and named.
        let mut cut = result("cut", vec![7, 7]);
        cut.partial = true;
        cut.partial_reason = Some("time cap".into());
        let found = check(&[a, cut]);
        assert!(found.mismatches.is_empty());
        assert!(
            found.left_out[0].contains("cut: partial (time cap)"),
            "{found:?}"
        );
    }
}
