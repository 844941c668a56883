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
