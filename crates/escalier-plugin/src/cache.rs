//! The compile cache: components compiled to native code once, stored on
//! disk, and mapped back in on the next start (`Component::deserialize_file`)
//! instead of recompiling (a Python component takes seconds to compile,
//! milliseconds to map).
//!
//! Files are `<cache dir>/wasmtime-<version>-<engine config hash>/<sha256 of
//! the component>.cwasm`: a new wasmtime or a different engine
//! configuration uses a fresh subdirectory, and the content hash means a
//! changed component never meets a stale artifact.
//!
//! Trust: deserializing is `unsafe` because wasmtime runs the native code
//! in the file as is. Whoever can write the cache directory can run code
//! in the Escalier process. Keep it private to the Escalier user (it is
//! created 0700) and outside the plugins directory that vendors deploy to.
//! wasmtime checks the header (version, target, engine flags) but not the
//! code itself.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::HostError;

/// The wasmtime major version this host is built with (Cargo.toml takes
/// patch releases within it). Names the cache directory; the engine hash
/// beside it covers the exact version, so a patch update starts a new one.
pub const WASMTIME_VERSION: &str = "48";

pub(crate) struct CompileCache {
    dir: PathBuf,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheOutcome {
    /// Mapped from the cache.
    Hit,
    /// Compiled and stored in the cache.
    Miss,
    /// Compiled; no cache configured.
    Off,
}

impl CompileCache {
    pub fn open(root: &Path, engine: &Engine) -> Result<CompileCache, HostError> {
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let dir = root.join(format!("wasmtime-{WASMTIME_VERSION}-{:016x}", h.finish()));
        let err = |source| HostError::Cache {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
        Ok(CompileCache { dir })
    }

    /// The SHA-256 recorded for `path` when its size, modification time
    /// and inode were `meta`'s: lets a restart skip reading and hashing a
    /// large component (18 MB of Python hashes in about 12 ms). A file
    /// rewritten in place gets a new mtime and is hashed again.
    pub fn known_hash(&self, path: &Path, meta: &std::fs::Metadata) -> Option<String> {
        let text = std::fs::read_to_string(self.index_entry(path)?).ok()?;
        let (stamp, sha) = text.trim().rsplit_once(' ')?;
        (stamp == file_stamp(meta)?
            && sha.len() == 64
            && sha.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| sha.to_owned())
    }

    pub fn remember_hash(&self, path: &Path, meta: &std::fs::Metadata, sha_hex: &str) {
        let (Some(entry), Some(stamp)) = (self.index_entry(path), file_stamp(meta)) else {
            return;
        };
        let _ = std::fs::create_dir_all(self.dir.join("hashes"));
        if let Err(e) = write_atomically(&entry, format!("{stamp} {sha_hex}\n").as_bytes()) {
            tracing::debug!("hash index not written: {e}");
        }
    }

    fn index_entry(&self, path: &Path) -> Option<PathBuf> {
        let canonical = std::fs::canonicalize(path).ok()?;
        let key = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
        let name: String = key.iter().map(|b| format!("{b:02x}")).collect();
        Some(self.dir.join("hashes").join(name))
    }

    /// Map the compiled form of the component whose SHA-256 is `sha_hex`
    /// from the cache; on a miss, `read` its bytes, compile and store it.
    pub fn load(
        &self,
        engine: &Engine,
        sha_hex: &str,
        read: impl FnOnce() -> wasmtime::Result<Vec<u8>>,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.dir.join(format!("{sha_hex}.cwasm"));
        // One compile per artifact at a time in this process: a second
        // loader of the same component waits and then maps the result.
        let slot = {
            let mut inflight = INFLIGHT.lock().unwrap_or_else(|p| p.into_inner());
            inflight.entry(path.clone()).or_default().clone()
        };
        let _compiling = slot.lock().unwrap_or_else(|p| p.into_inner());
        if path.exists() {
            // SAFETY: the file was written by `precompile_component` of an
            // engine with the same version and configuration (the directory
            // name says so) and the directory is private (see module docs).
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "recompiling: cached artifact unusable: {e:#}")
                }
            }
        }
        let compiled = engine.precompile_component(&read()?)?;
        if let Err(e) = write_atomically(&path, &compiled) {
            tracing::warn!(path = %path.display(), "compile cache not written: {e}");
            // SAFETY: produced just now by this engine.
            return Ok((
                unsafe { Component::deserialize(engine, &compiled)? },
                CacheOutcome::Miss,
            ));
        }
        // SAFETY: as above; mapping the file shares pages between restarts.
        let c = unsafe { Component::deserialize_file(engine, &path)? };
        Ok((c, CacheOutcome::Miss))
    }
}

/// Size, modification time (ns) and inode: what identifies a file version.
fn file_stamp(meta: &std::fs::Metadata) -> Option<String> {
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let ino = 0u64;
    Some(format!("{} {mtime} {ino}", meta.len()))
}

static INFLIGHT: LazyLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> =
    LazyLock::new(Default::default);
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Write to a temporary file and rename, so a crash never leaves half an
/// artifact under the final name (and another process never reads one).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let n = TMP_SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
