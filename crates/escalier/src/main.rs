//! The `escalier` binary: parses the command line and hands off to one
//! module per subcommand. Library crates do the work; this is glue.

mod backtest;
mod commands;
mod config;
mod fold;
mod notify;
mod plugin_host;
mod reactors;
mod secrets;
mod store;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
