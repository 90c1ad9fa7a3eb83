-- Rules, findings and the detection monitor's checkpoint (SQLite).
-- Keep in step with ../postgres/0004_rules_findings.sql.

-- A rule in force: its current version. `definition` is the whole rule as
-- canonical JSON (detector, thresholds, mode, action, cap…); editing it writes a
-- new row in rule_versions and bumps `version`.
CREATE TABLE rules (
    id          TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    detector    TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('off', 'shadow', 'enforce')),
    definition  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL
);

-- Every version a rule ever had, so a finding's (rule, version) always explains itself.
CREATE TABLE rule_versions (
    rule_id     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (rule_id, version)
);

-- An account a rule judged likely compromised, with why.
CREATE TABLE findings (
    id            INTEGER PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    rule_id       TEXT NOT NULL,
    rule_version  INTEGER NOT NULL,
    detector      TEXT NOT NULL,
    mode          TEXT NOT NULL CHECK (mode IN ('shadow', 'enforce')),
    action        TEXT NOT NULL CHECK (action IN ('notify', 'force_reset')),
    -- shadow: acts on nothing; pending: handed to remediation; held: over the
    -- rule's daily cap, waits for a person.
    status        TEXT NOT NULL CHECK (status IN ('shadow', 'pending', 'held')),
    score         REAL NOT NULL,
    evidence      TEXT NOT NULL,             -- JSON: source, counts, window, the login
    observed_at   INTEGER NOT NULL,          -- when the behaviour happened (ms)
    created_at    INTEGER NOT NULL,
    -- Rule, account and the behaviour (not the rule version): re-running the
    -- detectors over the same events, after a restart or an edit, records nothing twice.
    dedupe_key    BLOB NOT NULL UNIQUE
);
CREATE INDEX findings_by_time ON findings (created_at, id);
CREATE INDEX findings_by_rule ON findings (rule_id, created_at);
CREATE INDEX findings_by_account ON findings (account_id, created_at);

-- Where each detection monitor got to in login_events (by id).
CREATE TABLE monitor_checkpoints (
    name        TEXT PRIMARY KEY,
    after_id    INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
