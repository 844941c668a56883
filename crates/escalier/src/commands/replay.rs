//! `escalier replay`: backtest a candidate policy set (a policies
//! directory with its SLA and ladder files) and the installed plugins over
//! a recorded log, and diff what they do against what was recorded.
//! Nothing is written anywhere and nothing is sent: plugins run with side
//! effects off (their deliveries are compared, never delivered).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use escalier_lab::policies::{Extras, Policies, PoliciesError};
use escalier_lab::replay::{self, PluginRunner, ReplayOptions};

use super::ConfigArgs;
use crate::config::{Config, Overrides};
use crate::plugin_host::ReplayPlugins;

/// Run candidate policies and the installed plugins over a recorded log (an
/// export, or a stopped server's data directory) with clocks re-simulated,
/// and show which actions would be added, removed or changed. Plugins run
/// as the server runs them, with side effects off: deliveries are
/// compared, never sent. Exit status 0 whatever the diff (use
/// --fail-on-diff in CI).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Candidate policies directory (with its sla.toml / ladders.toml). Default: policies.dir.
    #[arg(long, value_name = "DIR")]
    policies: Option<PathBuf>,
    /// Installed plugins directory to run after the policies. Default:
    /// plugins.dir (`<data dir>/plugins`), if it exists.
    #[arg(long, value_name = "DIR", conflicts_with = "no_plugins")]
    plugins: Option<PathBuf>,
    /// Run no plugins; records plugins produced are not compared. The
    /// candidate's notify.toml still runs (it only records notifications).
    #[arg(long)]
    no_plugins: bool,
    #[command(flatten)]
    log: LogArgs,
    /// First input seq to replay (earlier records are folded as recorded).
    #[arg(long, value_name = "SEQ")]
    from_seq: Option<u64>,
    /// Last input seq to replay.
    #[arg(long, value_name = "SEQ")]
    to_seq: Option<u64>,
    /// Replay inputs recorded at or after this instant (RFC 3339, or a date: midnight UTC).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Replay inputs recorded before this instant.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Worker threads (tickets are sharded over them). Default: available cores.
    #[arg(long)]
    threads: Option<usize>,
    /// Tickets listed in detail in text output.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Exit with status 1 if anything differs.
    #[arg(long)]
    fail_on_diff: bool,
    #[arg(long, value_enum, default_value_t = super::test::Format::Text)]
    format: super::test::Format,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Where a recorded log comes from.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// An NDJSON export (`escalier export`); `-` reads standard input.
    #[arg(long, value_name = "FILE", conflicts_with = "data_dir")]
    pub log: Option<PathBuf>,
    /// A stopped server's data directory. Default: storage.data_dir.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl LogArgs {
    /// The configuration with this log's data directory and `policies`
    /// (when given) applied, and the policies it names, loaded offline.
    pub fn load(
        &self,
        config: &ConfigArgs,
        policies: Option<PathBuf>,
    ) -> anyhow::Result<(Config, Result<Policies, PoliciesError>)> {
        let overrides = Overrides {
            data_dir: self.data_dir.clone(),
            policies,
            ..Overrides::default()
        };
        let cfg = config.load(overrides.clone())?;
        let engine = Arc::new(escalier_policy::PolicyEngine::new(
            cfg.policies.limits.clone(),
        ));
        let policies = Policies::load_with(&engine, &cfg.policies.dir, &Extras::default());
        Ok((cfg, policies))
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (cfg, policies) = args.log.load(&args.config, args.policies.clone())?;
    let policies = policies.with_context(|| {
        format!(
            "loading the candidate policies from {}",
            cfg.policies.dir.display()
        )
    })?;
    let instant = |s: &Option<String>, what: &str| {
        s.as_deref()
            .map(escalier_lab::when::parse_instant_or_date)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--{what}: {e}"))
    };
    let plugins: Option<Arc<dyn PluginRunner>> = match (&args.plugins, args.no_plugins) {
        (_, true) => None,
        (Some(dir), false) => {
            if !dir.is_dir() {
                anyhow::bail!("--plugins {}: not a directory", dir.display());
            }
            Some(Arc::new(ReplayPlugins::load(&cfg, dir)?))
        }
        (None, false) => {
            let dir = cfg.plugins_dir();
            if dir.is_dir() {
                Some(Arc::new(ReplayPlugins::load(&cfg, &dir)?))
            } else {
                None
            }
        }
    };
    let opts = ReplayOptions {
        plugins,
        // notify.toml's reactor runs after the plugins, as in the server,
        // with or without them (--no-plugins): it only records.
        notify: crate::notify::replay_notifier(policies.set()),
        from_seq: args.from_seq,
        to_seq: args.to_seq,
        since: instant(&args.since, "since")?,
        until: instant(&args.until, "until")?,
        limits: escalier_core::Limits {
            max_depth: cfg.processor.max_depth,
            max_derived: cfg.processor.max_derived,
        },
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    let report = match &args.log.log {
        Some(path) => replay::replay_ndjson(&policies, opts, path)?,
        None => {
            let store = crate::store::open_for_tool(
                &cfg,
                "replay a copy of its log instead: escalier export --url … > log.ndjson, then escalier replay --log log.ndjson",
            )?;
            replay::replay_store(&policies, opts, &store)?
        }
    };
    match args.format {
        super::test::Format::Text => print!("{}", replay::render(&report, args.limit)),
        super::test::Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(if args.fail_on_diff && !report.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
