-- Operator API keys with a life cycle (issue 18 #6). One key per operator:
-- rotating replaces its digest (the old key stops working at once), revoking
-- marks it so no key works until the next rotation, an optional expiry ends
-- it by itself, and the last use is kept (written at most once a minute).
-- `disabled_at` (since 0001) now gets set: a disabled operator's key and
-- console sign-in are refused.
ALTER TABLE operators ADD COLUMN key_created_at INTEGER;
ALTER TABLE operators ADD COLUMN key_expires_at INTEGER;
ALTER TABLE operators ADD COLUMN key_revoked_at INTEGER;
ALTER TABLE operators ADD COLUMN key_last_used_at INTEGER;
UPDATE operators SET key_created_at = created_at;
