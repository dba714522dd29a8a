-- People: operators (account_id NULL) and the members of accounts.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id          INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    role                TEXT NOT NULL CHECK (role IN ('operator', 'owner', 'admin', 'member')),
    email               TEXT NOT NULL COLLATE NOCASE UNIQUE,
    name                TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    locale              TEXT NOT NULL DEFAULT 'en',
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL,
    CHECK ((role = 'operator') = (account_id IS NULL))
) STRICT;
CREATE INDEX users_by_account ON users (account_id);

-- Server-side sessions. Only a hash of the cookie value is stored, so a copy of the database cannot be
-- used to sign in.
CREATE TABLE sessions (
    id_hash      BLOB PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Single-use links sent by email (password reset, invitation, email change) or printed by the server
-- (first operator). Only a hash of the token is stored.
CREATE TABLE one_time_tokens (
    token_hash BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL CHECK (purpose IN ('password_reset', 'invite', 'email_change', 'operator_setup')),
    account_id INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX one_time_tokens_by_account ON one_time_tokens (account_id, purpose);

-- Consents, with the version of the text that was agreed to; withdrawal keeps the record.
CREATE TABLE consents (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    version      TEXT NOT NULL,
    given_at     INTEGER NOT NULL,
    withdrawn_at INTEGER
) STRICT;
CREATE INDEX consents_by_user ON consents (user_id, kind);

-- Browsers a user has signed in from (a hash of the user agent), to warn about a sign-in from a new one.
CREATE TABLE known_browsers (
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    fingerprint   BLOB NOT NULL,
    first_seen_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, fingerprint)
) STRICT, WITHOUT ROWID;

-- Who did what, from where.
CREATE TABLE activity_log (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX activity_log_by_account ON activity_log (account_id, created_at);
