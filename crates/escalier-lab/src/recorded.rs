//! Recorded records as replay handles them: parsed, or still the line of
//! an export, decoded only as far as needed.
//!
//! Decoding a full record costs more than simulating much of what it
//! describes, so a replay of an export splits the work: the reader thread
//! reads only each line's head (seq, index, time, ticket) to route it, the
//! shard that owns the ticket decodes inputs fully, and compares recorded
//! derived records with the candidate's on their type, producer and the
//! exact text of their `data` — the same serializer wrote both, so equal
//! records have equal text. Only when that quick comparison fails is the
//! recorded record decoded and compared by value.

use std::borrow::Cow;

use escalier_core::event::{
    ApprovalDecided, CommentAdded, CsatReceived, LadderAcknowledged, Origin, StatusChanged,
    TicketAssigned, TicketCreated, TicketUpdated,
};
use escalier_core::{Action, Event, EventId, EventKind, Record, Source, TicketId, Timestamp};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A recorded record: decoded, or the text of its line.
#[derive(Debug)]
pub(crate) enum Recorded {
    Parsed(Box<Record>),
    Raw { text: String, line: u64 },
}

/// What routing needs from a line.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub seq: u64,
    pub index: u32,
    pub recorded_at: Timestamp,
    pub ticket_id: String,
}

impl Head {
    pub fn of(r: &Record) -> Head {
        Head {
            seq: r.seq,
            index: r.index,
            recorded_at: r.recorded_at,
            ticket_id: r.event.ticket_id.as_str().to_owned(),
        }
    }

    /// `(seq, index)` from the start of a line as the log serializer
    /// writes it (`{"seq":12,"index":3,...`), without reading the rest:
    /// enough to group a derived record under its input. `None` for any
    /// other layout.
    pub fn position(line: &str) -> Option<(u64, u32)> {
        let rest = line.strip_prefix("{\"seq\":")?;
        let end = rest.find(|c: char| !c.is_ascii_digit())?;
        let seq = rest[..end].parse().ok()?;
        let rest = rest[end..].strip_prefix(",\"index\":")?;
        let end = rest.find(|c: char| !c.is_ascii_digit())?;
        let index = rest[..end].parse().ok()?;
        Some((seq, index))
    }

    /// Read the head of an export line, skipping the rest.
    pub fn parse(line: &str) -> Result<Head, String> {
        #[derive(Deserialize)]
        struct H<'a> {
            seq: u64,
            index: u32,
            recorded_at: Timestamp,
            #[serde(borrow)]
            event: E<'a>,
        }
        #[derive(Deserialize)]
        struct E<'a> {
            #[serde(borrow)]
            ticket_id: Cow<'a, str>,
        }
        let h: H<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
        Ok(Head {
            seq: h.seq,
            index: h.index,
            recorded_at: h.recorded_at,
            ticket_id: h.event.ticket_id.into_owned(),
        })
    }
}

impl Recorded {
    /// The whole record. Inputs of the types tools send are decoded
    /// without the field-path tracking and rule checks meant for untrusted
    /// requests: the writer checked them before storing them.
    pub fn decode(self) -> Result<Record, (u64, String)> {
        match self {
            Recorded::Parsed(r) => Ok(*r),
            Recorded::Raw { text, line } => decode_line(&text).map_err(|m| (line, m)),
        }
    }
}

/// A recorded derived record, about to be compared.
#[derive(Debug)]
pub(crate) enum Derived {
    Parsed(Box<Record>),
    /// The line, with what the quick comparison needs located in it.
    Raw {
        text: String,
        line: u64,
        ty: String,
        by: String,
        plugin: bool,
        /// Byte range of `data` in `text`.
        data: std::ops::Range<usize>,
    },
}

impl Derived {
    pub fn new(r: Recorded) -> Result<Derived, (u64, String)> {
        let (text, line) = match r {
            Recorded::Parsed(r) => return Ok(Derived::Parsed(r)),
            Recorded::Raw { text, line } => (text, line),
        };
        let light: Light<'_> = serde_json::from_str(&text).map_err(|e| (line, e.to_string()))?;
        let data = match light.event.data {
            // RawValue::get is a slice of `text`: its offset is its place.
            Some(raw) => {
                let start = raw.get().as_ptr() as usize - text.as_ptr() as usize;
                start..start + raw.get().len()
            }
            None => 0..0,
        };
        let (ty, by, plugin) = (
            light.event.ty.into_owned(),
            light.source.name().to_owned(),
            light.source.kind == "plugin",
        );
        Ok(Derived::Raw {
            text,
            line,
            ty,
            by,
            plugin,
            data,
        })
    }

    /// The record's type.
    pub fn ty(&self) -> &str {
        match self {
            Derived::Parsed(r) => r.event.type_name(),
            Derived::Raw { ty, .. } => ty,
        }
    }

    /// Produced by a plugin (not compared: replay runs policies only).
    pub fn is_plugin(&self) -> bool {
        match self {
            Derived::Parsed(r) => matches!(r.source, Source::Plugin { .. }),
            Derived::Raw { plugin, .. } => *plugin,
        }
    }

    /// Equal to `replayed` in type, producer and data? `None`: cannot tell
    /// from the text (decode and compare by value). `replayed_data` caches
    /// the replayed record's data text.
    pub fn quick_eq(&self, replayed: &Record, replayed_data: &mut Option<String>) -> Option<bool> {
        match self {
            Derived::Parsed(r) => Some(
                r.event.type_name() == replayed.event.type_name()
                    && r.source.producer_name() == replayed.source.producer_name()
                    && crate::diff::same_data(&r.event.kind, &replayed.event.kind),
            ),
            Derived::Raw {
                text, ty, by, data, ..
            } => {
                if ty != replayed.event.type_name() || by != replayed.source.producer_name() {
                    return Some(false);
                }
                let replayed = replayed_data.get_or_insert_with(|| data_text(&replayed.event));
                // Different text may still be equal data (timing fields,
                // another serializer): let the caller decide by value.
                (text.get(data.clone()) == Some(replayed.as_str())).then_some(true)
            }
        }
    }

    pub fn decode(self) -> Result<Record, (u64, String)> {
        match self {
            Derived::Parsed(r) => Ok(*r),
            Derived::Raw { text, line, .. } => decode_line(&text).map_err(|m| (line, m)),
        }
    }
}

/// The text of an event's `data` as the log serializer writes it.
fn data_text(e: &Event) -> String {
    // The event serializer writes the payload struct as `data`: for the
    // kinds policies and clocks derive, serialize just that.
    let direct = match &e.kind {
        EventKind::Action(a) => match a {
            Action::Escalate(x) => serde_json::to_string(x),
            Action::Route(x) => serde_json::to_string(x),
            Action::SetPriority(x) => serde_json::to_string(x),
            Action::Assign(x) => serde_json::to_string(x),
            Action::Tag(x) => serde_json::to_string(x),
            Action::Notify(x) => serde_json::to_string(x),
            Action::Note(x) => serde_json::to_string(x),
            Action::RequireApproval(x) => serde_json::to_string(x),
            Action::RequireChecklist(x) => serde_json::to_string(x),
            Action::StartLadder(x) => serde_json::to_string(x),
            Action::StopLadder(x) => serde_json::to_string(x),
            _ => return envelope_data(e),
        },
        EventKind::SlaWarning(x) | EventKind::SlaBreached(x) => serde_json::to_string(x),
        EventKind::SlaMet(x) => serde_json::to_string(x),
        EventKind::LadderLevelReached(x) => serde_json::to_string(x),
        EventKind::LadderExhausted(x) => serde_json::to_string(x),
        EventKind::PolicyError(x) => serde_json::to_string(x),
        _ => return envelope_data(e),
    };
    direct.unwrap_or_default()
}

/// `data_text` the long way: the whole envelope, then its `data`.
fn envelope_data(e: &Event) -> String {
    let s = serde_json::to_string(e).unwrap_or_default();
    // `data` is the envelope's last key, and `,"data":` cannot occur
    // unescaped inside the string values before it.
    match s.find(",\"data\":") {
        Some(i) if s.len() > i + 9 => s[i + 8..s.len() - 1].to_owned(),
        _ => String::new(),
    }
}

#[derive(Deserialize)]
struct Light<'a> {
    #[serde(borrow)]
    source: LightSource<'a>,
    #[serde(borrow)]
    event: LightEvent<'a>,
}

#[derive(Deserialize)]
struct LightSource<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    policy: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    plugin: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    token: Option<Cow<'a, str>>,
}

impl LightSource<'_> {
    /// As `Source::producer_name`.
    fn name(&self) -> &str {
        match &*self.kind {
            "policy" => self.policy.as_deref().unwrap_or(""),
            "plugin" => self.plugin.as_deref().unwrap_or(""),
            "api" => self.token.as_deref().unwrap_or(""),
            "system" => "escalier",
            other => other,
        }
    }
}

#[derive(Deserialize)]
struct LightEvent<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// Decode an export line, with the fast path for inputs.
pub(crate) fn decode_line(text: &str) -> Result<Record, String> {
    #[derive(Deserialize)]
    struct R<'a> {
        seq: u64,
        index: u32,
        recorded_at: Timestamp,
        source: Source,
        #[serde(borrow)]
        event: &'a RawValue,
    }
    let r: R<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let event = match fast_input(r.event.get()) {
        Some(e) => e,
        None => Event::decode_one(r.event.get(), Origin::Internal).map_err(|e| e.to_string())?,
    };
    Ok(Record {
        seq: r.seq,
        index: r.index,
        recorded_at: r.recorded_at,
        source: r.source,
        event,
    })
}

/// The input types tools and the API send, decoded straight from their
/// data. `None` for anything else (and on any doubt): the caller takes the
/// general path.
fn fast_input(text: &str) -> Option<Event> {
    #[derive(Deserialize)]
    struct W<'a> {
        #[serde(borrow)]
        id: Cow<'a, str>,
        #[serde(rename = "type", borrow)]
        ty: Cow<'a, str>,
        #[serde(borrow)]
        ticket_id: Cow<'a, str>,
        occurred_at: Timestamp,
        #[serde(borrow)]
        data: &'a RawValue,
    }
    let w: W<'_> = serde_json::from_str(text).ok()?;
    let d = w.data.get();
    let kind = match &*w.ty {
        TicketCreated::TYPE => EventKind::TicketCreated(serde_json::from_str(d).ok()?),
        TicketUpdated::TYPE => EventKind::TicketUpdated(serde_json::from_str(d).ok()?),
        CommentAdded::TYPE => EventKind::CommentAdded(serde_json::from_str(d).ok()?),
        StatusChanged::TYPE => EventKind::StatusChanged(serde_json::from_str(d).ok()?),
        TicketAssigned::TYPE => EventKind::TicketAssigned(serde_json::from_str(d).ok()?),
        CsatReceived::TYPE => EventKind::CsatReceived(serde_json::from_str(d).ok()?),
        LadderAcknowledged::TYPE => EventKind::LadderAcknowledged(serde_json::from_str(d).ok()?),
        ApprovalDecided::TYPE => EventKind::ApprovalDecided(serde_json::from_str(d).ok()?),
        _ => return None,
    };
    Some(Event {
        id: EventId::new(w.id.into_owned()).ok()?,
        ticket_id: TicketId::new(w.ticket_id.into_owned()).ok()?,
        occurred_at: w.occurred_at,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{GenOptions, Generator};

    #[test]
    fn the_fast_path_decodes_inputs_exactly_as_the_general_one() {
        for (event, at) in Generator::new(GenOptions::default()).take(2_000) {
            let r = Record {
                seq: 7,
                index: 0,
                recorded_at: at,
                source: Source::Webhook { delivery: None },
                event,
            };
            let line = serde_json::to_string(&r).unwrap();
            let general: Record = serde_json::from_str(&line).unwrap();
            assert_eq!(decode_line(&line).unwrap(), general);
            let h = Head::parse(&line).unwrap();
            assert_eq!(Head::position(&line), Some((7, 0)));
            assert_eq!(
                (h.seq, h.index, h.recorded_at, h.ticket_id.as_str()),
                (7, 0, at, r.event.ticket_id.as_str())
            );
        }
    }

    #[test]
    fn data_text_is_the_data_of_the_envelope_for_every_derived_kind() {
        let policies = crate::Policies::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies"),
        )
        .unwrap();
        let mut sim = crate::Simulator::with_policies(
            std::sync::Arc::clone(policies.set()),
            Default::default(),
        );
        let mut kinds = std::collections::BTreeSet::new();
        for (event, at) in Generator::new(GenOptions {
            open_tickets: 30,
            ..GenOptions::default()
        })
        .take(3_000)
        {
            for r in sim
                .submit(event, Source::Webhook { delivery: None }, at)
                .records
            {
                assert_eq!(
                    data_text(&r.event),
                    envelope_data(&r.event),
                    "{}",
                    r.event.type_name()
                );
                kinds.insert(r.event.type_name());
            }
        }
        assert!(kinds.len() >= 12, "{kinds:?}");
    }

    #[test]
    fn data_text_is_what_the_log_holds() {
        let (event, at) = Generator::new(GenOptions::default()).next().unwrap();
        let r = Record {
            seq: 1,
            index: 0,
            recorded_at: at,
            source: Source::Webhook { delivery: None },
            event,
        };
        let line = serde_json::to_string(&r).unwrap();
        let raw = Derived::new(Recorded::Raw {
            text: line,
            line: 1,
        })
        .unwrap();
        assert!(!raw.is_plugin());
        assert_eq!(raw.quick_eq(&r, &mut None), Some(true));
    }
}
