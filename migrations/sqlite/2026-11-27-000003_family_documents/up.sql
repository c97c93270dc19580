-- Family documents (Automerge): a compacted snapshot plus the increments appended since, so a
-- sync appends a few bytes instead of rewriting the whole document. See docs/SYNC.md.
CREATE TABLE family_documents (
    family_id TEXT PRIMARY KEY NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    -- Automerge save() of the document at the last compaction.
    snapshot BLOB NOT NULL,
    -- Comma-separated hex change hashes: the heads of the snapshot.
    snapshot_heads TEXT NOT NULL,
    -- Total size of the increments since the snapshot; compaction resets it.
    increments_bytes BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE family_document_increments (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    family_id TEXT NOT NULL REFERENCES family_documents (family_id) ON DELETE CASCADE,
    -- Automerge save_after(heads before the sync) of the accepted document.
    bytes BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX family_document_increments_family ON family_document_increments (family_id, id);
