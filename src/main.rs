//! The `kvbench` command line: argument parsing, subcommands and progress output. No engine
//! logic lives here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use engines::EngineKind;

#[derive(Parser)]
#[command(
    name = "kvbench",
    version,
    about = "Compare storage-engine designs on the same work, with honest numbers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the engines this build can run, with their design family.
    Engines {
        /// Show only this engine (fails with the list of valid names if it is unknown).
        name: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kvbench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Engines { name } => {
            let kinds: Vec<EngineKind> = match name {
                Some(n) => vec![n.parse()?],
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
        }
    }
    Ok(())
}
