-- Two-step sign-in and phone verification.
-- A person's mobile number (sealed, E.164) and when it was verified; the authenticator app's secret (sealed;
-- enabled once confirmed with a first code) and the last 30-second step a code of it was accepted for, so
-- each code works once; whether SMS to the verified number is a second step.
ALTER TABLE users ADD COLUMN phone BLOB;
ALTER TABLE users ADD COLUMN phone_verified_at INTEGER;
ALTER TABLE users ADD COLUMN totp_secret BLOB;
ALTER TABLE users ADD COLUMN totp_enabled_at INTEGER;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN sms_two_step INTEGER NOT NULL DEFAULT 0;
-- The owner's choice: every person of the account signs in with a second step.
ALTER TABLE accounts ADD COLUMN require_two_step INTEGER NOT NULL DEFAULT 0;
-- A session after the password only ('second_step') can enter a code or sign out, nothing else.
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full' CHECK (stage IN ('full', 'second_step'));

-- Tries at a person's second step (sign-in, password reset, turning it off), counted before the code is
-- checked, per person and not per session (a new password-only session is cheap): at most a few in a
-- window, however many sessions or requests at once. A right code clears them.
CREATE TABLE second_step_tries (
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tried_at INTEGER NOT NULL
) STRICT;
CREATE INDEX second_step_tries_by_user ON second_step_tries (user_id, tried_at);

-- Single-use recovery codes, only their keyed hashes.
CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT;

-- The one code sent by SMS a person may enter now, per purpose: its keyed hash, the number it went to
-- (sealed), when it expires and the wrong attempts made on it.
CREATE TABLE one_time_codes (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_phone', 'sign_in')),
    phone      BLOB NOT NULL,
    code_hash  BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, purpose)
) STRICT;

-- Every SMS sent, by a keyed hash of its number and by account, for the resend limits (kept an hour).
-- In the database so that a restart does not forgive them.
CREATE TABLE sms_sends (
    number_hash BLOB NOT NULL,
    account_id  INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    sent_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX sms_sends_by_number ON sms_sends (number_hash, sent_at);
CREATE INDEX sms_sends_by_account ON sms_sends (account_id, sent_at);
