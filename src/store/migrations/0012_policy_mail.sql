-- Emails telling people that a new version of the privacy policy is in force, still to go out. Written in
-- the transaction that publishes the version and removed once sent, so neither a stop nor a mail server
-- that is down loses one. A newer version replaces a person's pending one: only the newest is told.
CREATE TABLE policy_mail (
    user_id   INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    policy_id INTEGER NOT NULL REFERENCES policy_versions (id) ON DELETE CASCADE,
    attempts  INTEGER NOT NULL DEFAULT 0,
    -- Not before this time: the next try after a failure, or the end of a sender's claim.
    due_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX policy_mail_by_time ON policy_mail (due_at);
