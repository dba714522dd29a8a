-- The sender looks for work one connection at a time (so that every connection, and every account, gets
-- its turn): queued messages by connection, in the order they are due. This replaces the index of all
-- queued messages by time, which nothing reads any more (one index less to write per message).
CREATE INDEX messages_queued_by_connection ON messages (connection_id, next_attempt_at) WHERE status = 'queued';
DROP INDEX messages_due;
