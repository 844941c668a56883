//! Zendesk write-back: Escalier's decisions on `zendesk:<id>` tickets
//! become Zendesk Tickets API calls, queued in the outbox and sent by the
//! host with `Authorization: Basic base64(<email>/token:<API token>)`. The
//! token is the secret `zendesk_api_token`, which this plugin names and
//! never reads. Tickets of other tools are left alone.
//!
//! The mapping (action + ticket + config → method, path, JSON body) is in
//! [`map`], plain functions tested on the host target; the plugin reads
//! its config and queues what [`map::plan`] plans.

pub mod map;

#[cfg(target_family = "wasm")]
mod plugin {
    use escalier_plugin_sdk::http::Auth;
    use escalier_plugin_sdk::{Action, Error, Event, Plugin, Ticket, export_plugin};
    use writeback::glue;

    use super::map;

    /// The secret holding the Zendesk API token (the plugin only names it).
    const TOKEN: &str = "zendesk_api_token";

    struct ZendeskWriteback;

    impl Plugin for ZendeskWriteback {
        fn handle(ticket: Ticket, event: Event) -> Result<Vec<Action>, Error> {
            if map::ticket_number(&ticket.id).is_none() {
                return Ok(Vec::new());
            }
            let Some(decision) =
                writeback::decode(&event.type_, &event.data).map_err(Error::InvalidInput)?
            else {
                return Ok(Vec::new());
            };
            let site = glue::site("https://<subdomain>.zendesk.com")?;
            let email = glue::required("email", "the email of the agent the API token belongs to")?;
            let plan = map::plan(
                &decision,
                &glue::view(&ticket),
                &event.source,
                &glue::mapping()?,
            );
            let auth = Auth::basic(format!("{}/token", email.trim()), TOKEN);
            glue::send(&site, plan, &auth)?;
            Ok(Vec::new())
        }
    }

    export_plugin!(ZendeskWriteback);
}
