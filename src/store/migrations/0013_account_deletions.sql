-- Accounts being deleted: written in the transaction that stops the account, removed once its last row is
-- gone and its owner was told, so a deletion cut off by a stop is finished at the next start. The column
-- is `account`, not `account_id`, on purpose: the deletion removes the rows of every table that has one.
CREATE TABLE account_deletions (
    account      INTEGER PRIMARY KEY,
    company      TEXT NOT NULL,
    -- Whom to confirm the deletion to; NULL when nobody can be (no owner, or their address is sealed).
    owner_email  TEXT,
    owner_locale TEXT,
    started_at   INTEGER NOT NULL
) STRICT;
