-- An operator's suspension of an account and hold of its sending, with when and why. `accounts.status`
-- stays what says an account is suspended ('suspended' also while it is being deleted); these columns
-- say since when and why. A hold of sending keeps the account's messages queued, neither sent nor lost,
-- until it is released.
ALTER TABLE accounts ADD COLUMN suspended_at INTEGER;
ALTER TABLE accounts ADD COLUMN suspended_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN sending_held_at INTEGER;
ALTER TABLE accounts ADD COLUMN sending_held_reason TEXT NOT NULL DEFAULT '';

-- Every suspension, reactivation, hold and release, with who or what made it ("admin ann@example.com",
-- "command line", an automatic check's name) and the reason given.
CREATE TABLE account_hold_changes (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    change     TEXT NOT NULL CHECK (change IN ('suspended', 'reactivated', 'sending_held', 'hold_released')),
    reason     TEXT NOT NULL,
    by         TEXT NOT NULL
) STRICT;
CREATE INDEX account_hold_changes_by_account ON account_hold_changes (account_id, at);
