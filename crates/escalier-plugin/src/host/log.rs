//! `log`: a plugin's diagnostics go to Escalier's log (tracing), tagged
//! with the plugin and ticket, cut to size.

use crate::bindings::escalier::plugin::log::{Host, Level};
use crate::call::CallState;

const MAX_LINE: usize = 4096;
const MAX_LINES: u32 = 64;

impl Host for CallState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if !self.plugin.capabilities.log {
            return Err(self.deny("log.log: logging".into()));
        }
        self.out.log_lines += 1;
        if self.out.log_lines > MAX_LINES {
            return Ok(());
        }
        let mut msg = message;
        if msg.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !msg.is_char_boundary(cut) {
                cut -= 1;
            }
            msg.truncate(cut);
            msg.push('…');
        }
        let plugin = self.plugin.name.as_str();
        let ticket = self
            .ctx
            .ticket
            .as_ref()
            .map(|t| t.id.as_str())
            .unwrap_or("-");
        match level {
            Level::Debug => {
                tracing::debug!(target: "escalier_plugin::guest", plugin, ticket, "{msg}")
            }
            Level::Info => {
                tracing::info!(target: "escalier_plugin::guest", plugin, ticket, "{msg}")
            }
            Level::Warn => {
                tracing::warn!(target: "escalier_plugin::guest", plugin, ticket, "{msg}")
            }
            Level::Error => {
                tracing::error!(target: "escalier_plugin::guest", plugin, ticket, "{msg}")
            }
        }
        Ok(())
    }
}
