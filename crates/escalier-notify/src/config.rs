//! `policies/notify.toml`: where notifications go.
//!
//! ```toml
//! base_url = "http://127.0.0.1:8600"            # links to tickets in messages
//!
//! [email]                                       # SMTP submission
//! host = "smtp.example.com"
//! port = 587                                    # default: 587, 465 for tls, 25 for none
//! tls = "starttls"                              # "starttls" | "tls" | "none" (loopback hosts only)
//! username = "escalier@example.com"
//! password_secret = "smtp_password"
//! from = "Escalier <escalier@example.com>"
//!
//! [targets.duty-manager]
//! kind = "email"
//! to = ["duty@example.com"]
//! calendar = "paris-support"                    # quiet hours (a calendar of sla.toml)
//! urgent_priorities = ["urgent", "high"]        # these go at once; default ["urgent"]
//!
//! [targets.on-call-room]
//! kind = "slack"
//! url_secret = "slack_on_call_url"
//!
//! [teams]
//! billing = ["billing-room", "duty-manager"]
//! ```
//!
//! Walked over toml's spanned tree (the SLA file's walker), so every error
//! names the key, its line and column, with a "did you mean" for typos.
//! Secrets are named, never written here; a target whose secret is not
//! set is *disabled* (see [`Target::status`]), not an error.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use escalier_core::calendar::data::{Doc, Node, Table};
use escalier_core::calendar::{Calendar, ConfigError, ConfigErrorCode};
use escalier_core::event::NotifyKind;
use escalier_core::sla::SlaBook;
use escalier_core::vocab::Priority;
use lettre::message::Mailbox;
use url::Url;

/// The file's name, as errors show it.
pub const FILE: &str = "notify.toml";

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Most recipients of one email target.
const MAX_RECIPIENTS: usize = 50;
/// Most targets in one team.
const MAX_TEAM: usize = 20;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    Starttls,
    /// TLS from the first byte (SMTPS), usually port 465.
    Tls,
    /// No TLS: only for an SMTP server on a loopback address.
    None,
}

impl SmtpTls {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
            SmtpTls::None => "none",
        }
    }
}

/// The SMTP server email targets are submitted to.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailServer {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// AUTH user; AUTH is used when both this and `password_secret` are set.
    pub username: Option<String>,
    /// The secret holding the SMTP password.
    pub password_secret: Option<String>,
    pub from: Mailbox,
}

/// What a target is and where it sends.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetKind {
    Email {
        to: Vec<Mailbox>,
    },
    /// Slack incoming webhook; its URL embeds a token, so it is a secret.
    Slack {
        url_secret: String,
    },
    /// Microsoft Teams workflow webhook (Adaptive Card); a secret URL too.
    Teams {
        url_secret: String,
    },
    /// PagerDuty Events API v2.
    Pagerduty {
        routing_key_secret: String,
        url: Url,
    },
    /// A generic webhook signed per Standard Webhooks with `signing_secret`.
    /// Its address is `url`, or the value of `url_secret`.
    Webhook {
        url: Option<Url>,
        url_secret: Option<String>,
        signing_secret: String,
    },
}

impl TargetKind {
    pub fn kind(&self) -> NotifyKind {
        match self {
            TargetKind::Email { .. } => NotifyKind::Email,
            TargetKind::Slack { .. } => NotifyKind::Slack,
            TargetKind::Teams { .. } => NotifyKind::Teams,
            TargetKind::Pagerduty { .. } => NotifyKind::Pagerduty,
            TargetKind::Webhook { .. } => NotifyKind::Webhook,
        }
    }

    /// Names of the secrets a send needs.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            TargetKind::Email { .. } => Vec::new(),
            TargetKind::Slack { url_secret } | TargetKind::Teams { url_secret } => {
                vec![url_secret]
            }
            TargetKind::Pagerduty {
                routing_key_secret, ..
            } => vec![routing_key_secret],
            TargetKind::Webhook {
                url_secret,
                signing_secret,
                ..
            } => url_secret
                .iter()
                .map(String::as_str)
                .chain([signing_secret.as_str()])
                .collect(),
        }
    }
}

/// One notification target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
    /// Quiet hours: a calendar of `sla.toml`; non-urgent notifications
    /// outside its hours wait for its next opening.
    pub calendar: Option<String>,
    pub(crate) cal: Option<Arc<Calendar>>,
    /// Ticket priorities that make a notification urgent (sent at once,
    /// whatever the calendar).
    pub urgent_priorities: Vec<Priority>,
    /// `enabled = false` in the file, with its `disabled_reason`.
    pub disabled: Option<String>,
}

/// Whether a target can send now, and if not, why (no secret value ever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetStatus {
    Enabled,
    Disabled(String),
}

impl Target {
    /// The quiet-hours calendar, if any.
    pub fn quiet_hours(&self) -> Option<&Calendar> {
        self.cal.as_deref()
    }

    pub fn is_urgent(&self, priority: Priority) -> bool {
        self.urgent_priorities.contains(&priority)
    }

    /// Enabled, or disabled with a reason: `enabled = false` in the file,
    /// an unset secret, or an email target without an `[email]` server.
    pub fn status(&self, config: &NotifyConfig, secret_set: &dyn Fn(&str) -> bool) -> TargetStatus {
        if let Some(why) = &self.disabled {
            return TargetStatus::Disabled(why.clone());
        }
        if let TargetKind::Email { .. } = self.kind {
            match &config.email {
                None => {
                    return TargetStatus::Disabled(
                        "no [email] server in notify.toml: add host and from".to_owned(),
                    );
                }
                Some(server) => {
                    if let (Some(_), Some(secret)) = (&server.username, &server.password_secret)
                        && !secret_set(secret)
                    {
                        return TargetStatus::Disabled(format!(
                            "secret `{secret}` (the SMTP password) is not set"
                        ));
                    }
                }
            }
        }
        for secret in self.kind.secrets() {
            if !secret_set(secret) {
                return TargetStatus::Disabled(format!("secret `{secret}` is not set"));
            }
        }
        TargetStatus::Enabled
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NotifyConfig {
    /// Base of the ticket links in messages (`<base_url>/tickets/<id>`, the
    /// console's ticket page).
    pub base_url: Option<Url>,
    pub email: Option<EmailServer>,
    pub targets: BTreeMap<String, Target>,
    /// Team name → target names.
    pub teams: BTreeMap<String, Vec<String>>,
}

/// A `notify.toml` error, displayed as `notify.toml:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfigError(pub ConfigError);

impl fmt::Display for NotifyConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.line > 0 {
            write!(f, "{FILE}:{}", self.0)
        } else {
            write!(f, "{FILE}: {}", self.0)
        }
    }
}

impl std::error::Error for NotifyConfigError {}

impl NotifyConfig {
    /// Parse `notify.toml`. Calendars are those of `sla` (the SLA file
    /// defines them once for clocks, ladders and quiet hours).
    pub fn parse(src: &str, sla: &SlaBook) -> Result<NotifyConfig, NotifyConfigError> {
        parse(src, sla).map_err(NotifyConfigError)
    }

    /// The targets a name stands for: the target of that name, or a team's
    /// targets in order. Empty if neither exists.
    pub fn resolve(&self, name: &str) -> Vec<&Target> {
        if let Some(t) = self.targets.get(name) {
            return vec![t];
        }
        match self.teams.get(name) {
            Some(members) => members.iter().filter_map(|m| self.targets.get(m)).collect(),
            None => Vec::new(),
        }
    }

    /// Link to a ticket, when `base_url` is set.
    pub fn ticket_link(&self, ticket: &str) -> Option<String> {
        ticket_link(self.base_url.as_ref(), ticket)
    }
}

/// `<base>/tickets/<id>` (the console's ticket page, which people open
/// from a message; the API's JSON needs a token a browser does not send),
/// with the id percent-encoded as a path segment.
pub fn ticket_link(base: Option<&Url>, ticket: &str) -> Option<String> {
    let mut url = base?.clone();
    {
        let mut segs = url.path_segments_mut().ok()?;
        segs.pop_if_empty();
        segs.extend(["tickets", ticket]);
    }
    Some(url.to_string())
}

fn parse(src: &str, sla: &SlaBook) -> Result<NotifyConfig, ConfigError> {
    let doc = Doc::parse(src)?;
    let root = doc.root()?;
    root.check_keys(&["base_url", "email", "targets", "teams"])?;
    let base_url = match root.get("base_url") {
        Some(n) => Some(http_url(&n)?),
        None => None,
    };
    let email = match root.get("email") {
        Some(n) => Some(email_server(&n.table()?)?),
        None => None,
    };
    let mut targets = BTreeMap::new();
    if let Some(n) = root.get("targets") {
        for (name, node) in n.table()?.entries() {
            check_name(&node, name)?;
            targets.insert(name.to_owned(), target(name, &node.table()?, sla)?);
        }
    }
    let mut teams = BTreeMap::new();
    if let Some(n) = root.get("teams") {
        for (name, node) in n.table()?.entries() {
            check_name(&node, name)?;
            if targets.contains_key(name) {
                return Err(node.error(
                    ConfigErrorCode::Duplicate,
                    format!("`{name}` is already a target; a team needs a name of its own"),
                ));
            }
            let items = node.array()?;
            if items.is_empty() || items.len() > MAX_TEAM {
                return Err(node.error(
                    ConfigErrorCode::InvalidValue,
                    format!("a team has 1 to {MAX_TEAM} targets, here {}", items.len()),
                ));
            }
            let mut members: Vec<String> = Vec::with_capacity(items.len());
            for item in &items {
                let m = item.str()?;
                if !targets.contains_key(m) {
                    let hint = match escalier_core::suggest::nearest(
                        m,
                        targets.keys().map(String::as_str),
                    ) {
                        Some(s) => format!("; did you mean `{s}`?"),
                        None => "; a team lists targets defined under [targets.NAME]".to_owned(),
                    };
                    return Err(item.error(
                        ConfigErrorCode::UnknownName,
                        format!("no target named `{m}`{hint}"),
                    ));
                }
                if members.iter().any(|x| x == m) {
                    return Err(
                        item.error(ConfigErrorCode::Duplicate, format!("`{m}` is listed twice"))
                    );
                }
                members.push(m.to_owned());
            }
            teams.insert(name.to_owned(), members);
        }
    }
    Ok(NotifyConfig {
        base_url,
        email,
        targets,
        teams,
    })
}

/// Target and team names: 1–64 of letters, digits, `#`, `.`, `_`, `-`
/// (they are part of delivery ids and metrics labels).
fn check_name(node: &Node<'_, '_>, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "#._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(node.error(
            ConfigErrorCode::InvalidValue,
            format!("`{name}`: a name is 1 to 64 letters, digits, #, ., _ or -"),
        ))
    }
}

fn secret_name(node: &Node<'_, '_>) -> Result<String, ConfigError> {
    let s = node.str()?;
    let ok =
        !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(node.error(
            ConfigErrorCode::InvalidValue,
            format!(
                "`{s}` is not a secret name: 1 to 64 letters, digits and _ (the value goes in the secrets file or ESCALIER_SECRET_<NAME>, never here)"
            ),
        ));
    }
    Ok(s.to_owned())
}

fn http_url(node: &Node<'_, '_>) -> Result<Url, ConfigError> {
    let s = node.str()?;
    let url = Url::parse(s).map_err(|e| {
        node.error(
            ConfigErrorCode::InvalidValue,
            format!("`{s}` is not a URL: {e}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(node.error(
            ConfigErrorCode::InvalidValue,
            format!("`{s}`: use an http:// or https:// URL with a host"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(node.error(
            ConfigErrorCode::InvalidValue,
            "a URL here must not carry credentials; name a secret instead".to_owned(),
        ));
    }
    Ok(url)
}

fn mailbox(node: &Node<'_, '_>) -> Result<Mailbox, ConfigError> {
    let s = node.str()?;
    s.parse::<Mailbox>().map_err(|e| {
        node.error(
            ConfigErrorCode::InvalidValue,
            format!("`{s}` is not an email address ({e}); write name@example.com or Name <name@example.com>"),
        )
    })
}

fn email_server(t: &Table<'_, '_>) -> Result<EmailServer, ConfigError> {
    t.check_keys(&["host", "port", "tls", "username", "password_secret", "from"])?;
    let host_node = t.required("host")?;
    let host = host_node.str()?.to_owned();
    if host.is_empty() || (host.contains(['/', ' ', ':']) && host.parse::<IpAddr>().is_err()) {
        return Err(host_node.error(
            ConfigErrorCode::InvalidValue,
            format!("`{host}` is not a host name or address"),
        ));
    }
    let tls = match t.get("tls") {
        Some(n) => match n.str()? {
            "starttls" => SmtpTls::Starttls,
            "tls" => SmtpTls::Tls,
            "none" => SmtpTls::None,
            other => {
                return Err(n.error(
                    ConfigErrorCode::InvalidValue,
                    format!("tls = `{other}`: use \"starttls\", \"tls\" or \"none\""),
                ));
            }
        },
        None => SmtpTls::Starttls,
    };
    if tls == SmtpTls::None && !is_loopback(&host) {
        let n = match t.get("tls") {
            Some(n) => n,
            None => t.required("host")?,
        };
        return Err(n.error(
            ConfigErrorCode::InvalidValue,
            format!(
                "tls = \"none\" sends mail and the password in the clear; it is allowed only for a server on a loopback address, not `{host}`"
            ),
        ));
    }
    let port = match t.get("port") {
        Some(n) => {
            let p = n.integer()?;
            u16::try_from(p).ok().filter(|p| *p > 0).ok_or_else(|| {
                n.error(
                    ConfigErrorCode::InvalidValue,
                    format!("port = {p}: use 1 to 65535"),
                )
            })?
        }
        None => match tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        },
    };
    let username = match t.get("username") {
        Some(n) => Some(n.str()?.to_owned()),
        None => None,
    };
    let password_secret = match t.get("password_secret") {
        Some(n) => Some(secret_name(&n)?),
        None => None,
    };
    if username.is_some() != password_secret.is_some() {
        let n = match t.get("username").or_else(|| t.get("password_secret")) {
            Some(n) => n,
            None => t.required("host")?,
        };
        return Err(n.error(
            ConfigErrorCode::MissingKey,
            "SMTP AUTH needs both `username` and `password_secret` (or neither)".to_owned(),
        ));
    }
    let from = mailbox(&t.required("from")?)?;
    Ok(EmailServer {
        host,
        port,
        tls,
        username,
        password_secret,
        from,
    })
}

/// `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

const COMMON_KEYS: &[&str] = &[
    "kind",
    "calendar",
    "urgent_priorities",
    "enabled",
    "disabled_reason",
];

fn target(name: &str, t: &Table<'_, '_>, sla: &SlaBook) -> Result<Target, ConfigError> {
    let kind_node = t.required("kind")?;
    let kind_name = kind_node.str()?;
    let own: &[&str] = match kind_name {
        "email" => &["to"],
        "slack" | "teams" => &["url_secret"],
        "pagerduty" => &["routing_key_secret", "url"],
        "webhook" => &["url", "url_secret", "signing_secret"],
        other => {
            let kinds = ["email", "slack", "teams", "pagerduty", "webhook"];
            let hint = match escalier_core::suggest::nearest(other, kinds.iter().copied()) {
                Some(s) => format!("; did you mean `{s}`?"),
                None => String::new(),
            };
            return Err(kind_node.error(
                ConfigErrorCode::InvalidValue,
                format!("unknown kind `{other}`{hint} Kinds: {}", kinds.join(", ")),
            ));
        }
    };
    let allowed: Vec<&str> = COMMON_KEYS.iter().chain(own).copied().collect();
    t.check_keys(&allowed)?;
    let kind = match kind_name {
        "email" => {
            let n = t.required("to")?;
            let items = n.array()?;
            if items.is_empty() || items.len() > MAX_RECIPIENTS {
                return Err(n.error(
                    ConfigErrorCode::InvalidValue,
                    format!(
                        "an email target has 1 to {MAX_RECIPIENTS} recipients, here {}",
                        items.len()
                    ),
                ));
            }
            TargetKind::Email {
                to: items.iter().map(mailbox).collect::<Result<_, _>>()?,
            }
        }
        "slack" => TargetKind::Slack {
            url_secret: secret_name(&t.required("url_secret")?)?,
        },
        "teams" => TargetKind::Teams {
            url_secret: secret_name(&t.required("url_secret")?)?,
        },
        "pagerduty" => TargetKind::Pagerduty {
            routing_key_secret: secret_name(&t.required("routing_key_secret")?)?,
            url: match t.get("url") {
                Some(n) => http_url(&n)?,
                None => Url::parse(PAGERDUTY_EVENTS_URL)
                    .unwrap_or_else(|_| unreachable!("a valid constant URL")),
            },
        },
        _ => {
            let url = match t.get("url") {
                Some(n) => Some(http_url(&n)?),
                None => None,
            };
            let url_secret = match t.get("url_secret") {
                Some(n) => Some(secret_name(&n)?),
                None => None,
            };
            if url.is_some() == url_secret.is_some() {
                return Err(t.node.error(
                    ConfigErrorCode::MissingKey,
                    "a webhook target has `url`, or `url_secret` when its address is a secret (one of the two)".to_owned(),
                ));
            }
            TargetKind::Webhook {
                url,
                url_secret,
                signing_secret: secret_name(&t.required("signing_secret")?)?,
            }
        }
    };
    let (calendar, cal) = match t.get("calendar") {
        Some(n) => {
            if kind.kind() == NotifyKind::Pagerduty {
                return Err(n.error(
                    ConfigErrorCode::InvalidValue,
                    "PagerDuty's own schedules decide who is paged when; a PagerDuty target has no quiet hours".to_owned(),
                ));
            }
            let cal_name = n.str()?;
            match sla.calendar(cal_name) {
                Some(c) => (Some(cal_name.to_owned()), Some(c.clone())),
                None => {
                    let names: Vec<&str> = sla.calendars().map(|(n, _)| n).collect();
                    let hint =
                        match escalier_core::suggest::nearest(cal_name, names.iter().copied()) {
                            Some(s) => format!("; did you mean `{s}`?"),
                            None if names.is_empty() => {
                                "; calendars are defined in sla.toml under [calendars.NAME]"
                                    .to_owned()
                            }
                            None => format!("; sla.toml defines: {}", names.join(", ")),
                        };
                    return Err(n.error(
                        ConfigErrorCode::UnknownName,
                        format!("no calendar named `{cal_name}`{hint}"),
                    ));
                }
            }
        }
        None => (None, None),
    };
    let urgent_priorities = match t.get("urgent_priorities") {
        Some(n) => {
            let mut out = Vec::new();
            for item in n.array()? {
                let s = item.str()?;
                let p = Priority::parse(s).ok_or_else(|| {
                    item.error(
                        ConfigErrorCode::InvalidValue,
                        format!("`{s}` is not a priority: {}", Priority::names()),
                    )
                })?;
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            out
        }
        None => vec![Priority::Urgent],
    };
    let enabled = match t.get("enabled") {
        Some(n) => n.bool()?,
        None => true,
    };
    let disabled = match (enabled, t.get("disabled_reason")) {
        (true, None) => None,
        (true, Some(n)) => {
            return Err(n.error(
                ConfigErrorCode::InvalidValue,
                "`disabled_reason` goes with `enabled = false`".to_owned(),
            ));
        }
        (false, Some(n)) => Some(n.str()?.to_owned()),
        (false, None) => Some("disabled in notify.toml (enabled = false)".to_owned()),
    };
    Ok(Target {
        name: name.to_owned(),
        kind,
        calendar,
        cal,
        urgent_priorities,
        disabled,
    })
}
