//! What `escalier check` reports: every file of a policies directory (the
//! `*.rhai` policies, `sla.toml`, `ladders.toml`) with its own problems,
//! so one run shows every broken file and says what it looked at.
//!
//! The set is loaded exactly as the server loads it (same reader, same
//! build); the report only sorts the diagnostics by file.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::Diagnostic;
use crate::engine::PolicyEngine;
use crate::load;
use crate::set::PolicySet;

/// What a checked file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Policy,
    Sla,
    Ladders,
    Notify,
}

/// One file found, and what is wrong with it.
#[derive(Debug, Clone)]
pub struct CheckedFile {
    /// Relative to the policies directory: `escalation/vip.rhai`, `sla.toml`.
    pub name: String,
    pub kind: FileKind,
    pub diagnostics: Vec<Diagnostic>,
}

/// Every file of a policies directory and its problems.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// Policies first (by name), then `sla.toml`, then `ladders.toml`.
    pub files: Vec<CheckedFile>,
    /// Problems tied to no single file (the directory cannot be read).
    pub other: Vec<Diagnostic>,
    /// The set's version, when it would load.
    pub version: Option<String>,
}

impl CheckReport {
    /// Whether a server would load this set.
    pub fn ok(&self) -> bool {
        self.other.is_empty() && self.files.iter().all(|f| f.diagnostics.is_empty())
    }

    /// Every problem, file by file.
    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.other
            .iter()
            .chain(self.files.iter().flat_map(|f| &f.diagnostics))
    }

    fn data_file(&self, kind: FileKind) -> Option<&CheckedFile> {
        self.files.iter().find(|f| f.kind == kind)
    }
}

fn errors(n: usize) -> String {
    format!("{n} error{}", if n == 1 { "" } else { "s" })
}

impl fmt::Display for CheckReport {
    /// One line: `policies: 8 ok; sla.toml: ok; ladders.toml: 1 error`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let policies: Vec<&CheckedFile> = self
            .files
            .iter()
            .filter(|c| c.kind == FileKind::Policy)
            .collect();
        let broken: Vec<&&CheckedFile> = policies
            .iter()
            .filter(|c| !c.diagnostics.is_empty())
            .collect();
        let ok = policies.len() - broken.len();
        write!(f, "policies: {ok} ok")?;
        if !broken.is_empty() {
            let n: usize = broken.iter().map(|c| c.diagnostics.len()).sum();
            write!(f, ", {} with {}", broken.len(), errors(n))?;
        }
        for (kind, name) in [
            (FileKind::Sla, "sla.toml"),
            (FileKind::Ladders, "ladders.toml"),
        ] {
            match self.data_file(kind) {
                None => write!(f, "; {name}: none")?,
                Some(c) if c.diagnostics.is_empty() => write!(f, "; {name}: ok")?,
                Some(c) => write!(f, "; {name}: {}", errors(c.diagnostics.len()))?,
            }
        }
        // Optional, so named only when there is one.
        match self.data_file(FileKind::Notify) {
            None => {}
            Some(c) if c.diagnostics.is_empty() => write!(f, "; notify.toml: ok")?,
            Some(c) => write!(f, "; notify.toml: {}", errors(c.diagnostics.len()))?,
        }
        if !self.other.is_empty() {
            write!(f, "; {}", errors(self.other.len()))?;
        }
        Ok(())
    }
}

/// Check every file under `dir` with `engine` (and its limits).
pub fn check(engine: &Arc<PolicyEngine>, dir: impl AsRef<Path>) -> CheckReport {
    let found = match load::read_dir(dir.as_ref()) {
        Ok(f) => f,
        Err(e) => {
            return CheckReport {
                files: Vec::new(),
                other: e.diagnostics,
                version: None,
            };
        }
    };
    let mut files: Vec<(String, CheckedFile)> = found
        .iter()
        .map(|f| {
            let kind = match f.name.as_str() {
                "sla.toml" => FileKind::Sla,
                "ladders.toml" => FileKind::Ladders,
                load::NOTIFY_FILE => FileKind::Notify,
                _ => FileKind::Policy,
            };
            let checked = CheckedFile {
                name: f.name.clone(),
                kind,
                diagnostics: Vec::new(),
            };
            (f.file.clone(), checked)
        })
        .collect();
    files.sort_by(|(_, a), (_, b)| {
        let rank = |k: FileKind| k as u8;
        (rank(a.kind), &a.name).cmp(&(rank(b.kind), &b.name))
    });
    let mut other = Vec::new();
    let version = match PolicySet::build(engine, found) {
        Ok(set) => Some(set.version().to_owned()),
        Err(e) => {
            for d in e.diagnostics {
                match files.iter_mut().find(|(shown, _)| *shown == d.file) {
                    Some((_, f)) => f.diagnostics.push(d),
                    None => other.push(d),
                }
            }
            None
        }
    };
    CheckReport {
        files: files.into_iter().map(|(_, f)| f).collect(),
        other,
        version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn every_broken_file_is_reported_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "good.rhai", "const ON = [\"ticket.created\"];\n");
        write(
            d,
            "bad.rhai",
            "const ON = [\"ticket.created\"];\nescalate(2, \n",
        );
        write(d, "sla.toml", "[calendars.office\n");
        write(d, "ladders.toml", "[ladders.oncall]\nbogus = 1\n");
        let r = check(&PolicyEngine::shared_default(), d);
        assert!(!r.ok());
        let files: Vec<&str> = r.diagnostics().map(|x| x.file.as_str()).collect();
        for name in ["bad.rhai", "sla.toml", "ladders.toml"] {
            assert!(
                files.iter().any(|f| f.ends_with(name)),
                "{name} reported: {files:?}"
            );
        }
        assert!(r.diagnostics().all(|x| x.line.is_some()), "{r:?}");
        assert_eq!(
            r.to_string(),
            "policies: 1 ok, 1 with 1 error; sla.toml: 1 error; ladders.toml: 1 error"
        );
    }

    #[test]
    fn a_clean_directory_says_what_it_checked() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.rhai", "const ON = [\"ticket.created\"];\n");
        let r = check(&PolicyEngine::shared_default(), dir.path());
        assert!(r.ok(), "{r:?}");
        assert!(r.version.is_some());
        assert_eq!(
            r.to_string(),
            "policies: 1 ok; sla.toml: none; ladders.toml: none"
        );
    }

    #[test]
    fn notify_toml_is_checked_by_the_engines_check_and_versioned() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "a.rhai", "const ON = [\"ticket.created\"];\n");
        let before = check(&PolicyEngine::shared_default(), d).version;
        write(d, "notify.toml", "[targets.x]\nkind = 1\n");
        let check_fn: Arc<crate::NotifyCheck> = Arc::new(|text: &str, _books| {
            if text.contains("kind = 1") {
                Err(escalier_core::calendar::ConfigError {
                    code: escalier_core::calendar::ConfigErrorCode::WrongType,
                    key: "targets.x.kind".into(),
                    message: "expected a string".into(),
                    line: 2,
                    column: 8,
                })
            } else {
                Ok(())
            }
        });
        let engine =
            Arc::new(PolicyEngine::new(crate::PolicyLimits::default()).with_notify_check(check_fn));
        let r = check(&engine, d);
        assert!(!r.ok());
        let diag = r.diagnostics().next().unwrap();
        assert!(diag.file.ends_with("notify.toml"), "{diag:?}");
        assert_eq!(diag.line, Some(2));
        assert_eq!(
            r.to_string(),
            "policies: 1 ok; sla.toml: none; ladders.toml: none; notify.toml: 1 error"
        );
        write(d, "notify.toml", "[targets.x]\nkind = \"slack\"\n");
        let r = check(&engine, d);
        assert!(r.ok(), "{r:?}");
        assert!(r.to_string().ends_with("; notify.toml: ok"), "{r}");
        assert_ne!(r.version, before, "notify.toml is part of the version");
    }
}
