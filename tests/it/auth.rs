//! Access control: tokens and scopes on every endpoint but `/healthz` and
//! signed ingest.

use crate::util::*;

#[test]
fn reads_need_a_known_token() {
    let s = Server::start(&[]);
    let r = s.get_as("/v1/tickets", None);
    assert_eq!(
        (r.status, r.code(), r.field()),
        (401, "token_missing", "authorization")
    );
    let r = s.get_as("/v1/tickets", Some("esk_wrong"));
    assert_eq!((r.status, r.code()), (401, "token_invalid"));
    for path in [
        "/v1/tickets",
        "/v1/events",
        "/v1/policies",
        "/metrics",
        "/v1/tickets/x",
    ] {
        assert_eq!(s.get_as(path, None).status, 401, "{path}");
    }
    assert_eq!(s.get_as("/healthz", None).status, 200);
    assert_eq!(s.get_as("/v1/tickets", Some(TOKEN)).status, 200);
}

#[test]
fn created_tokens_work_at_once_with_their_scopes_only() {
    let s = Server::start(&[]);
    let out = s.cli(&["token", "create", "--name", "dashboard", "--scope", "read"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("esk_"));
    // Picked up by the running server without a restart.
    assert_eq!(s.get_as("/v1/tickets", Some(&token)).status, 200);
    let listed = String::from_utf8(s.cli(&["token", "list"]).stdout).unwrap();
    assert!(listed.contains("dashboard\tread"), "{listed}");
    assert!(!listed.contains(&token), "tokens are never shown again");
    let again = s.cli(&["token", "create", "--name", "dashboard", "--scope", "admin"]);
    assert!(!again.status.success(), "names are unique");
}
