//! Sending one queued plugin request. The plugin-specific checks run here,
//! then the request goes through the safe client of `escalier_outbox::http`
//! (address policy on every resolved address, connect only to checked
//! addresses, rustls/webpki, timeouts, no redirects) and its answer is
//! classified by `escalier_outbox::classify`. In order, before any byte
//! leaves:
//!
//! 1. the plugin must still be loaded and its *current* manifest must
//!    still allow the URL (a reload may have narrowed it);
//! 2. signed per Standard Webhooks if the request asks for it, with the
//!    plugin's signing secret;
//! 3. authenticated if the request asks for it (`send-authenticated`): the
//!    secret must still be in the manifest's `capabilities.http.auth_secrets`
//!    and set (else `delivery.failed` "secret `x` is not set", not retried),
//!    the request must not carry its own `Authorization` header, and the
//!    header is built by [`super::auth::authorization`]. The value is put in
//!    the request only: never in a reason, a log line or a record;
//! 4. the client's checks and the exchange.

use std::sync::Arc;

use escalier_core::Clock;
use escalier_core::event::DeliveryRequested;
use escalier_outbox::http::{Client, ClientConfig, HttpRequest};
use escalier_outbox::{Deliver, DeliverFuture, OutboxEntry, OutboxRequest};
use url::Url;

use super::allow::check_allowed;
use crate::registry::PluginRegistry;
pub use escalier_outbox::DeliveryOutcome;
pub use escalier_outbox::http::{Resolve, SystemResolver};

/// How the plugins' delivery client connects and how long it waits: the
/// outbox's own client settings (the address policy is the one checked at
/// call time, `HostConfig::address_policy`; the clock also stamps
/// `webhook-timestamp`).
pub type OutboundConfig = ClientConfig;

/// The delivery client for plugins' requests; implements
/// [`escalier_outbox::Deliver`] for [`OutboxRequest::Http`] entries.
pub struct Outbound {
    registry: Arc<PluginRegistry>,
    client: Arc<Client>,
    clock: Arc<dyn Clock>,
}

impl Outbound {
    pub fn new(registry: Arc<PluginRegistry>, config: OutboundConfig) -> Result<Outbound, String> {
        let clock = config.clock.clone();
        Ok(Outbound {
            registry,
            client: Arc::new(Client::new(config)?),
            clock,
        })
    }

    /// The safe HTTP client underneath (shareable with other senders).
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// Make one attempt. Never panics; every problem is an outcome.
    pub async fn deliver(&self, req: &DeliveryRequested) -> DeliveryOutcome {
        match self.prepare(req) {
            Ok(request) => self.client.send(request).await,
            Err(reason) => DeliveryOutcome::failed(reason),
        }
    }

    /// The plugin-specific checks, signing and authentication.
    fn prepare(&self, req: &DeliveryRequested) -> Result<HttpRequest, String> {
        let set = self.registry.current();
        let Some(plugin) = set.get(&req.plugin) else {
            return Err(format!("plugin `{}` is no longer loaded", req.plugin));
        };
        let Some(cap) = plugin.manifest.capabilities.http.as_ref() else {
            return Err(format!(
                "plugin `{}` no longer has capabilities.http",
                req.plugin
            ));
        };
        let url = Url::parse(&req.url).map_err(|e| format!("bad URL `{}`: {e}", req.url))?;
        check_allowed(&url, &cap.allowed_hosts)?;
        self.client.check_url(&url)?;
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        if req.sign {
            let Some(value) = cap
                .signing_secret
                .as_ref()
                .and_then(|n| plugin.ctx.secrets.get(n))
            else {
                return Err(
                    "signing was asked for but the plugin has no signing secret now".into(),
                );
            };
            // Checked at load; the value is never in the message.
            let key = escalier_webhook::Secret::parse(value)
                .map_err(|e| format!("the signing secret cannot sign: {e}"))?;
            let ts = self.clock.now().as_second();
            for (name, value) in
                escalier_webhook::sign_headers(&key, &req.delivery_id, ts, req.body.as_bytes())
            {
                headers.push((name.to_string(), value.to_string()));
            }
        }
        if let Some(auth) = &req.auth {
            if !cap.auth_secrets.iter().any(|s| s == &auth.secret) {
                return Err(format!(
                    "secret `{}` is not in capabilities.http.auth_secrets of plugin `{}` now",
                    auth.secret, req.plugin
                ));
            }
            if headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(super::auth::HEADER))
            {
                return Err(
                    "the request carries its own Authorization header; with auth the host adds it"
                        .into(),
                );
            }
            let Some(value) = self.registry.secret(&auth.secret) else {
                return Err(format!("secret `{}` is not set", auth.secret));
            };
            headers.push((
                super::auth::HEADER.to_owned(),
                super::auth::authorization(auth, &value),
            ));
        }
        Ok(HttpRequest {
            method: req.method.clone(),
            url,
            headers,
            body: req.body.clone().into_bytes(),
        })
    }
}

impl Deliver for Outbound {
    fn deliver<'a>(&'a self, entry: &'a OutboxEntry) -> DeliverFuture<'a> {
        Box::pin(async move {
            match &entry.request {
                OutboxRequest::Http(req) => Outbound::deliver(self, req).await,
                OutboxRequest::Notification(_) => {
                    DeliveryOutcome::failed("a notification reached the plugin outbound client")
                }
            }
        })
    }
}
