-- An operator's pause (`b24-status suspend`): no call is made for the portal until `resume`.
ALTER TABLE portals ADD COLUMN paused_at BIGINT;

-- Every call to Bitrix24, kept for CALL_LOG_DAYS (Bitrix24 Market asks for at least 3):
-- bodies are stored with every token, secret and `auth` value removed.
CREATE TABLE call_log (
    id          BIGSERIAL PRIMARY KEY,
    at_ms       BIGINT NOT NULL,
    member_id   TEXT NOT NULL,
    user_id     BIGINT,
    method      TEXT NOT NULL,
    http_status INTEGER,
    error_code  TEXT,
    duration_ms BIGINT NOT NULL,
    request     TEXT NOT NULL,
    response    TEXT NOT NULL
);
CREATE INDEX call_log_member_at ON call_log (member_id, at_ms);
CREATE INDEX call_log_at ON call_log (at_ms);
