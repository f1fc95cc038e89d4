-- Who holds a delivery's lease: only the holder may record its outcome, so
-- a slow receiver never lets two processes record (or send) the same row.
ALTER TABLE webhook_outbox ADD COLUMN lease_owner TEXT;

-- When a request was really sent (the real clock, even where tests pin the
-- ledger's), for the per-person rate limit.
ALTER TABLE support_requests ADD COLUMN sent_at BIGINT NOT NULL DEFAULT 0;
