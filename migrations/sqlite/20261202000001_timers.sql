-- A status for a while: at until_at the scheduler sets then_status with the user's token.
-- One per account; claimed by one process at a time (claim_owner until claim_until). A restore
-- that could not be made because the user must sign in again stays, `missed`, until the
-- user's next visit tells them.
CREATE TABLE timers (
    member_id   TEXT NOT NULL,
    user_id     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    until_at    INTEGER NOT NULL,
    then_status TEXT NOT NULL,
    claim_owner TEXT,
    claim_until INTEGER,
    missed      INTEGER NOT NULL DEFAULT 0 CHECK (missed IN (0, 1)),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (member_id, user_id),
    FOREIGN KEY (member_id, user_id) REFERENCES accounts (member_id, user_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX timers_by_due ON timers (until_at);
