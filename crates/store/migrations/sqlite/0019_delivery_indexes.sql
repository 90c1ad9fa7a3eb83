-- The app-delivery outbox's indexes hold only what changes least (issue 17's
-- delivery rate; the notices' outbox did the same in 0016). A delivered SET is
-- two row updates (pending → sending at the claim, sending → sent at the
-- settle), and every index holding `state` moved an entry at each: four or five
-- indexes, fourteen entry moves per SET. Now each step moves two:
--   * the claim's index holds pending rows only, per receiver in claim order:
--     a row leaves it when claimed, and comes back only on a retry;
--   * leased rows keep their own small index by lease expiry (unchanged);
--   * sent rows enter an index by send time, which the purge reads (it used
--     `app_deliveries_due (state, next_attempt_at)`, which served nothing else
--     but the operators' listing by state) and the sent counts per receiver;
--   * failed rows have their own index (the operators' listing and counts);
--   * the per-stream index drops `state`: dropping a stream's unsent rows reads
--     its rows anyway, and the index no longer changes after the insert.
-- The counts per receiver and state read these partial indexes one state at a
-- time. Upgrading rebuilds the indexes from the rows already there: no row is
-- rewritten. Keep the two engines' files in step.
DROP INDEX app_deliveries_due;
DROP INDEX app_deliveries_by_client;
DROP INDEX app_deliveries_by_stream;
CREATE INDEX app_deliveries_pending ON app_deliveries (client_id, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX app_deliveries_sent ON app_deliveries (sent_at, client_id)
    WHERE state = 'sent';
CREATE INDEX app_deliveries_failed ON app_deliveries (client_id, created_at)
    WHERE state = 'failed';
CREATE INDEX app_deliveries_by_stream ON app_deliveries (stream_id) WHERE stream_id IS NOT NULL;
