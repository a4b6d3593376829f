-- Portals that installed the app, keyed by the stable member_id (protocol doc §1.2).
CREATE TABLE portals (
    member_id         TEXT PRIMARY KEY NOT NULL,
    domain            TEXT NOT NULL,
    client_endpoint   TEXT NOT NULL,
    server_endpoint   TEXT NOT NULL,
    -- AEAD ciphertext (nonce || ciphertext || tag), bound to member_id; see src/store/crypto.rs
    application_token BLOB,
    key_id            TEXT,
    scope             TEXT NOT NULL DEFAULT '',
    licence           TEXT,
    state             TEXT NOT NULL CHECK (state IN ('new', 'active', 'deleted')),
    app_version       INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

-- One row per portal user who authorised the app (the installing admin included).
CREATE TABLE accounts (
    member_id        TEXT NOT NULL REFERENCES portals (member_id) ON DELETE CASCADE,
    user_id          INTEGER NOT NULL CHECK (user_id > 0),
    is_admin         INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    is_installer     INTEGER NOT NULL DEFAULT 0 CHECK (is_installer IN (0, 1)),
    -- AEAD ciphertexts bound to member_id, user_id and the field name; NULL once revoked.
    access_token     BLOB,
    refresh_token    BLOB,
    key_id           TEXT,
    -- Bumped on every rotation: the compare-and-swap that keeps refreshes single-flight
    -- across processes sharing this file.
    token_generation INTEGER NOT NULL DEFAULT 0,
    expires_at       INTEGER,
    refreshed_at     INTEGER,
    state            TEXT NOT NULL CHECK (state IN ('active', 'needs_reauth')),
    -- Cross-process single flight: the instance holding an unexpired lease is the only one
    -- allowed to spend this account's refresh token.
    refresh_lease_owner TEXT,
    refresh_lease_until INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (member_id, user_id)
) STRICT;

CREATE INDEX portals_by_domain ON portals (domain);

-- The keep-alive scans for the accounts refreshed longest ago.
CREATE INDEX accounts_by_refreshed_at ON accounts (refreshed_at) WHERE refresh_token IS NOT NULL;

-- OAuth `state` values handed out by /oauth/start: stored hashed, consumed once, expiring.
-- Kept in the database so any instance sharing it can finish a flow another one started.
CREATE TABLE oauth_states (
    state_hash BLOB PRIMARY KEY NOT NULL,
    member_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
