//! Helpers: find built components, make plugin directories, run records
//! through the real processor (`escalier_core::process`) with a plugin set.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use escalier_core::action::{Action, Escalate, Notify, RequireApproval, RequireChecklist};
use escalier_core::event::{Event, Origin};
use escalier_core::process::{self, Limits, Processed};
use escalier_core::timers::Books;
use escalier_core::{
    AuthorKind, EventKind, Producer, Reaction, Reactor, Record, Source, Ticket, Tier, Timestamp,
    reduce,
};
use escalier_plugin::{AdaptError, BreakerConfig, HostConfig, PluginRegistry, PluginSet, Secrets};
use proptest::prelude::{ProptestConfig, Strategy, any, prop};
use proptest::test_runner::RngSeed;
use serde_json::Value;

/// `target/` of the repository (or `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

/// A built plugin directory: `target/plugins/<name>` or `target/plugin-fixtures/<name>`.
pub fn built(kind: &str, name: &str) -> PathBuf {
    let dir = target_dir().join(kind).join(name);
    assert!(
        dir.join("plugin.toml").is_file(),
        "{} is missing: build the plugins first with `scripts/build-plugins` (from the repository root)",
        dir.display()
    );
    dir
}

pub fn example(name: &str) -> PathBuf {
    built("plugins", name)
}

pub fn fixture(name: &str) -> PathBuf {
    built("plugin-fixtures", name)
}

/// Copy a built plugin into `root/<as_dir>`, optionally with another manifest.
///
/// The shipped manifests' time limits (20 to 50 ms) are generous for a
/// release host but not for a debug build running tests in parallel on two
/// cores, so they are raised here; the containment tests set their own.
/// Examples that need configuration ship disabled (`enabled = false`, a
/// `disabled_reason`); the tests configure them, so they are enabled here.
pub fn install(root: &Path, from: &Path, as_dir: &str, manifest: Option<&str>) {
    let dest = root.join(as_dir);
    std::fs::create_dir_all(&dest).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dest.join(entry.file_name())).unwrap();
    }
    let path = dest.join("plugin.toml");
    let text = match manifest {
        Some(m) => m.to_owned(),
        None => std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("enabled =") && !l.starts_with("disabled_reason ="))
            .map(|l| {
                if l.starts_with("time_ms = ") {
                    "time_ms = 5000"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
    };
    std::fs::write(path, text).unwrap();
}

pub struct Host {
    pub dir: tempfile::TempDir,
    pub registry: Arc<PluginRegistry>,
}

impl Host {
    pub fn set(&self) -> Arc<PluginSet> {
        self.registry.current()
    }
}

/// Compiled components shared by all test runs: each component is
/// compiled once (slow in a debug build), then mapped.
pub fn test_cache() -> PathBuf {
    target_dir().join("plugin-test-cache")
}

pub fn config(dir: &Path) -> HostConfig {
    let mut c = HostConfig::new(dir);
    c.cache_dir = Some(test_cache());
    c.breaker = BreakerConfig {
        failures: 3,
        cooldown: Duration::from_secs(60),
    };
    c
}

/// A registry over a fresh directory holding `plugins` (source dir, dir
/// name, manifest override).
pub fn host_with(plugins: &[(&Path, &str, Option<&str>)], secrets: Secrets) -> Host {
    let dir = tempfile::tempdir().unwrap();
    for (from, name, manifest) in plugins {
        install(dir.path(), from, name, *manifest);
    }
    let mut c = config(dir.path());
    c.secrets = secrets;
    let (registry, report) = PluginRegistry::open(c).unwrap();
    assert!(
        report.failed.is_empty(),
        "plugins failed to load: {:#?}",
        report.failed
    );
    Host { dir, registry }
}

pub fn host(plugins: &[(&Path, &str, Option<&str>)]) -> Host {
    host_with(plugins, Secrets::none())
}

/// 2026-03-02T09:00Z plus `minutes`.
pub fn at(minutes: i64) -> Timestamp {
    "2026-03-02T09:00:00Z"
        .parse::<Timestamp>()
        .unwrap()
        .checked_add(jiff::SignedDuration::from_mins(minutes))
        .unwrap()
}

/// A manifest for the hostile fixture under another name; `extra` is
/// appended (capabilities, limits, config sections).
pub fn hostile_manifest(name: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\nversion = \"0.1.0\"\ncomponent = \"hostile.wasm\"\nsubscribe = [\"comment.added\"]\n{extra}\n"
    )
}

/// An input record as the writer would commit it.
pub fn input(seq: u64, ty: &str, ticket: &str, data: &str, recorded_at: Timestamp) -> Arc<Record> {
    let json = format!(
        r#"{{"id":"ev-{seq}","type":"{ty}","ticket_id":"{ticket}","occurred_at":"{recorded_at}","data":{data}}}"#
    );
    let event =
        Event::decode_one(&json, Origin::Internal).unwrap_or_else(|e| panic!("{json}: {e}"));
    Arc::new(Record {
        seq,
        index: 0,
        recorded_at,
        source: Source::Webhook { delivery: None },
        event,
    })
}

pub const CREATED: &str = r#"{"subject":"Export to CSV fails","description":"Since Monday the export button does nothing","requester":{"id":"c-42","plan":"enterprise"},"channel":"email"}"#;

pub fn comment(kind: &str, body: &str) -> String {
    serde_json::json!({"author": {"kind": kind}, "body": body}).to_string()
}

/// Stands in for the policy set: an agent's comment `escalate <tier>`,
/// `approve <kind>`, `checklist <name>` or `notify <channel> <message>`
/// becomes that action, produced by policy `test.rhai`.
pub struct Policy;

impl Reactor for Policy {
    fn wants(&self, event_type: &str) -> bool {
        event_type == "comment.added"
    }

    fn react(&self, _: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        let EventKind::CommentAdded(c) = &record.event.kind else {
            return;
        };
        if c.author.kind != AuthorKind::Agent {
            return;
        }
        let mut words = c.body.splitn(3, ' ');
        let action = match (words.next(), words.next(), words.next()) {
            (Some("escalate"), Some(t), _) => Action::Escalate(Escalate {
                tier: Tier::new(t.parse().unwrap()).unwrap(),
                reason: "policy says so".into(),
            }),
            (Some("approve"), Some(kind), _) => Action::RequireApproval(RequireApproval {
                kind: kind.into(),
                reason: "refund above the frontline limit".into(),
            }),
            (Some("checklist"), Some(name), _) => {
                Action::RequireChecklist(RequireChecklist { name: name.into() })
            }
            (Some("notify"), Some(channel), message) => Action::Notify(Notify {
                channel: channel.into(),
                message: message.unwrap_or_default().into(),
            }),
            _ => return,
        };
        out.push(Reaction {
            producer: Producer::Policy {
                policy: "test.rhai".into(),
                hash: "sha256:0000000000000000".into(),
            },
            kind: EventKind::Action(action),
        });
    }
}

/// Feeds records through the real processor, keeping the ticket.
pub struct Run {
    pub set: Arc<PluginSet>,
    pub ticket: Option<Ticket>,
    pub seq: u64,
    pub log: Vec<Record>,
    policy: bool,
}

impl Run {
    pub fn new(set: Arc<PluginSet>) -> Run {
        Run {
            set,
            ticket: None,
            seq: 0,
            log: Vec::new(),
            policy: false,
        }
    }

    /// With [`Policy`] reacting before the plugins, as the processor orders them.
    pub fn with_policy(set: Arc<PluginSet>) -> Run {
        Run {
            policy: true,
            ..Run::new(set)
        }
    }

    /// Process one input; returns what it derived.
    pub fn send(&mut self, ty: &str, data: &str, recorded_at: Timestamp) -> Vec<Record> {
        self.seq += 1;
        let rec = input(self.seq, ty, "T-1", data, recorded_at);
        let policy = Policy;
        // As the processor is wired: policies first, then one reactor per plugin.
        let mut reactors: Vec<&dyn Reactor> = Vec::new();
        if self.policy {
            reactors.push(&policy);
        }
        reactors.extend(self.set.reactors());
        let Processed { ticket, derived } = process::process(
            self.ticket.take(),
            &rec,
            &reactors,
            &Limits::default(),
            &Books::empty(),
        )
        .unwrap();
        self.ticket = Some(ticket);
        self.log.push((*rec).clone());
        self.log.extend(derived.iter().cloned());
        derived
    }

    pub fn ticket(&self) -> &Ticket {
        self.ticket.as_ref().unwrap()
    }

    pub fn create(&mut self) -> Vec<Record> {
        self.send("ticket.created", CREATED, at(0))
    }
}

/// `type` and compact data of each record, for assertions.
pub fn summary(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            let v = serde_json::to_value(&r.event).unwrap();
            format!("{} {}", r.event.type_name(), v["data"])
        })
        .collect()
}

pub fn of_type<'a>(records: &'a [Record], ty: &str) -> Vec<&'a Record> {
    records
        .iter()
        .filter(|r| r.event.type_name() == ty)
        .collect()
}

pub fn data(r: &Record) -> serde_json::Value {
    serde_json::to_value(&r.event).unwrap()["data"].clone()
}

/// Apply a bare ticket.created, for tests that call the reactor directly.
pub fn new_ticket() -> Ticket {
    reduce::apply(None, &input(1, "ticket.created", "T-1", CREATED, at(0))).unwrap()
}

// Sweep and fuzz harness shared by the adapter tests (jira, zammad).

/// Proptest settings: `cases` cases from the fixed `seed` the test command
/// uses, unless `PROPTEST_RNG_SEED` picks another.
pub fn proptest_config(seed: u64, cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases,
        rng_seed: match default.rng_seed {
            RngSeed::Random => RngSeed::Fixed(seed),
            chosen => chosen,
        },
        // The fixed seed reproduces a failure; nothing is written beside
        // the sources.
        failure_persistence: None,
        ..default
    }
}

/// Every node of `v` as a JSON pointer.
pub fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Replace or add the node at `ptr`, or remove it (`None`).
pub fn edit(v: &mut Value, ptr: &str, replacement: Option<Value>) {
    let Some((parent, key)) = ptr.rsplit_once('/') else {
        if let Some(r) = replacement {
            *v = r;
        }
        return;
    };
    let key = key.replace("~1", "/").replace("~0", "~");
    match (v.pointer_mut(parent), replacement) {
        (Some(Value::Object(m)), Some(r)) => {
            m.insert(key, r);
        }
        (Some(Value::Object(m)), None) => {
            m.remove(&key);
        }
        (Some(Value::Array(a)), r) => {
            if let Ok(i) = key.parse::<usize>()
                && i < a.len()
            {
                match r {
                    Some(r) => a[i] = r,
                    None => {
                        a.remove(i);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Values at or past Escalier's limits (and `None`: the field removed).
pub fn edge_values() -> Vec<Option<Value>> {
    vec![
        None,
        Some(Value::Null),
        Some("".into()),
        Some(" \t\n\u{a0}".into()),
        Some("\u{0}\u{7f}\u{2028}".into()),
        Some("é".repeat(40_000).into()),
        Some("..".into()),
        Some("a/b#c d".into()),
        Some(serde_json::json!({})),
        Some(serde_json::json!([""])),
        Some(serde_json::json!(-1)),
        Some(serde_json::json!(u64::MAX)),
        Some(serde_json::json!(1e300)),
    ]
}

/// A signed delivery's outcome: valid Escalier events (the host checks
/// each one and answers `InvalidOutput` otherwise) whose ticket ids start
/// with `prefix` and event ids with `prefix` + `delivery`, or "not
/// understood".
pub fn signed_outcome(
    result: Result<Vec<escalier_core::Event>, AdaptError>,
    prefix: &str,
    delivery: &str,
) -> Result<(), String> {
    match result {
        Ok(events) => {
            for e in &events {
                if !e.ticket_id.as_str().starts_with(prefix)
                    || !e.id.as_str().starts_with(&format!("{prefix}{delivery}"))
                {
                    return Err(format!("unexpected ids: {e}"));
                }
            }
            Ok(())
        }
        Err(AdaptError::NotUnderstood { .. }) => Ok(()),
        Err(e) => Err(format!("the adapter failed on a signed payload: {e}")),
    }
}

/// Every field in `read`, in every fixture, replaced in turn by each of
/// [`edge_values`] (or removed), checked with `outcome`: the edge cases
/// random edits rarely reach, every one every run.
pub fn every_field_survives(
    fixtures: &[Value],
    names: &[&str],
    read: &[&str],
    outcome: impl Fn(&[u8]) -> Result<(), String>,
) {
    let edges = edge_values();
    for (name, fixture) in names.iter().zip(fixtures) {
        for ptr in read {
            for value in &edges {
                let mut v = fixture.clone();
                edit(&mut v, ptr, value.clone());
                if let Err(e) = outcome(v.to_string().as_bytes()) {
                    let shown = value.as_ref().map(|v| {
                        let t = v.to_string();
                        t.chars().take(40).collect::<String>()
                    });
                    panic!("{name}, {ptr} = {shown:?}: {e}");
                }
            }
        }
    }
}

/// A fixture (from `fixtures`) with up to 8 edits, each replacing or
/// removing a node: half of them a field the adapter reads (in `fields`),
/// the rest any node of the payload; replacements drawn from `value`.
pub fn altered_payloads(
    fixtures: &'static [Value],
    fields: &'static [&'static str],
    value: impl Strategy<Value = Option<Value>>,
) -> impl Strategy<Value = Vec<u8>> {
    (
        0..fixtures.len(),
        prop::collection::vec((any::<bool>(), any::<prop::sample::Index>(), value), 0..8),
    )
        .prop_map(|(seed, edits)| {
            let mut v = fixtures[seed].clone();
            for (read, at, replacement) in edits {
                // Half the edits hit a field the adapter reads; the rest
                // any node of the payload.
                let ptr = if read {
                    // Among those whose parent this payload has.
                    let here: Vec<&str> = fields
                        .iter()
                        .copied()
                        .filter(|p| {
                            p.rsplit_once('/')
                                .is_some_and(|(up, _)| v.pointer(up).is_some())
                        })
                        .collect();
                    at.get(&here).to_string()
                } else {
                    let mut all = Vec::new();
                    pointers(&v, String::new(), &mut all);
                    at.get(&all).clone()
                };
                edit(&mut v, &ptr, replacement);
            }
            v.to_string().into_bytes()
        })
}

/// A fixture payload: `tests/fixtures/<tool>/<name>`, byte for byte.
pub fn fixture_payload(tool: &str, name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(tool)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Lower-case hex, as the tools write their HMAC signatures.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
