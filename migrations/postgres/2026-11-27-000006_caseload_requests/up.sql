-- A social worker asks to follow a family; an administrator approves (the family enters the
-- worker's caseload, with the service the worker follows it for) or refuses. Decisions keep who
-- took them as a plain id, so the record outlives the account.
CREATE TABLE caseload_requests (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    family_id TEXT NOT NULL REFERENCES families (id),
    service TEXT NOT NULL,
    reason TEXT,
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    decided_by TEXT
);
CREATE INDEX caseload_requests_status ON caseload_requests (status, created_at);
CREATE INDEX caseload_requests_account ON caseload_requests (account_id);
-- The service a worker follows a family for (NULL: assigned without one).
ALTER TABLE caseloads ADD COLUMN service TEXT;
