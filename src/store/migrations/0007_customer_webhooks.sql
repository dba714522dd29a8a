-- Customers' own webhook endpoints. The signing secret (`whsec_...`) is sealed and shown once.
CREATE TABLE webhook_endpoints (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    event_types  TEXT NOT NULL,
    secret       BLOB NOT NULL,
    paused_at    INTEGER,
    pause_reason TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_by_account ON webhook_endpoints (account_id);

-- One event, as delivered to every endpoint that asked for its type. The body is sealed: a received
-- message's event carries what the customer wrote. Deleting the message deletes its events.
CREATE TABLE webhook_events (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    message_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    inbound_id INTEGER REFERENCES inbound_messages (id) ON DELETE CASCADE,
    body       BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_events_by_account ON webhook_events (account_id, id);
CREATE INDEX webhook_events_by_message ON webhook_events (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX webhook_events_by_inbound ON webhook_events (inbound_id) WHERE inbound_id IS NOT NULL;

-- The durable queue of deliveries: one row per (event, endpoint), retried with backoff until delivered
-- or dead-lettered (`failed`); a row leased by a process that died is picked up again when its lease ends.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        INTEGER NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_code       INTEGER,
    last_error      TEXT,
    last_attempt_at INTEGER,
    delivered_at    INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (event_id, endpoint_id)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (lease_until) WHERE status = 'delivering';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);

-- Every attempt, for people to see what the endpoint answered and when.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    code        INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id);
