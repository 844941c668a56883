//! Secrets by reference: [`Secrets`] lives in `escalier-outbox` (the
//! delivery side reads secrets at send time too) and is re-exported here
//! so the plugin host's API is unchanged. A manifest names secrets
//! (`secrets = ["github_webhook_secret"]`, `http.signing_secret`,
//! `http.auth_secrets`); their values come from the operator, never from
//! the plugin directory: the environment variable
//! `ESCALIER_SECRET_<NAME>`, which wins, then the secrets file
//! (`<data dir>/secrets.toml`), re-read on every plugin reload
//! ([`crate::watch`] reloads when it changes).

pub use escalier_outbox::secrets::{Secrets, SecretsError, env_var};
