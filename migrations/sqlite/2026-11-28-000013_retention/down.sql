DROP INDEX families_closed_at;
ALTER TABLE families DROP COLUMN closed_by;
ALTER TABLE families DROP COLUMN closed_at;
