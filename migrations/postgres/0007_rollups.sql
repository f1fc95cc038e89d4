-- Pre-aggregates shaped by the dashboard's questions. The per-day rows
-- keyed by every dimension at once (credit_daily, conversation_daily) had
-- about one row per event at a busy customer's scale: they answered
-- nothing faster than the events. The dashboard's questions name, beside
-- day and action, one of user, campaign or identity, or the pairs campaign
-- and identity or user and campaign (the drill-downs), as groupings or
-- filters; one narrow rollup per such set answers each: a day holds at
-- most (actions x keys) rows of each.
--
-- metric: 'credits' or 'conversations'; dim: '' (the day's totals per
-- action), 'user', 'campaign', 'identity', 'campaign_identity' or
-- 'user_campaign'; action: '' for conversations; key: the (first)
-- dimension's id, '' for totals and for "no campaign/identity"; key2: the
-- second dimension's id of a pair, else ''. Any other question (user with
-- identity, say) reads the events themselves, through usage_events_by_time.
CREATE TABLE daily_rollup (
    workspace_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    dim TEXT NOT NULL,
    day TEXT NOT NULL,
    action TEXT NOT NULL,
    key TEXT NOT NULL,
    key2 TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, metric, dim, day, action, key, key2)
);

INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'credits', '', day, action, '', '', SUM(credits)
FROM credit_daily GROUP BY workspace_id, day, action;
INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'credits', 'user', day, action, user_id, '', SUM(credits)
FROM credit_daily GROUP BY workspace_id, day, action, user_id;
INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'credits', 'campaign', day, action, campaign_id, '', SUM(credits)
FROM credit_daily GROUP BY workspace_id, day, action, campaign_id;
INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'credits', 'identity', day, action, identity_id, '', SUM(credits)
FROM credit_daily GROUP BY workspace_id, day, action, identity_id;

INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'conversations', '', day, '', '', '', SUM(conversations)
FROM conversation_daily GROUP BY workspace_id, day;
INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'conversations', 'user', day, '', user_id, '', SUM(conversations)
FROM conversation_daily GROUP BY workspace_id, day, user_id;
INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'conversations', 'campaign', day, '', campaign_id, '', SUM(conversations)
FROM conversation_daily GROUP BY workspace_id, day, campaign_id;
INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'conversations', 'identity', day, '', identity_id, '', SUM(conversations)
FROM conversation_daily GROUP BY workspace_id, day, identity_id;
INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'credits', 'campaign_identity', day, action, campaign_id, identity_id, SUM(credits)
FROM credit_daily GROUP BY workspace_id, day, action, campaign_id, identity_id;
INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'conversations', 'campaign_identity', day, '', campaign_id, identity_id, SUM(conversations)
FROM conversation_daily GROUP BY workspace_id, day, campaign_id, identity_id;
INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'credits', 'user_campaign', day, action, user_id, campaign_id, SUM(credits)
FROM credit_daily GROUP BY workspace_id, day, action, user_id, campaign_id;
INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value)
SELECT workspace_id, 'conversations', 'user_campaign', day, '', user_id, campaign_id, SUM(conversations)
FROM conversation_daily GROUP BY workspace_id, day, user_id, campaign_id;

DROP TABLE credit_daily;
DROP TABLE conversation_daily;
