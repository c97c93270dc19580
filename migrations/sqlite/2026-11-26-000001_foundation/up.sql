-- Foundation: accounts, roles and scopes, families, detained persons, devices, tokens,
-- enrolment codes, login throttling and the audit log.
-- Ids are UUID strings and instants are UTC timestamps on both backends, so one diesel schema
-- serves SQLite and PostgreSQL.

CREATE TABLE instance_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE prisons (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    -- Lower-cased; NULL for people who sign in with their username only.
    email TEXT UNIQUE,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    preferred_language TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE families (
    id TEXT PRIMARY KEY NOT NULL,
    label TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE family_members (
    id TEXT PRIMARY KEY NOT NULL,
    family_id TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    -- One account is one member; a member may have no account yet.
    account_id TEXT UNIQUE REFERENCES accounts (id) ON DELETE SET NULL,
    display_name TEXT NOT NULL,
    relation TEXT NOT NULL,
    preferred_language TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    birth_date DATE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX family_members_family ON family_members (family_id);

CREATE TABLE detainees (
    id TEXT PRIMARY KEY NOT NULL,
    full_name TEXT NOT NULL,
    prison_id TEXT NOT NULL REFERENCES prisons (id),
    internal_number TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (prison_id, internal_number)
);

CREATE TABLE family_detainees (
    family_id TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    detainee_id TEXT NOT NULL REFERENCES detainees (id) ON DELETE CASCADE,
    PRIMARY KEY (family_id, detainee_id)
);
CREATE INDEX family_detainees_detainee ON family_detainees (detainee_id);

CREATE TABLE role_grants (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    prison_id TEXT REFERENCES prisons (id) ON DELETE CASCADE,
    family_id TEXT REFERENCES families (id) ON DELETE CASCADE,
    -- The scope's id, or '' for unscoped roles: NULLs would defeat the unique constraint.
    scope_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, role, scope_key)
);

CREATE TABLE caseloads (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    family_id TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, family_id)
);
CREATE INDEX caseloads_family ON caseloads (family_id);

CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- Hex Automerge actor id; every change this device sends must carry it.
    actor_id TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX devices_account ON devices (account_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    -- SHA-256 of the token; the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_id TEXT REFERENCES devices (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

CREATE TABLE enrolment_codes (
    id TEXT PRIMARY KEY NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,
    member_id TEXT NOT NULL REFERENCES family_members (id) ON DELETE CASCADE,
    created_by TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

-- Failed sign-ins per key: a hashed login name or a hashed client address.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    window_started_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

-- Names accounts and objects by id only, never by personal data. No foreign key on the actor:
-- the log outlives erased accounts.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_account_id TEXT,
    action TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_account_id);
