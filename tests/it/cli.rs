//! The command line against a real server: `sign` makes headers the server
//! accepts, `explain` and `export` ask a running server with `--url`, the
//! commands that need the database itself say so when a server holds it,
//! and `check` reports every broken file.

use std::path::Path;
use std::process::{Command, Output};

use escalier_server::Secret;

use crate::util::*;

const VIP: &str = r#"
const ON = ["ticket.created"];
if ticket.vip && ticket.tier < 2 {
    escalate(2, "VIP customer");
}
"#;

fn vip_ticket(event_id: &str, ticket: &str) -> String {
    created(event_id, ticket, "").replace(
        r#""email":"a@example.com"}"#,
        r#""email":"a@example.com","vip":true}"#,
    )
}

/// Run `escalier ARGS` in `dir` with only the given `ESCALIER_*` and `TOKEN` variables.
fn escalier(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_escalier"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ESCALIER_") || k == "TOKEN" {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("run escalier")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn sign_prints_headers_the_server_accepts() {
    let s = Server::start(&[]);
    let body = created("e1", "T-1", "");
    let file = s.dir.path().join("event.json");
    std::fs::write(&file, &body).unwrap();
    let out = escalier(
        s.dir.path(),
        &["sign", file.to_str().unwrap()],
        &[("ESCALIER_WEBHOOK_SECRET", SECRET)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let headers: Vec<(String, String)> = stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
    );
    let r = s.post_signed(&body, &headers[0].1, &headers[1].1, &headers[2].1);
    assert_eq!(r.status, 202, "{}", r.body);

    // Fixed id and timestamp, body from standard input: the signature of
    // exactly those bytes with the secret.
    let mut child = Command::new(env!("CARGO_BIN_EXE_escalier"))
        .args(["sign", "--id", "msg_1", "--timestamp", "1772442000"])
        .env("ESCALIER_WEBHOOK_SECRET", SECRET)
        .current_dir(s.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"{}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let expected = Secret::parse(SECRET)
        .unwrap()
        .sign("msg_1", 1_772_442_000, b"{}");
    assert_eq!(
        stdout(&out),
        format!(
            "webhook-id: msg_1\nwebhook-timestamp: 1772442000\nwebhook-signature: {expected}\n"
        )
    );
}

#[test]
fn explain_and_export_ask_a_running_server() {
    let mut s = Server::start(&[("vip.rhai", VIP)]);
    s.ingest(&vip_ticket("e1", "T-1"));
    let seq = s.ingest(&created("e2", "T-2", ""));
    s.ticket("T-2", seq);
    let url = s.base.clone();
    let remote = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--url", url.as_str()]);
        escalier(s.dir.path(), &all, &[("ESCALIER_API_TOKEN", TOKEN)])
    };

    let story = remote(&["explain", "T-1"]);
    assert!(story.status.success(), "{}", stderr(&story));
    let text = stdout(&story);
    assert!(text.contains("ticket.created"), "{text}");
    assert!(text.contains("escalate to tier 2: VIP customer"), "{text}");
    assert!(text.contains("by policy vip.rhai"), "{text}");
    // The line, found in the stored files of the version that ran.
    assert!(text.contains("vip.rhai:4"), "{text}");
    // The token may also come from TOKEN, as the README exports it.
    let json = escalier(
        s.dir.path(),
        &["explain", "T-1", "--format", "json", "--url", &url],
        &[("TOKEN", TOKEN)],
    );
    assert!(json.status.success(), "{}", stderr(&json));
    let story: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(story["ticket_id"], "T-1");
    assert_eq!(story["ticket"]["tier"], 2);
    let missing = remote(&["explain", "T-9"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no ticket T-9"),
        "{}",
        stderr(&missing)
    );
    // Without a token the server's refusal is shown.
    let refused = escalier(
        s.dir.path(),
        &["explain", "T-1", "--url", &url, "--token", "esk_wrong"],
        &[],
    );
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("401"), "{}", stderr(&refused));

    let export = s.dir.path().join("live.ndjson");
    let out = remote(&["export", "--out", export.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let live = std::fs::read_to_string(&export).unwrap();
    assert_eq!(
        live.lines().count(),
        3,
        "2 inputs and 1 escalation:\n{live}"
    );

    // The same bytes as an export of the stopped server's data directory.
    s.stop(false);
    let offline = s.dir.path().join("offline.ndjson");
    let out = s.cli(&["export", "--out", offline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(live, std::fs::read_to_string(&offline).unwrap());

    // And `import` takes it.
    let imported = s.dir.path().join("imported");
    let out = escalier(
        s.dir.path(),
        &[
            "import",
            export.to_str().unwrap(),
            "--data-dir",
            imported.to_str().unwrap(),
            "--policies",
            s.policies_dir().to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 tickets"), "{}", stderr(&out));
}

#[test]
fn offline_commands_against_a_running_server_say_it_holds_the_data() {
    if on_postgres() {
        return; // a redb file is held by its server; a shared database is not
    }
    let s = Server::start(&[("vip.rhai", VIP)]);
    let seq = s.ingest(&vip_ticket("e1", "T-1"));
    s.ticket("T-1", seq);
    let data = s.dir.path().join("data");
    let data = data.to_str().unwrap();
    let policies = s.policies_dir();
    let policies = policies.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = escalier(s.dir.path(), args, &[]);
        assert!(!out.status.success(), "{args:?} ran beside a server");
        let err = stderr(&out);
        assert!(
            err.contains("in use by a running server"),
            "{args:?}: {err}"
        );
        err
    };
    let explain = run(&["explain", "T-1", "--data-dir", data, "--policies", policies]);
    assert!(explain.contains("escalier explain --url"), "{explain}");
    let export = run(&["export", "--data-dir", data]);
    assert!(export.contains("escalier export --url"), "{export}");
    let verify = run(&["verify", "--data-dir", data]);
    assert!(verify.contains("needs the server stopped"), "{verify}");
    let replay = run(&["replay", "--data-dir", data, "--policies", policies]);
    assert!(replay.contains("escalier export --url"), "{replay}");
}

#[test]
fn check_reports_every_broken_file_and_what_it_checked() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("policies");
    std::fs::create_dir_all(&p).unwrap();
    write_policy(&p, "good.rhai", "const ON = [\"ticket.created\"];\n");
    write_policy(
        &p,
        "broken.rhai",
        "const ON = [\"ticket.created\"];\nescalate(2, \n",
    );
    write_policy(&p, "sla.toml", "[calendars.office\n");
    write_policy(&p, "ladders.toml", "[ladders.oncall]\nbogus = 1\n");
    let out = escalier(dir.path(), &["check", "policies"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for file in ["broken.rhai:", "sla.toml:1:", "ladders.toml:2:"] {
        assert!(err.contains(file), "{file} reported:\n{err}");
    }
    assert!(
        stdout(&out)
            .contains("policies: 1 ok, 1 with 1 error; sla.toml: 1 error; ladders.toml: 1 error"),
        "{}",
        stdout(&out)
    );

    // Fixed, every file is named as checked.
    write_policy(&p, "broken.rhai", "const ON = [\"ticket.created\"];\n");
    write_policy(&p, "sla.toml", "");
    write_policy(&p, "ladders.toml", "");
    let out = escalier(dir.path(), &["check", "policies"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("policies: 2 ok; sla.toml: ok; ladders.toml: ok"),
        "{}",
        stdout(&out)
    );
}
