-- Every key of a workspace's table leads with workspace_id (docs/citus.md):
-- the alerts and the requests to the account manager were keyed by id
-- alone. SQLite changes a primary key by rebuilding the table.
CREATE TABLE alerts_new (
    id TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    kind TEXT NOT NULL,
    percent BIGINT,
    cycle_start TEXT NOT NULL,
    cycle_end TEXT NOT NULL,
    used BIGINT NOT NULL,
    granted BIGINT NOT NULL,
    runs_out_on TEXT,
    created_at BIGINT NOT NULL,
    scope TEXT NOT NULL DEFAULT 'workspace',
    scope_id TEXT,
    PRIMARY KEY (workspace_id, id)
);
INSERT INTO alerts_new (id, workspace_id, kind, percent, cycle_start, cycle_end, used, granted, runs_out_on, created_at, scope, scope_id)
    SELECT id, workspace_id, kind, percent, cycle_start, cycle_end, used, granted, runs_out_on, created_at, scope, scope_id FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
CREATE INDEX alerts_newest ON alerts (workspace_id, created_at, id);

CREATE TABLE support_requests_new (
    id TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    user_id TEXT,
    intent TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, id)
);
INSERT INTO support_requests_new (id, workspace_id, user_id, intent, message, created_at, sent_at)
    SELECT id, workspace_id, user_id, intent, message, created_at, sent_at FROM support_requests;
DROP TABLE support_requests;
ALTER TABLE support_requests_new RENAME TO support_requests;
CREATE INDEX support_requests_newest ON support_requests (workspace_id, created_at, id);
