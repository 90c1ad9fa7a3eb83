-- Login events (SQLite). Keep in step with ../postgres/0003_login_events.sql.
-- What the compromise checks read and backtest against: Gatehouse's own logins
-- and those apps send (API) or that are imported from files.

CREATE TABLE login_events (
    id               INTEGER PRIMARY KEY,
    time             INTEGER NOT NULL,          -- when the attempt happened (ms)
    account          TEXT NOT NULL,             -- e-mail key, or the id as the sender gave it
    -- Gatehouse's account, when the address or id names one. NULL for unknown
    -- addresses: such events are kept (they show an attacker's spread) but can
    -- never lead to a reset. No foreign key: events are history, resolved once
    -- at ingestion; whatever acts on one re-reads the account it names.
    account_id       TEXT,
    ip               TEXT NOT NULL,
    user_agent       TEXT,
    outcome          TEXT NOT NULL CHECK (outcome IN ('success', 'wrong_password', 'unknown_account')),
    country          TEXT,
    asn              INTEGER,
    origin           TEXT NOT NULL CHECK (origin IN ('gatehouse', 'api', 'import')),
    -- Own logins only: HMAC-SHA256 of the attempted password under the server
    -- key (never the password); see gatehouse_domain::login_event::password_digest.
    password_digest  BLOB,
    -- 128 bits of the event's content (API and import) or random (own logins):
    -- the same event sent twice is stored once.
    dedupe_key       BLOB NOT NULL UNIQUE,
    received_at      INTEGER NOT NULL
);
-- Backtests scan a time range in (time, id) order; retention deletes from the old end.
CREATE INDEX login_events_by_time ON login_events (time, id);
CREATE INDEX login_events_by_account ON login_events (account, time);
CREATE INDEX login_events_by_account_id ON login_events (account_id, time) WHERE account_id IS NOT NULL;
