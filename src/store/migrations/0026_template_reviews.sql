-- What Meta said about a template's review: the reason of a rejection (`reason` and, in newer payloads,
-- `rejection_info.recommendation`), Meta's template id, and when the status last changed.
ALTER TABLE templates ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE templates ADD COLUMN meta_id TEXT NOT NULL DEFAULT '';
ALTER TABLE templates ADD COLUMN status_at INTEGER;
