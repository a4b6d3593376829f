-- A user's weekly focus schedule (`rules`: the API's JSON, time zone included). The scheduler
-- looks again at next_at (the next start or end of a rule), claimed by one instance at a time
-- (claim_owner until claim_until). active_until is the end of the rule window it applied, and
-- before_status what it restores then. missed_at is a boundary it could not apply because the
-- user must open the app again, told on their next visit. version changes with every save, so a
-- look that started before a save does not overwrite what the save planned.
CREATE TABLE schedules (
    member_id     TEXT NOT NULL,
    user_id       BIGINT NOT NULL,
    rules         TEXT NOT NULL,
    version       BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT,
    active_until  BIGINT,
    before_status TEXT,
    missed_at     BIGINT,
    claim_owner   TEXT,
    claim_until   BIGINT,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (member_id, user_id),
    FOREIGN KEY (member_id, user_id) REFERENCES accounts (member_id, user_id) ON DELETE CASCADE
);

CREATE INDEX schedules_by_due ON schedules (next_at);
