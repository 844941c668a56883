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

mod github {
    //! The GitHub adapter component in the real host, fed GitHub-shaped
    //! payloads with values replaced or removed anywhere in the tree.

    use std::sync::OnceLock;

    use escalier_fuzz::GitHubAdapter;
    use proptest::prelude::*;
    use serde_json::Value;

    macro_rules! fixtures {
        ($($kind:literal $file:literal),* $(,)?) => {
            [$(($kind, include_str!(concat!("../../escalier-plugin/tests/fixtures/github/", $file)))),*]
        };
    }
    const SEEDS: [(&str, &str); 8] = fixtures![
        "issues" "issues.opened.json",
        "issues" "issues.edited.json",
        "issues" "issues.closed.json",
        "issues" "issues.reopened.json",
        "issues" "issues.labeled.json",
        "issues" "issues.assigned.json",
        "issue_comment" "issue_comment.created.json",
        "ping" "ping.json",
    ];

    fn adapter() -> &'static GitHubAdapter {
        static ADAPTER: OnceLock<GitHubAdapter> = OnceLock::new();
        ADAPTER.get_or_init(GitHubAdapter::built)
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

    fn value() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            any::<bool>().prop_map(|b| Some(b.into())),
            any::<i64>().prop_map(|n| Some(n.into())),
            any::<f64>().prop_map(|f| Some(f.into())),
            "\\PC{0,40}".prop_map(|s| Some(s.into())),
            "[\\x00-\\x1f \u{a0}\u{2028}\u{fe0f}\u{1f600}İ]{0,12}".prop_map(|s| Some(s.into())),
            // Long multi-byte text around the adapter's truncation limits.
            (60usize..70_000, "[é😀a ]").prop_map(|(n, c)| Some(c.repeat(n / c.len()).into())),
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
                "2026-03-02T09:00:00Z",
                "not a date",
            ])
            .prop_map(|s| Some(s.into())),
            Just(Some(serde_json::json!({}))),
            Just(Some(
                serde_json::json!([{"name": "P1 Urgent"}, {"name": ""}])
            )),
        ]
    }

    fn payload() -> impl Strategy<Value = (&'static str, Vec<u8>)> {
        (
            0..SEEDS.len(),
            prop::collection::vec((any::<prop::sample::Index>(), value()), 0..5),
        )
            .prop_map(|(seed, edits)| {
                let (kind, text) = SEEDS[seed];
                let mut v: Value = serde_json::from_str(text).expect("fixture is JSON");
                for (at, replacement) in edits {
                    let mut all = Vec::new();
                    pointers(&v, String::new(), &mut all);
                    let ptr = at.get(&all).clone();
                    match replacement {
                        Some(r) => {
                            if ptr.is_empty() {
                                v = r;
                            } else if let Some(slot) = v.pointer_mut(&ptr) {
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

    proptest! {
        // Each case runs the component in a fresh instance.
        #![proptest_config(super::config(300))]

        #[test]
        fn adapter_maps_or_refuses_any_payload((kind, body) in payload()) {
            adapter().check_payload(kind, &body);
        }

        #[test]
        fn adapter_any_bytes(b in prop::collection::vec(any::<u8>(), 0..512)) {
            adapter().check(&b);
        }
    }

    #[test]
    fn the_fixtures_map_to_events() {
        for (kind, text) in SEEDS {
            let want = usize::from(kind != "ping");
            assert_eq!(
                adapter().check_payload(kind, text.as_bytes()),
                want,
                "{kind}"
            );
        }
    }
}
