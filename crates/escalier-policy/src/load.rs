//! Finding and reading policy files.
//!
//! A policy is any `*.rhai` file under the policies directory, at any
//! depth; `sla.toml`, `ladders.toml` and `notify.toml` at its top are read with them. Names starting with `.` are skipped (editor swap files, and the
//! `..data` links a Kubernetes ConfigMap mount uses); symlinked files are
//! followed, symlinked directories are not (no cycles).

use std::fs;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic};
use crate::error::LoadError;

/// Data files read with the policies, at the top of the directory: the SLA
/// policies and calendars, the escalation ladders, and the notification
/// targets (checked by the engine's [`NotifyCheck`](crate::engine::NotifyCheck)).
pub(crate) const DATA_FILES: &[&str] = &["sla.toml", "ladders.toml", NOTIFY_FILE];

/// The notification targets file.
pub const NOTIFY_FILE: &str = "notify.toml";

/// One file found, read or not.
pub(crate) struct SourceFile {
    /// Relative to the policies directory, `/`-separated.
    pub name: String,
    /// As shown to people: the directory joined with the name.
    pub file: String,
    pub bytes: Result<Vec<u8>, Diagnostic>,
}

/// Every policy file under `dir`, read. Fails only if `dir` itself cannot
/// be listed; problems with single files travel in their `bytes`.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, LoadError> {
    let top = fs::read_dir(dir).map_err(|e| LoadError {
        diagnostics: vec![Diagnostic::new(
            &dir.display().to_string(),
            None,
            Code::Io,
            format!("cannot read the policies directory: {e}"),
        )],
    })?;
    let mut out = Vec::new();
    let mut pending: Vec<(fs::ReadDir, Vec<String>)> = vec![(top, Vec::new())];
    while let Some((entries, rel)) = pending.pop() {
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    out.push(unreadable(dir, &rel, "", &e));
                    continue;
                }
            };
            let fname = entry.file_name().to_string_lossy().into_owned();
            if fname.starts_with('.') {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                match fs::read_dir(entry.path()) {
                    Ok(sub) => {
                        let mut r = rel.clone();
                        r.push(fname);
                        pending.push((sub, r));
                    }
                    Err(e) => out.push(unreadable(dir, &rel, &fname, &e)),
                }
                continue;
            }
            let data_file = rel.is_empty() && DATA_FILES.contains(&fname.as_str());
            if !fname.ends_with(".rhai") && !data_file {
                continue;
            }
            // A symlink counts if it points at a file.
            if kind.is_symlink() && !entry.path().is_file() {
                continue;
            }
            let name = join(&rel, &fname);
            let file = display(dir, &name);
            let bytes = fs::read(entry.path()).map_err(|e| {
                Diagnostic::new(
                    &file,
                    None,
                    Code::Io,
                    format!("cannot read the policy: {e}"),
                )
            });
            out.push(SourceFile { name, file, bytes });
        }
    }
    Ok(out)
}

fn join(rel: &[String], name: &str) -> String {
    let mut s = rel.join("/");
    if !s.is_empty() && !name.is_empty() {
        s.push('/');
    }
    s.push_str(name);
    s
}

fn display(dir: &Path, name: &str) -> String {
    let mut p = PathBuf::from(dir);
    p.extend(name.split('/'));
    p.display().to_string()
}

fn unreadable(dir: &Path, rel: &[String], name: &str, e: &std::io::Error) -> SourceFile {
    let name = join(rel, name);
    let file = display(dir, &name);
    SourceFile {
        bytes: Err(Diagnostic::new(
            &file,
            None,
            Code::Io,
            format!("cannot read: {e}"),
        )),
        name,
        file,
    }
}

/// Point at the first byte that is not UTF-8.
pub(crate) fn utf8_diagnostic(file: &str, bytes: &[u8], e: &std::str::Utf8Error) -> Diagnostic {
    let valid = &bytes[..e.valid_up_to()];
    // The prefix is valid UTF-8 by definition of valid_up_to.
    let text = std::str::from_utf8(valid).unwrap_or_default();
    let line = text.matches('\n').count() + 1;
    let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Diagnostic::new(
        file,
        Some((
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(col).unwrap_or(u32::MAX),
        )),
        Code::InvalidUtf8,
        "the file is not UTF-8 text",
    )
    .with_hint("save it as UTF-8 in your editor")
}
