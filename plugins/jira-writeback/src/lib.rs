//! Jira Service Management write-back: Escalier's decisions on
//! `jira:<issue key>` tickets become Jira REST calls (the platform's
//! edit-issue and Service Management's request comment), queued in the
//! outbox and sent by the host with `Authorization: Basic
//! base64(<email>:<API token>)`. The token is the secret `jira_api_token`,
//! which this plugin names and never reads. Tickets of other tools are
//! left alone.
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

    /// The secret holding the Atlassian API token (the plugin only names it).
    const TOKEN: &str = "jira_api_token";

    struct JiraWriteback;

    impl Plugin for JiraWriteback {
        fn handle(ticket: Ticket, event: Event) -> Result<Vec<Action>, Error> {
            if map::issue_key(&ticket.id).is_none() {
                return Ok(Vec::new());
            }
            let Some(decision) =
                writeback::decode(&event.type_, &event.data).map_err(Error::InvalidInput)?
            else {
                return Ok(Vec::new());
            };
            let site = glue::site("https://<site>.atlassian.net")?;
            let email =
                glue::required("email", "the email of the account the API token belongs to")?;
            let group_field = glue::text("group_field")?;
            let plan = map::plan(
                &decision,
                &glue::view(&ticket),
                &event.source,
                &glue::mapping()?,
                group_field.as_deref().map(str::trim),
            );
            glue::send(&site, plan, &Auth::basic(email.trim(), TOKEN))?;
            Ok(Vec::new())
        }
    }

    export_plugin!(JiraWriteback);
}
