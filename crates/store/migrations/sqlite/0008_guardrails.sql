-- Guardrails of issue 6 and "Was I affected?" of issue 7 (sqlite).

-- Trips are numbered: each operator's alert of trip N has the idempotency key
-- breaker-tripped/N/<operator>, so one trip mails each operator once.
ALTER TABLE breaker ADD COLUMN trips INTEGER NOT NULL DEFAULT 0;

-- "Active accounts" (a successful sign-in in the last 30 days) for campaign
-- previews and the approval threshold: one index probe per account.
CREATE INDEX login_events_success_by_account ON login_events (account_id, time)
    WHERE outcome = 'success' AND account_id IS NOT NULL;
CREATE INDEX sessions_by_account_seen ON sessions (account_id, last_seen_at);

-- An owner's campaigns ("Was I affected?").
CREATE INDEX campaign_targets_by_account ON campaign_targets (account_id);
