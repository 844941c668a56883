//! `csat.received`: the customer rated the support they got (1–5).

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsatReceived {
    pub score: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl CsatReceived {
    pub const TYPE: &'static str = "csat.received";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        if !(1..=5).contains(&self.score) {
            return Err(Rejection::invalid(
                "score",
                format!("score {} is out of range; CSAT is 1 to 5", self.score),
            ));
        }
        if let Some(c) = &self.comment {
            check::text("comment", c, 16 * 1024)?;
        }
        Ok(())
    }
}
