-- Remediation campaigns, the reset budget and the circuit breaker (SQLite).
-- Keep in step with ../postgres/0006_campaigns.sql.

CREATE TABLE campaigns (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    -- rule: an enforce rule's findings (automatic); list: an operator's list or
    -- query; account: one account.
    source                 TEXT NOT NULL CHECK (source IN ('rule', 'list', 'account')),
    automatic              INTEGER NOT NULL,      -- 1: started by Gatehouse (an enforce rule)
    rule_id                TEXT,
    rule_version           INTEGER,
    reason                 TEXT NOT NULL,         -- why, in the notice and the audit
    state                  TEXT NOT NULL CHECK (state IN ('draft', 'previewed', 'approved', 'running',
                               'paused', 'completed', 'aborted', 'undoing', 'undone')),
    created_by             TEXT NOT NULL,         -- actor text form
    created_at             INTEGER NOT NULL,
    -- The frozen target set: SHA-256 over the sorted account ids, and its size.
    snapshot_hash          BLOB,
    target_count           INTEGER NOT NULL DEFAULT 0,
    needs_second_approval  INTEGER NOT NULL DEFAULT 0,
    approved_by            TEXT,
    approved_at            INTEGER,
    preview                TEXT,                  -- JSON: the figures shown at preview
    stage_plan             TEXT NOT NULL,         -- JSON: StagePlan
    rate_per_minute        INTEGER NOT NULL,
    bake_secs              INTEGER NOT NULL,
    stage                  INTEGER NOT NULL DEFAULT 0,  -- index of the stage being applied
    stage_started_at       INTEGER,
    applied                INTEGER NOT NULL DEFAULT 0,
    paused_reason          TEXT,
    updated_at             INTEGER NOT NULL
);
CREATE INDEX campaigns_by_state ON campaigns (state, created_at);

-- One row per target account; `seq` is the order of application.
CREATE TABLE campaign_targets (
    campaign_id       TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    account_id        TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    seq               INTEGER NOT NULL,
    finding_id        INTEGER,
    evidence          TEXT,                       -- JSON, from the finding or the operator
    -- pending → applied → restored | not_restorable; skipped (already reset
    -- elsewhere, account gone) never touched it.
    state             TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'skipped', 'restored', 'not_restorable')),
    credential_version INTEGER,                   -- the version reset (undo restores only that one)
    applied_at        INTEGER,
    notice_reference  TEXT,
    undone_at         INTEGER,
    -- The owner said "I did not expect this" on /verify (a health gate counts these).
    reported_at       INTEGER,
    PRIMARY KEY (campaign_id, account_id)
);
CREATE UNIQUE INDEX campaign_targets_order ON campaign_targets (campaign_id, seq);
-- A finding goes into one campaign at most (two replicas racing to create the
-- automatic campaign: the second insert fails and finds nothing left next time).
CREATE UNIQUE INDEX campaign_targets_finding ON campaign_targets (finding_id) WHERE finding_id IS NOT NULL;
-- /verify reports and bounce counts find a target by its notice.
CREATE INDEX campaign_targets_reference ON campaign_targets (notice_reference) WHERE notice_reference IS NOT NULL;
-- The budget counts resets in the trailing hour and day across every campaign.
CREATE INDEX campaign_targets_applied ON campaign_targets (applied_at) WHERE applied_at IS NOT NULL;

-- The reset budget's counter: forced resets per minute, across every campaign.
-- An apply step sums at most 1,440 rows (the trailing day), however many
-- resets that day holds.
CREATE TABLE reset_counts (
    minute  INTEGER PRIMARY KEY,            -- ms since the epoch / 60000
    n       INTEGER NOT NULL
);

-- A session suspended by a campaign names it, so undo reinstates exactly those.
ALTER TABLE sessions ADD COLUMN suspended_by TEXT;

-- The circuit breaker: one row. Closed: automation runs. Open: every automatic
-- campaign and every security notice not yet sent waits for an operator.
CREATE TABLE breaker (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    state        TEXT NOT NULL CHECK (state IN ('closed', 'open')),
    reason       TEXT,
    changed_at   INTEGER NOT NULL,
    changed_by   TEXT NOT NULL
);
INSERT INTO breaker (id, state, changed_at, changed_by) VALUES (1, 'closed', 0, 'system');
