-- Links sent by email that act without signing in (a social worker confirms or declines an
-- appointment between two meetings). The link carries 256 random bits of which only the
-- SHA-256 is stored; it works once and until it expires. `answer` is what using it does.
CREATE TABLE action_links (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL,
    family_id TEXT NOT NULL REFERENCES families (id),
    object_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    answer TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX action_links_object ON action_links (purpose, object_id);
