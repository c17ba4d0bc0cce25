//! Subcommands: `run`, `compare`, `report`, `workloads`, `engines`, `calibrate`, `csv`, and
//! the hidden `run-child` that `run` and `compare` start for each run.

mod args;
mod calibrate;
mod cgroup;
mod child;
mod compare;
mod engine_options;
mod io_bound;
mod main_job;
mod progress;
mod run;
mod signal;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use engines::EngineKind;

pub use args::{CompareArgs, RunArgs};

/// Errors of the CLI are one line of text.
pub type CliResult<T> = Result<T, String>;

#[derive(Parser)]
#[command(
    name = "kvbench",
    version,
    about = "Compare storage-engine designs on the same work, with honest numbers"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one workload on one engine and write a result file.
    Run(RunArgs),
    /// Run engines x workloads into a results directory. With no workloads and no sizes: the
    /// main job (calibration, read-heavy, write-heavy and range-scan on every engine three
    /// times, a size sweep, space before and after compaction, the claims checked; about
    /// ten minutes on two cores).
    Compare(CompareArgs),
    /// Write the HTML report of every result file in a directory.
    Report {
        /// Results directory.
        #[arg(default_value = "kvbench-results")]
        dir: std::path::PathBuf,
        /// The HTML file to write (a directory: DIR/report.html inside it).
        #[arg(short, long, default_value = "report.html")]
        out: std::path::PathBuf,
    },
    /// List the named workloads, one line each.
    Workloads {
        /// Also list, under each, how it differs from the tool it is named after.
        #[arg(long)]
        fidelity: bool,
    },
    /// List the engines this build can run, with their design family.
    Engines {
        /// Show only this engine (fails with the list of valid names if it is unknown).
        name: Option<String>,
    },
    /// Measure the device under the data directory and the harness floor.
    Calibrate(calibrate::CalibrateArgs),
    /// Print the CSV summary of every result file in a directory.
    Csv {
        /// Results directory.
        #[arg(default_value = "kvbench-results")]
        dir: std::path::PathBuf,
    },
    /// One run for a parent kvbench: a job on stdin, messages on stdout.
    #[command(hide = true)]
    RunChild,
}

pub fn dispatch(cli: Cli) -> CliResult<ExitCode> {
    match cli.command {
        Command::Run(a) => run::cmd_run(a),
        Command::Compare(a) => compare::cmd_compare(a),
        Command::Report { dir, out } => {
            let path = reports::write_report(&dir, &out).map_err(|e| e.to_string())?;
            println!("report: {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Workloads { fidelity } => {
            for p in workloads::presets::PRESETS {
                println!("{:<16} {}", p.name, p.summary);
                if fidelity {
                    for d in workloads::fidelity::differences(&p.spec()) {
                        println!("{:<16}   - {d}", "");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Engines { name } => {
            let kinds: Vec<EngineKind> = match name {
                Some(n) => vec![n.parse().map_err(|e: engines::Error| e.to_string())?],
                None => EngineKind::ALL.to_vec(),
            };
            for k in kinds {
                println!(
                    "{:<8} {:<10} {}",
                    k.name(),
                    k.family().to_string(),
                    k.description()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Calibrate(a) => calibrate::cmd_calibrate(a),
        Command::RunChild => child::cmd_run_child(),
        Command::Csv { dir } => {
            let (results, bad) = workloads::output::read_results(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            for b in &bad {
                eprintln!("kvbench: skipped {b}");
            }
            let results: Vec<_> = results.into_iter().map(|(_, r)| r).collect();
            print!("{}", workloads::output::csv_summary(&results));
            Ok(ExitCode::SUCCESS)
        }
    }
}
