-- Signals of abuse and fraud, raised by the abuse job (services/abuse) and shown to operators on /admin.
-- One per account, kind, period and connection (0: the signal is about no one connection), so a job that
-- runs every few minutes raises it once, and a dismissed one does not come back for the same period.
-- The evidence is JSON with numbers, the period, error codes and ids: never a phone number or text.
CREATE TABLE abuse_signals (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL
                  CHECK (kind IN ('failure_rate', 'spam_errors', 'quality', 'volume', 'failed_sign_ins', 'key_addresses', 'new_recipients')),
    severity      TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    connection_id INTEGER NOT NULL DEFAULT 0,
    -- Milliseconds since 1970-01-01 (UTC), the end excluded.
    period_start  INTEGER NOT NULL,
    period_end    INTEGER NOT NULL,
    evidence      TEXT NOT NULL,
    raised_at     INTEGER NOT NULL,
    -- When every operator was told (or there was nobody to tell).
    emailed_at    INTEGER,
    dismissed_at  INTEGER,
    dismissed_by  INTEGER REFERENCES users (id) ON DELETE SET NULL
) STRICT;

CREATE UNIQUE INDEX abuse_signals_once ON abuse_signals (account_id, kind, period_start, connection_id);
CREATE INDEX abuse_signals_open ON abuse_signals (raised_at) WHERE dismissed_at IS NULL;
CREATE INDEX abuse_signals_unemailed ON abuse_signals (id) WHERE emailed_at IS NULL;
