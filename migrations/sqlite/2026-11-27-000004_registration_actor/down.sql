ALTER TABLE family_day_registrations DROP COLUMN updated_by;
