-- Regional templates of administrative steps. The shipped ones are inserted at start when
-- their key is missing; an administrator's edit replaces the body and is kept. `body` is the
-- template as JSON (reguide_protocol::steps::StepTemplate); `updated_by` a plain account id
-- (NULL: shipped), so the record outlives the account.
CREATE TABLE step_templates (
    key TEXT PRIMARY KEY NOT NULL,
    region TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT
);
CREATE INDEX step_templates_region ON step_templates (region);
