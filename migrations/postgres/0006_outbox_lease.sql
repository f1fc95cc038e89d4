-- Who holds a delivery's lease: only the holder may record its outcome, so
-- a slow receiver never lets two processes record (or send) the same row.
ALTER TABLE webhook_outbox ADD COLUMN lease_owner TEXT;

-- When a request was really sent (the real clock, even where tests pin the
-- ledger's), for the per-person rate limit.
ALTER TABLE support_requests ADD COLUMN sent_at BIGINT NOT NULL DEFAULT 0;

-- A time-zone change moves the workspace's events to their new local days
-- in chunks (one short transaction each); this is where the next chunk
-- starts (the last event id moved), NULL when no move is under way. A
-- crash resumes from here at the next start.
ALTER TABLE workspaces ADD COLUMN rebucket_from TEXT;

-- Alerts of a cycle are numbered under the cycle row's lock, so that their
-- ids and times follow the order they were decided in, on every process.
ALTER TABLE cycles ADD COLUMN alert_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cycles ADD COLUMN last_alert_at BIGINT NOT NULL DEFAULT 0;
