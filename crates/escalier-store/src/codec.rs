//! Value encoding. Records and tickets are stored as JSON: the log is meant
//! to be read by people and tools (`escalier export` is a straight copy),
//! and serde_json decoding is not where the time goes (see docs/performance.md).

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
    serde_json::to_vec(t).unwrap_or_default()
}

pub fn decode_ticket(bytes: &[u8]) -> Result<Ticket, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: "ticket",
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
