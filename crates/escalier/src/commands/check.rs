//! `escalier check [DIR]`: compile every policy and read `sla.toml`,
//! `ladders.toml` and `notify.toml` the way the server would, print every error as
//! `file:line:col`, then one line saying what was checked. Exit 1 if any.

use std::path::PathBuf;
use std::process::ExitCode;

use super::ConfigArgs;
use crate::config::Overrides;

/// Check every policy, sla.toml, ladders.toml and notify.toml; every error
/// as file:line:col.
///
/// Each file is checked on its own, so one run reports every broken file;
/// then a summary says what was checked (`policies: 8 ok; sla.toml: ok;
/// ladders.toml: 1 error`). Exit status 1 if any file has errors. Nothing
/// is started or changed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policies directory. Default: policies.dir from the configuration (./policies).
    dir: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = args.config.load(Overrides::default())?;
    let dir = args.dir.unwrap_or(cfg.policies.dir);
    anyhow::ensure!(
        dir.is_dir(),
        "policies directory {} does not exist",
        dir.display()
    );
    let engine = std::sync::Arc::new(crate::notify::engine(cfg.policies.limits));
    let report = escalier_policy::check::check(&engine, &dir);
    for d in report.diagnostics() {
        eprintln!("{d}");
    }
    match &report.version {
        Some(version) if report.ok() => {
            println!(
                "checked {}: {report} (set version {version})",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            println!("checked {}: {report}", dir.display());
            eprintln!("a server would reject this set and keep the one it has");
            Ok(ExitCode::FAILURE)
        }
    }
}
