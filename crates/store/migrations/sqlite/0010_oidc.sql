-- OpenID Connect provider (issue 16).
--
-- Every secret is stored as its SHA-256 digest (client secrets, codes, refresh
-- tokens); signing keys' private parts are sealed under a key derived from the
-- server key, so a database dump alone signs nothing.

-- Signing keys. The newest unretired key signs; every unretired key is in the JWKS.
CREATE TABLE oidc_keys (
    kid             TEXT PRIMARY KEY,           -- RFC 7638 thumbprint
    alg             TEXT NOT NULL CHECK (alg IN ('ES256')),
    public_jwk      TEXT NOT NULL,              -- JSON, as published
    sealed_private  BLOB NOT NULL,              -- nonce ‖ AEAD(private key)
    created_at      INTEGER NOT NULL,
    retired_at      INTEGER
);

CREATE TABLE oidc_clients (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL,
    secret_hash                BLOB,            -- NULL: a public client (PKCE only)
    redirect_uris              TEXT NOT NULL,   -- JSON array, matched exactly
    post_logout_redirect_uris  TEXT NOT NULL,   -- JSON array, matched exactly
    first_party                INTEGER NOT NULL CHECK (first_party IN (0, 1)),
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL,
    disabled_at                INTEGER
);

-- A grant: what one authorization gave one client, and its refresh-token
-- family. `session_id` names the Gatehouse session it belongs to; no foreign
-- key because sessions are purged, and a grant whose session is gone is dead.
CREATE TABLE oidc_grants (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oidc_clients(id),
    account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_id     TEXT NOT NULL,
    scope          TEXT NOT NULL,
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    generation     INTEGER NOT NULL,            -- the newest refresh token's
    revoked_at     INTEGER,
    revoke_reason  TEXT
);
CREATE INDEX oidc_grants_by_session ON oidc_grants (session_id);

CREATE TABLE oidc_codes (
    code_hash       BLOB PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES oidc_clients(id),
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    session_id      TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT NOT NULL,
    auth_time       INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    used_at         INTEGER,
    grant_id        TEXT                        -- what it issued, revoked on replay
);

-- Every generation is kept (until the grant is purged) so a reused old token
-- is recognised as reuse, not as unknown.
CREATE TABLE oidc_refresh_tokens (
    token_hash  BLOB PRIMARY KEY,
    grant_id    TEXT NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE,
    generation  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE oidc_consents (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES oidc_clients(id),
    scope       TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
