-- Living Lab sessions, who runs them, who is invited and what they answered.
-- A place is held by one conditional UPDATE of `taken` (never above `capacity`, backed by the
-- CHECK); an acceptance that finds no place waits, and is promoted in order when one frees.
CREATE TABLE living_labs (
    id TEXT PRIMARY KEY NOT NULL,
    series_id TEXT,
    title TEXT NOT NULL,
    theme TEXT NOT NULL,
    description TEXT NOT NULL,
    date DATE NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    place TEXT NOT NULL,
    online_link TEXT,
    capacity INTEGER NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0,
    languages TEXT NOT NULL,
    accessibility TEXT NOT NULL,
    agenda TEXT NOT NULL,
    cancelled BOOLEAN NOT NULL DEFAULT FALSE,
    -- After the session: what was agreed and the next steps, for those who attended.
    summary TEXT,
    next_steps TEXT,
    created_by TEXT NOT NULL REFERENCES accounts (id),
    created_at TIMESTAMP NOT NULL,
    CHECK (capacity > 0),
    CHECK (taken >= 0 AND taken <= capacity)
);
CREATE INDEX living_labs_date ON living_labs (date);

CREATE TABLE living_lab_facilitators (
    living_lab_id TEXT NOT NULL REFERENCES living_labs (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (living_lab_id, account_id)
);

-- One row per person invited: a staff account (answers through the API), a family member
-- (answers in the family document) or a guest outside reguide (answers from emailed links).
CREATE TABLE living_lab_invitations (
    id TEXT PRIMARY KEY NOT NULL,
    living_lab_id TEXT NOT NULL REFERENCES living_labs (id),
    role TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    member_id TEXT REFERENCES family_members (id),
    family_id TEXT REFERENCES families (id),
    email TEXT,
    name TEXT NOT NULL,
    language TEXT NOT NULL,
    answer TEXT,
    place TEXT NOT NULL DEFAULT 'none' CHECK (place IN ('none', 'held', 'waiting')),
    waiting_since TIMESTAMP,
    note TEXT,
    needs TEXT NOT NULL DEFAULT '',
    answered_at TIMESTAMP,
    attended BOOLEAN,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX living_lab_invitations_account ON living_lab_invitations (living_lab_id, account_id);
CREATE UNIQUE INDEX living_lab_invitations_member ON living_lab_invitations (living_lab_id, member_id);
CREATE UNIQUE INDEX living_lab_invitations_email ON living_lab_invitations (living_lab_id, email);

-- Answer links for guests: 256 random bits of which only the SHA-256 is stored; one use each;
-- they stop working when the session starts.
CREATE TABLE living_lab_links (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    invitation_id TEXT NOT NULL REFERENCES living_lab_invitations (id),
    answer TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
