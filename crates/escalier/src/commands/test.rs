//! `escalier test [PATH]`: run the policy tests (`*.test.toml`) under a
//! policies directory, in memory, through the real policy engine, SLA
//! clocks, ladders and reducer. Exit 1 if any test fails (for CI).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use escalier_lab::policy_test::{self, Runner, Summary, TestOptions};

use super::ConfigArgs;
use crate::config::Overrides;

/// Run policy tests: scenarios of events and clock advances with the actions,
/// SLA and ladder events and ticket state expected (format: docs/policies.md,
/// "Testing policies"). Exit status 1 if any fails.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A policies directory (every *.test.toml under it runs against it) or one
    /// test file. Default: policies.dir from the configuration (./policies).
    path: Option<PathBuf>,
    /// Policies directory for test files that do not name one. Default: PATH
    /// when it is a directory, else policies.dir.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// List every test, not only the files with failures.
    #[arg(long, short)]
    verbose: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = args.config.load(Overrides::default())?;
    let path = args.path.unwrap_or_else(|| cfg.policies.dir.clone());
    anyhow::ensure!(path.exists(), "{} does not exist", path.display());
    let policies = args.policies.unwrap_or_else(|| {
        if path.is_dir() {
            path.clone()
        } else {
            cfg.policies.dir.clone()
        }
    });
    let files = policy_test::discover(&path)?;
    anyhow::ensure!(
        !files.is_empty(),
        "no *.test.toml files under {}",
        path.display()
    );
    let mut opts = TestOptions::new(policies);
    opts.engine = Arc::new(escalier_policy::PolicyEngine::new(
        cfg.policies.limits.clone(),
    ));
    opts.limits = escalier_core::Limits {
        max_depth: cfg.processor.max_depth,
        max_derived: cfg.processor.max_derived,
    };
    let mut runner = Runner::new(opts);
    let reports: Vec<_> = files.iter().map(|f| runner.run_file(f)).collect();
    let summary = Summary::of(&reports);
    match args.format {
        Format::Text => print!("{}", policy_test::report::render(&reports, args.verbose)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"summary": summary, "files": reports})
            )?
        ),
    }
    Ok(if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
