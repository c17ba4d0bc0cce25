//! Any figures at all (negative, NaN, infinite, huge, zero) in a runner-made result render to
//! a complete page with every chart drawn: the report never panics on what a file holds.

mod common;

use proptest::prelude::*;
use workloads::result::RunResult;

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-1.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        -1e12f64..1e12,
    ]
}

fn mutate(r: &RunResult, f: &[f64], u: &[u64]) -> RunResult {
    let mut r = r.clone();
    let mut fi = f.iter().cycle();
    let mut ui = u.iter().cycle();
    for p in &mut r.phases {
        p.throughput.ops_per_sec = *fi.next().unwrap();
        p.elapsed_secs = *fi.next().unwrap();
        p.amplification.write_amp_engine = Some(*fi.next().unwrap());
        p.amplification.read_amp_bytes_per_read = Some(*fi.next().unwrap());
        p.amplification.space_amp = Some(*fi.next().unwrap());
        p.cpu.user_ns_per_op = *fi.next().unwrap();
        p.peak_rss_bytes = *ui.next().unwrap();
        for t in &mut p.throughput.timeline {
            t.t_secs = *fi.next().unwrap();
            t.ops_per_sec = *fi.next().unwrap();
        }
        for l in &mut p.latency {
            l.summary.p99_ns = *ui.next().unwrap();
            l.summary.mean_ns = *fi.next().unwrap();
            for s in &mut l.histogram.spectrum {
                s.percentile = *fi.next().unwrap();
                s.value_ns = *ui.next().unwrap();
            }
        }
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn any_figures_render(
        f in proptest::collection::vec(any_f64(), 1..40),
        u in proptest::collection::vec(prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()], 1..10),
    ) {
        let fx = common::fixtures();
        let results = vec![
            mutate(&fx[0], &f, &u),
            common::relabel(&mutate(&fx[2], &u.iter().map(|&x| x as f64).collect::<Vec<_>>(), &u), "other", "LSM"),
            fx[1].clone(),
        ];
        let html = reports::render(&results, None);
        prop_assert!(html.trim_end().ends_with("</html>"));
        prop_assert!(!html.contains("could not be drawn"), "a chart failed");
        prop_assert!(html.matches("<svg").count() >= 3 * 2);
    }
}
