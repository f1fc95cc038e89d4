-- Retention (issue 33).
-- * `usage_events` becomes partitioned by month of `occurred_at` (UTC), so
--   that a month past the operator's horizon (`--retain-events-months`)
--   goes in one `DROP TABLE`. A partitioned table's unique key must hold
--   its partition column: the key is `(workspace_id, id, occurred_at)`.
--   The ids are unique in `event_ids` instead, which says in which month
--   each event is (a lookup by id probes it once, where it would probe
--   every month of `usage_events`); two writers of one id collide on its
--   key, as they did on the events' before. Months are made as events
--   arrive (store/retention.rs); this makes the months of the events
--   already stored, and copies them over.
-- * Events dropped are first folded, in the same transaction, into
--   per-day sums by every key a report can name (`event_archive`): the
--   report shapes that read the events read these for the days whose
--   events are gone, and `credits verify` recomputes every rollup from
--   the events and these sums. Keys are '' where an event has none.
ALTER TABLE usage_events RENAME TO usage_events_unpartitioned;
ALTER TABLE usage_events_unpartitioned RENAME CONSTRAINT usage_events_pkey TO usage_events_unpartitioned_pkey;
ALTER INDEX usage_events_by_time RENAME TO usage_events_unpartitioned_by_time;

CREATE TABLE usage_events (
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
) PARTITION BY RANGE (occurred_at);
ALTER TABLE usage_events ADD PRIMARY KEY (workspace_id, id, occurred_at),
    ADD FOREIGN KEY (workspace_id) REFERENCES workspaces (id);
CREATE INDEX usage_events_by_time ON usage_events (workspace_id, kind, occurred_at);

-- One partition per month (UTC) that holds events, named usage_events_mYYYYMM.
DO $$
DECLARE
    m timestamp;
BEGIN
    FOR m IN
        SELECT DISTINCT date_trunc('month', to_timestamp(occurred_at / 1000.0) AT TIME ZONE 'UTC')
        FROM usage_events_unpartitioned
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF usage_events FOR VALUES FROM (%s) TO (%s)',
            'usage_events_m' || to_char(m, 'YYYYMM'),
            (extract(epoch FROM m) * 1000)::bigint,
            (extract(epoch FROM m + interval '1 month') * 1000)::bigint);
    END LOOP;
END $$;

-- Events older than the months the store makes (see MADE_MONTHS in
-- store/retention.rs) land here: a batch of old events makes no table.
CREATE TABLE usage_events_older PARTITION OF usage_events DEFAULT;

INSERT INTO usage_events (occurred_at, credits, workspace_id, id, kind, day, action, user_id,
                          campaign_id, identity_id, digest, request)
    SELECT occurred_at, credits, workspace_id, id, kind, day, action, user_id,
           campaign_id, identity_id, digest, request
    FROM usage_events_unpartitioned;
CREATE TABLE event_ids (
    occurred_at BIGINT NOT NULL,
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
INSERT INTO event_ids (occurred_at, workspace_id, id)
    SELECT occurred_at, workspace_id, id FROM usage_events_unpartitioned;
DROP TABLE usage_events_unpartitioned;
-- Its lookups by id plan by its statistics.
ANALYZE event_ids;

CREATE TABLE event_archive (
    value BIGINT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    kind TEXT NOT NULL,
    day TEXT NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    PRIMARY KEY (workspace_id, kind, day, action, user_id, campaign_id, identity_id)
);
