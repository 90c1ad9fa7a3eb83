-- Gatehouse foundation schema (PostgreSQL). Times are milliseconds since the epoch.
-- Keep in step with ../sqlite/0001_foundation.sql: same tables, same columns.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL UNIQUE,   -- lower-cased address: one account per mailbox
    created_at  BIGINT NOT NULL
);

-- One password credential per account. A forced reset sets state to
-- 'reset_required' and keeps the hash (invariant 2: reversible by default).
CREATE TABLE credentials (
    account_id  TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    hash        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('active', 'reset_required')),
    version     BIGINT NOT NULL DEFAULT 1,
    changed_at  BIGINT NOT NULL
);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash    BYTEA NOT NULL UNIQUE,
    state         TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'revoked')),
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    ended_at      BIGINT,
    end_reason    TEXT
);
CREATE INDEX sessions_by_account ON sessions (account_id, state);

-- Failed-login counters, shared by every replica.
CREATE TABLE login_throttle (
    key            TEXT PRIMARY KEY,
    window_start   BIGINT NOT NULL,
    failures       BIGINT NOT NULL,
    blocked_until  BIGINT NOT NULL
);

CREATE TABLE operators (
    id           TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    email_key    TEXT NOT NULL UNIQUE,
    key_hash     BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    disabled_at  BIGINT
);

-- Append-only, hash-chained. audit_head holds the chain's tip; updating it
-- first serialises appenders so the chain never forks.
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    ip          TEXT,
    detail      TEXT NOT NULL,
    hash        BYTEA NOT NULL
);
CREATE INDEX audit_by_target ON audit_log (target);

CREATE TABLE audit_head (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    hash  BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
