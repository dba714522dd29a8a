-- Versions of the privacy policy, oldest first; the newest is in force. A person's acceptance of one is a
-- consents row naming its version, so what each person agreed to, and when, can always be shown.
CREATE TABLE policy_versions (
    id           INTEGER PRIMARY KEY,
    version      TEXT NOT NULL UNIQUE,
    -- What changed, in the operator's words (shown in the notice, the email and on /privacy); may be empty.
    summary      TEXT NOT NULL DEFAULT '',
    published_at INTEGER NOT NULL,
    -- The operator who published it from the console; NULL from the command line.
    published_by INTEGER REFERENCES users (id) ON DELETE SET NULL
) STRICT;

-- How many people accepted each version (the console), without reading every consent.
CREATE INDEX consents_by_kind_version ON consents (kind, version);

-- The version in force until now ("1" unless a setting said otherwise), dated to its first acceptance,
-- or to this migration on an installation nobody has joined yet.
INSERT INTO policy_versions (version, published_at)
VALUES (
    coalesce((SELECT CAST(value AS TEXT) FROM settings WHERE name = 'privacy_policy_version'), '1'),
    coalesce(
        (SELECT min(given_at) FROM consents WHERE kind = 'privacy_policy'),
        CAST(strftime('%s', 'now') AS INTEGER) * 1000
    )
);
