//! `escalier token`: create, list and revoke API tokens.

use std::path::PathBuf;
use std::process::ExitCode;

use escalier_server::auth::{Scope, TokenEntry, generate_token, hash_token, read_token_file};

use super::ConfigArgs;
use crate::config::Overrides;
use crate::secrets;

/// Manage API tokens (stored as hashes in <data_dir>/api-tokens.toml; a
/// running server picks up changes without a restart).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// Data directory. Overrides storage.data_dir.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Create a token, print it once, store its hash.
    Create {
        /// A name for logs and for revoking it later.
        #[arg(long)]
        name: String,
        /// Scopes: read, ingest, admin (admin implies the others). Repeat for several.
        #[arg(long = "scope", required = true, value_parser = parse_scope)]
        scopes: Vec<Scope>,
    },
    /// List token names and scopes (never the tokens).
    List,
    /// Revoke a token from the token file: a running server refuses it at
    /// once and ends the console sessions opened with it.
    Revoke {
        /// The name it was created with.
        #[arg(long)]
        name: String,
    },
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).ok_or_else(|| format!("`{s}` is not a scope; use read, ingest or admin"))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        ..Overrides::default()
    };
    let cfg = args.config.load(overrides.clone())?;
    let path = cfg.tokens_path();
    match args.action {
        Action::Create { name, scopes } => {
            std::fs::create_dir_all(&cfg.storage.data_dir)?;
            let token = generate_token(rand::random());
            secrets::add_token(
                &path,
                TokenEntry {
                    name: name.clone(),
                    sha256: hash_token(&token),
                    scopes,
                },
            )?;
            eprintln!(
                "Created token `{name}` (hash stored in {}). It is shown only now:",
                path.display()
            );
            println!("{token}");
        }
        Action::Revoke { name } => {
            if !secrets::remove_token(&path, &name)? {
                if cfg.api.tokens.iter().any(|t| t.name == name) {
                    anyhow::bail!(
                        "token `{name}` is set in the configuration (api.tokens); remove it there and restart"
                    );
                }
                anyhow::bail!("no token named `{name}` in {}", path.display());
            }
            eprintln!("Revoked token `{name}` (removed from {}).", path.display());
        }
        Action::List => {
            for t in read_token_file(&path)?.tokens.iter().chain(&cfg.api.tokens) {
                let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
                println!("{}\t{}", t.name, scopes.join(","));
            }
            if cfg.api.token.is_some() {
                println!("(ESCALIER_API_TOKEN)\tadmin");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
