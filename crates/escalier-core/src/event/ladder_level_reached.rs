//! `ladder.level_reached`: an escalation ladder reached a level. Internal.
//! The data ([`LevelReached`]) says what the level does; the effects are
//! the ordinary `action.*` records recorded right after it, so applying
//! this event changes only the ticket's ladder counters.

use crate::ladder::LevelReached;

impl LevelReached {
    pub const TYPE: &'static str = "ladder.level_reached";
}
