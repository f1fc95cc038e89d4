-- Alerts (API.md, "Alerts (v1.1)"): the workspace's settings, the
-- thresholds each cycle has reached (kept on the cycle's balance row,
-- written in the same transaction as the spend), the alerts themselves,
-- and their delivery through the webhook outbox, which from now on carries
-- alerts as well as support requests (SQLite cannot drop a foreign key:
-- the outbox is rebuilt without it).

ALTER TABLE workspaces ADD COLUMN alert_thresholds TEXT NOT NULL DEFAULT '80,100';
ALTER TABLE workspaces ADD COLUMN alert_runout BIGINT NOT NULL DEFAULT 1;

ALTER TABLE cycles ADD COLUMN reached TEXT NOT NULL DEFAULT '';
ALTER TABLE cycles ADD COLUMN runout_alerted BIGINT NOT NULL DEFAULT 0;
-- The run-out forecast's pace (credits of the 7 full days before pace_day),
-- computed once a day per cycle instead of with every charge.
ALTER TABLE cycles ADD COLUMN pace_day TEXT NOT NULL DEFAULT '';
ALTER TABLE cycles ADD COLUMN pace_used BIGINT NOT NULL DEFAULT 0;

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    kind TEXT NOT NULL,
    percent BIGINT,
    cycle_start TEXT NOT NULL,
    cycle_end TEXT NOT NULL,
    used BIGINT NOT NULL,
    granted BIGINT NOT NULL,
    runs_out_on TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX alerts_newest ON alerts (workspace_id, created_at, id);

CREATE TABLE webhook_outbox_new (
    request_id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT,
    last_error TEXT
);
INSERT INTO webhook_outbox_new SELECT request_id, payload, attempts, next_attempt_at, locked_until, delivered_at, last_error FROM webhook_outbox;
DROP TABLE webhook_outbox;
ALTER TABLE webhook_outbox_new RENAME TO webhook_outbox;
CREATE INDEX webhook_outbox_due ON webhook_outbox (delivered_at, next_attempt_at);
