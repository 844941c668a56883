//! The webhook signing secrets in force: configured ones, or the one
//! generated on first start and kept in the data directory.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use escalier_server::Secret;

/// File in the data directory holding the generated secret.
pub const SECRET_FILE: &str = "webhook-secret";
/// File in the data directory holding API token hashes.
pub const TOKENS_FILE: &str = "api-tokens.toml";

/// What `resolve` found.
pub struct Resolved {
    /// The secrets, as text (`whsec_...`), newest first.
    pub texts: Vec<String>,
    pub secrets: Vec<Secret>,
    /// Set when a secret was generated right now (print it once).
    pub generated: Option<PathBuf>,
}

/// Configured secrets win; otherwise the data directory's secret, created
/// (mode 0600) if missing.
pub fn resolve(configured: &[String], data_dir: &Path, create: bool) -> anyhow::Result<Resolved> {
    if !configured.is_empty() {
        let secrets = configured
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Secret::parse(s).with_context(|| {
                    format!(
                        "webhook secret #{} (webhook.secrets / ESCALIER_WEBHOOK_SECRET)",
                        i + 1
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        return Ok(Resolved {
            texts: configured.to_vec(),
            secrets,
            generated: None,
        });
    }
    let path = data_dir.join(SECRET_FILE);
    let mut generated = None;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let text = Secret::generate(rand::random());
            write_private(&path, &text)?;
            generated = Some(path.clone());
            text
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "no webhook secret configured and none in {}; set ESCALIER_WEBHOOK_SECRET or start the server once",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let secret =
        Secret::parse(&text).with_context(|| format!("the secret in {}", path.display()))?;
    Ok(Resolved {
        texts: vec![text],
        secrets: vec![secret],
        generated,
    })
}

/// Append a token entry to the token file (created 0600 if missing).
pub fn add_token(path: &Path, entry: escalier_server::auth::TokenEntry) -> anyhow::Result<()> {
    use escalier_server::auth::{TokenFile, read_token_file};
    let mut file: TokenFile = read_token_file(path)?;
    anyhow::ensure!(
        !file.tokens.iter().any(|t| t.name == entry.name),
        "a token named `{}` exists already in {}",
        entry.name,
        path.display()
    );
    file.tokens.push(entry);
    write_tokens(path, &file)
}

/// Remove the token named `name` from the token file; whether it was there.
pub fn remove_token(path: &Path, name: &str) -> anyhow::Result<bool> {
    use escalier_server::auth::{TokenFile, read_token_file};
    let mut file: TokenFile = read_token_file(path)?;
    let before = file.tokens.len();
    file.tokens.retain(|t| t.name != name);
    if file.tokens.len() == before {
        return Ok(false);
    }
    write_tokens(path, &file)?;
    Ok(true)
}

fn write_tokens(path: &Path, file: &escalier_server::auth::TokenFile) -> anyhow::Result<()> {
    let text = format!(
        "# API tokens (SHA-256 of each token; the tokens themselves are shown once, at creation).\n{}",
        toml::to_string(file)?
    );
    let tmp = path.with_extension("toml.tmp");
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, &text)?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Create `path` readable by the owner only; never overwrite.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_generates_a_private_secret_then_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = resolve(&[], dir.path(), true).unwrap();
        assert!(first.generated.is_some());
        assert!(first.texts[0].starts_with("whsec_"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = resolve(&[], dir.path(), true).unwrap();
        assert!(second.generated.is_none());
        assert_eq!(second.texts, first.texts);
    }

    #[test]
    fn configured_secrets_win_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let good = Secret::generate([3; 32]);
        let r = resolve(std::slice::from_ref(&good), dir.path(), true).unwrap();
        assert_eq!(r.texts, vec![good]);
        assert!(!dir.path().join(SECRET_FILE).exists());
        let err = format!(
            "{:#}",
            resolve(&["nope".into()], dir.path(), true).err().unwrap()
        );
        assert!(err.contains("whsec_"), "{err}");
    }
}
