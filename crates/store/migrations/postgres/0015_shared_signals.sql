-- OpenID Shared Signals Framework 1.0 transmitter (issue 17, part 2). Keep the
-- two engines' files in step.

-- A receiver's stream: one per registered OIDC client (the receiver
-- authenticates as that client). Push delivery (RFC 8935) to `endpoint_url`,
-- with the `Authorization` header the receiver asked for, if any.
-- Status (SSF §8.1.2): enabled (sent), paused (written and held), disabled
-- (nothing written, nothing held).
CREATE TABLE ssf_streams (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL UNIQUE REFERENCES oidc_clients(id),
    endpoint_url          TEXT NOT NULL,
    authorization_header  TEXT,
    description           TEXT,
    -- What the receiver asked for (JSON array), as SSF's `events_requested`.
    events_requested      TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('enabled', 'paused', 'disabled')),
    status_reason         TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
-- The events a stream delivers (requested ∩ supported): joined by the
-- set-based inserts, so an event nobody asked for writes no row.
CREATE TABLE ssf_stream_events (
    stream_id   TEXT NOT NULL REFERENCES ssf_streams(id),
    event_type  TEXT NOT NULL,
    PRIMARY KEY (stream_id, event_type)
);
CREATE INDEX ssf_stream_events_by_type ON ssf_stream_events (event_type, stream_id);
-- Subjects a receiver added (RFC 9493 `email` / `iss_sub`, resolved to the
-- account when added): the stream covers them besides the accounts its
-- client holds grants of.
CREATE TABLE ssf_subjects (
    stream_id   TEXT NOT NULL REFERENCES ssf_streams(id),
    account_id  TEXT NOT NULL,
    format      TEXT NOT NULL,
    added_at    BIGINT NOT NULL,
    PRIMARY KEY (stream_id, account_id)
);
CREATE INDEX ssf_subjects_by_account ON ssf_subjects (account_id);
-- "Does this client hold a grant of this account?" for the account-level
-- events of a 10,000-account campaign batch: one seek per (account, stream).
CREATE INDEX oidc_grants_by_account_client ON oidc_grants (account_id, client_id);

-- The app-delivery outbox carries SETs too: the same leases, retries,
-- circuit and rate per receiver (client), and the `jti` fixed at insert.
-- kind = 'logout' (back-channel logout token) | 'set' (a Security Event Token
-- for stream `stream_id`, event `event_type`, event claims `event` as JSON).
ALTER TABLE app_deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'logout';
ALTER TABLE app_deliveries ADD COLUMN stream_id TEXT;
ALTER TABLE app_deliveries ADD COLUMN event_type TEXT;
ALTER TABLE app_deliveries ADD COLUMN event TEXT;
-- One logout token per (session end, client) stays; SETs are kept unique by
-- their id (the jti, derived from stream, event and subject).
DROP INDEX app_deliveries_once;
CREATE UNIQUE INDEX app_deliveries_once ON app_deliveries (session_id, client_id)
    WHERE reinstated_at IS NULL AND kind = 'logout';
CREATE INDEX app_deliveries_by_stream ON app_deliveries (stream_id, state) WHERE stream_id IS NOT NULL;
-- One CAEP session-revoked per (stream, session end): a session suspended by
-- a reset and later revoked was told once, like its logout token. An undo
-- that reinstates the session sets `reinstated_at`, so a later end is new.
CREATE UNIQUE INDEX app_deliveries_set_once ON app_deliveries (stream_id, event_type, session_id)
    WHERE reinstated_at IS NULL AND kind = 'set' AND session_id <> '';
