//! Result files on disk: one pretty JSON file per run, named after its run id, written
//! atomically; reading a results directory back; and the CSV summary.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::result::{RunResult, SCHEMA_VERSION};

/// Writes `result` to `dir/<run_id>.json` (creating `dir`; characters other than letters,
/// digits, `.`, `_` and `-` become `_`; `-2`, `-3`, ... appended when a file of that name
/// exists) and returns the path.
pub fn write_result(dir: &Path, result: &RunResult) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let stem: String = result
        .run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut path = dir.join(format!("{stem}.json"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.json"));
        n += 1;
    }
    let text = serde_json::to_string_pretty(result).map_err(io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Reads one result file; a newer schema or malformed JSON is an error naming the file.
pub fn read_result(path: &Path) -> Result<RunResult, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    match v.get("schema_version").and_then(|s| s.as_u64()) {
        Some(s) if s <= SCHEMA_VERSION as u64 => {}
        Some(s) => {
            return Err(format!(
                "{}: schema version {s} is newer than this build reads ({SCHEMA_VERSION})",
                path.display()
            ))
        }
        None => {
            return Err(format!(
                "{}: not a kvbench result (no schema_version)",
                path.display()
            ))
        }
    }
    serde_json::from_value(v).map_err(|e| format!("{}: {e}", path.display()))
}

/// Results read from a directory, and one message per file that failed to read.
pub type ReadResults = (Vec<(PathBuf, RunResult)>, Vec<String>);

/// Every `*.json` result in `dir` (sorted by name), skipping the files that sit beside results
/// (the calibration, the space-reclaim measurements), with the errors of those that failed
/// to read.
pub fn read_results(dir: &Path) -> io::Result<ReadResults> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n != "calibration.json" && n != crate::main_job::RECLAIM_FILE)
        })
        .collect();
    paths.sort();
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for p in paths {
        match read_result(&p) {
            Ok(r) => ok.push((p, r)),
            Err(e) => bad.push(e),
        }
    }
    Ok((ok, bad))
}

/// Header of [`csv_summary`].
pub const CSV_HEADER: &str = "run_id,engine,workload,phase,op,count,ops_per_sec,mean_us,p50_us,p90_us,p99_us,p999_us,max_us,hits,misses,errors,threads,durability,cold_cache,partial,write_amp_engine,write_amp_proc,read_amp_bytes_per_read,space_amp,cpu_user_ns_per_op,cpu_sys_ns_per_op,peak_rss_bytes,write_amp_in_window,write_amp_device,device_read_bytes_per_read,space_amp_apparent,not_steady,repetition";

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x:.4}"))
}

/// One CSV line per run, phase and operation type (plus `all`).
pub fn csv_summary(results: &[RunResult]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in results {
        for p in &r.phases {
            let phase = match p.phase {
                crate::result::PhaseKind::Load => "load",
                crate::result::PhaseKind::Run => "run",
            };
            for l in &p.latency {
                let s = &l.summary;
                let us = |ns: u64| ns as f64 / 1000.0;
                let a = &p.amplification;
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{:.1},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{},{},{},{},{},{},{},{},{},{:.0},{:.0},{},{},{},{},{},{},{}",
                    r.run_id,
                    r.engine.name,
                    r.spec.name,
                    phase,
                    l.label(),
                    s.count,
                    if l.op.is_none() { p.throughput.ops_per_sec } else { s.count as f64 / p.elapsed_secs.max(1e-9) },
                    s.mean_ns / 1000.0,
                    us(s.p50_ns),
                    us(s.p90_ns),
                    us(s.p99_ns),
                    us(s.p999_ns),
                    us(s.max_ns),
                    l.hits,
                    l.misses,
                    p.errors,
                    p.threads,
                    r.durability,
                    r.cold_cache,
                    r.partial,
                    opt(a.write_amp_engine),
                    opt(a.write_amp_proc),
                    opt(a.read_amp_bytes_per_read),
                    opt(a.space_amp),
                    p.cpu.user_ns_per_op,
                    p.cpu.system_ns_per_op,
                    p.peak_rss_bytes,
                    opt(a.in_window.as_ref().and_then(|w| w.write_amp_engine.or(w.write_amp_device))),
                    opt(a.write_amp_device),
                    opt(a.device_read_bytes_per_read),
                    opt(a.space_amp_apparent),
                    a.not_steady,
                    r.repetition.as_ref().map_or(String::new(), |x| format!("{}/{}", x.index, x.count)),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_unique() {
        let d = tempfile::tempdir().unwrap();
        let mut r = crate::result::tests::sample();
        r.run_id = "memory-my workload/x-20260101T000000Z".into();
        let a = write_result(d.path(), &r).unwrap();
        let b = write_result(d.path(), &r).unwrap();
        assert_eq!(
            a.file_name().unwrap(),
            "memory-my_workload_x-20260101T000000Z.json"
        );
        assert_eq!(
            b.file_name().unwrap(),
            "memory-my_workload_x-20260101T000000Z-2.json"
        );
        let (ok, bad) = read_results(d.path()).unwrap();
        assert_eq!((ok.len(), bad.len()), (2, 0));

        std::fs::write(d.path().join("junk.json"), "{}").unwrap();
        let mut newer = serde_json::to_value(&r).unwrap();
        newer["schema_version"] = serde_json::json!(SCHEMA_VERSION + 1);
        std::fs::write(d.path().join("newer.json"), newer.to_string()).unwrap();
        let (ok, bad) = read_results(d.path()).unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(bad.len(), 2);
        assert!(
            bad.iter().any(|e| e.contains("not a kvbench result")),
            "{bad:?}"
        );
        assert!(
            bad.iter()
                .any(|e| e.contains("newer than this build reads")),
            "{bad:?}"
        );
    }
}
