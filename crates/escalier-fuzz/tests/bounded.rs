//! Bounded fuzzing on stable Rust, part of the test command: each target
//! gets arbitrary bytes and mutations of valid inputs. `scripts/fuzz` runs
//! the same targets under libFuzzer for as long as you like, and these
//! tests with fresh seeds (`scripts/fuzz --proptest`).
//!
//! Runs are reproducible: every test draws its cases from a fixed seed
//! unless `PROPTEST_RNG_SEED` names another. A failure found either way is
//! saved in `bounded.proptest-regressions` (replayed first on every run)
//! and belongs in `regressions.rs` as a named test.

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};

/// The seed the test command uses.
const SEED: u64 = 0x00e5_ca1e_0f22;

/// `cases` cases from [`SEED`], or from `PROPTEST_RNG_SEED` when set.
fn config(cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases,
        rng_seed: match default.rng_seed {
            RngSeed::Random => RngSeed::Fixed(SEED),
            chosen => chosen,
        },
        // Beside this file (there is no lib.rs to put it parallel to).
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..default
    }
}

const EVENT: &str = r#"{"id":"e1","type":"ticket.created","ticket_id":"ZD-1","occurred_at":"2026-03-02T09:00:00Z","data":{"subject":"Refund","requester":{"id":"c1","email":"a@b.example","vip":true},"channel":"social_public","priority":"urgent","tags":["billing"],"fields":{"refund_amount":250}}}"#;
const POLICY: &str = "const ON = [\"ticket.created\"];\nif ticket.vip && ticket.tier < 2 { escalate(2, \"vip\"); }\n";

/// Valid text with a few bytes overwritten, inserted or removed.
fn mutated(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((0usize..seed.len(), any::<u8>(), 0u8..3), 0..6).prop_map(move |edits| {
        let mut b = seed.as_bytes().to_vec();
        for (at, byte, op) in edits {
            let at = at.min(b.len());
            match op {
                0 if at < b.len() => b[at] = byte,
                1 => b.insert(at, byte),
                _ if at < b.len() => {
                    b.remove(at);
                }
                _ => {}
            }
        }
        b
    })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..512)
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn event_json_any_bytes(b in bytes()) { escalier_fuzz::event_json(&b) }

    #[test]
    fn event_json_mutated(b in mutated(EVENT)) { escalier_fuzz::event_json(&b) }

    #[test]
    fn event_json_batches(b in prop::collection::vec(mutated(EVENT), 1..4)) {
        let mut body = b"[".to_vec();
        for (i, e) in b.iter().enumerate() {
            if i > 0 { body.push(b','); }
            body.extend_from_slice(e);
        }
        body.push(b']');
        escalier_fuzz::event_json(&body)
    }

    #[test]
    fn webhook_any_bytes(b in bytes()) { escalier_fuzz::webhook(&b) }
}

proptest! {
    // Compiling is slower; fewer cases.
    #![proptest_config(config(300))]

    #[test]
    fn policy_source_mutated(b in mutated(POLICY)) { escalier_fuzz::policy_source(&b) }

    #[test]
    fn policy_source_any_text(s in "\\PC{0,200}") { escalier_fuzz::policy_source(s.as_bytes()) }
}

const MANIFEST: &str = "name = \"notify-http\"\nversion = \"0.1.0\"\ncomponent = \"notify_http.wasm\"\nsubscribe = [\"action.notify\"]\n\n[capabilities]\nconfig = [\"targets\"]\nhttp = { allowed_hosts = [\"https://hooks.slack.com\"], signing_secret = \"notify_signing\" }\n\n[limits]\ntime_ms = 20\nmemory_mib = 16\n\n[config]\ntargets = { duty = { url = \"https://hooks.slack.com/services/T0/B0/x\", format = \"slack\" } }\n";

/// A write-back manifest: a credential the host adds (`auth_secrets`),
/// exact origins only.
const AUTH_MANIFEST: &str = "name = \"zendesk-writeback\"\nversion = \"0.1.0\"\ncomponent = \"zendesk_writeback.wasm\"\nsubscribe = [\"action.escalate\", \"action.note\"]\n\n[capabilities]\nconfig = [\"site\", \"email\"]\nsecrets = [\"other\"]\n\n[capabilities.http]\nallowed_hosts = [\"https://acme.zendesk.com\"]\nauth_secrets = [\"zendesk_api_token\"]\n";

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn plugin_manifest_mutated(b in mutated(MANIFEST)) { escalier_fuzz::plugin_manifest(&b) }

    #[test]
    fn plugin_manifest_with_auth_mutated(b in mutated(AUTH_MANIFEST)) { escalier_fuzz::plugin_manifest(&b) }

    #[test]
    fn plugin_manifest_any_text(s in "\\PC{0,300}") { escalier_fuzz::plugin_manifest(s.as_bytes()) }
}

mod adapters {
    //! Each shipped adapter component in the real host, fed deliveries
    //! shaped like its tool's (the fixtures of
    //! `crates/escalier-plugin/tests/fixtures/<tool>/`) with values
    //! replaced or removed anywhere in the tree, and arbitrary bytes;
    //! authenticated as the tool does (to reach the mapping), or forged,
    //! stale, tampered or with headers missing. [`Adapter::deliver`]
    //! checks the properties.

    use escalier_fuzz::{Adapter, Auth, Outcome, Tool};
    use proptest::prelude::*;
    use proptest::test_runner::TestRunner;
    use serde_json::Value;

    /// Deliveries per adapter (each runs the component in a fresh instance).
    const CASES: u32 = 300;

    macro_rules! fixtures {
        ($($tool:ident $dir:literal $kind:literal $file:literal),* $(,)?) => {
            &[$((Tool::$tool, $kind, $file, include_str!(concat!("../../escalier-plugin/tests/fixtures/", $dir, "/", $file)))),*]
        };
    }
    /// (tool, GitHub's event kind, file, text)
    const FIXTURES: &[(Tool, &str, &str, &str)] = fixtures![
        GitHub "github" "issues" "issues.opened.json",
        GitHub "github" "issues" "issues.edited.json",
        GitHub "github" "issues" "issues.closed.json",
        GitHub "github" "issues" "issues.reopened.json",
        GitHub "github" "issues" "issues.labeled.json",
        GitHub "github" "issues" "issues.assigned.json",
        GitHub "github" "issue_comment" "issue_comment.created.json",
        GitHub "github" "ping" "ping.json",
        Zendesk "zendesk" "" "ticket.created.json",
        Zendesk "zendesk" "" "ticket.agent_assignment_changed.json",
        Zendesk "zendesk" "" "ticket.brand_changed.json",
        Zendesk "zendesk" "" "ticket.comment_added.agent.json",
        Zendesk "zendesk" "" "ticket.comment_added.customer.json",
        Zendesk "zendesk" "" "ticket.comment_added.private.json",
        Zendesk "zendesk" "" "ticket.group_assignment_changed.json",
        Zendesk "zendesk" "" "ticket.priority_changed.json",
        Zendesk "zendesk" "" "ticket.status_changed.hold.json",
        Zendesk "zendesk" "" "ticket.status_changed.json",
        Zendesk "zendesk" "" "ticket.subject_changed.json",
        Zendesk "zendesk" "" "ticket.tags_changed.json",
        Zendesk "zendesk" "" "trigger.agent_comment.json",
        Zendesk "zendesk" "" "trigger.assignment_changed.json",
        Zendesk "zendesk" "" "trigger.satisfaction_rated.json",
        Zendesk "zendesk" "" "trigger.status_changed.json",
        Zendesk "zendesk" "" "trigger.ticket_created.json",
        Zendesk "zendesk" "" "trigger.unmapped.json",
        Zendesk "zendesk" "" "user.active_changed.json",
        Freshdesk "freshdesk" "" "ticket_created.json",
        Freshdesk "freshdesk" "" "agent_reply.json",
        Freshdesk "freshdesk" "" "assignment_changed.json",
        Freshdesk "freshdesk" "" "customer_reply.json",
        Freshdesk "freshdesk" "" "note_added.json",
        Freshdesk "freshdesk" "" "priority_changed.json",
        Freshdesk "freshdesk" "" "satisfaction_rated.json",
        Freshdesk "freshdesk" "" "status_changed.json",
        Freshdesk "freshdesk" "" "status_changed.resolved.json",
        Freshdesk "freshdesk" "" "status_changed.third_party.json",
        Freshdesk "freshdesk" "" "tags_changed.json",
        Freshdesk "freshdesk" "" "unmapped.json",
        Jira "jira" "" "issue_created.json",
        Jira "jira" "" "issue_updated.fields.json",
        Jira "jira" "" "issue_updated.status.json",
        Jira "jira" "" "issue_updated.resolved.json",
        Jira "jira" "" "issue_updated.commented.json",
        Jira "jira" "" "comment_created.public.json",
        Jira "jira" "" "comment_created.internal.json",
        Jira "jira" "" "comment_created.customer.json",
        Jira "jira" "" "comment_updated.json",
        Jira "jira" "" "issue_deleted.json",
        Zammad "zammad" "" "ticket.created.json",
        Zammad "zammad" "" "ticket.updated.note.json",
        Zammad "zammad" "" "ticket.updated.pending.json",
        Zammad "zammad" "" "ticket.updated.phone.json",
        Zammad "zammad" "" "ticket.updated.reply.json",
        Zammad "zammad" "" "ticket.closed.json",
    ];

    /// Fixtures the adapter answers `ignored`: a ping, types it does not map.
    const IGNORED: &[&str] = &[
        "ping.json",
        "ticket.brand_changed.json",
        "trigger.unmapped.json",
        "user.active_changed.json",
        "unmapped.json",
        "issue_deleted.json",
        "issue_updated.commented.json",
    ];

    fn seeds(tool: Tool) -> Vec<(&'static str, &'static str)> {
        FIXTURES
            .iter()
            .filter(|f| f.0 == tool)
            .map(|&(_, kind, _, text)| (kind, text))
            .collect()
    }

    /// Every node of `v` as a JSON pointer.
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    pointers(
                        child,
                        format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
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

    /// A replacement value (`None`: remove the node).
    fn value() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            any::<bool>().prop_map(|b| Some(b.into())),
            any::<i64>().prop_map(|n| Some(n.into())),
            any::<f64>().prop_map(|f| Some(f.into())),
            "\\PC{0,40}".prop_map(|s| Some(s.into())),
            "[\\x00-\\x1f \u{a0}\u{2028}\u{fe0f}\u{1f600}İ/#.]{0,12}".prop_map(|s| Some(s.into())),
            // Long multi-byte text around the adapters' truncation limits.
            (60usize..70_000, "[é😀a ]").prop_map(|(n, c)| Some(c.repeat(n / c.len()).into())),
            // The tools' own words, where the mappings branch.
            prop::sample::select(vec![
                "opened",
                "edited",
                "closed",
                "reopened",
                "labeled",
                "assigned",
                "created",
                "OWNER",
                "MEMBER",
                "NONE",
                "zen:event-type:ticket.created",
                "zen:event-type:ticket.status_changed",
                "ticket_created",
                "status_changed",
                "note_added",
                "solved",
                "hold",
                "pending",
                "urgent",
                "Urgent",
                "jira:issue_created",
                "jira:issue_updated",
                "comment_created",
                "comment_updated",
                "status",
                "priority",
                "customer",
                "sd.public.comment",
                "done",
                "pending reminder",
                "note",
                "phone",
                "Agent",
                "Customer",
                "2026-03-02T09:00:00Z",
                "not a date",
                "..",
            ])
            .prop_map(|s| Some(s.into())),
            Just(Some(serde_json::json!({}))),
            Just(Some(serde_json::json!([]))),
            Just(Some(
                serde_json::json!([{"name": "P1 Urgent"}, {"name": ""}, "two words", 7])
            )),
        ]
    }

    /// A fixture with 0 to 4 values replaced or removed.
    fn mutated(tool: Tool) -> impl Strategy<Value = (&'static str, Vec<u8>)> {
        (
            prop::sample::select(seeds(tool)),
            prop::collection::vec((any::<prop::sample::Index>(), value()), 0..5),
        )
            .prop_map(|((kind, text), edits)| {
                let mut v: Value = serde_json::from_str(text).expect("fixture is JSON");
                for (at, replacement) in edits {
                    let mut all = Vec::new();
                    pointers(&v, String::new(), &mut all);
                    let ptr = at.get(&all).clone();
                    match replacement {
                        Some(r) if ptr.is_empty() => v = r,
                        Some(r) => {
                            if let Some(slot) = v.pointer_mut(&ptr) {
                                *slot = r;
                            }
                        }
                        None => {
                            if let Some((parent, key)) = ptr.rsplit_once('/')
                                && let Some(Value::Object(m)) = v.pointer_mut(parent)
                            {
                                m.remove(&key.replace("~1", "/").replace("~0", "~"));
                            }
                        }
                    }
                }
                (kind, v.to_string().into_bytes())
            })
    }

    /// Mostly authenticated as the tool does; else forged, stale,
    /// tampered, garbage, or with a header missing.
    fn auth(tool: Tool) -> impl Strategy<Value = Auth> {
        prop_oneof![
            8 => Just(Auth::Valid),
            1 => Just(Auth::Basic),
            1 => Just(Auth::NoDeliveryId),
            1 => Just(Auth::NoTimestamp),
            3 => prop::sample::select(tool.forgeries()),
            1 => "\\PC{0,80}".prop_map(Auth::Garbage),
        ]
    }

    fn delivery(tool: Tool) -> impl Strategy<Value = (&'static str, Vec<u8>, Auth)> {
        let kinds = seeds(tool).into_iter().map(|s| s.0).collect::<Vec<_>>();
        let body = prop_oneof![
            6 => mutated(tool),
            1 => (prop::sample::select(kinds), prop::collection::vec(any::<u8>(), 0..512)),
        ];
        (body, auth(tool)).prop_map(|((kind, body), auth)| (kind, body, auth))
    }

    fn fuzz(tool: Tool) {
        let adapter = Adapter::built(tool);
        let config = ProptestConfig {
            source_file: Some(file!()),
            ..super::config(CASES)
        };
        let seen = std::sync::Mutex::new(std::collections::BTreeMap::new());
        TestRunner::new(config)
            .run(&delivery(tool), |(kind, body, auth)| {
                let outcome = match adapter.deliver(kind, &body, &auth) {
                    Outcome::Events(_) => "events",
                    other => {
                        if other == Outcome::Ignored {
                            "ignored"
                        } else {
                            "refused"
                        }
                    }
                };
                *seen.lock().expect("counts").entry(outcome).or_insert(0u32) += 1;
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", tool.name()));
        // The run reached the mapping (signed deliveries mapped to events)
        // as well as the refusals: a harness that only ever got 401s or
        // 422s would pass without testing anything.
        let seen = seen.into_inner().expect("counts");
        assert!(
            seen.get("events").is_some_and(|n| *n >= CASES / 4) && seen.contains_key("refused"),
            "{}: {seen:?}",
            tool.name()
        );
    }

    #[test]
    fn github() {
        fuzz(Tool::GitHub);
    }

    #[test]
    fn zendesk() {
        fuzz(Tool::Zendesk);
    }

    #[test]
    fn freshdesk() {
        fuzz(Tool::Freshdesk);
    }

    #[test]
    fn jira() {
        fuzz(Tool::Jira);
    }

    #[test]
    fn zammad() {
        fuzz(Tool::Zammad);
    }

    /// The seeds themselves: each fixture maps to events (or is ignored),
    /// and each forgery of it is refused — so the fuzz starts from
    /// deliveries that reach the mapping.
    #[test]
    fn the_fixtures_map_and_their_forgeries_are_refused() {
        for tool in Tool::ALL {
            let adapter = Adapter::built(tool);
            for &(_, kind, file, text) in FIXTURES.iter().filter(|f| f.0 == tool) {
                let ignored = IGNORED.contains(&file);
                for auth in [Auth::Valid, Auth::Basic, Auth::NoTimestamp] {
                    if tool == Tool::Zendesk && auth == Auth::NoTimestamp {
                        continue;
                    }
                    let got = adapter.deliver(kind, text.as_bytes(), &auth);
                    assert!(
                        if ignored {
                            got == Outcome::Ignored
                        } else {
                            matches!(got, Outcome::Events(1..))
                        },
                        "{} {file} {auth:?}: {got:?}",
                        tool.name()
                    );
                }
                for auth in tool.forgeries() {
                    adapter.deliver(kind, text.as_bytes(), auth);
                }
            }
        }
    }
}
