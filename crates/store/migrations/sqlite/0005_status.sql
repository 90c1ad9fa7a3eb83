-- The public status page (SQLite). Keep in step with ../postgres/0005_status.sql.

-- What the page lists: parts of the service people recognise ("Sign-in", "API").
CREATE TABLE status_components (
    id           TEXT PRIMARY KEY,            -- a-z 0-9 -, used in commands and URLs
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    position     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- An incident: a draft (never public) until an operator publishes it; then
-- investigating | identified | monitoring, in any order, until resolved (final).
CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY,
    title         TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('draft', 'investigating', 'identified', 'monitoring', 'resolved')),
    impact        TEXT NOT NULL CHECK (impact IN ('none', 'minor', 'major', 'critical')),
    body          TEXT NOT NULL,             -- the draft's text; the first update once published
    figures       TEXT,                      -- JSON from whoever drafted it (e.g. the breaker's live figures); never public
    postmortem    TEXT,
    created_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL,             -- "operator:<id>" or "system"
    updated_at    INTEGER NOT NULL,
    published_at  INTEGER,
    resolved_at   INTEGER
);
CREATE INDEX incidents_public ON incidents (published_at);

-- Which components an incident affects.
CREATE TABLE incident_components (
    incident_id   INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    component_id  TEXT NOT NULL REFERENCES status_components(id) ON DELETE CASCADE,
    PRIMARY KEY (incident_id, component_id)
);

-- The timestamped updates of a public incident (the first is its publication).
CREATE TABLE incident_updates (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    state        TEXT NOT NULL CHECK (state IN ('investigating', 'identified', 'monitoring', 'resolved')),
    body         TEXT NOT NULL,
    at           INTEGER NOT NULL,
    author       TEXT NOT NULL             -- "operator:<id>" or "system"
);
CREATE INDEX incident_updates_by_incident ON incident_updates (incident_id, at);

-- People who get status updates by e-mail: double opt-in, one-click leave.
-- Tokens are stored only as SHA-256 digests.
CREATE TABLE status_subscribers (
    id                      TEXT PRIMARY KEY,
    email                   TEXT NOT NULL,
    email_key               TEXT NOT NULL UNIQUE,
    state                   TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'unsubscribed')),
    confirm_token_hash      BLOB UNIQUE,     -- cleared once used
    confirm_expires_at      INTEGER,
    unsubscribe_token_hash  BLOB NOT NULL UNIQUE,
    created_at              INTEGER NOT NULL,
    confirmed_at            INTEGER,
    unsubscribed_at         INTEGER
);
CREATE INDEX status_subscribers_by_state ON status_subscribers (state);

-- One row per delivery lane with its own budget ('status'), locked while a
-- claimer counts what the lane sent in the last hour, so replicas together
-- stay within it.
CREATE TABLE outbox_lanes (
    lane           TEXT PRIMARY KEY,
    last_claim_at  INTEGER NOT NULL
);

-- Security notices are claimed first; these let each lane's claim walk only its own rows.
CREATE INDEX outbox_due_security ON outbox (state, next_attempt_at)
    WHERE kind NOT IN ('status_confirm', 'status_update');
CREATE INDEX outbox_due_status ON outbox (state, next_attempt_at)
    WHERE kind IN ('status_confirm', 'status_update');
CREATE INDEX outbox_status_sent ON outbox (sent_at)
    WHERE kind IN ('status_confirm', 'status_update') AND state = 'sent';
