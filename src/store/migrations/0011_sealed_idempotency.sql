-- The first answer to a POST names the customer's number: it is kept sealed with the account's data key,
-- like the message it answers. Answers stored in the clear before this expire within 24 hours.
ALTER TABLE idempotency_keys ADD COLUMN sealed_response BLOB;
