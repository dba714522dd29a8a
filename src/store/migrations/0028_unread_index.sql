-- The customers' messages not read yet, by account and time: the dashboard counts them at every load
-- without reading an account's whole inbound history or every account's month.
CREATE INDEX inbound_unread ON inbound_messages (account_id, received_at) WHERE seen_at IS NULL;
