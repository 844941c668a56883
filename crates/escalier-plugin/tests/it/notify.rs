//! notify-http: `notify` actions become queued, deterministic deliveries
//! in the Slack shape or the signed generic shape.

use escalier_plugin::Secrets;

use crate::util::*;

/// The shipped manifest configured as an operator would: enabled, with
/// targets (it ships with none) and their hosts allowed.
fn manifest() -> String {
    let shipped = std::fs::read_to_string(fixture("notify-http").join("plugin.toml")).unwrap();
    let mut m = shipped
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
        .join("\n")
        .replace(
            r#"allowed_hosts = ["https://hooks.slack.com"]"#,
            r#"allowed_hosts = ["https://hooks.slack.com", "https://*.example.com"]"#,
        );
    m.push_str(
        r#"
[config.targets.duty-manager]
url = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"
format = "slack"

[config.targets.ops-webhook]
url = "https://ops.example.com/escalier/notify"
format = "generic"
"#,
    );
    m
}

fn run() -> (Run, Host) {
    let mut secrets = Secrets::none();
    secrets.insert(
        "notify_signing_secret",
        "whsec_c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4",
    );
    let h = host_with(
        &[(&fixture("notify-http"), "notify-http", Some(&manifest()))],
        secrets,
    );
    let mut run = Run::with_policy(h.set());
    run.create();
    (run, h)
}

#[test]
fn slack_channels_get_a_text_message_unsigned() {
    let (mut run, _h) = run();
    let out = run.send(
        "comment.added",
        &comment("agent", "notify duty-manager Customer waiting 2h"),
        at(1),
    );
    let d = of_type(&out, "delivery.requested");
    assert_eq!(d.len(), 1, "{:#?}", summary(&out));
    let req = data(d[0]);
    assert_eq!(req["plugin"], "notify-http");
    assert_eq!(req["method"], "POST");
    assert_eq!(
        req["url"],
        "https://hooks.slack.com/services/T000/B000/XXXXXXXX"
    );
    assert_eq!(req["sign"], false);
    let body: serde_json::Value = serde_json::from_str(req["body"].as_str().unwrap()).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("*T-1* Export to CSV fails"), "{text}");
    assert!(text.ends_with("Customer waiting 2h"), "{text}");
    // Derived at (2, 1) by the policy, the request at (2, 2).
    assert_eq!(req["delivery_id"], "dlv:2.1:notify-http:0");
}

#[test]
fn generic_targets_are_signed_and_carry_the_ticket() {
    let (mut run, _h) = run();
    let out = run.send(
        "comment.added",
        &comment("agent", "notify ops-webhook Tier 2 needed"),
        at(1),
    );
    let req = data(of_type(&out, "delivery.requested")[0]);
    assert_eq!(req["url"], "https://ops.example.com/escalier/notify");
    assert_eq!(req["sign"], true);
    let body: serde_json::Value = serde_json::from_str(req["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "escalier.notify");
    assert_eq!(body["ticket"]["id"], "T-1");
    assert_eq!(
        body["at"],
        at(1).as_millisecond(),
        "record time, not the wall clock"
    );
}

#[test]
fn channels_without_a_target_are_left_alone_and_replays_ask_for_the_same_delivery() {
    let (mut run, h) = run();
    let out = run.send(
        "comment.added",
        &comment("agent", "notify nobody hi"),
        at(1),
    );
    assert!(of_type(&out, "delivery.requested").is_empty());
    assert!(of_type(&out, "plugin.error").is_empty());
    // Replaying the same log through a fresh run yields identical records.
    let mut replay = Run::with_policy(h.set());
    replay.create();
    let again = replay.send(
        "comment.added",
        &comment("agent", "notify duty-manager x"),
        at(1),
    );
    let mut first = Run::with_policy(h.set());
    first.create();
    let once = first.send(
        "comment.added",
        &comment("agent", "notify duty-manager x"),
        at(1),
    );
    assert_eq!(once, again);
}
