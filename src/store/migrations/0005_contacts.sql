-- The people an account's numbers talk to, for the 24-hour customer-service window: it opens when the
-- customer writes, and only then. Numbers are sealed; the blind index finds them.
CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    connection_id   INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    phone_index     BLOB NOT NULL,
    last_inbound_at INTEGER NOT NULL,
    UNIQUE (connection_id, phone_index)
) STRICT;
CREATE INDEX contacts_by_account ON contacts (account_id);
