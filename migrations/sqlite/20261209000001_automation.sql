-- Statuses that set themselves (`docs/users.md`, "Automatic statuses"). One row per user who
-- saved their switches: `meetings` (a busy calendar entry sets `meeting_status`) and
-- `working_day` (a paused day sets `break`, a closed one `away`). What the last read found:
-- `busy` (the user's busy intervals ahead, JSON `[[from, to], ...]` in unix seconds) and
-- `day_state` (`opened`, `paused`, `closed`). Where the automation stands: `reason` (`meeting`
-- or `working_day`) holds the status at `reason_status` until `reason_until` (when known), and
-- `before_status` comes back when it ends; `overridden` when the user (or a timer) changed the
-- status meanwhile, which wins until the reason ends.
CREATE TABLE automation (
    member_id      TEXT NOT NULL,
    user_id        INTEGER NOT NULL,
    meetings       INTEGER NOT NULL DEFAULT 0,
    meeting_status TEXT NOT NULL DEFAULT 'dnd',
    working_day    INTEGER NOT NULL DEFAULT 0,
    busy           TEXT NOT NULL DEFAULT '[]',
    day_state      TEXT,
    reason         TEXT,
    reason_status  TEXT,
    reason_until   INTEGER,
    before_status  TEXT,
    overridden     INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (member_id, user_id),
    FOREIGN KEY (member_id, user_id) REFERENCES accounts (member_id, user_id) ON DELETE CASCADE
) STRICT;

-- One read per portal for all its opted-in users: looked at again at next_at, claimed by one
-- process at a time (claim_owner until claim_until). calendar_at is when the calendar was last
-- read, days_at when the working days were; calendar_stale asks for a sooner read of the
-- calendar (a calendar event arrived, or a user saved their switches). version grows with each
-- such ask, so a look that started before one keeps it.
CREATE TABLE automation_portals (
    member_id      TEXT PRIMARY KEY REFERENCES portals (member_id) ON DELETE CASCADE,
    next_at        INTEGER NOT NULL,
    calendar_at    INTEGER,
    days_at        INTEGER,
    calendar_stale INTEGER NOT NULL DEFAULT 0,
    version        INTEGER NOT NULL DEFAULT 0,
    claim_owner    TEXT,
    claim_until    INTEGER
) STRICT;

CREATE INDEX automation_portals_by_due ON automation_portals (next_at);
