-- What the first request with an Idempotency-Key asked for (a keyed digest of its canonical JSON), so the key
-- reused for a different message is refused instead of answering for a message that was never sent. Rows
-- kept before this have none and answer as before until they expire within 24 hours.
ALTER TABLE idempotency_keys ADD COLUMN request_digest BLOB;
