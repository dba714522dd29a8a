-- The contacts as an address book the business keeps: a name it gives (sealed like the profile name), its
-- own tags, and whether the customer asked for no more messages (opted out: by an inbound keyword such as
-- STOP, or by a person of the account; each person's change is in the activity log).
-- A contact added by hand or by a CSV import has never written: its last_inbound_at is 0, "never" (the
-- 24-hour window of such a contact is unknown, as for a customer who wrote before the number was here).
-- saved_at: when the business last added or edited it. Retention deletes a contact with its messages only
-- when the business never saved it and it has not opted out (an opt-out must be remembered); erasing the
-- customer deletes it always, with its tags.
ALTER TABLE contacts ADD COLUMN name BLOB;
ALTER TABLE contacts ADD COLUMN opted_out_at INTEGER;
ALTER TABLE contacts ADD COLUMN opted_out_by TEXT CHECK (opted_out_by IN ('keyword', 'person'));
ALTER TABLE contacts ADD COLUMN saved_at INTEGER;

-- Tags are the business's own words for a group ("vip", "wholesale"), not the customer's data, so they are
-- kept in clear to be filtered on; they go with their contact.
CREATE TABLE contact_tags (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
) STRICT;
CREATE INDEX contact_tags_by_tag ON contact_tags (account_id, tag);
