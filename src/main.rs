//! The `kvbench` command line: argument parsing, subcommands and progress output. No engine
//! logic lives here.

mod cli;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("kvbench: internal error: {info}");
    }));
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    ExitCode::from(2)
                }
                _ => {
                    // clap's message up to its first blank line, folded into one line.
                    let text = e.render().to_string();
                    let msg: Vec<&str> = text
                        .lines()
                        .take_while(|l| !l.trim().is_empty())
                        .map(str::trim)
                        .collect();
                    let msg = msg.join(" ");
                    let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
                    eprintln!("kvbench: {msg} (see kvbench --help)");
                    ExitCode::from(2)
                }
            };
        }
    };
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kvbench: {e}");
            ExitCode::FAILURE
        }
    }
}
