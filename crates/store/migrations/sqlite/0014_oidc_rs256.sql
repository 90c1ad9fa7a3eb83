-- RS256 signing keys for old clients, and each client's ID-token algorithm
-- (issue 16, "Discovery and keys"). Keep the two engines' files in step.

-- SQLite cannot change a CHECK: the key table is rebuilt with RS256 allowed.
CREATE TABLE oidc_keys_0014 (
    kid             TEXT PRIMARY KEY,           -- RFC 7638 thumbprint
    alg             TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256')),
    public_jwk      TEXT NOT NULL,              -- JSON, as published
    sealed_private  BLOB NOT NULL,              -- nonce ‖ AEAD(private key, PKCS#8)
    created_at      INTEGER NOT NULL,
    retired_at      INTEGER
);
INSERT INTO oidc_keys_0014 (kid, alg, public_jwk, sealed_private, created_at, retired_at)
    SELECT kid, alg, public_jwk, sealed_private, created_at, retired_at FROM oidc_keys;
DROP TABLE oidc_keys;
ALTER TABLE oidc_keys_0014 RENAME TO oidc_keys;

-- OpenID Connect Dynamic Client Registration's name for it; ES256 unless the
-- operator registered an old client that only validates RS256.
ALTER TABLE oidc_clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'ES256'
    CHECK (id_token_signed_response_alg IN ('ES256', 'RS256'));
