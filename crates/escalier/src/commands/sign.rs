//! `escalier sign [FILE]`: print the three Standard Webhooks headers for a
//! body, signed with the server's secret, so that any HTTP client (curl)
//! can post it. The signing is `escalier_webhook::sign_headers`, the one
//! implementation the server verifies with; `escalier send` calls it too.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use escalier_webhook::{Secret, sign_headers};

use super::ConfigArgs;
use crate::config::{Config, Overrides};
use crate::secrets;

/// Print the Standard Webhooks headers for a request body, for curl and
/// other clients.
///
/// Prints `webhook-id`, `webhook-timestamp` and `webhook-signature`, one
/// `name: value` per line (the form `curl -H @FILE` reads), signed with the
/// webhook secret: the first of ESCALIER_WEBHOOK_SECRET / webhook.secrets,
/// else the one the server generated in its data directory. The body is
/// signed byte for byte: post exactly the same bytes (`curl --data-binary
/// @FILE`, not `-d`), within 5 minutes of the timestamp.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request body; `-` (default) reads standard input.
    #[arg(default_value = "-")]
    file: PathBuf,
    /// Delivery id (`webhook-id`). Default: a random `msg_...`.
    #[arg(long)]
    id: Option<String>,
    /// Unix seconds (`webhook-timestamp`). Default: now.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    timestamp: Option<i64>,
    /// Data directory holding the generated secret, when no secret is configured.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        ..Overrides::default()
    };
    let cfg = args.config.load(overrides.clone())?;
    let secret = signing_secret(&cfg)?;
    let body = read_body(&args.file)?;
    let id = args.id.unwrap_or_else(delivery_id);
    anyhow::ensure!(
        !id.is_empty() && id.len() <= 256 && !id.chars().any(char::is_whitespace),
        "--id must be 1 to 256 characters without spaces"
    );
    let timestamp = args
        .timestamp
        .unwrap_or_else(|| jiff::Timestamp::now().as_second());
    for (name, value) in sign_headers(&secret, &id, timestamp, &body) {
        println!("{name}: {value}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The secret senders sign with: the first configured one, else the one
/// in the data directory (never created here).
pub fn signing_secret(cfg: &Config) -> anyhow::Result<Secret> {
    let text = secrets::resolve(&cfg.webhook.secrets, &cfg.storage.data_dir, false)?
        .texts
        .into_iter()
        .next()
        .context("no webhook secret")?;
    Ok(Secret::parse(&text)?)
}

/// A fresh delivery id.
pub fn delivery_id() -> String {
    format!("msg_{:016x}", rand::random::<u64>())
}

fn read_body(file: &Path) -> anyhow::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("reading the body from standard input")?;
        Ok(body)
    } else {
        std::fs::read(file).with_context(|| format!("reading {}", file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use escalier_webhook::{HEADER_ID, HEADER_TIMESTAMP, Verifier};

    /// docs/api.md, whose worked example must keep verifying.
    const API_DOC: &str = include_str!("../../../../docs/api.md");

    /// The worked example of docs/api.md: (secret, body, printed headers).
    fn documented_example() -> (String, String, Vec<(String, String)>) {
        let section = API_DOC
            .split("### Worked example")
            .nth(1)
            .expect("docs/api.md has a `### Worked example` section");
        let section = section.split("\n## ").next().unwrap_or(section);
        let secret = section
            .split('`')
            .find(|s| s.starts_with("whsec_"))
            .expect("the example names its secret")
            .to_owned();
        let blocks: Vec<&str> = section.split("```").collect();
        // Odd pieces are fenced blocks: "json\n{...}\n" and "text\nwebhook-id: ...".
        let block = |tag: &str| {
            blocks
                .iter()
                .skip(1)
                .step_by(2)
                .find_map(|b| b.strip_prefix(tag).and_then(|b| b.strip_prefix('\n')))
                .unwrap_or_else(|| panic!("the example has a ```{tag} block"))
        };
        // The body is the block's one line, without the newline that ends it.
        let body = block("json").trim_end_matches('\n').to_owned();
        let headers = block("text")
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (secret, body, headers)
    }

    #[test]
    fn the_documented_example_verifies_and_is_what_sign_prints() {
        let (secret_text, body, documented) = documented_example();
        assert!(!body.contains('\n'), "the example body is one line");
        let get = |name: &str| {
            documented
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("the example shows `{name}`"))
        };
        let (id, ts) = (get(HEADER_ID), get(HEADER_TIMESTAMP));
        let ts: i64 = ts.parse().expect("a Unix timestamp");
        let secret = Secret::parse(&secret_text).unwrap();

        let printed: Vec<(String, String)> = sign_headers(&secret, &id, ts, body.as_bytes())
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(printed, documented, "docs/api.md shows what sign prints");

        let mut map = http::HeaderMap::new();
        for (k, v) in &documented {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let verifier = Verifier::new(vec![secret]);
        assert!(verifier.verify(&map, body.as_bytes(), ts).is_ok());
        // Byte for byte: a trailing newline (what `-d @file` of an edited
        // file may add or strip) no longer verifies.
        let with_newline = format!("{body}\n");
        assert!(verifier.verify(&map, with_newline.as_bytes(), ts).is_err());
    }
}
