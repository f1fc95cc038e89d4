-- Requests to the account manager, and their delivery to the platform's
-- webhook through a transactional outbox.

CREATE TABLE support_requests (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    user_id TEXT,
    intent TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX support_requests_newest ON support_requests (workspace_id, created_at, id);

CREATE TABLE webhook_outbox (
    request_id TEXT PRIMARY KEY REFERENCES support_requests (id),
    payload TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT,
    last_error TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (delivered_at, next_attempt_at);
