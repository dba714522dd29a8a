-- Message templates as Meta last reported them, per connection; refreshed on demand and on a schedule.
CREATE TABLE templates (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    connection_id INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    language      TEXT NOT NULL,
    category      TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    body_params   INTEGER NOT NULL DEFAULT 0,
    header_params INTEGER NOT NULL DEFAULT 0,
    components    TEXT NOT NULL DEFAULT '[]',
    synced_at     INTEGER NOT NULL,
    UNIQUE (connection_id, name, language)
) STRICT;
CREATE INDEX templates_by_account ON templates (account_id, name);
ALTER TABLE connections ADD COLUMN templates_synced_at INTEGER;
