-- Email, written in the same transaction as the event that causes it and delivered by the
-- outbox worker (server/src/mail). A message is rendered when it is written (subject, plain
-- text, HTML and an optional iCalendar object); reminders are rows whose `send_after` lies in
-- the future, cancelled by `topic` when what they remind of is called off.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    -- What the message is about (`visit:<id>`, `appointment:<family>:<id>`…).
    topic TEXT NOT NULL,
    -- `member:<id>`, `account:<id>` or `address:<email>`: whose preferences apply.
    recipient_key TEXT NOT NULL,
    to_address TEXT NOT NULL,
    to_name TEXT NOT NULL,
    language TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    calendar TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    send_after TIMESTAMP NOT NULL,
    -- When a worker may next take it: `send_after`, then after each try the back-off, and
    -- while a worker holds it the end of its lease.
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_topic ON outbox (topic, state);

-- The SEQUENCE of each calendar entry sent (RFC 5545): it grows with every change so that
-- phones replace the entry they hold.
CREATE TABLE calendar_sequences (
    uid TEXT PRIMARY KEY NOT NULL,
    sequence INTEGER NOT NULL
);

-- Kinds of non-essential message a person turned off.
CREATE TABLE mail_opt_outs (
    recipient_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (recipient_key, kind)
);
