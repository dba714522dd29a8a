-- Retention finds what is past its time through an index, and deletes it without scanning a table for
-- the rows that point at it (foreign keys are checked, and cascaded, row by row).
CREATE INDEX messages_by_time ON messages (created_at);
CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_by_message ON idempotency_keys (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX message_statuses_by_payload ON message_statuses (payload_id) WHERE payload_id IS NOT NULL;
CREATE INDEX inbound_by_payload ON inbound_messages (payload_id) WHERE payload_id IS NOT NULL;
CREATE INDEX contacts_by_last_message ON contacts (coalesce(last_message_at, last_inbound_at));
CREATE INDEX webhook_events_by_time ON webhook_events (created_at);
CREATE INDEX activity_log_by_time ON activity_log (created_at);
