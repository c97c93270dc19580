-- Prison visits and family days: prison details and rules, weekly session templates, blocked
-- dates, slot counters, visitor lists, visit requests with their preferences, visitors and
-- history, the waiting list, and family days with registrations.

-- Texts shown to families are JSON objects keyed by language: {"fr": "...", "nl": "..."}.
ALTER TABLE prisons ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE prisons ADD COLUMN languages TEXT NOT NULL DEFAULT 'nl,fr';
ALTER TABLE prisons ADD COLUMN contact_phone TEXT;
ALTER TABLE prisons ADD COLUMN contact_email TEXT;
ALTER TABLE prisons ADD COLUMN arrival_advice TEXT NOT NULL DEFAULT '{}';
ALTER TABLE prisons ADD COLUMN what_to_bring TEXT NOT NULL DEFAULT '{}';
ALTER TABLE prisons ADD COLUMN accessibility TEXT NOT NULL DEFAULT '{}';

-- One row per prison and visit type the prison offers.
CREATE TABLE visit_rules (
    prison_id TEXT NOT NULL REFERENCES prisons (id) ON DELETE CASCADE,
    visit_type TEXT NOT NULL,
    min_notice_hours INTEGER NOT NULL,
    max_days_ahead INTEGER NOT NULL,
    max_visitors INTEGER NOT NULL,
    max_adults INTEGER NOT NULL,
    max_children INTEGER NOT NULL,
    adult_from_age INTEGER NOT NULL,
    auto_confirm BOOLEAN NOT NULL,
    cancel_cutoff_hours INTEGER NOT NULL,
    PRIMARY KEY (prison_id, visit_type)
);

CREATE TABLE session_templates (
    id TEXT PRIMARY KEY NOT NULL,
    prison_id TEXT NOT NULL REFERENCES prisons (id) ON DELETE CASCADE,
    -- ISO weekday, 1 = Monday.
    weekday INTEGER NOT NULL,
    -- Local wall-clock times in the prison's zone, "HH:MM".
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    every_weeks INTEGER NOT NULL,
    -- The first date the session runs; with every_weeks > 1 it anchors the rhythm.
    valid_from DATE NOT NULL,
    valid_to DATE,
    room TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX session_templates_prison ON session_templates (prison_id);

CREATE TABLE session_capacities (
    template_id TEXT NOT NULL REFERENCES session_templates (id) ON DELETE CASCADE,
    visit_type TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    PRIMARY KEY (template_id, visit_type)
);

CREATE TABLE blocked_dates (
    id TEXT PRIMARY KEY NOT NULL,
    prison_id TEXT NOT NULL REFERENCES prisons (id) ON DELETE CASCADE,
    date DATE NOT NULL,
    -- NULL blocks the whole prison that day.
    template_id TEXT REFERENCES session_templates (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    created_by TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX blocked_dates_prison_date ON blocked_dates (prison_id, date);

-- The place counter of one session on one date for one visit type. Created on first booking;
-- a booking is `UPDATE ... SET booked = booked + 1 WHERE booked < capacity`, so concurrent
-- bookings of the last place confirm exactly one on both backends.
CREATE TABLE visit_slots (
    id TEXT PRIMARY KEY NOT NULL,
    prison_id TEXT NOT NULL REFERENCES prisons (id) ON DELETE CASCADE,
    template_id TEXT NOT NULL REFERENCES session_templates (id) ON DELETE CASCADE,
    date DATE NOT NULL,
    visit_type TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    booked INTEGER NOT NULL,
    CHECK (booked >= 0 AND booked <= capacity),
    UNIQUE (template_id, date, visit_type)
);
CREATE INDEX visit_slots_prison_date ON visit_slots (prison_id, date);

-- Who may visit a detained person.
CREATE TABLE visitor_approvals (
    detainee_id TEXT NOT NULL REFERENCES detainees (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES family_members (id) ON DELETE CASCADE,
    -- approved, pending or refused
    status TEXT NOT NULL,
    -- kinship_proof (close family) or director_approval (others)
    basis TEXT NOT NULL,
    decided_by TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    decided_at TIMESTAMP,
    note TEXT,
    PRIMARY KEY (detainee_id, member_id)
);

CREATE TABLE visit_requests (
    id TEXT PRIMARY KEY NOT NULL,
    -- Short reference people read out on the phone, kept through amendments.
    reference TEXT NOT NULL UNIQUE,
    family_id TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    detainee_id TEXT NOT NULL REFERENCES detainees (id) ON DELETE CASCADE,
    prison_id TEXT NOT NULL REFERENCES prisons (id) ON DELETE CASCADE,
    visit_type TEXT NOT NULL,
    -- pending, proposed, confirmed, declined, withdrawn, cancelled
    status TEXT NOT NULL,
    -- app, phone, in_person, detainee
    channel TEXT NOT NULL,
    support_needs TEXT NOT NULL,
    support_note TEXT,
    -- The slot holding a place for this request (confirmed, or proposed by a coordinator).
    slot_id TEXT REFERENCES visit_slots (id),
    decline_reason TEXT,
    decline_note TEXT,
    cancel_reason TEXT,
    flagged BOOLEAN NOT NULL DEFAULT FALSE,
    created_by TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX visit_requests_family ON visit_requests (family_id);
CREATE INDEX visit_requests_prison_status ON visit_requests (prison_id, status);
CREATE INDEX visit_requests_slot ON visit_requests (slot_id);

CREATE TABLE visit_request_preferences (
    request_id TEXT NOT NULL REFERENCES visit_requests (id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    template_id TEXT NOT NULL REFERENCES session_templates (id) ON DELETE CASCADE,
    date DATE NOT NULL,
    PRIMARY KEY (request_id, rank)
);
CREATE INDEX visit_request_preferences_slot ON visit_request_preferences (template_id, date);

CREATE TABLE visit_request_visitors (
    request_id TEXT NOT NULL REFERENCES visit_requests (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES family_members (id) ON DELETE CASCADE,
    PRIMARY KEY (request_id, member_id)
);

-- Append-only history of a visit request: who did what, when.
CREATE TABLE visit_events (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES visit_requests (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_account_id TEXT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    UNIQUE (request_id, seq)
);

-- Families waiting for a place in a full slot, served in order.
CREATE TABLE visit_waitlist (
    id TEXT PRIMARY KEY NOT NULL,
    slot_key TEXT NOT NULL,
    prison_id TEXT NOT NULL REFERENCES prisons (id) ON DELETE CASCADE,
    template_id TEXT NOT NULL REFERENCES session_templates (id) ON DELETE CASCADE,
    date DATE NOT NULL,
    visit_type TEXT NOT NULL,
    family_id TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    detainee_id TEXT NOT NULL REFERENCES detainees (id) ON DELETE CASCADE,
    visitors TEXT NOT NULL,
    -- waiting, offered, accepted, declined, expired, cancelled
    status TEXT NOT NULL,
    -- While offered, the entry holds one place of the slot until offer_expires_at.
    offer_expires_at TIMESTAMP,
    request_id TEXT REFERENCES visit_requests (id) ON DELETE SET NULL,
    created_by TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX visit_waitlist_slot ON visit_waitlist (slot_key, status, created_at);
CREATE INDEX visit_waitlist_family ON visit_waitlist (family_id);

CREATE TABLE family_days (
    id TEXT PRIMARY KEY NOT NULL,
    prison_id TEXT NOT NULL REFERENCES prisons (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    date DATE NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    programme TEXT NOT NULL,
    capacity_families INTEGER NOT NULL,
    capacity_people INTEGER NOT NULL,
    registered_families INTEGER NOT NULL DEFAULT 0,
    registered_people INTEGER NOT NULL DEFAULT 0,
    min_child_age INTEGER NOT NULL,
    max_child_age INTEGER NOT NULL,
    registration_deadline TIMESTAMP NOT NULL,
    cancelled BOOLEAN NOT NULL DEFAULT FALSE,
    created_by TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    CHECK (registered_families >= 0 AND registered_families <= capacity_families),
    CHECK (registered_people >= 0 AND registered_people <= capacity_people)
);
CREATE INDEX family_days_prison_date ON family_days (prison_id, date);

CREATE TABLE family_day_registrations (
    id TEXT PRIMARY KEY NOT NULL,
    family_day_id TEXT NOT NULL REFERENCES family_days (id) ON DELETE CASCADE,
    family_id TEXT NOT NULL REFERENCES families (id) ON DELETE CASCADE,
    adults INTEGER NOT NULL,
    children INTEGER NOT NULL,
    -- registered, waiting, cancelled
    status TEXT NOT NULL,
    note TEXT,
    created_by TEXT REFERENCES accounts (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX family_day_registrations_day ON family_day_registrations (family_day_id, status, created_at);
CREATE INDEX family_day_registrations_family ON family_day_registrations (family_id);
