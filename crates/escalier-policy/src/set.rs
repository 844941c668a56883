//! `PolicySet`: every policy file of a directory, compiled, with its
//! subscriptions indexed; the `Reactor` the dispatcher runs.
//!
//! A set is immutable once built. Reloading builds a new set and swaps it
//! in whole ([`crate::registry`]), so an event is always handled by exactly
//! one version of the rules, and that version is what actions record.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use escalier_core::timers::Books;
use escalier_core::{Producer, Reaction, Reactor, Record, Ticket};
use rhai::{AST, ImmutableString};
use sha2::{Digest, Sha256};

use crate::compile::{self, Compiled};
use crate::diagnostic::{Code, Diagnostic};
use crate::engine::PolicyEngine;
use crate::error::LoadError;
use crate::load::{self, SourceFile};

/// One compiled policy file.
pub struct Policy {
    name: String,
    name_rhai: ImmutableString,
    hash: String,
    on: Vec<String>,
    types: BTreeSet<&'static str>,
    ast: AST,
    // Registered once here so the hot path records without building labels.
    eval_seconds: metrics::Histogram,
    eval_max: EvalMax,
}

/// The longest single run of a policy (by name) since the process started,
/// kept across reloads, and the gauge that shows it
/// (`escalier_policy_eval_max_seconds`): a histogram's top bucket hides how
/// far past it a run went.
#[derive(Clone)]
struct EvalMax {
    nanos: Arc<AtomicU64>,
    gauge: metrics::Gauge,
}

impl EvalMax {
    fn for_policy(name: &str) -> Self {
        static BY_NAME: OnceLock<Mutex<HashMap<String, Arc<AtomicU64>>>> = OnceLock::new();
        let nanos = {
            let mut map = BY_NAME
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(name.to_owned()).or_default())
        };
        EvalMax {
            nanos,
            gauge: metrics::gauge!("escalier_policy_eval_max_seconds", "policy" => name.to_owned()),
        }
    }

    fn record(&self, took: Duration) {
        let n = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        if self.nanos.fetch_max(n, Ordering::Relaxed) < n {
            // Read back: of two racing new maxima, the last write shows the larger.
            let max = self.nanos.load(Ordering::Relaxed);
            self.gauge.set(Duration::from_nanos(max).as_secs_f64());
        }
    }

    fn get(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

impl Policy {
    /// Path relative to the policies directory, `/`-separated: `billing/refunds.rhai`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `sha256:` + the first 16 hex digits of the file's SHA-256.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The `ON` list as written (`"action.*"` stays a wildcard).
    pub fn on(&self) -> &[String] {
        &self.on
    }

    /// Every event type the policy runs on, wildcards resolved.
    pub fn event_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.types.iter().copied()
    }

    pub(crate) fn ast(&self) -> &AST {
        &self.ast
    }

    pub(crate) fn name_rhai(&self) -> &ImmutableString {
        &self.name_rhai
    }

    pub(crate) fn producer(&self) -> Producer {
        Producer::Policy {
            policy: self.name.clone(),
            hash: self.hash.clone(),
        }
    }

    pub(crate) fn record_eval(&self, took: Duration) {
        self.eval_seconds.record(took.as_secs_f64());
        self.eval_max.record(took);
    }

    /// The longest single run of a policy of this name since the process
    /// started (across reloads); also the `escalier_policy_eval_max_seconds` gauge.
    pub fn max_eval_time(&self) -> Duration {
        self.eval_max.get()
    }

    pub(crate) fn record_error(&self, code: &'static str) {
        metrics::counter!("escalier_policy_errors_total", "policy" => self.name.clone(), "code" => code).increment(1);
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

/// All policies of a directory, in name order.
pub struct PolicySet {
    engine: Arc<PolicyEngine>,
    policies: Vec<Policy>,
    /// Event type → indices of the policies that run on it, in set order.
    by_type: HashMap<&'static str, Box<[u32]>>,
    /// SLA policies, calendars and ladders from `sla.toml` / `ladders.toml`.
    books: Arc<Books>,
    /// Every file of the set, by name: what the version is a hash of, kept
    /// so the set can be stored and rebuilt (pinned versions).
    sources: Arc<Vec<(String, String)>>,
    version: String,
}

impl PolicySet {
    /// Load every `*.rhai` under `dir`, with the process-wide default engine.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<PolicySet, LoadError> {
        Self::load_dir_with(&PolicyEngine::shared_default(), dir)
    }

    /// Load every `*.rhai` under `dir` with `engine` (and its limits).
    pub fn load_dir_with(
        engine: &Arc<PolicyEngine>,
        dir: impl AsRef<Path>,
    ) -> Result<PolicySet, LoadError> {
        let files = load::read_dir(dir.as_ref())?;
        Self::build(engine, files)
    }

    /// Build a set from in-memory sources: `(name, source)` pairs. Names
    /// play the role of file paths (`vip.rhai`); order is by name, as on disk.
    pub fn from_sources<N, S>(
        sources: impl IntoIterator<Item = (N, S)>,
    ) -> Result<PolicySet, LoadError>
    where
        N: Into<String>,
        S: AsRef<str>,
    {
        Self::from_sources_with(&PolicyEngine::shared_default(), sources)
    }

    /// [`PolicySet::from_sources`] with a given engine.
    pub fn from_sources_with<N, S>(
        engine: &Arc<PolicyEngine>,
        sources: impl IntoIterator<Item = (N, S)>,
    ) -> Result<PolicySet, LoadError>
    where
        N: Into<String>,
        S: AsRef<str>,
    {
        let files = sources
            .into_iter()
            .map(|(name, src)| {
                let name = name.into();
                SourceFile {
                    file: name.clone(),
                    name,
                    bytes: Ok(src.as_ref().as_bytes().to_vec()),
                }
            })
            .collect();
        Self::build(engine, files)
    }

    /// A set with no policies: reacts to nothing.
    pub fn empty(engine: &Arc<PolicyEngine>) -> PolicySet {
        PolicySet {
            engine: Arc::clone(engine),
            policies: Vec::new(),
            by_type: HashMap::new(),
            books: Arc::new(Books::empty()),
            sources: Arc::new(Vec::new()),
            version: set_hash(std::iter::empty()),
        }
    }

    pub(crate) fn build(
        engine: &Arc<PolicyEngine>,
        mut files: Vec<SourceFile>,
    ) -> Result<PolicySet, LoadError> {
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let sources: Vec<(String, String)> = files
            .iter()
            .filter_map(|f| {
                let text = std::str::from_utf8(f.bytes.as_ref().ok()?).ok()?;
                Some((f.name.clone(), text.to_owned()))
            })
            .collect();
        let mut diagnostics = Vec::new();
        let (data, files): (Vec<SourceFile>, Vec<SourceFile>) = files
            .into_iter()
            .partition(|f| load::DATA_FILES.contains(&f.name.as_str()));
        let books = match data_files(&data) {
            Ok(b) => b,
            Err(d) => {
                diagnostics.extend(d);
                Books::empty()
            }
        };
        let notify = data.iter().find(|f| f.name == load::NOTIFY_FILE);
        if let Some(f) = notify
            && diagnostics.is_empty()
        {
            diagnostics.extend(notify_file(engine, f, &books));
        }
        let notify_entry = notify
            .and_then(|f| f.bytes.as_ref().ok())
            .map(|b| content_hash(b));
        let mut policies = Vec::with_capacity(files.len());
        for (i, f) in files.iter().enumerate() {
            if i > 0 && files[i - 1].name == f.name {
                diagnostics.push(Diagnostic::new(
                    &f.file,
                    None,
                    Code::DuplicatePolicy,
                    format!("two policies are named `{}`", f.name),
                ));
                continue;
            }
            let bytes = match &f.bytes {
                Ok(b) => b,
                Err(d) => {
                    diagnostics.push(d.clone());
                    continue;
                }
            };
            let source = match std::str::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => {
                    diagnostics.push(load::utf8_diagnostic(&f.file, bytes, &e));
                    continue;
                }
            };
            match compile::compile(engine, &f.name, &f.file, source) {
                Ok(c) => policies.push(Policy::new(&f.name, content_hash(bytes), c)),
                Err(d) => diagnostics.extend(d),
            }
        }
        if !diagnostics.is_empty() {
            return Err(LoadError { diagnostics });
        }
        let mut by_type: HashMap<&'static str, Vec<u32>> = HashMap::new();
        for (i, p) in policies.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            for t in &p.types {
                by_type.entry(t).or_default().push(i);
            }
        }
        let books_entry = ("(sla and ladders)", books.version.as_str());
        let has_books = data.iter().any(|f| f.name != load::NOTIFY_FILE);
        let version = set_hash(
            policies
                .iter()
                .map(|p| (p.name.as_str(), p.hash.as_str()))
                .chain(has_books.then_some(books_entry))
                .chain(notify_entry.as_deref().map(|h| (load::NOTIFY_FILE, h))),
        );
        Ok(PolicySet {
            engine: Arc::clone(engine),
            policies,
            books: Arc::new(books),
            sources: Arc::new(sources),
            by_type: by_type
                .into_iter()
                .map(|(t, v)| (t, v.into_boxed_slice()))
                .collect(),
            version,
        })
    }

    /// The set's version: a hash over every policy's name and content hash.
    /// Every file of the set, `(name, text)`, in name order. Feeding them to
    /// [`PolicySet::from_sources_with`] rebuilds the same set (same version).
    pub fn sources(&self) -> &Arc<Vec<(String, String)>> {
        &self.sources
    }

    /// The SLA policies, calendars and ladders loaded with this set.
    pub fn books(&self) -> &Arc<Books> {
        &self.books
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name == name)
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    pub fn engine(&self) -> &Arc<PolicyEngine> {
        &self.engine
    }

    /// Names of the policies that run on `event_type`, in order.
    pub fn subscribers(&self, event_type: &str) -> impl Iterator<Item = &str> + '_ {
        self.by_type
            .get(event_type)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.policies.get(i as usize))
            .map(Policy::name)
    }
}

impl Policy {
    fn new(name: &str, hash: String, c: Compiled) -> Self {
        Policy {
            name: name.to_owned(),
            name_rhai: name.into(),
            hash,
            on: c.on,
            types: c.types,
            ast: c.ast,
            eval_seconds: metrics::histogram!("escalier_policy_eval_seconds", "policy" => name.to_owned()),
            eval_max: EvalMax::for_policy(name),
        }
    }
}

impl fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySet")
            .field("version", &self.version)
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

impl Reactor for PolicySet {
    fn wants(&self, event_type: &str) -> bool {
        self.by_type.contains_key(event_type)
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        if let Some(indices) = self.by_type.get(record.event.type_name()) {
            crate::eval::react(self, indices, ticket, record, out);
        }
    }
}

/// `sha256:` + 16 hex digits: enough to tell versions apart in a history,
/// short enough to read.
/// Parse `sla.toml` and `ladders.toml`, reporting errors with file:line:col.
fn data_files(files: &[SourceFile]) -> Result<Books, Vec<Diagnostic>> {
    let mut texts: [Option<String>; 2] = [None, None];
    let mut diagnostics = Vec::new();
    for f in files {
        let slot = match f.name.as_str() {
            "sla.toml" => 0,
            "ladders.toml" => 1,
            _ => continue,
        };
        match &f.bytes {
            Ok(b) => match String::from_utf8(b.clone()) {
                Ok(t) => texts[slot] = Some(t),
                Err(e) => diagnostics.push(load::utf8_diagnostic(&f.file, b, &e.utf8_error())),
            },
            Err(d) => diagnostics.push(d.clone()),
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let diagnostic = |e: &escalier_core::timers::BooksError| {
        let name = e.file.as_str();
        let file = files
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.file.clone())
            .unwrap_or_else(|| name.to_owned());
        let at = (e.error.line > 0).then(|| {
            (
                u32::try_from(e.error.line).unwrap_or(u32::MAX),
                u32::try_from(e.error.column).unwrap_or(u32::MAX),
            )
        });
        let message = if e.error.key.is_empty() {
            e.error.message.clone()
        } else {
            format!("`{}`: {}", e.error.key, e.error.message)
        };
        Diagnostic::new(&file, at, Code::InvalidData, message)
    };
    Books::parse(texts[0].as_deref(), texts[1].as_deref()).map_err(|e| {
        let mut out = vec![diagnostic(&e)];
        // Parsing stops at a broken sla.toml: check ladders.toml on its own
        // too, so one run reports both. Its calendar names (defined in
        // sla.toml) cannot be judged then, so those errors are left out.
        if e.file == escalier_core::timers::BooksFile::Sla
            && let Err(l) = Books::parse(None, texts[1].as_deref())
            && l.error.code != escalier_core::calendar::ConfigErrorCode::UnknownName
        {
            out.push(diagnostic(&l));
        }
        out
    })
}

/// Check `notify.toml` with the engine's check, if it has one.
fn notify_file(engine: &PolicyEngine, f: &SourceFile, books: &Books) -> Vec<Diagnostic> {
    let bytes = match &f.bytes {
        Ok(b) => b,
        Err(d) => return vec![d.clone()],
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return vec![load::utf8_diagnostic(&f.file, bytes, &e)],
    };
    let Some(check) = &engine.notify_check else {
        return Vec::new();
    };
    match check(text, books) {
        Ok(()) => Vec::new(),
        Err(e) => {
            let at = (e.line > 0).then(|| {
                (
                    u32::try_from(e.line).unwrap_or(u32::MAX),
                    u32::try_from(e.column).unwrap_or(u32::MAX),
                )
            });
            let message = if e.key.is_empty() {
                e.message.clone()
            } else {
                format!("`{}`: {}", e.key, e.message)
            };
            vec![Diagnostic::new(&f.file, at, Code::InvalidData, message)]
        }
    }
}

pub(crate) fn content_hash(bytes: &[u8]) -> String {
    short(&Sha256::digest(bytes))
}

fn set_hash<'a>(policies: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut h = Sha256::new();
    for (name, hash) in policies {
        // NUL and newline cannot occur in names or hashes: no ambiguity.
        h.update(name.as_bytes());
        h.update([0]);
        h.update(hash.as_bytes());
        h.update(b"\n");
    }
    short(&h.finalize())
}

fn short(digest: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(7 + 16);
    s.push_str("sha256:");
    for b in &digest[..8] {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Every problem in the policies under `dir`, for `escalier check`. Empty
/// when the set would load.
pub fn check_dir(dir: impl AsRef<Path>) -> Vec<Diagnostic> {
    check_dir_with(&PolicyEngine::shared_default(), dir)
}

/// [`check_dir`] with a given engine.
pub fn check_dir_with(engine: &Arc<PolicyEngine>, dir: impl AsRef<Path>) -> Vec<Diagnostic> {
    match PolicySet::load_dir_with(engine, dir) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_sha256_prefixed_16_hex() {
        // sha256("") = e3b0c44298fc1c14...
        assert_eq!(content_hash(b""), "sha256:e3b0c44298fc1c14");
    }

    #[test]
    fn set_version_changes_with_any_name_or_hash() {
        let a = set_hash([("a.rhai", "sha256:1"), ("b.rhai", "sha256:2")].into_iter());
        let b = set_hash([("a.rhai", "sha256:1"), ("b.rhai", "sha256:3")].into_iter());
        let c = set_hash([("a.rhai", "sha256:1"), ("c.rhai", "sha256:2")].into_iter());
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            a,
            set_hash([("a.rhai", "sha256:1"), ("b.rhai", "sha256:2")].into_iter())
        );
    }

    #[test]
    fn the_longest_run_is_kept_across_runs_and_reloads() {
        let src = [("eval-max-test.rhai", "const ON = [\"ticket.created\"];\n")];
        let set = PolicySet::from_sources(src).unwrap();
        let p = set.get("eval-max-test.rhai").unwrap();
        p.record_eval(Duration::from_secs(3));
        p.record_eval(Duration::from_millis(1));
        assert_eq!(p.max_eval_time(), Duration::from_secs(3));

        let reloaded = PolicySet::from_sources(src).unwrap();
        let p = reloaded.get("eval-max-test.rhai").unwrap();
        assert_eq!(p.max_eval_time(), Duration::from_secs(3));
        p.record_eval(Duration::from_secs(5));
        assert_eq!(p.max_eval_time(), Duration::from_secs(5));
    }
}
