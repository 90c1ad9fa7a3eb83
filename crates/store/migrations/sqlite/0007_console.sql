-- The operator console: operators sign in to pages with a password (API keys
-- stay for machines), and console sessions are their own table so an operator
-- session can never be taken for an account session or the other way round.
-- Keep in step with ../postgres/0007_console.sql.

-- argon2id PHC string; NULL: this operator has no console access yet.
ALTER TABLE operators ADD COLUMN password_hash TEXT;
ALTER TABLE operators ADD COLUMN password_set_at INTEGER;

CREATE TABLE console_sessions (
    id            TEXT PRIMARY KEY,
    operator_id   TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    token_hash    BLOB NOT NULL UNIQUE,   -- SHA-256 of the cookie's token
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,       -- absolute end; the idle limit is checked on use
    ip            TEXT,
    user_agent    TEXT,
    ended_at      INTEGER
);
CREATE INDEX console_sessions_by_operator ON console_sessions (operator_id);
