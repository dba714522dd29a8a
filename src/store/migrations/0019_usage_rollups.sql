-- Usage per account and UTC day, counted in memory and added here in batches (store/rollups.rs). Counts
-- only: the columns name an event and what it was about (a connection's, an API key's or an error's
-- number, a route's template, a message type, Meta's pricing category), never a person's number or text.
-- Kept for `[retention] usage_months` (13 by default) by the retention job.
CREATE TABLE usage_daily (
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Days since 1970-01-01, UTC.
    day           INTEGER NOT NULL,
    event         TEXT NOT NULL
                  CHECK (event IN ('api_call', 'accepted', 'sent', 'delivered', 'read', 'failed', 'inbound', 'webhook_delivered', 'webhook_retried', 'webhook_failed', 'sign_in', 'sign_in_failed')),
    -- 0 when the event is not about one.
    connection_id INTEGER NOT NULL DEFAULT 0,
    api_key_id    INTEGER NOT NULL DEFAULT 0,
    -- The API route's template (`GET /api/v1/messages/<id>`) and its answer's class (`2xx`, `4xx`, `5xx`).
    route         TEXT NOT NULL DEFAULT '',
    class         TEXT NOT NULL DEFAULT '',
    -- The message's type (`text`, `template`, ...) and Meta's pricing category of its status.
    kind          TEXT NOT NULL DEFAULT '',
    pricing       TEXT NOT NULL DEFAULT '',
    -- Meta's error code of a failed message.
    error_code    INTEGER NOT NULL DEFAULT 0,
    count         INTEGER NOT NULL,
    PRIMARY KEY (account_id, day, event, connection_id, api_key_id, route, class, kind, pricing, error_code)
) STRICT, WITHOUT ROWID;

CREATE INDEX usage_daily_by_day ON usage_daily (day);
