-- Plans, subscriptions and usage. Each account's plan and subscription status live in `subscriptions`;
-- the older `accounts.plan` and `accounts.status` columns are no longer read.
CREATE TABLE subscriptions (
    account_id       INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    -- The id of one of the configuration's [[plans]]; a plan in use cannot leave the file.
    plan             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'canceled')),
    trial_ends_at    INTEGER,
    past_due_since   INTEGER,
    -- The payment provider's customer and subscription (Stripe's cus_... and sub_...); no card data.
    customer_ref     TEXT,
    subscription_ref TEXT,
    -- When the paid period ends (renews), as the provider last said.
    renews_at        INTEGER,
    changed_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX subscriptions_by_plan ON subscriptions (plan);
CREATE UNIQUE INDEX subscriptions_by_customer ON subscriptions (customer_ref) WHERE customer_ref IS NOT NULL;
CREATE INDEX subscriptions_trialing ON subscriptions (trial_ends_at) WHERE status = 'trialing';
CREATE INDEX subscriptions_past_due ON subscriptions (past_due_since) WHERE status = 'past_due';
INSERT INTO subscriptions (account_id, plan, status, changed_at)
    SELECT id, plan, 'active', created_at FROM accounts;
-- Every account has its subscription, however the account row was made: active on the plan the row
-- names (the code then starts a trial when there is one).
CREATE TRIGGER accounts_have_a_subscription AFTER INSERT ON accounts
BEGIN
    INSERT INTO subscriptions (account_id, plan, status, changed_at)
    VALUES (new.id, new.plan, 'active', new.created_at);
END;

-- Every change of plan or status, with who or what made it ("admin ann@example.com", "command line",
-- "stripe evt_...", "trial ended").
CREATE TABLE subscription_changes (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    plan       TEXT NOT NULL,
    status     TEXT NOT NULL,
    by         TEXT NOT NULL
) STRICT;
CREATE INDEX subscription_changes_by_account ON subscription_changes (account_id, at);

-- Messages accepted per account and calendar month (UTC, "2026-12"). Counted in memory and written in
-- batches; `counted_at` says up to when, so a start adds the messages accepted after it.
CREATE TABLE usage_months (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    month      TEXT NOT NULL,
    messages   INTEGER NOT NULL,
    counted_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, month)
) STRICT, WITHOUT ROWID;

-- Emails about billing, each once per period (the month of a quota, the trial, the episode of a failed
-- payment): inserted once, sent by the mail round, marked sent.
CREATE TABLE billing_notices (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('quota_80', 'quota_100', 'trial_ending', 'payment_failed', 'sending_stopped')),
    period     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    sent_at    INTEGER,
    PRIMARY KEY (account_id, kind, period)
) STRICT, WITHOUT ROWID;
CREATE INDEX billing_notices_unsent ON billing_notices (created_at) WHERE sent_at IS NULL;

-- The payment provider's webhook events, kept before they are answered: a redelivered event (same id) is
-- recognized and not applied twice. Removed by retention after 30 days.
CREATE TABLE payment_events (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    body         BLOB NOT NULL,
    processed_at INTEGER,
    outcome      TEXT
) STRICT;
CREATE INDEX payment_events_by_time ON payment_events (received_at);
