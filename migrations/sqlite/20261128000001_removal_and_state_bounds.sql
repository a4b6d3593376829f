-- An ONAPPUNINSTALL that could not be confirmed yet (the OAuth server did not answer): the
-- portal is suspended — no call is made with its tokens — until a background check deletes
-- or resumes it. `removing_clean` remembers the event's data[CLEAN].
ALTER TABLE portals ADD COLUMN removing_since INTEGER;
ALTER TABLE portals ADD COLUMN removing_clean INTEGER NOT NULL DEFAULT 0 CHECK (removing_clean IN (0, 1));

-- /oauth/start states: swept by expiry, capped per portal.
CREATE INDEX oauth_states_by_expiry ON oauth_states (expires_at);
CREATE INDEX oauth_states_by_portal ON oauth_states (member_id);
