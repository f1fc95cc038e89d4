-- Limits (API.md, "Limits (v1.2)"): the workspace's settings, per-user and
-- per-campaign limits, what each user and campaign used in each cycle
-- (kept exact in the transaction of the usage, so a limit check never
-- reads events), requests for more, and the audit log.

ALTER TABLE workspaces ADD COLUMN limit_default_credits BIGINT;
ALTER TABLE workspaces ADD COLUMN limit_default_mode TEXT;
ALTER TABLE workspaces ADD COLUMN overage BIGINT NOT NULL DEFAULT 0;

-- scope: 'user' or 'campaign'; mode: 'hard' or 'soft'.
CREATE TABLE credit_limits (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    credits BIGINT NOT NULL,
    mode TEXT NOT NULL,
    PRIMARY KEY (workspace_id, scope, scope_id)
);

-- Credits used per user and per campaign in each cycle, the credits that
-- approved requests add to the user's limit in that cycle, and whether the
-- scope's limit_reached alert fired (re-armed to 0). Written only under
-- the cycle row's lock (cycles), which serialises every writer of a cycle.
CREATE TABLE scope_usage (
    workspace_id TEXT NOT NULL,
    start_day TEXT NOT NULL,
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0,
    approved_extra BIGINT NOT NULL DEFAULT 0,
    alerted BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, start_day, scope, scope_id)
);

-- Back-fill: what every user and campaign used in every cycle so far.
-- A cycle starts on the 1st of the month of its local days.
INSERT INTO scope_usage (workspace_id, start_day, scope, scope_id, used)
SELECT workspace_id, substr(day, 1, 8) || '01', 'user', key, SUM(value)
FROM daily_rollup WHERE metric = 'credits' AND dim = 'user'
GROUP BY workspace_id, substr(day, 1, 8) || '01', key;
INSERT INTO scope_usage (workspace_id, start_day, scope, scope_id, used)
SELECT workspace_id, substr(day, 1, 8) || '01', 'campaign', key, SUM(value)
FROM daily_rollup WHERE metric = 'credits' AND dim = 'campaign' AND key <> ''
GROUP BY workspace_id, substr(day, 1, 8) || '01', key;

-- seq orders requests and audit entries as they were recorded, on every
-- process: the next number is taken under the workspace's row lock.
ALTER TABLE workspaces ADD COLUMN record_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE limit_requests (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    credits BIGINT NOT NULL,
    reason TEXT NOT NULL,
    cycle_start TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_credits BIGINT,
    note TEXT,
    decided_at BIGINT,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX limit_requests_newest ON limit_requests (workspace_id, seq);
CREATE UNIQUE INDEX limit_requests_one_pending ON limit_requests (workspace_id, user_id) WHERE status = 'pending';

CREATE TABLE audit_log (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_scope TEXT NOT NULL,
    target_id TEXT NOT NULL,
    before_value TEXT,
    after_value TEXT,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX audit_log_newest ON audit_log (workspace_id, seq);

-- limit_reached alerts name their scope; the others are the workspace's.
ALTER TABLE alerts ADD COLUMN scope TEXT NOT NULL DEFAULT 'workspace';
ALTER TABLE alerts ADD COLUMN scope_id TEXT;
