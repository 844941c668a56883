//! Secrets by reference. A manifest names secrets (`secrets = ["github_webhook_secret"]`,
//! `http.signing_secret`); their values come from the operator, never from
//! the plugin directory:
//!
//! 1. the environment variable `ESCALIER_SECRET_<NAME>` (name upper-cased,
//!    `-` as `_`), which wins; then
//! 2. the secrets file (`<data dir>/secrets.toml`: `name = "value"` lines),
//!    re-read on every plugin reload; the plugin host's watcher reloads when it
//!    changes, so the plugins that use a changed secret are replaced.
//!
//! Library code reads neither the environment nor a fixed path: the binary
//! passes both in ([`Secrets::from_env`], [`Secrets::with_file`]).
//!
//! Plugins (signing, authenticated requests) and notification targets
//! (SMTP passwords, webhook URLs, routing keys) read their secrets here, at
//! send time; a value never enters an error message or a log line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The secrets file could not be read. The message never holds a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secrets file {}: {message}", path.display())]
pub struct SecretsError {
    pub path: PathBuf,
    pub message: String,
}

/// Where secret values come from.
#[derive(Clone, Default)]
pub struct Secrets {
    env: HashMap<String, String>,
    file: Option<PathBuf>,
    from_file: HashMap<String, String>,
}

// Values never appear in logs or debug output.
impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("file", &self.file)
            .field("from_file", &self.from_file.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The environment variable that holds secret `name`.
pub fn env_var(name: &str) -> String {
    format!(
        "ESCALIER_SECRET_{}",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

impl Secrets {
    /// No secrets at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Take `ESCALIER_SECRET_*` variables from `vars` (pass `std::env::vars()`).
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let env = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("ESCALIER_SECRET_"))
            .collect();
        Secrets {
            env,
            ..Self::default()
        }
    }

    /// Also read `path` (TOML, `name = "value"`). A missing file is no
    /// error: it is read again on reload, once it exists.
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Result<Self, SecretsError> {
        self.file = Some(path.into());
        self.reload_file()?;
        Ok(self)
    }

    /// Set one secret directly (tests, embedding).
    pub fn insert(&mut self, name: &str, value: impl Into<String>) {
        self.env.insert(env_var(name), value.into());
    }

    /// The secrets file, if there is one (the watcher watches it).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Re-read the secrets file, if there is one.
    pub fn reload_file(&mut self) -> Result<(), SecretsError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        self.from_file = read_file(path)?;
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.env
            .get(&env_var(name))
            .or_else(|| self.from_file.get(name))
            .map(String::as_str)
    }
}

fn read_file(path: &Path) -> Result<HashMap<String, String>, SecretsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => {
            return Err(SecretsError {
                path: path.to_owned(),
                message: e.to_string(),
            });
        }
    };
    toml::from_str::<HashMap<String, String>>(&text).map_err(|e| SecretsError {
        path: path.to_owned(),
        // toml's message quotes the offending line; the value on it may be
        // a secret, so keep only the first line of the message.
        message: e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.toml");
        std::fs::write(
            &file,
            "github_webhook_secret = \"from-file\"\nother = \"o\"\n",
        )
        .unwrap();
        let s = Secrets::from_env([
            (
                "ESCALIER_SECRET_GITHUB_WEBHOOK_SECRET".to_owned(),
                "from-env".to_owned(),
            ),
            ("PATH".to_owned(), "/bin".to_owned()),
        ])
        .with_file(&file)
        .unwrap();
        assert_eq!(s.get("github_webhook_secret"), Some("from-env"));
        assert_eq!(s.get("other"), Some("o"));
        assert_eq!(s.get("missing"), None);
        assert!(
            !format!("{s:?}").contains("from-env"),
            "values stay out of debug output"
        );
    }

    #[test]
    fn a_missing_file_is_empty_until_it_appears() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.toml");
        let mut s = Secrets::none().with_file(&file).unwrap();
        assert_eq!(s.get("a"), None);
        std::fs::write(&file, "a = \"1\"\n").unwrap();
        s.reload_file().unwrap();
        assert_eq!(s.get("a"), Some("1"));
    }
}
