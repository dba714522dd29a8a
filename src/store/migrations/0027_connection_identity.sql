-- What Meta says a number is, fetched when the number is saved (and again at each check): its number as
-- people dial it and the business name Meta verified. The business's own number, not a customer's: clear.
ALTER TABLE connections ADD COLUMN display_phone_number TEXT;
ALTER TABLE connections ADD COLUMN verified_name TEXT;
