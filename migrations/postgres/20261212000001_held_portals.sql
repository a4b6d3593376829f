-- The scheduler's claims skip the portals that are paused or whose paid period ended; with a
-- hundred thousand portals, finding those few must not read every portal's row (PostgreSQL's
-- planner scanned the table once per claim).
CREATE INDEX portals_held ON portals (member_id)
    WHERE paused_at IS NOT NULL OR payment_required_at IS NOT NULL;
