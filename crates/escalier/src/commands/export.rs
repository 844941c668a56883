//! `escalier export` and `escalier import`: the log as newline-delimited
//! JSON, one record per line in log order (each input followed by what it
//! caused). The portable form of a data directory: backups, moving data,
//! and backtests elsewhere (`escalier replay --log`). Export reads a
//! stopped server's data directory, or a running server's log through
//! `GET /v1/events` (`--url`).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use escalier_core::Record;
use escalier_store::import::ImportError;
use serde_json::value::RawValue;

use super::ConfigArgs;
use super::remote::{self, Remote, RemoteArgs};
use crate::config::Overrides;

/// Write the log as NDJSON, from a running server (--url) or a stopped
/// server's data directory.
///
/// One record per line, in log order, each input followed by what it
/// caused; processed records only. With --url it reads GET /v1/events (a
/// `read` token needed); without, the data directory, which a running
/// server holds locked.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Output file; `-` (default) writes to standard output.
    #[arg(long, short, default_value = "-")]
    out: PathBuf,
    /// Start after this input seq.
    #[arg(long, default_value_t = 0)]
    after: u64,
    /// Data directory. Overrides storage.data_dir. Not used with --url.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Read an NDJSON export into a new, empty data directory. The records are
/// stored as they are (no policy runs again), so the tickets afterwards are
/// the ones exported.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// NDJSON file written by `escalier export`; `-` reads standard input.
    file: PathBuf,
    /// Data directory to create. Overrides storage.data_dir.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Policies directory whose sla.toml / ladders.toml index the clocks. Overrides policies.dir.
    #[arg(long)]
    policies: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        ..Overrides::default()
    };
    let cfg = args.config.load(overrides.clone())?;
    if let Some(server) = Remote::from_args(&args.remote)? {
        let mut out = output(&args.out)?;
        let n = export_remote(&server, args.after, &mut out)?;
        out.flush()?;
        eprintln!("exported {n} records");
        return Ok(ExitCode::SUCCESS);
    }
    let store = crate::store::open_for_tool(
        &cfg,
        &format!(
            "export through its API instead: escalier export --url http://{} (with a `read` token in --token or ESCALIER_API_TOKEN)",
            cfg.server.listen
        ),
    )?;
    let mut out = output(&args.out)?;
    let mut n = 0u64;
    let mut io_error = None;
    store.for_each_record(|r| {
        if r.seq <= args.after || io_error.is_some() {
            return Ok(());
        }
        let line = serde_json::to_string(&r).unwrap_or_default();
        if let Err(e) = writeln!(out, "{line}") {
            io_error = Some(e);
        }
        n += 1;
        Ok(())
    })?;
    if let Some(e) = io_error {
        return Err(e).context("writing the export");
    }
    out.flush()?;
    eprintln!("exported {n} records");
    Ok(ExitCode::SUCCESS)
}

/// Standard output for `-`, else a new file.
fn output(path: &Path) -> anyhow::Result<Box<dyn Write>> {
    Ok(if path.as_os_str() == "-" {
        Box::new(BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ))
    })
}

/// A page of `GET /v1/events`, records kept as the server wrote them.
#[derive(serde::Deserialize)]
struct Page {
    records: Vec<Box<RawValue>>,
    next_after: u64,
}

/// Inputs per page: the most `GET /v1/events` gives.
const PAGE: u32 = 1000;

/// Page through a running server's log after input `after` until the
/// processed end; each record written as the server sent it. Returns the
/// number of records.
fn export_remote(server: &Remote, mut after: u64, out: &mut dyn Write) -> anyhow::Result<u64> {
    let mut n = 0u64;
    loop {
        let (status, body) = server.get(
            &["v1", "events"],
            &[("after", after.to_string()), ("limit", PAGE.to_string())],
        )?;
        if status != 200 {
            return Err(remote::refusal(status, &body));
        }
        let page: Page =
            serde_json::from_slice(&body).context("GET /v1/events did not answer a log page")?;
        if page.records.is_empty() || page.next_after <= after {
            return Ok(n);
        }
        for r in &page.records {
            writeln!(out, "{}", r.get()).context("writing the export")?;
            n += 1;
        }
        after = page.next_after;
    }
}

pub fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        policies: args.policies.clone(),
        ..Overrides::default()
    };
    let cfg = args.config.load(overrides.clone())?;
    anyhow::ensure!(
        crate::store::is_postgres(&cfg) || !cfg.db_path().exists(),
        "{} exists already; import creates a new data directory",
        cfg.db_path().display()
    );
    std::fs::create_dir_all(&cfg.storage.data_dir)?;
    let reader: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        Box::new(BufReader::new(
            File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?,
        ))
    };
    let books = crate::fold::books(&cfg)?;
    let fold = crate::fold::fold_fn(&cfg)?;
    let records = reader.lines().enumerate().filter_map(|(i, line)| {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                return Some(Err(ImportError::Order {
                    at: format!("line {}", i + 1),
                    message: e.to_string(),
                }));
            }
        };
        if line.trim().is_empty() {
            return None;
        }
        Some(
            serde_json::from_str::<Record>(&line).map_err(|e| ImportError::Order {
                at: format!("line {}", i + 1),
                message: format!("not a record: {e}"),
            }),
        )
    });
    let store = crate::store::open_for_import(&cfg, &cfg.db_path())?;
    let report = store.import(records, &books, fold)?;
    eprintln!(
        "imported {} inputs and {} derived records: {} tickets in {}",
        report.inputs,
        report.derived,
        report.tickets,
        store.location()
    );
    Ok(ExitCode::SUCCESS)
}
