-- Density (issue 33): fewer bytes per stored event.
-- * An event keeps a 128-bit digest of its canonical request (SHA-256, cut
--   to 16 bytes: enough to tell a replay from a conflict) instead of the
--   request's text. `request` stays, NULL, for the same columns as SQLite's
--   (where events stored before keep their text until `credits migrate`
--   digests them).
-- * The fixed-width columns come first (no alignment padding), and the
--   rollups leave a tenth of each page free, so that an update of a
--   rollup row stays on its page (a HOT update: no new index entries, and
--   the old version is pruned without VACUUM).
-- * The rollups name their metric, dimension and action by a code of a
--   byte or two (server/src/store/rollup.rs) instead of a word.
-- Both tables are rewritten (not updated in place, which would leave a
-- dead copy of every row until VACUUM).
CREATE TABLE usage_events_new (
    occurred_at BIGINT NOT NULL,
    credits BIGINT,
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    day TEXT NOT NULL,
    action TEXT,
    user_id TEXT NOT NULL,
    campaign_id TEXT,
    identity_id TEXT,
    digest BYTEA,
    request TEXT
);
INSERT INTO usage_events_new (occurred_at, credits, workspace_id, id, kind, day, action, user_id,
                              campaign_id, identity_id, digest, request)
    SELECT occurred_at, credits, workspace_id, id, kind, day, action, user_id,
           campaign_id, identity_id, substring(sha256(convert_to(request, 'UTF8')) FROM 1 FOR 16), NULL
    FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_new RENAME TO usage_events;
ALTER TABLE usage_events ADD PRIMARY KEY (workspace_id, id),
    ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id);
CREATE INDEX usage_events_by_time ON usage_events (workspace_id, kind, occurred_at);

CREATE TABLE daily_rollup_new (
    value BIGINT NOT NULL,
    workspace_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    dim TEXT NOT NULL,
    day TEXT NOT NULL,
    action TEXT NOT NULL,
    key TEXT NOT NULL,
    key2 TEXT NOT NULL
) WITH (fillfactor = 90);
INSERT INTO daily_rollup_new (value, workspace_id, metric, dim, day, action, key, key2)
    SELECT value, workspace_id,
           CASE metric WHEN 'credits' THEN 'c' ELSE 'v' END,
           CASE dim WHEN 'user' THEN 'u' WHEN 'campaign' THEN 'c' WHEN 'identity' THEN 'i'
                    WHEN 'campaign_identity' THEN 'ci' WHEN 'user_campaign' THEN 'uc' ELSE '' END,
           day,
           CASE action WHEN 'scrape_company' THEN 'sc' WHEN 'scrape_contact' THEN 'sp'
                       WHEN 'enrich_email' THEN 'ee' WHEN 'enrich_phone' THEN 'ep'
                       WHEN 'ai_completion' THEN 'ai' ELSE '' END,
           key, key2
    FROM daily_rollup;
DROP TABLE daily_rollup;
ALTER TABLE daily_rollup_new RENAME TO daily_rollup;
ALTER TABLE daily_rollup ADD PRIMARY KEY (workspace_id, metric, dim, day, action, key, key2);
CREATE INDEX daily_rollup_by_key ON daily_rollup (workspace_id, metric, dim, key, day);
-- Only the pairs' rows have a second key: the index holds those alone
-- (a filter on it says `key2 <> ''` too, so that the planner may use it).
CREATE INDEX daily_rollup_by_key2 ON daily_rollup (workspace_id, metric, dim, key2, day) WHERE key2 <> '';

-- The balances every charge updates: room for their new versions too.
ALTER TABLE cycles SET (fillfactor = 90);
ALTER TABLE scope_usage SET (fillfactor = 90);
