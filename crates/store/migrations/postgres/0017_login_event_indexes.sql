-- Login events keep only the indexes something reads (issue 19). Every stored
-- event wrote five index entries; two of them no query used:
--   * login_events_by_account (account, time): nothing looks events up by the
--     sender's account string; the monitor and backtests read by id and by
--     (time, id);
--   * login_events_by_account_id (account_id, time): the only per-account read
--     (active accounts) takes login_events_success_by_account (migration 0008).
-- What remains: the primary key (the monitor's tail, gaps), (time, id)
-- (backtests, rules, retention), the dedupe key (exact dedupe), and successes
-- by account. Dropping an index changes no row.
DROP INDEX login_events_by_account;
DROP INDEX login_events_by_account_id;
