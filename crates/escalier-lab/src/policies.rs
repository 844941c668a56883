//! A policy set as the lab runs it: the compiled [`PolicySet`] (with the
//! SLA and ladder files beside it) plus the texts it was built from, so
//! that what it does can be traced back to a file and line.
//!
//! Loading reads the directory the way the server does (every `*.rhai` at
//! any depth, `sla.toml` and `ladders.toml` at the top, names starting
//! with `.` skipped) and compiles it with the same engine, all or nothing.
//! A test may add policies of its own and point at other SLA or ladder
//! files; those replace or join the directory's for that test only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use escalier_core::Record;
use escalier_core::timers::Books;
use escalier_policy::{Diagnostic, LoadError, PolicyEngine, PolicySet};

use crate::locate::{self, Location};

/// Why a policy set could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoliciesError {
    /// The directory, or a file given explicitly, could not be read.
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    /// The set does not compile; every problem, with file:line:col.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// What to load besides (or instead of) the directory's own files.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// More policies: (name, source, where the source is shown to come
    /// from). Names end in `.rhai`.
    pub policies: Vec<(String, String, String)>,
    /// Another `sla.toml` to use instead of the directory's.
    pub sla: Option<PathBuf>,
    /// Another `ladders.toml` to use instead of the directory's.
    pub ladders: Option<PathBuf>,
}

impl Extras {
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty() && self.sla.is_none() && self.ladders.is_none()
    }
}

/// One text the set was built from.
#[derive(Debug, Clone)]
struct Text {
    /// As shown to people: `policies/escalation/vip.rhai`.
    file: String,
    text: Arc<str>,
}

/// A compiled policy set and the texts behind it.
pub struct Policies {
    set: Arc<PolicySet>,
    dir: PathBuf,
    /// Policy name → its file and source.
    sources: BTreeMap<String, Text>,
    sla: Option<Text>,
    ladders: Option<Text>,
}

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policies")
            .field("dir", &self.dir)
            .field("version", &self.set.version())
            .finish_non_exhaustive()
    }
}

impl Policies {
    /// Load the policies directory `dir` with the default engine.
    pub fn load(dir: &Path) -> Result<Policies, PoliciesError> {
        Self::load_with(&PolicyEngine::shared_default(), dir, &Extras::default())
    }

    /// Load `dir` with `engine` (its limits), plus `extras`.
    pub fn load_with(
        engine: &Arc<PolicyEngine>,
        dir: &Path,
        extras: &Extras,
    ) -> Result<Policies, PoliciesError> {
        let mut files = read_dir(dir)?;
        let mut sla = files.remove("sla.toml");
        let mut ladders = files.remove("ladders.toml");
        if let Some(path) = &extras.sla {
            sla = Some(read_text(path)?);
        }
        if let Some(path) = &extras.ladders {
            ladders = Some(read_text(path)?);
        }
        for (name, source, file) in &extras.policies {
            files.insert(
                name.clone(),
                Text {
                    file: file.clone(),
                    text: Arc::from(source.as_str()),
                },
            );
        }
        let sources = files
            .iter()
            .map(|(name, t)| (name.clone(), t.text.clone()))
            .chain(sla.iter().map(|t| ("sla.toml".to_owned(), t.text.clone())))
            .chain(
                ladders
                    .iter()
                    .map(|t| ("ladders.toml".to_owned(), t.text.clone())),
            );
        let set = PolicySet::from_sources_with(engine, sources).map_err(|mut e| {
            // from_sources names files by policy name; show the real paths.
            for d in &mut e.diagnostics {
                d.file = display_name(&d.file, &files, sla.as_ref(), ladders.as_ref());
            }
            e
        })?;
        Ok(Policies {
            set: Arc::new(set),
            dir: dir.to_owned(),
            sources: files,
            sla,
            ladders,
        })
    }

    pub fn set(&self) -> &Arc<PolicySet> {
        &self.set
    }

    /// The SLA policies, calendars and ladders loaded with the set.
    pub fn books(&self) -> &Arc<Books> {
        self.set.books()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a policy name was read from.
    pub fn file_of(&self, policy: &str) -> Option<&str> {
        self.sources.get(policy).map(|t| t.file.as_str())
    }

    /// Where `record` came from, if a policy, `sla.toml` or `ladders.toml`
    /// produced it. `context` is the records of the same input before it
    /// (a ladder level's actions are located through the
    /// `ladder.level_reached` that precedes them).
    pub fn locate(&self, record: &Record, context: &[Record]) -> Option<Location> {
        let texts = locate::Texts {
            policy: &|name: &str| self.sources.get(name).map(|t| (t.file.as_str(), &*t.text)),
            sla: self.sla.as_ref().map(|t| (t.file.as_str(), &*t.text)),
            ladders: self.ladders.as_ref().map(|t| (t.file.as_str(), &*t.text)),
        };
        locate::locate(record, context, &texts)
    }
}

fn display_name(
    name: &str,
    files: &BTreeMap<String, Text>,
    sla: Option<&Text>,
    ladders: Option<&Text>,
) -> String {
    match name {
        "sla.toml" => sla.map(|t| t.file.clone()),
        "ladders.toml" => ladders.map(|t| t.file.clone()),
        n => files.get(n).map(|t| t.file.clone()),
    }
    .unwrap_or_else(|| name.to_owned())
}

fn read_text(path: &Path) -> Result<Text, PoliciesError> {
    let text = std::fs::read_to_string(path).map_err(|e| PoliciesError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(Text {
        file: shown(path),
        text: Arc::from(text),
    })
}

/// A path as people read it: `policies/vip.rhai`, not `./policies/vip.rhai`.
fn shown(path: &Path) -> String {
    let s = path.display().to_string();
    match s.strip_prefix("./") {
        Some(rest) => rest.to_owned(),
        None => s,
    }
}

/// Every policy file under `dir` and the data files at its top, by name.
/// A file that is not UTF-8 is reported the way the server reports it.
fn read_dir(dir: &Path) -> Result<BTreeMap<String, Text>, PoliciesError> {
    let mut out = BTreeMap::new();
    let mut pending: Vec<(PathBuf, String)> = vec![(dir.to_owned(), String::new())];
    while let Some((path, rel)) = pending.pop() {
        let entries = std::fs::read_dir(&path).map_err(|e| PoliciesError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| PoliciesError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let fname = entry.file_name().to_string_lossy().into_owned();
            if fname.starts_with('.') {
                continue;
            }
            let name = if rel.is_empty() {
                fname.clone()
            } else {
                format!("{rel}/{fname}")
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push((entry.path(), name));
                continue;
            }
            let data = rel.is_empty()
                && (fname == "sla.toml" || fname == "ladders.toml" || fname == "notify.toml");
            if !(fname.ends_with(".rhai") || data) || !entry.path().is_file() {
                continue;
            }
            match std::fs::read(entry.path()) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => {
                        out.insert(
                            name,
                            Text {
                                file: shown(&entry.path()),
                                text: Arc::from(text),
                            },
                        );
                    }
                    // The server's loader words this one best (line, column, hint).
                    Err(_) => return Err(canonical_error(dir)),
                },
                Err(e) => {
                    return Err(PoliciesError::Read {
                        path: entry.path().display().to_string(),
                        message: e.to_string(),
                    });
                }
            }
        }
    }
    Ok(out)
}

fn canonical_error(dir: &Path) -> PoliciesError {
    match PolicySet::load_dir(dir) {
        Err(e) => PoliciesError::Load(e),
        Ok(_) => PoliciesError::Load(LoadError {
            diagnostics: vec![Diagnostic {
                file: dir.display().to_string(),
                line: None,
                column: None,
                code: escalier_policy::Code::InvalidUtf8,
                message: "a file is not UTF-8 text".into(),
                hint: None,
            }],
        }),
    }
}
