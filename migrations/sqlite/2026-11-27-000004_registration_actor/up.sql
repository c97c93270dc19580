-- Who last changed a family-day registration (NULL: the server itself, e.g. promoting a
-- waiting family), so that the family document can record the staff account that acted. Like
-- the actors of history and audit rows, a plain id: the record outlives the account.
ALTER TABLE family_day_registrations ADD COLUMN updated_by TEXT;
