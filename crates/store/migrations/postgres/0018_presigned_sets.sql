-- A SET is signed once, ahead of its delivery (issue 17's delivery rate):
-- the sender's sign-ahead stage writes the compact JWS here shortly after the
-- row is written, and every attempt (first, retries, a resend after a lease
-- ran out) POSTs these bytes, so `jti` and `iat` are the same each time. A
-- NULL token (not signed yet, or a logout token, whose `exp` is set at each
-- attempt) is signed at the attempt. A token whose key is no longer published
-- is signed again at the attempt (the stored one is left: the next
-- attempt checks again). Keep the two engines' files in step.
ALTER TABLE app_deliveries ADD COLUMN token TEXT;
-- The sign-ahead stage's queue: pending SETs not signed yet, oldest first.
-- A row leaves it when signed, so it stays as small as the unsigned backlog.
CREATE INDEX app_deliveries_unsigned ON app_deliveries (next_attempt_at, id)
    WHERE kind = 'set' AND state = 'pending' AND token IS NULL;
