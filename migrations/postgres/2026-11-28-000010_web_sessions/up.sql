-- Web admin sessions are tokens too, held in a cookie instead of an Authorization header. They
-- are told apart so that neither kind works in the other's place, and they also end after a
-- spell of inactivity (see `web.idle_minutes`).
ALTER TABLE api_tokens ADD COLUMN web BOOLEAN NOT NULL DEFAULT FALSE;
