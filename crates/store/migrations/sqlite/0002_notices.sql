-- Notices and password recovery (SQLite). Keep in step with ../postgres/0002_notices.sql.

-- The outbox: one row per notice, written in the same transaction as the state
-- change it reports. idempotency_key makes a repeated write a no-op.
-- States: pending → sending (leased) → sent | failed; pending → coalesced
-- (merged into a later notice of the same kind, over the per-recipient cap) |
-- expired (what it carried, e.g. a recovery code, ran out before it could go).
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    reference        TEXT NOT NULL UNIQUE,     -- GH-XXXX-XXXX, checkable on /verify
    idempotency_key  TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    account_id       TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    recipient        TEXT NOT NULL,
    recipient_key    TEXT NOT NULL,
    payload          TEXT,                     -- JSON the templates need; cleared once sent
    message_id       TEXT NOT NULL,            -- the same on every delivery attempt
    state            TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'coalesced', 'expired')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_id         TEXT,
    lease_until      INTEGER,
    last_error       TEXT,
    coalesced_into   TEXT,
    coalesced_count  INTEGER NOT NULL DEFAULT 0,
    expires_at       INTEGER,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_recipient ON outbox (recipient_key, kind, state);

-- One row per recipient, locked while a claimer checks that recipient's daily
-- cap, so two replicas cannot both send the notice that goes over it.
CREATE TABLE outbox_recipients (
    recipient_key  TEXT PRIMARY KEY,
    last_claim_at  INTEGER NOT NULL
);

-- Password recovery requests. Code and token are stored only as digests.
CREATE TABLE recovery_requests (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash   BLOB NOT NULL,
    token_hash  BLOB UNIQUE,
    state       TEXT NOT NULL CHECK (state IN ('active', 'used', 'superseded', 'exhausted')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    ip          TEXT
);
CREATE INDEX recovery_by_account ON recovery_requests (account_id, state);
