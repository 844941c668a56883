//! Subcommands, one file each.

mod check;
mod explain;
mod export;
mod migrate;
pub(crate) mod remote;
mod replay;
mod send;
mod serve;
mod sign;
mod test;
mod token;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};

/// Escalation management for support teams: signed webhooks in, durable
/// ticket log, Rhai escalation policies, exact clocks.
#[derive(Debug, Parser)]
#[command(name = "escalier", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Serve(serve::Args),
    Check(check::Args),
    Send(send::Args),
    Sign(sign::Args),
    Token(token::Args),
    Verify(verify::Args),
    Export(export::ExportArgs),
    Import(export::ImportArgs),
    Migrate(migrate::Args),
    Test(test::Args),
    Replay(replay::Args),
    Explain(explain::Args),
}

/// Options every command that reads configuration accepts.
#[derive(Debug, clap::Args, Clone)]
pub struct ConfigArgs {
    /// Configuration file (TOML). Default: ./escalier.toml if present; see escalier.default.toml for every key.
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Store URL (postgres://…); overrides storage.url. Default: the
    /// embedded redb file in the data directory.
    #[arg(long, value_name = "URL", global = true)]
    store: Option<crate::config::StoreUrl>,
}

impl ConfigArgs {
    /// The configuration with `--store` applied over `overrides`.
    pub fn load(&self, mut overrides: Overrides) -> anyhow::Result<Config> {
        if self.store.is_some() {
            overrides.store = self.store.clone();
        }
        Config::load(self.config.as_deref(), &overrides)
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Check(a) => check::run(a),
        Command::Send(a) => send::run(a),
        Command::Sign(a) => sign::run(a),
        Command::Token(a) => token::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Export(a) => export::export(a),
        Command::Import(a) => export::import(a),
        Command::Migrate(a) => migrate::run(a),
        Command::Test(a) => test::run(a),
        Command::Replay(a) => replay::run(a),
        Command::Explain(a) => explain::run(a),
    }
}
