-- Every POST Meta made to a connection's webhook, sealed and kept as received: it is committed before Meta
-- gets its 200, so what Meta counts as delivered is never lost.
CREATE TABLE webhook_payloads (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    connection_id INTEGER REFERENCES connections (id) ON DELETE SET NULL,
    body          BLOB NOT NULL,
    received_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_payloads_by_time ON webhook_payloads (received_at);
CREATE INDEX webhook_payloads_by_account ON webhook_payloads (account_id);

-- Each status Meta reported for an outgoing message, once: Meta's retries and duplicates change nothing.
-- message_id is empty for a wamid we did not send (a message sent from elsewhere on the same number).
CREATE TABLE message_statuses (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    message_id    INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    payload_id    INTEGER REFERENCES webhook_payloads (id) ON DELETE SET NULL,
    wamid         TEXT NOT NULL,
    status        TEXT NOT NULL,
    at            INTEGER NOT NULL,
    error_code    INTEGER,
    error_title   TEXT,
    error_details TEXT,
    received_at   INTEGER NOT NULL,
    UNIQUE (account_id, wamid, status)
) STRICT;
CREATE INDEX message_statuses_by_message ON message_statuses (message_id);
CREATE INDEX message_statuses_by_time ON message_statuses (received_at);

-- What customers wrote, sealed; unique on Meta's id so a duplicate delivery is stored once.
CREATE TABLE inbound_messages (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    connection_id INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    contact_id    INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    payload_id    INTEGER REFERENCES webhook_payloads (id) ON DELETE SET NULL,
    meta_id       TEXT NOT NULL,
    type          TEXT NOT NULL,
    body          BLOB NOT NULL,
    sent_at       INTEGER NOT NULL,
    received_at   INTEGER NOT NULL,
    seen_at       INTEGER,
    UNIQUE (account_id, meta_id)
) STRICT;
CREATE INDEX inbound_by_contact ON inbound_messages (contact_id, sent_at);
CREATE INDEX inbound_by_time ON inbound_messages (received_at);

-- The inbox needs to show who a contact is: number and profile name, sealed like every other number.
ALTER TABLE contacts ADD COLUMN phone BLOB;
ALTER TABLE contacts ADD COLUMN profile_name BLOB;
ALTER TABLE contacts ADD COLUMN last_message_at INTEGER;
CREATE INDEX contacts_by_recent ON contacts (account_id, last_message_at);

-- What Meta last said about the number and the business account (quality, messaging limit, restrictions).
ALTER TABLE connections ADD COLUMN quality_rating TEXT;
ALTER TABLE connections ADD COLUMN messaging_limit TEXT;
ALTER TABLE connections ADD COLUMN account_notice TEXT;
ALTER TABLE connections ADD COLUMN meta_updated_at INTEGER;
