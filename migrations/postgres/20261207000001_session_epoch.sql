-- A session names the epoch of the account it was issued for: a new pair, a pause or a
-- suspension sets a new random value, and a session naming an old one is not renewed.
-- Additive: a binary that does not know the column leaves it at its default.
ALTER TABLE accounts ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
