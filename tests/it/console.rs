//! The operator console on the real binary: sign-in with a token made by
//! `escalier token create`, an action through the API's code path, and
//! `escalier token revoke` ending the session.

use reqwest::blocking::Client;
use reqwest::redirect::Policy;

use crate::util::*;

fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

fn create(s: &Server, name: &str, scopes: &[&str]) -> String {
    let mut args = vec!["token", "create", "--name", name];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    let out = s.cli(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Sign in; the cookie pair and the page's CSRF token.
fn sign_in(s: &Server, c: &Client, token: &str) -> (String, String) {
    let r = c
        .post(s.url("/signin"))
        .form(&[("token", token)])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = c
        .get(s.url("/"))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = page
        .split(r#"<meta name="csrf-token" content=""#)
        .nth(1)
        .and_then(|x| x.split('"').next())
        .expect("csrf meta")
        .to_owned();
    (cookie, csrf)
}

#[test]
fn console_sign_in_acts_through_the_api_and_revocation_ends_the_session() {
    let s = Server::start(&[(
        "refund.rhai",
        "const ON = [\"ticket.created\"];\nrequire_approval(\"refund\", \"refund of 300\");\n",
    )]);
    let c = client();
    // No session: the sign-in form, not the API's 404.
    let r = c.get(s.url("/")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains(r#"action="/signin""#));

    let seq = s.ingest(&created("e1", "T-1", ""));
    let t = s.ticket("T-1", seq);
    let approval = t["ticket"]["approvals"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let token = create(&s, "lead", &["read", "ingest"]);
    let (cookie, csrf) = sign_in(&s, &c, &token);
    let page = c
        .get(s.url("/tickets/T-1"))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("Approve"), "{page}");

    // Without the CSRF token: refused, nothing stored.
    let before = s.committed();
    let path = format!("/tickets/T-1/approvals/{approval}");
    let r = c
        .post(s.url(&path))
        .header("cookie", &cookie)
        .form(&[("decision", "approved")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.committed(), before);

    let r = c
        .post(s.url(&path))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("decision", "approved"),
            ("reason", "ok by me"),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let page = c
        .get(s.url(&to))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("Approval approved."), "{page}");
    let decided = s.records_of("T-1", "approval.decided");
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert!(decided[0].to_string().contains("ok by me"));
    assert!(decided[0].to_string().contains("lead"), "{}", decided[0]);

    // Deciding it twice: the API's 409, shown in the page.
    let r = c
        .post(s.url(&path))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("decision", "rejected")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 409);

    // Revoked: the session ends at once.
    let out = s.cli(&["token", "revoke", "--name", "lead"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = c
        .get(s.url("/"))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains(r#"action="/signin""#), "{page}");
    let r = c
        .post(s.url("/tickets/T-1/ack"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.get_as("/v1/tickets", Some(&token)).status, 401);
    let out = s.cli(&["token", "revoke", "--name", "lead"]);
    assert!(!out.status.success(), "revoking twice fails");
}

fn with_config(toml: &str, policies: &[(&str, &str)]) -> (tempfile::TempDir, Server) {
    let conf = tempfile::tempdir().unwrap();
    let path = conf.path().join("escalier.toml");
    std::fs::write(&path, toml).unwrap();
    let s = Server::start_with(policies, &["--config", path.to_str().unwrap()]);
    (conf, s)
}

#[test]
fn a_live_console_session_is_not_counted_against_the_open_rate_limit() {
    let (_conf, s) = with_config(
        "[server]\nopen_rate_limit_per_second = 1\nopen_rate_limit_burst = 3\n",
        &[],
    );
    let c = client();
    let token = create(&s, "lead", &["read"]);
    let (cookie, _) = sign_in(&s, &c, &token);
    // Many times the burst, as a team polling behind one address would.
    for i in 0..40 {
        let path = ["/", "/queue", "/policies", "/assets/console.css"][i % 4];
        let r = c.get(s.url(path)).header("cookie", &cookie).send().unwrap();
        assert_ne!(r.status(), 429, "request {i} to {path} was rate limited");
    }
    // An unknown session id is no credential: counted, and limited.
    let bogus = format!("escalier_session={}", "ab".repeat(32));
    let statuses: Vec<u16> = (0..20)
        .map(|_| {
            c.get(s.url("/queue"))
                .header("cookie", &bogus)
                .send()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    // Signing in is always counted, even with a live session's cookie.
    let r = c
        .post(s.url("/signin"))
        .header("cookie", &cookie)
        .form(&[("token", "esk_wrong")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 429);
    // The live session still is not.
    let r = c.get(s.url("/")).header("cookie", &cookie).send().unwrap();
    assert_eq!(r.status(), 200);
}

const ON_CALL: &str = "const ON = [\"ticket.created\"];\nif ticket.priority == \"urgent\" { route(\"on-call\", \"urgent\"); }\n";

const ON_CALL_TEST: &str = r#"start = 2026-03-09T08:00:00Z

[[test]]
name = "urgent goes on call"

[[test.step]]
event = "ticket.created"
data = { subject = "down", channel = "email", priority = "urgent", requester = { id = "c-1" } }

[test.step.ticket]
team = "on-call"
"#;

fn policies_page(s: &Server, c: &Client, cookie: &str) -> String {
    c.get(s.url("/policies"))
        .header("cookie", cookie)
        .send()
        .unwrap()
        .text()
        .unwrap()
}

#[test]
fn the_policy_tests_of_the_set_in_force_are_run_and_shown() {
    use std::time::Duration;
    let s = Server::start(&[("on-call.rhai", ON_CALL)]);
    // No test files: the set says so.
    wait_until("a first test run", Duration::from_secs(30), || {
        s.get("/v1/policies").body["tests"]["state"] == "no_tests"
    });
    let c = client();
    let token = create(&s, "lead", &["read"]);
    let (cookie, _) = sign_in(&s, &c, &token);
    assert!(policies_page(&s, &c, &cookie).contains("has no tests"));

    std::fs::create_dir_all(s.policies_dir().join("tests")).unwrap();
    write_policy(
        &s.policies_dir().join("tests"),
        "on-call.test.toml",
        ON_CALL_TEST,
    );
    wait_until("the tests to pass", Duration::from_secs(30), || {
        s.get("/v1/policies").body["tests"]["state"] == "passed"
    });
    let p = s.get("/v1/policies").body;
    assert_eq!(p["tests"]["version"], p["version"]);
    assert_eq!(p["tests"]["passed"], 1);
    assert_eq!(p["tests"]["matches_set_in_force"], true);

    // The policy changes and no longer routes: a new version, tested again.
    let old = p["version"].as_str().unwrap().to_owned();
    write_policy(
        &s.policies_dir(),
        "on-call.rhai",
        &ON_CALL.replace("\"on-call\", \"urgent\"", "\"frontline\", \"urgent\""),
    );
    wait_until("the new set's tests", Duration::from_secs(30), || {
        let t = &s.get("/v1/policies").body["tests"];
        t["state"] == "failed" && t["version"] != old.as_str()
    });
    let p = s.get("/v1/policies").body;
    assert_eq!(p["tests"]["version"], p["version"]);
    assert_eq!(p["tests"]["failed"], 1);
    let f = &p["tests"]["failures"][0];
    assert_eq!(f["file"], "tests/on-call.test.toml");
    assert_eq!(f["test"], "urgent goes on call");
    assert!(
        f["at"]
            .as_str()
            .unwrap()
            .starts_with("tests/on-call.test.toml:"),
        "{f}"
    );
    let page = policies_page(&s, &c, &cookie);
    assert!(page.contains("1 of 1 tests failed"), "{page}");
    assert!(page.contains(f["at"].as_str().unwrap()), "{page}");
}

#[test]
fn an_admin_moves_open_tickets_to_the_set_in_force_from_the_policies_page() {
    use std::time::Duration;
    let old = "const ON = [\"comment.added\"];\ntag(\"old-rules\");\n";
    let (_conf, s) = with_config("[policies]\npin = \"ticket\"\n", &[("tagger.rhai", old)]);
    let seq = s.ingest(&created("e1", "T-1", ""));
    let pinned = s.ticket("T-1", seq)["ticket"]["policy_version"]
        .as_str()
        .unwrap()
        .to_owned();
    write_policy(
        &s.policies_dir(),
        "tagger.rhai",
        &old.replace("old-rules", "new-rules"),
    );
    wait_until("the new version", Duration::from_secs(20), || {
        s.get("/v1/policies").body["version"].as_str() != Some(pinned.as_str())
    });
    let latest = s.get("/v1/policies").body["version"]
        .as_str()
        .unwrap()
        .to_owned();
    // A ticket created under the new set stores it (the migration's target).
    s.ingest(&created("e2", "T-2", ""));
    let c = client();

    // Read (and ingest): no action in the page, and the POST is refused.
    let reader = create(&s, "reader", &["read", "ingest"]);
    let (rcookie, rcsrf) = sign_in(&s, &c, &reader);
    let page = policies_page(&s, &c, &rcookie);
    assert!(page.contains("reload by themselves"), "{page}");
    assert!(!page.contains(r#"action="/policies/migrate""#), "{page}");
    let before = s.committed();
    let r = c
        .post(s.url("/policies/migrate"))
        .header("cookie", &rcookie)
        .form(&[("csrf", rcsrf.as_str()), ("confirm", "yes")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.committed(), before);

    let admin = create(&s, "boss", &["admin"]);
    let (cookie, csrf) = sign_in(&s, &c, &admin);
    assert!(policies_page(&s, &c, &cookie).contains(r#"action="/policies/migrate""#));
    // Without the CSRF token, or unconfirmed: nothing moves.
    for form in [vec![("confirm", "yes")], vec![("csrf", csrf.as_str())]] {
        let r = c
            .post(s.url("/policies/migrate"))
            .header("cookie", &cookie)
            .form(&form)
            .send()
            .unwrap();
        assert!(r.status() == 403 || r.status() == 400, "{}", r.status());
        assert_eq!(s.committed(), before);
    }
    let r = c
        .post(s.url("/policies/migrate"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("confirm", "yes")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().unwrap();
    assert!(page.contains("1 tickets moved"), "{page}");
    assert!(page.contains("0 refused"), "{page}");
    // (The first record pinned the ticket when it was created.)
    let moved: Vec<_> = s
        .records_of("T-1", "policy.migrated")
        .into_iter()
        .filter(|r| r["event"]["data"]["by"] == "boss")
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0]["event"]["data"]["from"], pinned.as_str());
    assert_eq!(moved[0]["event"]["data"]["to"], latest.as_str());
}
