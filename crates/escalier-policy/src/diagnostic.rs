//! Load-time diagnostics: what is wrong with a policy file, where, and what
//! to do about it.
//!
//! One shape for every consumer: `escalier check` prints them, the
//! registry keeps the last ones for `GET /v1/policies`, the watcher logs
//! them. Codes are stable (tools and tests match on them); messages may be
//! reworded.

use std::fmt;

use serde::{Serialize, Serializer};

/// Why a policy file was refused. Stable: tools match on [`Code::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// The file is not valid Rhai.
    SyntaxError,
    /// A name that is neither `ticket`, `event`, nor declared with `let`/`const`.
    UnknownVariable,
    /// `import` or `eval`: not available to policies.
    ForbiddenKeyword,
    /// No top-level `const ON = [...]`.
    MissingOn,
    /// `ON` exists but is not a list of event type names.
    InvalidOn,
    /// An `ON` entry names no event type Escalier has.
    UnknownEventType,
    /// A call to a function that is neither built in nor defined in the file.
    UnknownFunction,
    /// A known function called with a number of arguments it does not take.
    WrongArgumentCount,
    /// `ticket.x` or `event.x` where `x` is not a field of either.
    UnknownProperty,
    /// A variable named `ticket` or `event`, hiding the real ones.
    ReservedName,
    /// An assignment to `ticket`, `event` or one of their fields.
    ReadOnly,
    /// Two sources with the same policy name.
    DuplicatePolicy,
    /// The file is not UTF-8 text.
    InvalidUtf8,
    /// The file or directory could not be read.
    Io,
    /// `sla.toml` or `ladders.toml` breaks a rule (the message names the key).
    InvalidData,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::SyntaxError => "syntax_error",
            Code::InvalidData => "invalid_data",
            Code::UnknownVariable => "unknown_variable",
            Code::ForbiddenKeyword => "forbidden_keyword",
            Code::MissingOn => "missing_on",
            Code::InvalidOn => "invalid_on",
            Code::UnknownEventType => "unknown_event_type",
            Code::UnknownFunction => "unknown_function",
            Code::WrongArgumentCount => "wrong_argument_count",
            Code::UnknownProperty => "unknown_property",
            Code::ReservedName => "reserved_name",
            Code::ReadOnly => "read_only",
            Code::DuplicatePolicy => "duplicate_policy",
            Code::InvalidUtf8 => "invalid_utf8",
            Code::Io => "io_error",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One problem in one policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file as the user knows it: the policies directory joined with
    /// the policy name, or the name given to `from_sources`.
    pub file: String,
    /// 1-based; `None` when the whole file is at fault (I/O errors).
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub code: Code,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub(crate) fn new(
        file: &str,
        pos: Option<(u32, u32)>,
        code: Code,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.to_owned(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn at(
        file: &str,
        pos: rhai::Position,
        code: Code,
        message: impl Into<String>,
    ) -> Self {
        Self::new(file, line_col(pos), code, message)
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

/// A Rhai position as 1-based `(line, column)`, if it has one.
pub(crate) fn line_col(pos: rhai::Position) -> Option<(u32, u32)> {
    let line = pos.line()?;
    // Rhai reports column 0 for "the whole line" (e.g. end of input).
    let col = pos.position().unwrap_or(1).max(1);
    Some((
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    ))
}

/// `did you mean "x"?` when a near name exists.
pub(crate) fn did_you_mean<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    escalier_core::suggest::nearest(typed, candidates).map(|s| format!("did you mean \"{s}\"?"))
}

impl fmt::Display for Diagnostic {
    /// `policies/vip.rhai:3:14: error[unknown_event_type]: ...` and an
    /// indented `hint:` line, the shape compilers use so editors can jump to it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": error[{}]: {}", self.code, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Several diagnostics, one per paragraph, for `{}` in logs and the CLI.
pub(crate) struct Listing<'a>(pub &'a [Diagnostic]);

impl fmt::Display for Listing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_col_code_message_hint() {
        let d = Diagnostic::new(
            "policies/vip.rhai",
            Some((3, 14)),
            Code::UnknownEventType,
            "no such type",
        )
        .with_hint("did you mean \"ticket.created\"?");
        assert_eq!(
            d.to_string(),
            "policies/vip.rhai:3:14: error[unknown_event_type]: no such type\n  hint: did you mean \"ticket.created\"?"
        );
        let io = Diagnostic::new("policies/x.rhai", None, Code::Io, "permission denied");
        assert_eq!(
            io.to_string(),
            "policies/x.rhai: error[io_error]: permission denied"
        );
    }

    #[test]
    fn serializes_with_string_code() {
        let d = Diagnostic::new("a.rhai", Some((1, 2)), Code::MissingOn, "m");
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["code"], "missing_on");
        assert_eq!(v["line"], 1);
        assert!(v.get("hint").is_none());
    }
}
