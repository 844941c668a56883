//! Backtests of a log the real server recorded with the example policies
//! and plugins: replaying the same policies and plugins over it changes
//! nothing (plugins run in the replay, side effects off), and a real
//! policy change still shows as a diff.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::plugins::{NOTIFY_SECRET, notify_manifest};
use crate::util::*;

/// Where the notify-http plugin delivers: nothing answers there, and
/// nothing is sent during a replay anyway.
const NOTIFY_TO: &str = "https://notify.invalid";

/// `escalier replay ARGS --format json` as a user would run it, with the
/// secrets the server had.
fn replay(s: &Server, args: &[&str]) -> (Output, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_escalier"))
        .arg("replay")
        .args(args)
        .args(["--format", "json", "--threads", "2"])
        .args(s.store_url.iter().flat_map(|u| ["--store", u.as_str()]))
        .current_dir(s.dir.path())
        .env("ESCALIER_SECRET_NOTIFY_SIGNING_SECRET", NOTIFY_SECRET)
        .env(
            "ESCALIER_PLUGIN_CACHE",
            repo().join("target/plugin-e2e-cache"),
        )
        .output()
        .expect("run escalier replay");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "replay printed no report ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

/// `escalier send` the support day's events to the server.
fn send_the_support_day(s: &Server) {
    let sent = Command::new(env!("CARGO_BIN_EXE_escalier"))
        .args(["send", "--quiet", "--url"])
        .arg(s.url("/v1/events"))
        .arg(repo().join("examples/support-day/events.json"))
        .env("ESCALIER_WEBHOOK_SECRET", SECRET)
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
}

/// `escalier export` of the stopped server's log: its path.
fn export(s: &Server) -> std::path::PathBuf {
    let log = s.dir.path().join("day.ndjson");
    let export = s.cli(&["export", "--out", log.to_str().unwrap()]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    log
}

fn total(report: &Value, what: &str) -> u64 {
    report["summary"]["total"][what].as_u64().unwrap()
}

#[test]
fn replaying_the_live_policies_and_plugins_over_their_log_shows_no_difference() {
    let notify = notify_manifest(NOTIFY_TO);
    let mut s = Server::start_with_plugins(
        &[],
        &[
            ("approval", None),
            ("checklist", None),
            ("notify-http", Some(notify.as_str())),
            ("triage-py", None),
        ],
        &[],
    );
    s.set_env(&[("ESCALIER_SECRET_NOTIFY_SIGNING_SECRET", NOTIFY_SECRET)]);
    copy_dir(&repo().join("policies"), &s.policies_dir());
    s.restart();
    let loaded = s.get("/v1/plugins").body;
    let active: Vec<&str> = loaded["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "active")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        active,
        ["approval", "checklist", "notify-http", "triage-py"],
        "{loaded}"
    );

    send_the_support_day(&s);
    let last = s.committed();
    assert_eq!(last, 175);
    let _ = s.get(&format!("/v1/tickets?limit=1&wait_for_seq={last}"));
    s.stop(false);

    let log = export(&s);
    let text = std::fs::read_to_string(&log).unwrap();
    for plugin in ["approval", "checklist", "notify-http", "triage-py"] {
        assert!(
            text.contains(&format!("\"kind\":\"plugin\",\"plugin\":\"{plugin}\"")),
            "the day has records by {plugin}"
        );
    }
    assert!(
        text.contains("delivery.requested"),
        "notify-http queued deliveries"
    );

    let policies = s.policies_dir();
    let plugins = s.dir.path().join("plugins");
    let log = log.to_str().unwrap();
    let (policies, plugins) = (policies.to_str().unwrap(), plugins.to_str().unwrap());

    // The set that recorded the log, with its plugins: nothing differs.
    let (out, report) = replay(
        &s,
        &[
            "--log",
            log,
            "--policies",
            policies,
            "--plugins",
            plugins,
            "--fail-on-diff",
        ],
    );
    assert!(
        out.status.success(),
        "an unchanged set must replay clean: {:#}",
        report["tickets"]
    );
    for what in ["added", "removed", "changed"] {
        assert_eq!(total(&report, what), 0, "{what}: {:#}", report["tickets"]);
    }
    assert_eq!(
        report["counts"]["plugin_records"], 0,
        "plugin records are compared"
    );
    for plugin in ["approval", "checklist", "notify-http", "triage-py"] {
        let unchanged = report["summary"]["by_policy"][plugin]["unchanged"]
            .as_u64()
            .unwrap_or(0);
        assert!(
            unchanged > 0,
            "{plugin}'s records were replayed: {report:#}"
        );
    }
    assert_eq!(report["candidate"]["plugins"].as_array().unwrap().len(), 4);

    // Policies alone cannot reproduce the day: they react to what plugins did.
    let (_, alone) = replay(&s, &["--log", log, "--policies", policies, "--no-plugins"]);
    assert!(alone["counts"]["plugin_records"].as_u64().unwrap() > 0);
    assert!(
        total(&alone, "removed") + total(&alone, "changed") > 0,
        "{:#}",
        alone["summary"]
    );

    // The same from the stopped server's data directory.
    let data = s.dir.path().join("data");
    let (out, report) = replay(
        &s,
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--policies",
            policies,
            "--plugins",
            plugins,
            "--fail-on-diff",
        ],
    );
    assert!(out.status.success(), "{:#}", report["tickets"]);

    // A real change still shows: refunds up to 500 need no approval.
    let candidate = s.dir.path().join("candidate");
    copy_dir(Path::new(policies), &candidate);
    let refund = candidate.join("approvals/refund-limit.rhai");
    let src = std::fs::read_to_string(&refund).unwrap();
    std::fs::write(
        &refund,
        src.replace("const LIMIT = 100;", "const LIMIT = 500;"),
    )
    .unwrap();
    let (out, report) = replay(
        &s,
        &[
            "--log",
            log,
            "--policies",
            candidate.to_str().unwrap(),
            "--plugins",
            plugins,
            "--fail-on-diff",
        ],
    );
    assert!(!out.status.success(), "a diff fails the run");
    assert!(
        report["summary"]["by_type"]["action.require_approval"]["removed"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{:#}",
        report["summary"]
    );
    // The approval plugin no longer asks the approvers for those refunds.
    assert!(
        report["summary"]["by_policy"]["approval"]["removed"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{:#}",
        report["summary"]
    );
}

/// The notification reactor (notify.toml) runs in a replay whether or not
/// plugins do, after them, as in the server: a log the example set
/// recorded (notify.toml included) replays with `--no-plugins` to no
/// difference, its notifications compared.
#[test]
fn replaying_without_plugins_still_runs_the_notifier() {
    let mut s = Server::start_with_examples();
    send_the_support_day(&s);
    let last = s.committed();
    let _ = s.get(&format!("/v1/tickets?limit=1&wait_for_seq={last}"));
    s.stop(false);

    let log = export(&s);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("notification.requested"),
        "the example set notifies during the day"
    );

    let policies = s.policies_dir();
    let (out, report) = replay(
        &s,
        &[
            "--log",
            log.to_str().unwrap(),
            "--policies",
            policies.to_str().unwrap(),
            "--no-plugins",
            "--fail-on-diff",
        ],
    );
    assert!(out.status.success(), "{:#}", report["tickets"]);
    for what in ["added", "removed", "changed"] {
        assert_eq!(total(&report, what), 0, "{what}: {:#}", report["tickets"]);
    }
    let notifications = &report["summary"]["by_type"]["notification.requested"];
    assert!(
        notifications["unchanged"].as_u64().unwrap_or(0) > 0,
        "notifications were replayed and compared: {:#}",
        report["summary"]
    );
    assert!(
        report["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("notify.toml")),
        "{:#}",
        report["notes"]
    );
}
