-- A SET's signed token moves out of its delivery row (issue 17's delivery
-- rate). The claim and the settle each rewrite the row; with the token in it
-- (~500 of a ~700-byte row) every state change rewrote the token too, and a
-- page held a handful of rows. The token is written once (by the sign-ahead
-- stage) and read by the claim (a lookup by id from the claim's RETURNING),
-- so it lives in a table of its own, keyed by the delivery's id (the jti), and
-- goes with its row (the purge, a dropped stream's unsent rows).
-- `signed` (0/1) marks a row the stage has signed, for its queue's partial
-- index; a row whose token was written but whose key left the JWKS keeps both
-- (the attempt signs again, as before). Keep the two engines' files in step.
CREATE TABLE app_delivery_tokens (
    id     TEXT PRIMARY KEY REFERENCES app_deliveries(id) ON DELETE CASCADE,
    token  TEXT NOT NULL
);
INSERT INTO app_delivery_tokens (id, token)
    SELECT id, token FROM app_deliveries WHERE token IS NOT NULL;
ALTER TABLE app_deliveries ADD COLUMN signed INTEGER NOT NULL DEFAULT 0;
UPDATE app_deliveries SET signed = 1 WHERE token IS NOT NULL;
DROP INDEX app_deliveries_unsigned;
ALTER TABLE app_deliveries DROP COLUMN token;
-- The sign-ahead stage's queue: pending SETs not signed yet, oldest first.
CREATE INDEX app_deliveries_unsigned ON app_deliveries (next_attempt_at, id)
    WHERE kind = 'set' AND state = 'pending' AND signed = 0;
