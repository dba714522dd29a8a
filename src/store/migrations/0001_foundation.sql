-- Operator-wide values: the master key check, an interrupted key rotation.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

-- A business using the platform. AUTOINCREMENT: an id is never reused, so data sealed for a deleted
-- account can never open under a new one.
CREATE TABLE accounts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    company    TEXT NOT NULL,
    country    TEXT NOT NULL DEFAULT '',
    phone      TEXT NOT NULL DEFAULT '',
    plan       TEXT NOT NULL DEFAULT 'free',
    status     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at INTEGER NOT NULL
) STRICT;

-- Each account's data key, sealed with the master key. Deleting the account deletes the key, which makes
-- its encrypted data unreadable everywhere, old backups included.
CREATE TABLE data_keys (
    account_id    INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    key_id        INTEGER NOT NULL,
    master_key_id INTEGER NOT NULL,
    sealed        BLOB NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX data_keys_by_master_key ON data_keys (master_key_id);

-- Every run of a scheduled job, shown to operators and used to catch up on runs missed while down.
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT NOT NULL DEFAULT '{}',
    error       TEXT
) STRICT;
CREATE INDEX job_runs_by_job ON job_runs (job, started_at);
