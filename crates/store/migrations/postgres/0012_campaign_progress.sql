-- A campaign counts the targets it skipped (credential not active) next to
-- those it applied, so a step knows how far the campaign has gone from its own
-- row (applied + skipped) instead of counting its targets by state: at 100,000
-- targets that count was a scan per step.
ALTER TABLE campaigns ADD COLUMN skipped BIGINT NOT NULL DEFAULT 0;
UPDATE campaigns SET skipped = (
    SELECT COUNT(*) FROM campaign_targets t
    WHERE t.campaign_id = campaigns.id AND t.state = 'skipped'
);

-- A step reads the next pending targets in order, and the health gate counts
-- the people who reported the notice: both straight from an index, not by
-- walking past the targets already done (quadratic over a 100,000-account
-- campaign).
CREATE INDEX campaign_targets_by_state ON campaign_targets (campaign_id, state, seq);
CREATE INDEX campaign_targets_reported ON campaign_targets (campaign_id) WHERE reported_at IS NOT NULL;
