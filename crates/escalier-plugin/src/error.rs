//! Errors, one type per operation: loading a plugin, adapting a webhook,
//! starting the host, watching the plugins directory. Every message names
//! the file, key or plugin at fault and what to do about it.

use std::path::PathBuf;

use escalier_core::Rejection;

pub use crate::manifest::ManifestError;

/// Why a plugin directory could not be loaded. The previous version of
/// that plugin, if any, keeps serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not a WebAssembly component, or one wasmtime cannot compile.
    #[error("{}: not a loadable WebAssembly component: {message}", path.display())]
    Compile { path: PathBuf, message: String },
    /// The component imports something the host does not provide (another
    /// interface version, a WASI interface outside `wasi:cli` 0.2), or does
    /// not export the `escalier:plugin` interfaces.
    #[error(
        "{}: does not fit the escalier:plugin@0.1.2 world: {message}; build it against the `wit/` of this Escalier",
        path.display()
    )]
    Link { path: PathBuf, message: String },
    #[error(
        "plugin `{plugin}`: secret `{name}` is not set; set ESCALIER_SECRET_{} or add `{name} = \"...\"` to the secrets file",
        name.to_uppercase()
    )]
    MissingSecret { plugin: String, name: String },
    /// The value is never part of the message.
    #[error("plugin `{plugin}`: signing secret `{name}` cannot sign: {reason}")]
    BadSigningSecret {
        plugin: String,
        name: String,
        reason: String,
    },
    #[error("plugin `{name}` is defined twice: in {} and in {}", first.display(), second.display())]
    Duplicate {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("adapter `{adapter}` is declared by both `{first}` and `{second}`")]
    DuplicateAdapter {
        adapter: String,
        first: String,
        second: String,
    },
    /// `enabled = false` in the manifest: listed, not loaded. Not a failure.
    #[error("plugin `{plugin}` is disabled: {reason}")]
    Disabled {
        plugin: String,
        version: String,
        reason: String,
    },
}

/// The host itself could not start (engine, pooling allocator, cache dir).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
    #[error("compile cache {}: {source}", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plugins directory {}: {source}", path.display())]
    PluginsDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("secrets file {}: {message}", path.display())]
    Secrets { path: PathBuf, message: String },
}

impl From<escalier_outbox::SecretsError> for HostError {
    fn from(e: escalier_outbox::SecretsError) -> Self {
        HostError::Secrets {
            path: e.path,
            message: e.message,
        }
    }
}

/// Why `POST /v1/sources/{source}` could not be turned into events.
/// [`AdaptError::http_status`] says what to answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AdaptError {
    /// No loaded plugin declares `adapter = "<source>"`. HTTP 404.
    #[error("no adapter for source `{name}`; loaded adapters: {known}")]
    NoAdapter { name: String, known: String },
    /// The adapter refused the sender's signature. HTTP 401.
    #[error("adapter `{adapter}` refused the signature: {message}")]
    Unauthorized { adapter: String, message: String },
    /// The adapter did not understand the payload. HTTP 422.
    #[error("adapter `{adapter}` did not understand the payload: {message}")]
    NotUnderstood { adapter: String, message: String },
    /// The adapter produced something that is not a valid Escalier event:
    /// a bug in the adapter. HTTP 502.
    #[error("adapter `{adapter}` produced an invalid event #{index}: {rejection}")]
    InvalidOutput {
        adapter: String,
        index: usize,
        rejection: Rejection,
    },
    /// The adapter trapped, timed out, hit its memory limit or failed.
    /// `code` is a `plugin.error` code. HTTP 502.
    #[error("adapter `{adapter}` failed ({code}): {message}")]
    Plugin {
        adapter: String,
        code: String,
        message: String,
    },
}

impl AdaptError {
    /// The HTTP status the API should answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            AdaptError::NoAdapter { .. } => 404,
            AdaptError::Unauthorized { .. } => 401,
            AdaptError::NotUnderstood { .. } => 422,
            AdaptError::InvalidOutput { .. } | AdaptError::Plugin { .. } => 502,
        }
    }

    /// A stable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            AdaptError::NoAdapter { .. } => "unknown_source",
            AdaptError::Unauthorized { .. } => "bad_signature",
            AdaptError::NotUnderstood { .. } => "payload_not_understood",
            AdaptError::InvalidOutput { .. } => "adapter_invalid_output",
            AdaptError::Plugin { .. } => "adapter_failed",
        }
    }
}

/// The plugins directory could not be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {}: {message}", path.display())]
pub struct WatchError {
    pub path: PathBuf,
    pub message: String,
}
