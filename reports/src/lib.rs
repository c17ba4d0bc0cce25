//! Turns kvbench result files into one self-contained HTML report.
//!
//! ```text
//!  results dir ─ load_results ─ [RunResult] (+ calibration, space-reclaim measurements)
//!      ─ model::Model (group by workload, colours by design family)
//!      ─ render: overview (workload x engine), the textbook's claims checked (claims,
//!        claims_section), per workload: rule-written paragraphs (narrative), summary
//!        tables (table), charts as inline SVG (charts/*); amplification, scaling with
//!        record count, production pairs (families), environment, options, specs,
//!        calibration, methodology (environment) ─ one HTML string ─ write_report
//! ```
//!
//! The page references nothing outside itself: CSS is inline, charts are inline SVG drawn by
//! plotters, the only script (table sorting) is optional. Every string that comes from a
//! result file is HTML-escaped ([`html::escape`]).

pub mod charts;
pub mod claims;
pub mod claims_section;
pub mod environment;
pub mod families;
pub mod html;
pub mod io_bound;
pub mod model;
pub mod narrative;
pub mod overview;
pub mod table;

use std::path::{Path, PathBuf};

pub use workloads;
use workloads::main_job::SpaceReclaim;
use workloads::result::{Calibration, RunResult};

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read results directory {dir}: {source}")]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("no kvbench result files in {dir}{}", skipped_text(.skipped))]
    NoResults { dir: PathBuf, skipped: Vec<String> },
    #[error("cannot write the report to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn skipped_text(skipped: &[String]) -> String {
    if skipped.is_empty() {
        String::new()
    } else {
        format!(" (skipped: {})", skipped.join("; "))
    }
}

/// Results read from a directory, with one warning per `*.json` file that was not a result.
#[derive(Debug, Default)]
pub struct Loaded {
    pub results: Vec<RunResult>,
    pub warnings: Vec<String>,
}

/// Reads every `*.json` result file in `dir` (sorted by name), skipping files that are not
/// results (with a warning each, in [`Loaded::warnings`]). No results at all is an error.
pub fn load_results_with_warnings(dir: &Path) -> Result<Loaded, ReportError> {
    let (ok, bad) =
        workloads::output::read_results(dir).map_err(|source| ReportError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    if ok.is_empty() {
        return Err(ReportError::NoResults {
            dir: dir.to_path_buf(),
            skipped: bad,
        });
    }
    Ok(Loaded {
        results: ok.into_iter().map(|(_, r)| r).collect(),
        warnings: bad,
    })
}

/// Reads every `*.json` result file in `dir`, printing a warning to stderr for each file
/// that is not a result.
pub fn load_results(dir: &Path) -> Result<Vec<RunResult>, ReportError> {
    let loaded = load_results_with_warnings(dir)?;
    for w in &loaded.warnings {
        eprintln!("warning: skipped {w}");
    }
    Ok(loaded.results)
}

/// The calibration stored beside the results (`calibration.json`), if there is a readable one.
pub fn load_calibration(dir: &Path) -> Option<Calibration> {
    let text = std::fs::read_to_string(dir.join("calibration.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The whole HTML page for `results`. Never fails: missing, zero or non-finite figures are
/// shown as absent, and an empty slice gives a page that says so.
pub fn render(results: &[RunResult], calibration: Option<&Calibration>) -> String {
    render_with_warnings(results, calibration, &[], &[])
}

/// [`render`] with the main job's space-reclaim measurements (space before and after
/// `compact()`), which the claims section checks.
pub fn render_main(
    results: &[RunResult],
    calibration: Option<&Calibration>,
    reclaims: &[SpaceReclaim],
) -> String {
    render_with_warnings(results, calibration, reclaims, &[])
}

/// [`render_main`], listing `warnings` (e.g. skipped files) at the top of the page.
pub fn render_with_warnings(
    results: &[RunResult],
    calibration: Option<&Calibration>,
    reclaims: &[SpaceReclaim],
    warnings: &[String],
) -> String {
    let model = model::Model::new(results);
    let mut page = html::Page::new("kvbench report");
    page.header(&model, warnings);
    if model.workloads.is_empty() {
        page.push_str("<p class=\"empty\">No results to show.</p>");
    }
    overview::write(&mut page, &model);
    if !model.workloads.is_empty() {
        claims_section::write(&mut page, &claims::check_all(results, reclaims));
    }
    for (i, w) in model.workloads.iter().enumerate() {
        page.section_start(
            &format!("w{i}"),
            &format!("Workload: {}", w.name),
            "workload",
        );
        narrative::write(&mut page, &model, w);
        table::write(&mut page, &model, w);
        charts::write_workload(&mut page, &model, w);
        page.section_end();
    }
    charts::write_amplification(&mut page, &model);
    charts::write_scaling(&mut page, &model);
    families::write(&mut page, &model);
    io_bound::write(&mut page, &model);
    environment::write(&mut page, &model, calibration);
    page.finish()
}

/// Reads the results in `results_dir` (and its `calibration.json` and space-reclaim
/// measurements, if any), renders the report and writes it to `out` (to `out/report.html`
/// when `out` is a directory), atomically. Returns the path written.
pub fn write_report(results_dir: &Path, out: &Path) -> Result<PathBuf, ReportError> {
    let mut loaded = load_results_with_warnings(results_dir)?;
    let reclaims = workloads::main_job::read_reclaims(results_dir).unwrap_or_else(|e| {
        loaded.warnings.push(e);
        Vec::new()
    });
    for w in &loaded.warnings {
        eprintln!("warning: skipped {w}");
    }
    let calibration = load_calibration(results_dir);
    let page = render_with_warnings(
        &loaded.results,
        calibration.as_ref(),
        &reclaims,
        &loaded.warnings,
    );
    write_page(&page, out)
}

/// Writes a rendered page to `out` (to `out/report.html` when `out` is a directory) through a
/// temporary file and a rename, so a reader never sees half a report. Returns the path written.
pub fn write_page(page: &str, out: &Path) -> Result<PathBuf, ReportError> {
    let path = if out.is_dir() {
        out.join("report.html")
    } else {
        out.to_path_buf()
    };
    let err = |source| ReportError::Write {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, page).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(path)
}
