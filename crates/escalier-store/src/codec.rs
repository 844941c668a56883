//! Value encoding.
//!
//! Log records are stored as JSON: the log is meant to be read by people
//! and tools, and `escalier export` copies it out as is.
//!
//! Tickets (rewritten on every event) are stored as MessagePack with field
//! names: the same serde model as the API's JSON, but without string
//! escaping and number formatting, which made ticket encoding the largest
//! single cost of processing (docs/performance.md). Field names keep it
//! robust to fields added with defaults.

use escalier_core::{Record, Status, Ticket};

use crate::StoreError;

pub fn encode_record(r: &Record) -> Vec<u8> {
    // Serializing plain data to a Vec cannot fail.
    serde_json::to_vec(r).unwrap_or_default()
}

pub fn decode_record(bytes: &[u8]) -> Result<Record, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: "record",
        detail: e.to_string(),
    })
}

pub fn encode_ticket(t: &Ticket) -> Vec<u8> {
    encode_named(t)
}

pub fn decode_ticket(bytes: &[u8]) -> Result<Ticket, StoreError> {
    decode_named(bytes, "ticket")
}

/// MessagePack with field names (maps, not arrays), for internal tables.
pub(crate) fn encode_named<T: serde::Serialize>(v: &T) -> Vec<u8> {
    // Serializing plain data to a Vec cannot fail.
    rmp_serde::to_vec_named(v).unwrap_or_default()
}

pub(crate) fn decode_named<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, StoreError> {
    rmp_serde::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

pub fn encode_status(s: Status) -> u8 {
    Status::ALL.iter().position(|x| *x == s).unwrap_or(0) as u8
}

pub fn decode_status(b: u8) -> Result<Status, StoreError> {
    Status::ALL
        .get(b as usize)
        .copied()
        .ok_or(StoreError::Corrupt {
            what: "ticket status",
            detail: format!("code {b}"),
        })
}
