-- Density (issue 33): fewer bytes per stored event.
-- * An event keeps a 128-bit digest of its canonical request (enough to
--   tell a replay from a conflict) instead of the request's text. Events
--   stored before keep their text in `request` until `credits migrate`
--   replaces it with its digest (SQLite has no SHA-256 of its own); new
--   events leave `request` NULL.
-- * Both ledger tables are WITHOUT ROWID: the row lives in its primary
--   key's b-tree instead of in a table plus a copy of the key in an index.
-- * The rollups name their metric, dimension and action by a code of a
--   byte or two (server/src/store/rollup.rs) instead of a word.
CREATE TABLE usage_events_new (
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
    digest BLOB,
    request TEXT,
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
INSERT INTO usage_events_new (workspace_id, id, kind, occurred_at, day, action, credits, user_id,
                              campaign_id, identity_id, digest, request)
    SELECT workspace_id, id, kind, occurred_at, day, action, credits, user_id,
           campaign_id, identity_id, NULL, request FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_new RENAME TO usage_events;
CREATE INDEX usage_events_by_time ON usage_events (workspace_id, kind, occurred_at);

CREATE TABLE daily_rollup_new (
    workspace_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    dim TEXT NOT NULL,
    day TEXT NOT NULL,
    action TEXT NOT NULL,
    key TEXT NOT NULL,
    key2 TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, metric, dim, day, action, key, key2)
) WITHOUT ROWID;
INSERT INTO daily_rollup_new (workspace_id, metric, dim, day, action, key, key2, value)
    SELECT workspace_id,
           CASE metric WHEN 'credits' THEN 'c' ELSE 'v' END,
           CASE dim WHEN 'user' THEN 'u' WHEN 'campaign' THEN 'c' WHEN 'identity' THEN 'i'
                    WHEN 'campaign_identity' THEN 'ci' WHEN 'user_campaign' THEN 'uc' ELSE '' END,
           day,
           CASE action WHEN 'scrape_company' THEN 'sc' WHEN 'scrape_contact' THEN 'sp'
                       WHEN 'enrich_email' THEN 'ee' WHEN 'enrich_phone' THEN 'ep'
                       WHEN 'ai_completion' THEN 'ai' ELSE '' END,
           key, key2, value
    FROM daily_rollup;
DROP TABLE daily_rollup;
ALTER TABLE daily_rollup_new RENAME TO daily_rollup;
-- The indexes by key carry the value: a drill-down reads them alone. (In
-- a table WITHOUT ROWID an index finds its row by the whole primary key,
-- a lookup that made a month of one campaign's identities 4x slower.)
CREATE INDEX daily_rollup_by_key ON daily_rollup (workspace_id, metric, dim, key, day, value);
-- Only the pairs' rows have a second key: the index holds those alone
-- (a filter on it says `key2 <> ''` too, so that the planner may use it).
CREATE INDEX daily_rollup_by_key2 ON daily_rollup (workspace_id, metric, dim, key2, day, value) WHERE key2 <> '';

-- Where `credits migrate` is in digesting the requests stored before: the
-- last (workspace, id) done. Dropped when every event has its digest.
CREATE TABLE digest_backfill (workspace_id TEXT NOT NULL, id TEXT NOT NULL);
INSERT INTO digest_backfill (workspace_id, id) SELECT '', '' WHERE EXISTS (SELECT 1 FROM usage_events);
