-- The team board's read of a portal's directory (departments, employees, their statuses), kept
-- for every viewer on every instance: `body` is its JSON, `read_at` when Bitrix24 was read
-- (0: never). One instance at a time reads it again, holding `lease_until`.
CREATE TABLE team_cache (
    member_id   TEXT PRIMARY KEY REFERENCES portals (member_id) ON DELETE CASCADE,
    body        TEXT NOT NULL,
    read_at     BIGINT NOT NULL,
    lease_until BIGINT NOT NULL
);
