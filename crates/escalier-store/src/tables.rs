//! Table definitions: the on-disk contract.
//!
//! | table | key | value | written by |
//! |---|---|---|---|
//! | `events` | seq | input [`Record`](escalier_core::Record) (JSON) | writer |
//! | `derived` | (seq, index ≥ 1) | derived record (JSON) | processor |
//! | `dedupe` | event id | seq | writer |
//! | `heads` | ticket id | status as of the last committed input | writer |
//! | `tickets` | ticket id | [`Ticket`](escalier_core::Ticket) (JSON) | processor |
//! | `ticket_log` | (ticket id, seq, index) | () | processor |
//! | `clocks` | (due ms, ticket id, key) | () | processor |
//! | `ticket_clocks` | ticket id | the ticket's rows in `clocks` + books version (JSON) | processor |
//! | `outbox` | (due ms, delivery id) | [`OutboxEntry`](crate::outbox::OutboxEntry) (JSON) | processor adds, outbox worker moves and removes |
//! | `versions` | version | policy/SLA/ladder file contents (JSON) | processor |
//! | `meta` | name | u64 | both (distinct keys) |
//!
//! Invariants: every key in `dedupe` points at a row of `events`; `heads`
//! equals the lifecycle fold of `events`; `tickets` and `derived` reflect
//! exactly the inputs with seq ≤ `meta["processed"]`; `clocks` holds
//! exactly the next due instants of the processed tickets (rounded up to
//! the millisecond, so a row is never due before its instant).

use redb::{Database, ReadableTable, TableDefinition};

use crate::StoreError;

pub const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
pub const DERIVED: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("derived");
pub const DEDUPE: TableDefinition<&str, u64> = TableDefinition::new("dedupe");
pub const HEADS: TableDefinition<&str, u8> = TableDefinition::new("heads");
pub const TICKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("tickets");
pub const TICKET_LOG: TableDefinition<(&str, u64, u32), ()> = TableDefinition::new("ticket_log");
pub const CLOCKS: TableDefinition<(u64, &str, &str), ()> = TableDefinition::new("clocks");
pub const TICKET_CLOCKS: TableDefinition<&str, &[u8]> = TableDefinition::new("ticket_clocks");
pub const VERSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("versions");
pub const OUTBOX: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("outbox");
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// `meta` key: last input seq the processor has fully applied.
pub const META_PROCESSED: &str = "processed";
/// `meta` key: on-disk schema version.
pub const META_SCHEMA: &str = "schema";
/// Bump when a table's key or value format changes incompatibly.
pub const SCHEMA_VERSION: u64 = 1;

/// Create missing tables and check the schema version.
pub fn ensure(db: &Database) -> Result<(), StoreError> {
    let wtx = db.begin_write()?;
    {
        wtx.open_table(EVENTS)?;
        wtx.open_table(DERIVED)?;
        wtx.open_table(DEDUPE)?;
        wtx.open_table(HEADS)?;
        wtx.open_table(TICKETS)?;
        wtx.open_table(TICKET_LOG)?;
        wtx.open_table(CLOCKS)?;
        wtx.open_table(TICKET_CLOCKS)?;
        wtx.open_table(VERSIONS)?;
        wtx.open_table(OUTBOX)?;
        let mut meta = wtx.open_table(META)?;
        let found = meta.get(META_SCHEMA)?.map(|v| v.value());
        match found {
            None => {
                meta.insert(META_SCHEMA, SCHEMA_VERSION)?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(StoreError::Schema {
                    found: v,
                    expected: SCHEMA_VERSION,
                });
            }
        }
    }
    wtx.commit()?;
    Ok(())
}
