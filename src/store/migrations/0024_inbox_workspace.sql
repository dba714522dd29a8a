-- The inbox as a workspace: a conversation's state (resolved, and since when; who it is assigned to),
-- internal notes of the team about a conversation (sealed like message text, never sent to the customer),
-- and the account's saved replies.

-- One row per conversation that was resolved or assigned at least once. A conversation is resolved while
-- `resolved_at` is set; a new message from the customer clears it (opens the conversation again).
CREATE TABLE conversation_states (
    contact_id  INTEGER PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    resolved_at INTEGER,
    assignee_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX conversation_states_by_account ON conversation_states (account_id, assignee_id);

-- Notes the team writes about a conversation; `body` is sealed with the account's data key.
CREATE TABLE conversation_notes (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    author_id  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    body       BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX conversation_notes_by_contact ON conversation_notes (account_id, contact_id, created_at);

-- Replies the team uses often; `body` is sealed with the account's data key.
CREATE TABLE saved_replies (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title      BLOB NOT NULL,
    body       BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX saved_replies_by_account ON saved_replies (account_id, id);
