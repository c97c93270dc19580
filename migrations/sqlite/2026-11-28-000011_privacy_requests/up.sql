-- Requests about personal data (GDPR art. 15 and 17): a copy of everything held about a family
-- member, or its erasure. Asked by the member or their social worker, carried out or refused by
-- an administrator. A request names the member by id only; after an erasure the id points to
-- nobody and only the fact of the request remains.
CREATE TABLE privacy_requests (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('export', 'erasure')),
    member_id TEXT NOT NULL,
    family_id TEXT NOT NULL,
    requested_by TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'done', 'refused')),
    note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    decided_by TEXT REFERENCES accounts (id) ON DELETE SET NULL
);
CREATE INDEX privacy_requests_state ON privacy_requests (state, created_at);
