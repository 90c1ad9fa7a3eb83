-- RS256 signing keys for old clients, and each client's ID-token algorithm
-- (issue 16, "Discovery and keys"). Keep the two engines' files in step.

ALTER TABLE oidc_keys DROP CONSTRAINT oidc_keys_alg_check;
ALTER TABLE oidc_keys ADD CONSTRAINT oidc_keys_alg_check CHECK (alg IN ('ES256', 'RS256'));

-- OpenID Connect Dynamic Client Registration's name for it; ES256 unless the
-- operator registered an old client that only validates RS256.
ALTER TABLE oidc_clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'ES256'
    CHECK (id_token_signed_response_alg IN ('ES256', 'RS256'));
