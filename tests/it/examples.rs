//! The shipped examples work end to end: the support day through the real
//! server with the example policies gives the escalations its README
//! promises, and a first start as `scripts/serve` does it loads every
//! example plugin cleanly.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

#[test]
fn support_day() {
    let s = Server::start_with_examples();
    let file = repo().join("examples/support-day/events.json");
    let send = |expect: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_escalier"))
            .args(["send", "--url"])
            .arg(s.url("/v1/events"))
            .arg(&file)
            .env("ESCALIER_WEBHOOK_SECRET", SECRET)
            .current_dir(s.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "send failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(expect), "{stdout}");
    };
    send("175 stored, 0 duplicate");
    send("0 stored, 175 duplicate");
    // The 175 events, and the outbox's records of notifications to the
    // example targets, which fail until their secrets are set.
    let last = s.committed();
    assert!(last >= 175, "{last}");

    let page = s.get(&format!("/v1/tickets?limit=100&wait_for_seq={last}"));
    let tickets: BTreeMap<String, Value> = page.body["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), t.clone()))
        .collect();
    assert_eq!(tickets.len(), 32);
    let tier = |id: &str| tickets[id]["tier"].as_u64().unwrap();
    let team = |id: &str| tickets[id]["team"].as_str().unwrap_or("").to_owned();
    let tagged = |id: &str, tag: &str| {
        tickets[id]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == tag)
    };
    let approval = |id: &str| {
        tickets[id]["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "refund")
    };

    for id in ["ZD-2003", "ZD-2017", "ZD-2030", "ZD-2011", "ZD-2027"] {
        assert!(tier(id) >= 2, "{id} public or VIP: tier {}", tier(id));
        assert!(tagged(id, "duty-manager-notified"), "{id}");
    }
    for id in ["ZD-2006", "ZD-2025"] {
        assert_eq!(team(id), "on-call", "{id} is urgent");
    }
    for id in ["ZD-2004", "ZD-2010", "ZD-2030"] {
        assert!(approval(id), "{id} asks for a refund above the limit");
    }
    for id in ["ZD-2001", "ZD-2023"] {
        assert!(!approval(id), "{id} is under the limit");
    }
    for id in ["ZD-2013", "ZD-2014", "ZD-2021", "ZD-2030"] {
        assert!(tagged(id, "churn-risk"), "{id} churn wording");
        assert!(tier(id) >= 2, "{id}");
    }
    for id in ["ZD-2009", "ZD-2020", "ZD-2032"] {
        assert_eq!(tier(id), 3, "{id} reopened twice");
        assert!(
            tickets[id]["checklists"]
                .to_string()
                .contains("engineering-handoff"),
            "{id}: {}",
            tickets[id]["checklists"]
        );
    }
    assert_eq!(team("ZD-2001"), "billing");
    assert_eq!(team("ZD-2002"), "technical");
    for id in ["ZD-2007", "ZD-2015", "ZD-2024"] {
        assert_eq!(tier(id), 1, "{id} stays with frontline");
    }
    // Follow-up figures for the day.
    let stats = s.get("/v1/stats?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z");
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert_eq!(stats.body["tickets"], 32);
    let escalated = stats.body["escalation"]["overall"]["escalated"]
        .as_u64()
        .unwrap();
    let by_hand = tickets
        .values()
        .filter(|t| !t["escalations"].as_array().unwrap().is_empty())
        .count() as u64;
    assert_eq!(escalated, by_hand, "{}", stats.body["escalation"]);
    assert!(
        stats.body["escalation"]["by_channel"]["social_public"]["escalated"]
            .as_u64()
            .unwrap()
            >= 3
    );
    assert!(
        stats.body["csat"]["without_escalation"]
            .to_string()
            .contains("count"),
        "{}",
        stats.body["csat"]
    );
    let r = s.get("/v1/stats?from=2026-03-03T00:00:00Z&to=2026-03-02T00:00:00Z");
    assert_eq!((r.status, r.field()), (400, "from"));

    // Every escalation names the policy file that made it.
    for t in tickets.values() {
        for e in t["escalations"].as_array().unwrap() {
            assert!(e["by"].as_str().unwrap().ends_with(".rhai"), "{e}");
        }
    }
}

/// Kills the server when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `./scripts/serve` on a fresh checkout: the example policies, the example
/// plugins as built into target/plugins, `./data` created on this start,
/// no secrets and no token configured, the log redirected to a file.
#[test]
fn first_start_loads_every_example_plugin_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("policies"), &dir.path().join("policies"));
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_escalier"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--plugins"])
        .arg(repo().join("target/plugins"))
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(log);
    for (k, _) in std::env::vars() {
        if k.starts_with("ESCALIER_") || k == "RUST_LOG" || k == "NO_COLOR" {
            cmd.env_remove(k);
        }
    }
    // Shared with the other end-to-end tests so the Python plugin compiles
    // once per run; where compiled code is kept changes nothing loaded.
    cmd.env(
        "ESCALIER_PLUGIN_CACHE",
        repo().join("target/plugin-e2e-cache"),
    );
    let mut server = Running(cmd.spawn().expect("start escalier"));
    let stdout = server.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("escalier listening on ") {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the server printed its address");
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let token = log
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("esk_"))
        .unwrap_or_else(|| panic!("no admin token printed at first start:\n{log}"));

    let body = reqwest::blocking::Client::new()
        .get(format!("{base}/v1/plugins"))
        .bearer_auth(token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let plugins: Value = serde_json::from_str(&body).unwrap();
    // Every example plugin of the repository, by the directory
    // scripts/build-plugins packages it in (the Python one as `<dir>-py`);
    // plugins of your own installed beside them are not checked.
    let mut examples: Vec<String> = Vec::new();
    for (parent, suffix) in [("plugins", ""), ("plugins/python", "-py")] {
        for e in std::fs::read_dir(repo().join(parent)).unwrap() {
            let e = e.unwrap();
            if e.path().join("plugin.toml").is_file() {
                examples.push(format!("{}{suffix}", e.file_name().to_string_lossy()));
            }
        }
    }
    examples.sort();
    let status: BTreeMap<&str, &Value> = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["dir"].as_str().unwrap(), p))
        .filter(|(dir, _)| examples.iter().any(|e| e == dir))
        .collect();
    assert_eq!(
        status.keys().copied().collect::<Vec<_>>(),
        examples,
        "every example is built and listed: {body}"
    );
    for dir in ["approval", "checklist", "triage-py"] {
        assert_eq!(status[dir]["status"], "active", "{dir}: {}", status[dir]);
    }
    // Those that need a secret or an address wait, saying what to set.
    for (dir, p) in &status {
        match p["status"].as_str() {
            Some("active") => {}
            Some("disabled") => {
                let reason = p["disabled_reason"].as_str().unwrap_or_default();
                assert!(!reason.is_empty(), "{dir}: {p}");
                assert!(
                    log.contains(&format!("plugin disabled: {reason}")),
                    "{dir} is disabled in the log too:\n{log}"
                );
            }
            _ => panic!("{dir} did not load: {p}"),
        }
        assert!(!log.contains(&format!("plugin not loaded: {dir}")), "{log}");
    }
    assert_eq!(status["github"]["status"], "disabled");
    let reason = status["github"]["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("GITHUB_WEBHOOK_SECRET"), "github: {reason}");

    // No placeholder address in what is served, nor in any manifest's
    // values (comments may show the shape of one).
    let placeholder = |text: &str| {
        ["example.com", "XXXXXXXX", "T000/B000"]
            .iter()
            .any(|p| text.contains(p))
    };
    for (dir, p) in &status {
        assert!(!placeholder(&p.to_string()), "{dir}: {p}");
        let path = repo().join("target/plugins").join(dir).join("plugin.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let values: toml::Table = toml::from_str(&text).unwrap();
        assert!(
            !placeholder(&values.to_string()),
            "{}: {values}",
            path.display()
        );
    }

    // The log is going to a file: plain text, no terminal colour codes.
    assert!(log.contains("plugins loaded"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a redirected log:\n{log}"
    );
}
