-- API keys: `wapi_<id>_<secret>`; only the SHA-256 of the whole key is kept.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     BLOB NOT NULL UNIQUE,
    last4        TEXT NOT NULL,
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX api_keys_by_account ON api_keys (account_id);

-- A WhatsApp business number of an account, on Meta's Cloud API or on the built-in sandbox.
-- Secrets are sealed with the account's data key; only their last four characters are shown.
CREATE TABLE connections (
    id                 INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind               TEXT NOT NULL CHECK (kind IN ('cloud', 'sandbox')),
    name               TEXT NOT NULL,
    phone_number_id    TEXT NOT NULL,
    waba_id            TEXT NOT NULL,
    access_token       BLOB NOT NULL,
    access_token_last4 TEXT NOT NULL,
    app_secret         BLOB NOT NULL,
    app_secret_last4   TEXT NOT NULL,
    verify_token       BLOB NOT NULL,
    webhook_key        TEXT NOT NULL UNIQUE,
    graph_version      TEXT NOT NULL,
    graph_base_url     TEXT NOT NULL,
    throughput_mps     INTEGER NOT NULL DEFAULT 80 CHECK (throughput_mps BETWEEN 1 AND 1000),
    enforce_window     INTEGER NOT NULL DEFAULT 0,
    state              TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'held')),
    state_detail       TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX connections_by_account ON connections (account_id);

-- The outbox. Ids are time-ordered and chosen before the insert, so the sealed recipient and body can be
-- bound to their row.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    connection_id   INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    recipient       BLOB NOT NULL,
    recipient_index BLOB NOT NULL,
    type            TEXT NOT NULL,
    body            BLOB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'read', 'failed')),
    wamid           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    error_code      INTEGER,
    error_title     TEXT,
    error_details   TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    delivered_at    INTEGER,
    read_at         INTEGER,
    failed_at       INTEGER
) STRICT;
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX messages_leased ON messages (lease_until) WHERE status = 'sending';
CREATE INDEX messages_by_account ON messages (account_id, id);
CREATE UNIQUE INDEX messages_by_wamid ON messages (wamid) WHERE wamid IS NOT NULL;

-- The first answer to a POST with an Idempotency-Key, returned again for 24 hours.
CREATE TABLE idempotency_keys (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    message_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    status     INTEGER NOT NULL,
    response   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
) STRICT, WITHOUT ROWID;
