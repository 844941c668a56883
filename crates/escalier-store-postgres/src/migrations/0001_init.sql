-- Escalier on PostgreSQL, schema version 1.
--
-- Text columns use the "C" collation: ids sort by their bytes (as in the
-- embedded store) whatever the server's locale, and comparisons stay cheap.
--
-- The log: `events` (inputs, one row per seq) and `derived` (records the
-- processor derived from an input, at (seq, idx >= 1)). Seqs are taken
-- from the single `log_counter` row inside the ingest transaction, so they
-- are gapless and transactions that take them commit in seq order.

CREATE TABLE meta (
    name  text COLLATE "C" PRIMARY KEY,
    value bigint NOT NULL
);

-- ONE row. next_seq: the seq the next stored input gets.
CREATE TABLE log_counter (
    id       int PRIMARY KEY CHECK (id = 1),
    next_seq bigint NOT NULL
);
INSERT INTO log_counter (id, next_seq) VALUES (1, 1);

CREATE TABLE events (
    seq         bigint PRIMARY KEY,
    event_id    text COLLATE "C" NOT NULL UNIQUE,
    ticket_id   text COLLATE "C" NOT NULL,
    part        int NOT NULL,
    recorded_at timestamptz NOT NULL,
    body        bytea NOT NULL           -- the input record, JSON (codec::encode_record)
);
CREATE INDEX events_part_seq ON events (part, seq);
CREATE INDEX events_ticket_seq ON events (ticket_id, seq);

-- Lifecycle status after the last committed input of each ticket
-- (codec::encode_status). NULL: a row locked by an ingest transaction
-- whose events for the ticket were all refused: no status yet.
CREATE TABLE heads (
    ticket_id text COLLATE "C" PRIMARY KEY,
    status    smallint
);

CREATE TABLE derived (
    seq       bigint NOT NULL,
    idx       int NOT NULL,
    ticket_id text COLLATE "C" NOT NULL,
    body      bytea NOT NULL,            -- JSON, like events.body
    PRIMARY KEY (seq, idx)
);
CREATE INDEX derived_ticket ON derived (ticket_id, seq, idx);

-- Ticket bodies (MessagePack, codec::encode_ticket) with their clock index
-- rows (MessagePack of escalier_store::processor::Indexed) and the books
-- version those rows were computed with.
CREATE TABLE tickets (
    ticket_id     text COLLATE "C" PRIMARY KEY,
    part          int NOT NULL,
    body          bytea NOT NULL,
    clock_index   bytea,
    clock_version text COLLATE "C" NOT NULL DEFAULT '',
    changed_seq   bigint NOT NULL
);
CREATE INDEX tickets_changed ON tickets (changed_seq);
CREATE INDEX tickets_part ON tickets (part, clock_version);

-- The due-time index: the next due instant (ms, rounded up) of each clock.
CREATE TABLE clocks (
    due_ms    bigint NOT NULL,
    ticket_id text COLLATE "C" NOT NULL,
    key       text COLLATE "C" NOT NULL,
    part      int NOT NULL,
    PRIMARY KEY (due_ms, ticket_id, key)
);
CREATE INDEX clocks_part_due ON clocks (part, due_ms);

-- Pending side effects (entry: JSON of escalier_store::outbox::OutboxEntry).
CREATE TABLE outbox (
    delivery_id text COLLATE "C" PRIMARY KEY,
    due_ms      bigint NOT NULL,
    part        int NOT NULL,
    entry       bytea NOT NULL
);
CREATE INDEX outbox_part_due ON outbox (part, due_ms, delivery_id);
CREATE INDEX outbox_due ON outbox (due_ms, delivery_id);

-- Every delivery's current state (row: JSON of DeliveryRow). updated_ms is
-- row.updated_at in ms rounded up.
CREATE TABLE deliveries (
    delivery_id text COLLATE "C" PRIMARY KEY,
    ticket_id   text COLLATE "C" NOT NULL,
    state       text COLLATE "C" NOT NULL,
    updated_ms  bigint NOT NULL,
    row         bytea NOT NULL
);
CREATE INDEX deliveries_updated ON deliveries (updated_ms DESC, delivery_id DESC);
CREATE INDEX deliveries_state ON deliveries (state, updated_ms DESC, delivery_id DESC);
CREATE INDEX deliveries_ticket ON deliveries (ticket_id, updated_ms DESC, delivery_id DESC);

-- Policy sets and books changes.
CREATE TABLE versions (
    key   text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);

-- Nodes and partition leases. Times are the database's (now()).
CREATE TABLE nodes (
    id           text COLLATE "C" PRIMARY KEY,
    addr         text COLLATE "C" NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);

-- cursor: the last input seq of the partition that has been processed.
CREATE TABLE partitions (
    id         int PRIMARY KEY,
    owner      text COLLATE "C",
    epoch      bigint NOT NULL DEFAULT 0,
    expires_at timestamptz,
    cursor     bigint NOT NULL DEFAULT 0
);
