//! GitHub adapter: verifies `X-Hub-Signature-256` (HMAC-SHA256 of the raw
//! body with the webhook secret, compared in constant time) and maps
//! `issues` and `issue_comment` deliveries to Escalier events.
//!
//! | GitHub | Escalier |
//! |---|---|
//! | issues opened | `ticket.created` (labels as tags, assignee as agent) |
//! | issues edited | `ticket.updated` (subject) |
//! | issues closed / reopened | `status.changed` solved / open |
//! | issues labeled | `ticket.updated` (tag added) |
//! | issues assigned | `ticket.assigned` |
//! | issue_comment created | `comment.added` (members are agents, others customers) |
//!
//! The ticket id is `github:<owner>/<repo>#<number>`; the event id is
//! `gh:<X-GitHub-Delivery>`, so a redelivery is a duplicate Escalier drops.
//! People are `github:<login>`. Characters Escalier ids do not allow (the
//! brackets of `dependabot[bot]`) become `_`, which logins never contain
//! (repository names use only characters ids allow, so they are kept as
//! they are); an id longer than Escalier's 128 bytes (owner and repository
//! names can reach 140) keeps a readable prefix and a hash of the whole.
//! Pings and other events and actions are understood and produce nothing.
//!
//! Every event it returns passes Escalier's checks, whatever the payload:
//! a blank title becomes `GitHub issue #<number>`, labels past Escalier's
//! 100 tags are dropped, text is cut to Escalier's limits, and times are
//! passed on in Escalier's own RFC 3339 form. A payload that cannot be
//! mapped is refused as invalid input (HTTP 422).

use escalier_plugin_sdk::adapter::{self, MAX_SUBJECT, cut, header, unhex};
use escalier_plugin_sdk::{Error, Header, Plugin, config, export_plugin};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Label {
    name: String,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    title: String,
    #[serde(default)]
    body: Option<String>,
    user: User,
    #[serde(default)]
    labels: Vec<Label>,
    #[serde(default)]
    assignee: Option<User>,
    html_url: String,
    created_at: String,
    updated_at: String,
    #[serde(default)]
    closed_at: Option<String>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Comment {
    body: String,
    user: User,
    created_at: String,
    author_association: String,
}

#[derive(Deserialize)]
struct Delivery {
    action: String,
    issue: Issue,
    repository: Repository,
    #[serde(default)]
    sender: Option<User>,
    #[serde(default)]
    label: Option<Label>,
    #[serde(default)]
    assignee: Option<User>,
    #[serde(default)]
    comment: Option<Comment>,
}

/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
fn verify(headers: &[Header], body: &[u8]) -> Result<(), Error> {
    let secret = config::secret("github_webhook_secret")?;
    let sig = header(headers, "x-hub-signature-256").ok_or_else(|| {
        Error::Unauthorized("X-Hub-Signature-256 is missing; set a secret on the webhook".into())
    })?;
    let sig = sig
        .strip_prefix("sha256=")
        .and_then(unhex)
        .ok_or_else(|| Error::Unauthorized("X-Hub-Signature-256 is not `sha256=<hex>`".into()))?;
    if adapter::hmac_sha256_matches(secret.as_bytes(), &[body], &sig) {
        Ok(())
    } else {
        Err(Error::Unauthorized(
            "X-Hub-Signature-256 does not match the body and secret".into(),
        ))
    }
}

/// GitHub label → Escalier tag: no spaces, at most 64 bytes.
fn tag(label: &str) -> Option<String> {
    adapter::tag(label, '-')
}

/// An Escalier id from GitHub names: `github:` + `name` + `suffix`, with
/// characters ids do not allow replaced by `_`, and, when too long, the
/// name shortened and made unique again with a hash of the original.
fn ident(name: &str, suffix: &str) -> String {
    adapter::ident("github:", "._~:@/+-", name, suffix)
}

fn person(login: &str) -> String {
    ident(login, "")
}

/// The ticket subject: the title without surrounding whitespace, cut to
/// Escalier's limit. GitHub requires a title, but a blank one (possible
/// through the API and in hand-made deliveries) would be an event Escalier
/// refuses, so it is named after the issue instead.
fn subject(issue: &Issue) -> String {
    let title = issue.title.trim();
    if title.is_empty() {
        format!("GitHub issue #{}", issue.number)
    } else {
        cut(title, MAX_SUBJECT)
    }
}

/// `github` and the issue's labels as tags: each once, at most
/// [`adapter::MAX_TAGS`].
fn tags(labels: &[Label]) -> Vec<String> {
    let mut tags = vec!["github".to_owned()];
    adapter::push_tags(&mut tags, labels.iter().filter_map(|l| tag(&l.name)));
    tags
}

/// GitHub's timestamps are RFC 3339; anything else is a payload we do not
/// understand (rather than an event Escalier would refuse). The time is
/// passed on re-formatted, so Escalier reads exactly what was checked here.
fn timestamp(value: &str) -> Result<String, Error> {
    value
        .parse::<jiff::Timestamp>()
        .map(|t| t.to_string())
        .map_err(|e| {
            Error::InvalidInput(format!(
                "the event time {:?} is not an RFC 3339 time: {e}",
                cut(value, 64)
            ))
        })
}

struct GitHub;

impl Plugin for GitHub {
    fn adapt(headers: Vec<Header>, body: Vec<u8>) -> Result<Vec<String>, Error> {
        verify(&headers, &body)?;
        let kind = header(&headers, "x-github-event")
            .ok_or_else(|| Error::InvalidInput("X-GitHub-Event is missing".into()))?;
        if kind != "issues" && kind != "issue_comment" {
            return Ok(Vec::new());
        }
        let delivery = header(&headers, "x-github-delivery")
            .filter(|d| {
                !d.is_empty()
                    && d.len() <= 100
                    && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            .ok_or_else(|| {
                Error::InvalidInput("X-GitHub-Delivery is missing or malformed".into())
            })?;
        let d: Delivery = serde_json::from_slice(&body)
            .map_err(|e| Error::InvalidInput(format!("not a GitHub `{kind}` payload: {e}")))?;
        let ticket_id = ident(&d.repository.full_name, &format!("#{}", d.issue.number));
        let by = d
            .sender
            .as_ref()
            .map(|s| s.login.as_str())
            .unwrap_or("someone");
        let issue = &d.issue;
        let (ty, at, data) = match (kind, d.action.as_str()) {
            ("issues", "opened") => {
                let mut requester = json!({ "id": person(&issue.user.login) });
                let name = issue.user.login.trim();
                if !name.is_empty() {
                    requester["name"] = json!(cut(name, 128));
                }
                let mut data = json!({
                    "subject": subject(issue),
                    "description": cut(issue.body.as_deref().unwrap_or(""), 64 * 1024),
                    "requester": requester,
                    "channel": "web",
                    "tags": tags(&issue.labels),
                    "fields": { "github_url": issue.html_url, "github_issue": issue.number },
                });
                if let Some(a) = &issue.assignee {
                    data["agent"] = json!(person(&a.login));
                }
                ("ticket.created", &issue.created_at, data)
            }
            ("issues", "edited") => (
                "ticket.updated",
                &issue.updated_at,
                json!({ "subject": subject(issue) }),
            ),
            ("issues", "closed") => (
                "status.changed",
                issue.closed_at.as_ref().unwrap_or(&issue.updated_at),
                json!({ "status": "solved", "reason": cut(&format!("closed on GitHub by {by}"), 1024) }),
            ),
            ("issues", "reopened") => (
                "status.changed",
                &issue.updated_at,
                json!({ "status": "open", "reason": cut(&format!("reopened on GitHub by {by}"), 1024) }),
            ),
            ("issues", "labeled") => {
                let Some(t) = d.label.as_ref().and_then(|l| tag(&l.name)) else {
                    return Ok(Vec::new());
                };
                (
                    "ticket.updated",
                    &issue.updated_at,
                    json!({ "tags_added": [t] }),
                )
            }
            ("issues", "assigned") => {
                let Some(a) = d.assignee.as_ref().or(issue.assignee.as_ref()) else {
                    return Ok(Vec::new());
                };
                (
                    "ticket.assigned",
                    &issue.updated_at,
                    json!({ "agent": person(&a.login) }),
                )
            }
            ("issue_comment", "created") => {
                let c = d
                    .comment
                    .as_ref()
                    .ok_or_else(|| Error::InvalidInput("issue_comment without `comment`".into()))?;
                let kind = match c.author_association.as_str() {
                    "OWNER" | "MEMBER" | "COLLABORATOR" => "agent",
                    _ => "customer",
                };
                (
                    "comment.added",
                    &c.created_at,
                    json!({
                        "author": { "kind": kind, "id": person(&c.user.login) },
                        "public": true,
                        "body": cut(&c.body, 64 * 1024),
                    }),
                )
            }
            _ => return Ok(Vec::new()),
        };
        let at = timestamp(at)?;
        let event: Value = json!({
            "id": format!("gh:{delivery}"),
            "type": ty,
            "ticket_id": ticket_id,
            "occurred_at": at,
            "data": data,
        });
        Ok(vec![event.to_string()])
    }
}

export_plugin!(GitHub);
