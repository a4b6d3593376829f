-- The schema of migrations/sqlite/ in PostgreSQL's types, plus the rate-limit buckets that
-- instances sharing this database share. Tokens are AEAD ciphertexts (nonce || ciphertext ||
-- tag) bound to their row; see src/store/crypto.rs.

-- Portals that installed the app, keyed by the stable member_id.
CREATE TABLE portals (
    member_id         TEXT PRIMARY KEY,
    domain            TEXT NOT NULL,
    client_endpoint   TEXT NOT NULL,
    server_endpoint   TEXT NOT NULL,
    application_token BYTEA,
    key_id            TEXT,
    scope             TEXT NOT NULL DEFAULT '',
    licence           TEXT,
    state             TEXT NOT NULL CHECK (state IN ('new', 'active', 'deleted')),
    app_version       BIGINT,
    -- An ONAPPUNINSTALL not yet confirmed: no call is made with the portal's tokens until a
    -- background check deletes or resumes it; removing_clean keeps the event's data[CLEAN].
    removing_since    BIGINT,
    removing_clean    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

-- One row per portal user who authorised the app (the installing admin included).
CREATE TABLE accounts (
    member_id           TEXT NOT NULL REFERENCES portals (member_id) ON DELETE CASCADE,
    user_id             BIGINT NOT NULL CHECK (user_id > 0),
    is_admin            BOOLEAN NOT NULL DEFAULT FALSE,
    is_installer        BOOLEAN NOT NULL DEFAULT FALSE,
    -- NULL once revoked.
    access_token        BYTEA,
    refresh_token       BYTEA,
    key_id              TEXT,
    -- Bumped on every write of the tokens: the compare-and-swap of rotations.
    token_generation    BIGINT NOT NULL DEFAULT 0,
    expires_at          BIGINT,
    refreshed_at        BIGINT,
    state               TEXT NOT NULL CHECK (state IN ('active', 'needs_reauth')),
    -- The instance holding an unexpired lease is the only one that spends the refresh token.
    refresh_lease_owner TEXT,
    refresh_lease_until BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (member_id, user_id)
);

CREATE INDEX portals_by_domain ON portals (domain);
CREATE INDEX accounts_by_refreshed_at ON accounts (refreshed_at) WHERE refresh_token IS NOT NULL;

-- OAuth `state` values handed out by /oauth/start: hashed, consumed once, expiring.
CREATE TABLE oauth_states (
    state_hash BYTEA PRIMARY KEY,
    member_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_states_by_expiry ON oauth_states (expires_at);
CREATE INDEX oauth_states_by_portal ON oauth_states (member_id);

-- Each portal's request bucket, shared by every instance: the time in microseconds at which
-- the bucket would be empty again if nothing more were sent (see src/store/postgres/limits.rs).
-- Written on every call, so unlogged: no WAL, no flush per commit. A server crash empties it,
-- which costs at most one burst the portal may refuse and the limiter then waits out.
CREATE UNLOGGED TABLE rate_buckets (
    member_id   TEXT PRIMARY KEY,
    empty_at_us BIGINT NOT NULL,
    -- How many places the last reservation took (what it answers, beside the new end).
    granted     BIGINT NOT NULL DEFAULT 0
);
