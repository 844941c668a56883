//! `escalier migrate --to VERSION [--dry-run]`: move open tickets pinned to
//! older policy set versions (`policies.pin = "ticket"`) onto another one,
//! through a running server's `POST /v1/admin/migrate`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use super::ConfigArgs;
use crate::config::Overrides;

/// Move open tickets pinned to older policy versions onto VERSION (or
/// `latest`). With --dry-run, show per ticket what would change; without,
/// record a `policy.migrated` event on each. Talks to the running server.
/// Only does anything with `policies.pin = "ticket"`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target policy set version (`sha256:...`, see GET /v1/policies), or `latest`.
    #[arg(long)]
    to: String,
    /// Show what would change; move nothing.
    #[arg(long)]
    dry_run: bool,
    /// Server base URL. Default: http://<server.listen>.
    #[arg(long)]
    url: Option<String>,
    /// Admin API token. Default: $ESCALIER_API_TOKEN, else $TOKEN (what the
    /// README exports), else api.token from the configuration.
    #[arg(long, env = "ESCALIER_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

/// The token to send: the flag (or `ESCALIER_API_TOKEN`, which clap reads
/// into it), then `TOKEN`, then the configuration's `api.token`.
fn token(flag: Option<String>, env_token: Option<String>, cfg: Option<String>) -> Option<String> {
    [flag, env_token, cfg]
        .into_iter()
        .flatten()
        .find(|t| !t.trim().is_empty())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = args.config.load(Overrides::default())?;
    let token = token(
        args.token.clone(),
        std::env::var("TOKEN").ok(),
        cfg.api.token.clone(),
    )
    .context(
        "no API token: pass --token, or export ESCALIER_API_TOKEN (or TOKEN, as in the README) with an admin token",
    )?;
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", cfg.server.listen));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, answer): (u16, Value) = rt.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("{base}/v1/admin/migrate"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "to": args.to, "dry_run": args.dry_run }))
            .send()
            .await
            .with_context(|| format!("POST {base}/v1/admin/migrate; is the server running?"))?;
        let status = resp.status().as_u16();
        anyhow::Ok((status, resp.json().await.unwrap_or(Value::Null)))
    })?;
    if !(200..300).contains(&status) {
        eprintln!(
            "{status}: {}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return Ok(ExitCode::FAILURE);
    }
    print!("{}", render(&answer, args.dry_run));
    Ok(ExitCode::SUCCESS)
}

/// The server's answer, for people.
fn render(answer: &Value, dry_run: bool) -> String {
    let mut out = String::new();
    if answer["pin"] == "latest" {
        out.push_str(
            "pinning is off (policies.pin = \"latest\"): every ticket follows the policy set in force, \
             so there is nothing to migrate.\n\
             To keep tickets on the version they started with, set policies.pin = \"ticket\".\n",
        );
        return out;
    }
    let to = answer["to"].as_str().unwrap_or_default();
    let tickets = answer["tickets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let skipped = answer["skipped"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let verb = if dry_run { "would move" } else { "moved" };
    if tickets.is_empty() && skipped.is_empty() {
        let _ = writeln!(
            out,
            "nothing to move: every open ticket already follows {to}"
        );
        return out;
    }
    let _ = writeln!(out, "{verb} {} open tickets to {to}", tickets.len());
    for t in tickets {
        let from = t["from"].as_str().unwrap_or("(not pinned)");
        let _ = write!(
            out,
            "  {}  {from} -> {to}",
            t["id"].as_str().unwrap_or_default()
        );
        if let Some(seq) = t["seq"].as_u64() {
            let _ = write!(out, "  (seq {seq})");
        }
        out.push('\n');
    }
    if !skipped.is_empty() {
        let _ = writeln!(out, "not moved: {}", skipped.len());
        for t in skipped {
            let _ = writeln!(
                out,
                "  {}  {}",
                t["id"].as_str().unwrap_or_default(),
                t["reason"].as_str().unwrap_or_default()
            );
        }
    }
    if let Some(changes) = answer["changes"].as_object() {
        for (from, c) in changes {
            let _ = writeln!(out, "changes from {from}:");
            for (what, sign) in [("added", "+"), ("removed", "-"), ("changed", "~")] {
                for f in c[what].as_array().into_iter().flatten() {
                    let _ = writeln!(out, "  {sign} {}", f.as_str().unwrap_or_default());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn with_pinning_off_a_dry_run_says_so_instead_of_listing_tickets() {
        let answer = json!({"to": "sha256:b", "dry_run": true, "pin": "latest", "tickets": [], "changes": {}});
        let text = render(&answer, true);
        assert!(text.starts_with("pinning is off"), "{text}");
        assert!(!text.contains("would move"), "{text}");
    }

    #[test]
    fn moves_skips_and_changes_are_listed_per_ticket() {
        let answer = json!({
            "to": "sha256:b", "dry_run": false, "pin": "ticket",
            "tickets": [{"id": "T-1", "from": "sha256:a", "seq": 9}, {"id": "T-2", "from": null, "seq": 10}],
            "skipped": [{"id": "T-3", "from": "sha256:a", "reason": "ticket T-3 is closed"}],
            "changes": {"sha256:a": {"added": [], "removed": [], "changed": ["vip.rhai"]}},
        });
        let text = render(&answer, false);
        assert!(text.contains("moved 2 open tickets to sha256:b"), "{text}");
        assert!(
            text.contains("T-1  sha256:a -> sha256:b  (seq 9)"),
            "{text}"
        );
        assert!(
            text.contains("T-2  (not pinned) -> sha256:b  (seq 10)"),
            "{text}"
        );
        assert!(
            text.contains("not moved: 1\n  T-3  ticket T-3 is closed"),
            "{text}"
        );
        assert!(text.contains("  ~ vip.rhai"), "{text}");
        let none = render(
            &json!({"to": "sha256:b", "tickets": [], "changes": {}}),
            true,
        );
        assert!(none.starts_with("nothing to move"), "{none}");
    }

    #[test]
    fn the_token_comes_from_the_flag_then_token_as_the_readme_exports_then_config() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(token(s("flag"), s("readme"), s("cfg")), s("flag"));
        assert_eq!(token(None, s("readme"), s("cfg")), s("readme"));
        assert_eq!(token(None, s(" "), s("cfg")), s("cfg"));
        assert_eq!(token(None, None, None), None);
    }
}
