//! The notifier: the outbox's [`Deliver`] for notifications.
//!
//! One attempt at one `notification.requested`: find the target in the
//! configuration in force, check it is enabled, read its secrets (at send
//! time, never stored), render, and send — HTTP through the outbox's safe
//! client (address policy, TLS, timeouts, no redirects; the answer
//! classified the outbox's way), email over SMTP with lettre. Every reason
//! and receiver body that comes back is redacted of the secret values the
//! attempt used.

use std::sync::Arc;
use std::time::Duration;

use escalier_core::Clock;
use escalier_core::event::{NotificationRequested, NotifyKind};
use escalier_outbox::http::{Client, HttpRequest};
use escalier_outbox::{Deliver, DeliverFuture, DeliveryOutcome, OutboxEntry, OutboxRequest};
use lettre::message::MultiPart;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use url::Url;

use crate::config::{EmailServer, NotifyConfig, SmtpTls, Target, TargetKind, TargetStatus};
use crate::redact::Redactor;
use crate::render;

/// Where secret values come from, by name (the secrets file and
/// `ESCALIER_SECRET_<NAME>` variables), read at every send.
pub trait SecretSource: Send + Sync + 'static {
    fn secret(&self, name: &str) -> Option<String>;
}

impl<F> SecretSource for F
where
    F: Fn(&str) -> Option<String> + Send + Sync + 'static,
{
    fn secret(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The configuration in force, asked for at every send (it reloads with
/// the policies).
pub type ConfigSource = Arc<dyn Fn() -> Arc<NotifyConfig> + Send + Sync>;

/// How long one SMTP submission may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Notifier {
    config: ConfigSource,
    secrets: Arc<dyn SecretSource>,
    http: Arc<Client>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

impl Notifier {
    pub fn new(
        config: ConfigSource,
        secrets: Arc<dyn SecretSource>,
        http: Arc<Client>,
        clock: Arc<dyn Clock>,
    ) -> Notifier {
        Notifier {
            config,
            secrets,
            http,
            clock,
        }
    }

    /// One attempt at `n`.
    pub async fn send(&self, n: &NotificationRequested) -> DeliveryOutcome {
        if n.kind == NotifyKind::None {
            return DeliveryOutcome::failed(format!(
                "no notify target or team named `{}` in policies/notify.toml",
                n.target
            ));
        }
        let config = (self.config)();
        let Some(target) = config.targets.get(&n.target) else {
            return DeliveryOutcome::failed(format!(
                "no notify target named `{}` in policies/notify.toml (removed since the notification was asked for)",
                n.target
            ));
        };
        if target.kind.kind() != n.kind {
            return DeliveryOutcome::failed(format!(
                "target `{}` is now a {} target, not {}",
                n.target,
                target.kind.kind().as_str(),
                n.kind.as_str()
            ));
        }
        let secret_set = |name: &str| self.secrets.secret(name).is_some();
        if let TargetStatus::Disabled(why) = target.status(&config, &secret_set) {
            return DeliveryOutcome::failed(format!("target `{}` is disabled: {why}", n.target));
        }
        let mut redactor = Redactor::new();
        let outcome = self.attempt(&config, target, n, &mut redactor).await;
        redactor.outcome(outcome)
    }

    /// The value of secret `name`, remembered for redaction.
    fn secret(&self, name: &str, redactor: &mut Redactor) -> Result<String, DeliveryOutcome> {
        match self.secrets.secret(name) {
            Some(v) => {
                redactor.add(&v);
                Ok(v)
            }
            None => Err(DeliveryOutcome::failed(format!(
                "secret `{name}` is not set"
            ))),
        }
    }

    fn secret_url(&self, name: &str, redactor: &mut Redactor) -> Result<Url, DeliveryOutcome> {
        let v = self.secret(name, redactor)?;
        let url = Url::parse(v.trim())
            .map_err(|_| DeliveryOutcome::failed(format!("secret `{name}` is not a URL")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DeliveryOutcome::failed(format!(
                "secret `{name}` is not an http:// or https:// URL"
            )));
        }
        Ok(url)
    }

    async fn attempt(
        &self,
        config: &NotifyConfig,
        target: &Target,
        n: &NotificationRequested,
        redactor: &mut Redactor,
    ) -> DeliveryOutcome {
        let link = config.ticket_link(n.ticket.id.as_str());
        let link = link.as_deref();
        let result = match &target.kind {
            TargetKind::Slack { url_secret } => match self.secret_url(url_secret, redactor) {
                Ok(url) => Ok(self
                    .post_json(url, &render::slack(n, link), Vec::new())
                    .await),
                Err(o) => Err(o),
            },
            TargetKind::Teams { url_secret } => match self.secret_url(url_secret, redactor) {
                Ok(url) => Ok(self
                    .post_json(url, &render::teams(n, link), Vec::new())
                    .await),
                Err(o) => Err(o),
            },
            TargetKind::Pagerduty {
                routing_key_secret,
                url,
            } => match self.secret(routing_key_secret, redactor) {
                Ok(key) => {
                    let body = render::pagerduty(n, key.trim(), link);
                    Ok(self.post_json(url.clone(), &body, Vec::new()).await)
                }
                Err(o) => Err(o),
            },
            TargetKind::Webhook {
                url,
                url_secret,
                signing_secret,
            } => {
                self.webhook(
                    n,
                    link,
                    url.as_ref(),
                    url_secret.as_deref(),
                    signing_secret,
                    redactor,
                )
                .await
            }
            TargetKind::Email { to } => match &config.email {
                Some(server) => self.email(server, to, n, link, redactor).await,
                None => Err(DeliveryOutcome::failed("no [email] server in notify.toml")),
            },
        };
        result.unwrap_or_else(|o| o)
    }

    async fn webhook(
        &self,
        n: &NotificationRequested,
        link: Option<&str>,
        url: Option<&Url>,
        url_secret: Option<&str>,
        signing_secret: &str,
        redactor: &mut Redactor,
    ) -> Result<DeliveryOutcome, DeliveryOutcome> {
        let url = match (url, url_secret) {
            (Some(u), _) => u.clone(),
            (None, Some(s)) => self.secret_url(s, redactor)?,
            (None, None) => return Err(DeliveryOutcome::failed("the webhook target has no url")),
        };
        let key = self.secret(signing_secret, redactor)?;
        let key = escalier_webhook::Secret::parse(&key).map_err(|e| {
            DeliveryOutcome::failed(format!(
                "secret `{signing_secret}` is not a signing secret: {e}"
            ))
        })?;
        let body = serde_json::to_vec(&render::webhook(n, link)).unwrap_or_default();
        let headers = escalier_webhook::sign_headers(
            &key,
            &n.delivery_id,
            self.clock.now().as_second(),
            &body,
        )
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Ok(self.post(url, body, headers).await)
    }

    async fn post_json(
        &self,
        url: Url,
        body: &serde_json::Value,
        headers: Vec<(String, String)>,
    ) -> DeliveryOutcome {
        let body = serde_json::to_vec(body).unwrap_or_default();
        self.post(url, body, headers).await
    }

    async fn post(
        &self,
        url: Url,
        body: Vec<u8>,
        mut headers: Vec<(String, String)>,
    ) -> DeliveryOutcome {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
        self.http
            .send(HttpRequest {
                method: "POST".to_owned(),
                url,
                headers,
                body,
            })
            .await
    }

    async fn email(
        &self,
        server: &EmailServer,
        to: &[lettre::message::Mailbox],
        n: &NotificationRequested,
        link: Option<&str>,
        redactor: &mut Redactor,
    ) -> Result<DeliveryOutcome, DeliveryOutcome> {
        let rendered = render::email(n, link);
        let mut builder = Message::builder()
            .from(server.from.clone())
            .subject(rendered.subject)
            .message_id(Some(message_id(&n.delivery_id)));
        for m in to {
            builder = builder.to(m.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| DeliveryOutcome::failed(format!("cannot build the email: {e}")))?;
        let tls = match server.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls | SmtpTls::Tls => {
                let params = TlsParameters::new(server.host.clone()).map_err(|e| {
                    DeliveryOutcome::failed(format!("TLS setup for `{}`: {e}", server.host))
                })?;
                if server.tls == SmtpTls::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&server.host)
            .port(server.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let (Some(user), Some(secret)) = (&server.username, &server.password_secret) {
            let password = self.secret(secret, redactor)?;
            transport = transport.credentials(Credentials::new(user.clone(), password));
        }
        let transport = transport.build();
        Ok(match transport.send(message).await {
            Ok(response) => DeliveryOutcome::Delivered {
                status: u16::from(response.code()),
            },
            Err(e) => {
                let status = e.status().map(u16::from);
                let reason = format!("SMTP {}:{}: {e}", server.host, server.port);
                if e.is_permanent() {
                    DeliveryOutcome::Failed {
                        reason,
                        status,
                        body: None,
                    }
                } else {
                    DeliveryOutcome::Retry {
                        reason,
                        after: None,
                        status,
                    }
                }
            }
        })
    }
}

/// `<ntf.12.3.duty-manager@escalier>`: the delivery id, which receivers
/// can deduplicate on, as a Message-ID.
fn message_id(delivery_id: &str) -> String {
    let local: String = delivery_id
        .chars()
        .map(|c| if c == ':' || c == '@' { '.' } else { c })
        .collect();
    format!("<{local}@escalier>")
}

impl Deliver for Notifier {
    fn deliver<'a>(&'a self, entry: &'a OutboxEntry) -> DeliverFuture<'a> {
        Box::pin(async move {
            match &entry.request {
                OutboxRequest::Notification(n) => self.send(n).await,
                _ => DeliveryOutcome::failed("not a notification"),
            }
        })
    }
}
