//! `plugin.command`: a person asked a plugin to do something it defines
//! (`POST /v1/tickets/{id}/plugins/{plugin}/commands/{command}`; not
//! accepted on `/v1/events`). The plugin host hands it to that plugin's
//! command export while processing, like any event, so what the command
//! does is recorded and replayable.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginCommand {
    pub plugin: String,
    pub command: String,
    /// Command arguments, as the plugin defines them.
    #[serde(default)]
    pub args: serde_json::Value,
    /// Who asked.
    pub by: String,
}

impl PluginCommand {
    pub const TYPE: &'static str = "plugin.command";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        check::name("plugin", &self.plugin)?;
        check::name("command", &self.command)?;
        check::name("by", &self.by)?;
        let len = self.args.to_string().len();
        if len > 16 * 1024 {
            return Err(Rejection::invalid(
                "args",
                format!("is {len} bytes of JSON; at most 16384 allowed"),
            ));
        }
        Ok(())
    }
}
