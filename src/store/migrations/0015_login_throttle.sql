-- Sign-in attempts of the last 15 minutes, for throttling password guesses. An attempt is written before
-- its password is checked (failed = 0: in flight, and counted as if it had failed), then either becomes a
-- failure or is deleted when the password was right. Emails and addresses are kept only as keyed hashes.
CREATE TABLE login_attempts (
    id          INTEGER PRIMARY KEY,
    email_key   BLOB NOT NULL,
    address_key BLOB NOT NULL,
    -- The browser's fingerprint (a hash of its user agent): known browsers have a window of their own.
    browser_key BLOB NOT NULL,
    at          INTEGER NOT NULL,
    failed      INTEGER NOT NULL DEFAULT 0 CHECK (failed IN (0, 1))
) STRICT;
CREATE INDEX login_attempts_by_pair ON login_attempts (email_key, address_key, at);
CREATE INDEX login_attempts_by_browser ON login_attempts (address_key, browser_key, at);
CREATE INDEX login_attempts_by_email ON login_attempts (email_key, at);
CREATE INDEX login_attempts_by_address ON login_attempts (address_key, at);
CREATE INDEX login_attempts_by_time ON login_attempts (at);

-- Addresses each person has signed in from (keyed hashes), so that guesses made by others from the same
-- address (an office, a proxy) do not lock them out.
CREATE TABLE known_addresses (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address_key  BLOB NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, address_key)
) STRICT, WITHOUT ROWID;

-- "New sign-in" alerts sent in the last hour, so that a burst of sign-ins is not a burst of emails.
CREATE TABLE sign_in_alerts (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sent_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_alerts_by_user ON sign_in_alerts (user_id, sent_at);
