//! Table definitions: the on-disk contract.
//!
//! | table | key | value | written by |
//! |---|---|---|---|
//! | `events` | seq | input [`Record`](escalier_core::Record) (JSON) | writer |
//! | `derived` | (seq, index ≥ 1) | derived record (JSON) | processor |
//! | `dedupe` | event id | seq | writer |
//! | `ticket_data` | (ticket id, [`HEAD`], 0, 0) | status as of the last committed input | writer |
//! | | (ticket id, [`BODY`], 0, 0) | [`Ticket`](escalier_core::Ticket) (MessagePack) | processor |
//! | | (ticket id, [`INDEX`], 0, 0) | the ticket's rows in `clocks` + books version (MessagePack) | processor |
//! | | (ticket id, [`LOG`], seq, index) | empty: one row per record of the ticket's timeline | processor |
//! | `clocks` | (due ms, ticket id, key) | () | processor |
//! | `outbox` | (due ms, delivery id) | [`OutboxEntry`](crate::outbox::OutboxEntry) (JSON) | processor adds, outbox worker moves and removes |
//! | `deliveries` | delivery id | [`DeliveryRow`](crate::outbox::DeliveryRow) (JSON): state, attempts, last status | processor adds, outbox worker updates |
//! | `delivery_index` | (bucket, updated ms, delivery id) | () — buckets: the state, `*` (all), `t:<ticket id>` | with `deliveries` |
//! | `versions` | version | policy/SLA/ladder file contents (JSON) | processor |
//! | `meta` | name | u64 | both (distinct keys) |
//!
//! Everything about one ticket shares a key prefix in `ticket_data`, so an
//! event dirties one or two B-tree leaves instead of one per table: with a
//! table per kind, every durable commit wrote about twice the bytes (each
//! random key copies a 4 KiB leaf), and the commit is what an
//! acknowledgement waits for (docs/performance.md).
//!
//! Invariants: every key in `dedupe` points at a row of `events`; the
//! `HEAD` rows equal the lifecycle fold of `events`; `BODY`, `LOG` and
//! `derived` reflect exactly the inputs with seq ≤ `meta["processed"]`; `clocks` holds
//! exactly the next due instants of the processed tickets (rounded up to
//! the millisecond, so a row is never due before its instant).

use ::redb::{Database, ReadableTable, TableDefinition};

use crate::StoreError;

pub const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
pub const DERIVED: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("derived");
pub const DEDUPE: TableDefinition<&str, u64> = TableDefinition::new("dedupe");
pub const TICKET_DATA: TableDefinition<(&str, u8, u64, u32), &[u8]> =
    TableDefinition::new("ticket_data");
pub const CLOCKS: TableDefinition<(u64, &str, &str), ()> = TableDefinition::new("clocks");
pub const VERSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("versions");
pub const OUTBOX: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("outbox");
pub const DELIVERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("deliveries");
pub const DELIVERY_INDEX: TableDefinition<(&str, u64, &str), ()> =
    TableDefinition::new("delivery_index");
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// `ticket_data` kinds, in key order.
pub const HEAD: u8 = 0;
pub const BODY: u8 = 1;
pub const INDEX: u8 = 2;
pub const LOG: u8 = 3;

/// Key of a ticket's row of `kind` (not for `LOG`).
pub fn ticket_key(id: &str, kind: u8) -> (&str, u8, u64, u32) {
    (id, kind, 0, 0)
}

/// `meta` key: last input seq the processor has fully applied.
pub const META_PROCESSED: &str = "processed";
/// `meta` key: on-disk schema version.
pub const META_SCHEMA: &str = "schema";
/// Bump when a table's key or value format changes incompatibly.
pub const SCHEMA_VERSION: u64 = 3;

/// Create missing tables and check the schema version.
pub fn ensure(db: &Database) -> Result<(), StoreError> {
    let wtx = db.begin_write()?;
    {
        wtx.open_table(EVENTS)?;
        wtx.open_table(DERIVED)?;
        wtx.open_table(DEDUPE)?;
        wtx.open_table(TICKET_DATA)?;
        wtx.open_table(CLOCKS)?;
        wtx.open_table(VERSIONS)?;
        wtx.open_table(OUTBOX)?;
        wtx.open_table(DELIVERIES)?;
        wtx.open_table(DELIVERY_INDEX)?;
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
