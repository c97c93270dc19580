-- When a family's document is written anew (a member's data erased), its old history is
-- dropped. The hashes of the dropped changes are kept (they hold no data) so that a device
-- still on the old history is told to replace its document rather than merge the old history
-- back.
CREATE TABLE retired_changes (
    family_id TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    PRIMARY KEY (family_id, hash)
);
