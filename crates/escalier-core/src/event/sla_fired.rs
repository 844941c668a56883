//! `sla.warning` and `sla.breached`: an SLA clock reached its warning point
//! or its target. Internal: recorded by Escalier when a scheduler tick or
//! the ticket's next event finds the threshold due. The data is the
//! clock's [`ClockFired`]; see `docs/sla.md`.

use crate::error::Rejection;
use crate::sla::{ClockFired, Threshold};

impl ClockFired {
    pub const WARNING_TYPE: &'static str = "sla.warning";
    pub const BREACHED_TYPE: &'static str = "sla.breached";

    /// The `threshold` field must agree with the type it is recorded as.
    pub(crate) fn validate_as(&self, threshold: Threshold) -> Result<(), Rejection> {
        if self.threshold != threshold {
            return Err(Rejection::invalid(
                "threshold",
                format!(
                    "`{}` records a {} threshold",
                    match threshold {
                        Threshold::Warning => Self::WARNING_TYPE,
                        Threshold::Breach => Self::BREACHED_TYPE,
                    },
                    match threshold {
                        Threshold::Warning => "warning",
                        Threshold::Breach => "breach",
                    }
                ),
            ));
        }
        Ok(())
    }
}
