-- A drill-down filters a rollup by one key (a user, a campaign, an
-- identity) over a period: without these, the day-first primary key walks
-- every key of every day of the period (36 ms p95 for a month of the
-- campaign and identity pair on PostgreSQL at 2 M events).
CREATE INDEX daily_rollup_by_key ON daily_rollup (workspace_id, metric, dim, key, day);
CREATE INDEX daily_rollup_by_key2 ON daily_rollup (workspace_id, metric, dim, key2, day);
