-- A conversation's outgoing side, and the message log filtered by recipient, without scanning the account.
CREATE INDEX messages_by_recipient ON messages (account_id, recipient_index, id);
