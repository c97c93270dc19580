-- A family's case may be closed (the family no longer followed); a closed case is deleted
-- after the retention period unless it is reopened first.
ALTER TABLE families ADD COLUMN closed_at TIMESTAMP;
ALTER TABLE families ADD COLUMN closed_by TEXT REFERENCES accounts (id) ON DELETE SET NULL;
CREATE INDEX families_closed_at ON families (closed_at);
