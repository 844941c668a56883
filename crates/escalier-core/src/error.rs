//! `Rejection`: input that breaks a rule of the domain.
//!
//! A rejection names a stable machine-readable code, a message a person can
//! act on, and the JSON path of the field at fault. The HTTP edge maps codes
//! to statuses; nothing here knows about HTTP.

use std::fmt;

/// Why an input was refused. Stable: clients match on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionCode {
    /// The JSON could not be parsed at all.
    MalformedJson,
    /// A field is missing, of the wrong type, or out of range.
    InvalidField,
    /// The `type` is not one Escalier knows, or is reserved for Escalier itself.
    UnknownEventType,
    /// The event refers to a ticket that has not been created.
    UnknownTicket,
    /// `ticket.created` for a ticket that already exists.
    TicketExists,
    /// A status change the lifecycle does not allow.
    InvalidTransition,
    /// The ticket is closed and accepts no further changes of this kind.
    TicketClosed,
    /// The approval, checklist or item named does not exist on the ticket.
    NotFound,
}

impl RejectionCode {
    /// The stable string form used in API errors.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::MalformedJson => "malformed_json",
            RejectionCode::InvalidField => "invalid_field",
            RejectionCode::UnknownEventType => "unknown_event_type",
            RejectionCode::UnknownTicket => "unknown_ticket",
            RejectionCode::TicketExists => "ticket_exists",
            RejectionCode::InvalidTransition => "invalid_transition",
            RejectionCode::TicketClosed => "ticket_closed",
            RejectionCode::NotFound => "not_found",
        }
    }

    /// Whether the input was well-formed but not acceptable in the current
    /// state of the ticket (HTTP 422) rather than malformed (HTTP 400).
    pub fn is_semantic(self) -> bool {
        matches!(
            self,
            RejectionCode::UnknownEventType
                | RejectionCode::UnknownTicket
                | RejectionCode::TicketExists
                | RejectionCode::InvalidTransition
                | RejectionCode::TicketClosed
                | RejectionCode::NotFound
        )
    }
}

/// A refused input: code, human message, and the JSON path of the field at
/// fault (`""` when the whole input is at fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Rejection {
    pub code: RejectionCode,
    pub message: String,
    pub field: String,
}

impl Rejection {
    pub fn new(code: RejectionCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
            field: field.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(RejectionCode::InvalidField, field, message)
    }

    /// Prefix the field path, e.g. `data` + `priority` → `data.priority`,
    /// or `[3]` + `data.priority` → `[3].data.priority`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = join_path(prefix, &self.field);
        self
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.code.as_str(), self.message)
        } else {
            write!(
                f,
                "{} at `{}`: {}",
                self.code.as_str(),
                self.field,
                self.message
            )
        }
    }
}

/// Join two JSON paths: `a` + `b` → `a.b`, `a` + `[1]` → `a[1]`.
pub fn join_path(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (_, true) => prefix.to_owned(),
        _ if rest.starts_with('[') => format!("{prefix}{rest}"),
        _ => format!("{prefix}.{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_like_json_paths() {
        assert_eq!(join_path("data", "priority"), "data.priority");
        assert_eq!(join_path("[3]", "data.tags[0]"), "[3].data.tags[0]");
        assert_eq!(join_path("data", "[0]"), "data[0]");
        assert_eq!(join_path("", "id"), "id");
        assert_eq!(join_path("data", ""), "data");
    }
}
