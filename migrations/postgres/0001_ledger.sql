-- The ledger: workspaces and what they own, grants per billing cycle,
-- usage events and their per-local-day pre-aggregates.
-- Instants are Unix milliseconds (UTC); local dates are TEXT 'YYYY-MM-DD'
-- in the workspace's zone, which sort in date order.

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    week_start TEXT NOT NULL,
    plan_name TEXT NOT NULL,
    monthly_credits BIGINT NOT NULL,
    identities_included BIGINT NOT NULL,
    price_cents BIGINT NOT NULL,
    currency TEXT NOT NULL,
    am_name TEXT,
    am_email TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE users (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

CREATE TABLE identities (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

CREATE TABLE campaigns (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

-- One row per workspace and billing cycle: the balance that charges lock.
CREATE TABLE cycles (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    start_day TEXT NOT NULL,
    plan_credits BIGINT NOT NULL,
    add_on BIGINT NOT NULL DEFAULT 0,
    rollover BIGINT NOT NULL DEFAULT 0,
    used BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, start_day)
);

CREATE TABLE credit_grants (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    credits BIGINT NOT NULL,
    cycle_start TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

CREATE TABLE usage_events (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    day TEXT NOT NULL,
    action TEXT,
    credits BIGINT,
    user_id TEXT NOT NULL,
    campaign_id TEXT,
    identity_id TEXT,
    request TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX usage_events_by_time ON usage_events (workspace_id, kind, occurred_at);

-- Pre-aggregates, kept in the same transaction as the events.
-- '' stands for "no campaign" / "no identity" (keys cannot be NULL).
CREATE TABLE credit_daily (
    workspace_id TEXT NOT NULL,
    day TEXT NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    credits BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, day, action, user_id, campaign_id, identity_id)
);

CREATE TABLE conversation_daily (
    workspace_id TEXT NOT NULL,
    day TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    conversations BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, day, campaign_id, identity_id, user_id)
);

CREATE TABLE charges (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    id TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
