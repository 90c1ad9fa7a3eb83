-- The outbox's indexes hold only what changes least (issue 19). A notice's row
-- changes state twice on its way out (pending → sending → sent); every index
-- holding `state` moved an entry at each step, three indexes per step. Now:
--   * the recipient index drops `state`: the cap check reads a recipient's few
--     rows anyway, and the index no longer changes after the insert;
--   * the due indexes hold pending rows only (per lane, in claim order), and
--     leased rows have their own small index by lease expiry: a notice enters
--     one on insert, moves to the other on claim and leaves on send, and both
--     stay as small as the backlog instead of growing with every notice sent.
-- Upgrading rebuilds the indexes from the rows already there: nothing to copy.
DROP INDEX outbox_due;
DROP INDEX outbox_by_recipient;
DROP INDEX outbox_due_security;
DROP INDEX outbox_due_status;
CREATE INDEX outbox_by_recipient ON outbox (recipient_key, kind);
CREATE INDEX outbox_pending_security ON outbox (next_attempt_at, created_at)
    WHERE state = 'pending' AND kind NOT IN ('status_confirm', 'status_update');
CREATE INDEX outbox_pending_status ON outbox (next_attempt_at, created_at)
    WHERE state = 'pending' AND kind IN ('status_confirm', 'status_update');
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE state = 'sending';
