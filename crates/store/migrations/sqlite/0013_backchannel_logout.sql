-- OpenID Connect Back-Channel Logout (issue 17). Keep the two engines' files in step.

-- A client may register where its logout tokens go. NULL: it gets none.
ALTER TABLE oidc_clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE oidc_clients ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;

-- The app-delivery outbox: one row per (session end, client that was issued
-- tokens in that session and has a logout URI), written in the transaction
-- that ends (or suspends) the session. It holds the logout token's claims,
-- not a signed token: the sender signs at delivery time with the current key.
-- `id` is the token's `jti`, fixed at insert, so every retry repeats it.
-- States: pending -> sending (leased) -> sent | failed (retryable by hand).
CREATE TABLE app_deliveries (
    id               TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL REFERENCES oidc_clients(id),
    account_id       TEXT NOT NULL,          -- sub (no FK: the record outlives the account)
    session_id       TEXT NOT NULL,          -- sid
    reason           TEXT NOT NULL,          -- why the session ended
    event_at         INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_id         TEXT,
    lease_until      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    -- Set when an undo reinstated the session: a later end of it is a new
    -- end and gets its own row.
    reinstated_at    INTEGER
);
-- Exactly one logout token per (session end, client), whichever paths race.
CREATE UNIQUE INDEX app_deliveries_once ON app_deliveries (session_id, client_id)
    WHERE reinstated_at IS NULL;
CREATE INDEX app_deliveries_due ON app_deliveries (state, next_attempt_at);
-- A receiver's due rows in order (its claim), and whether it has any (the
-- sender's poll): one index seek per receiver, however long the queue.
CREATE INDEX app_deliveries_by_client ON app_deliveries (client_id, state, next_attempt_at);
CREATE INDEX app_deliveries_leased ON app_deliveries (client_id, lease_until) WHERE state = 'sending';
