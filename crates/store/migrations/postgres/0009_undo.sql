-- Undo runs in the campaign worker, paced like the campaign itself; the
-- operator who asked for it is kept so every restore's audit entry names them.
ALTER TABLE campaigns ADD COLUMN undo_by TEXT;
