//! Zammad write-back: Escalier's decisions on `zammad:<number>` tickets
//! become Zammad REST API calls, queued in the outbox and sent by the host
//! with `Authorization: Token token=<access token>`. The token is the
//! secret `zammad_api_token`, which this plugin names and never reads.
//! Tickets of other tools are left alone.
//!
//! Zammad addresses tickets by their database id, which the `zammad`
//! adapter keeps in the ticket's `zammad_id` field: the plugin reads it
//! from the ticket's snapshot (`capabilities.snapshot`).
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

    /// The secret holding the Zammad access token (the plugin only names it).
    const TOKEN: &str = "zammad_api_token";

    struct ZammadWriteback;

    impl Plugin for ZammadWriteback {
        fn handle(ticket: Ticket, event: Event) -> Result<Vec<Action>, Error> {
            if !map::is_zammad(&ticket.id) {
                return Ok(Vec::new());
            }
            let Some(decision) =
                writeback::decode(&event.type_, &event.data).map_err(Error::InvalidInput)?
            else {
                return Ok(Vec::new());
            };
            let site = glue::site("https://zammad.example.com")?;
            let id = map::zammad_id(&ticket.full()?["fields"]);
            let plan = map::plan(
                &decision,
                &glue::view(&ticket),
                id,
                &event.source,
                &glue::mapping()?,
            );
            glue::send(&site, plan, &Auth::token(TOKEN))?;
            Ok(Vec::new())
        }
    }

    export_plugin!(ZammadWriteback);
}
