-- The message log filtered by a rare status (waiting, being sent, failed) finds its rows through an index
-- of those rows only, instead of walking the account's whole log; the common statuses (sent, delivered,
-- read) are most of the log, so walking it newest first meets them at once. Partial indexes: a message
-- leaves them when it is sent, so a message's later statuses cost them no writes.
CREATE INDEX messages_queued ON messages (account_id, id) WHERE status = 'queued';
CREATE INDEX messages_sending ON messages (account_id, id) WHERE status = 'sending';
CREATE INDEX messages_failed ON messages (account_id, id) WHERE status = 'failed';
-- Nothing looks messages up by their lease any more (a message in flight is never claimed again by this
-- process, and the start hands back every message left 'sending'): one index less to write on each claim
-- and each outcome.
DROP INDEX messages_leased;
