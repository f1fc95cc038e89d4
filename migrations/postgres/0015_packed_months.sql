-- Packed months (issue 33, bytes per event on PostgreSQL; decision 0007).
-- A row of usage_events costs a tuple header, a line pointer and two index
-- entries whatever it holds: about 270 bytes an event at `--scale 1`, where
-- the target for everything is 250. The events of a month past (UTC) are
-- packed, one row per workspace, kind and local day, each field an array
-- (compressed by TOAST: about 30 bytes an event), by the store in the
-- background (server/src/store/packs.rs); the month's table is then
-- emptied. Every reader of the events reads `stored_events`: the rows and
-- the packs, unnested.
--
-- 1. Each event's digest moves to `event_ids`, which keeps every id of the
--    retained months (packed or not) unique: a retry is recognised there,
--    with one probe an id. The events' own `digest` stays for the rows
--    stored before (NULL from now on).
CREATE TABLE event_ids_new (
    occurred_at BIGINT NOT NULL,
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    digest BYTEA
);
INSERT INTO event_ids_new (occurred_at, workspace_id, id, digest)
    SELECT i.occurred_at, i.workspace_id, i.id,
           COALESCE(e.digest, substring(sha256(convert_to(e.request, 'UTF8')) FROM 1 FOR 16))
    FROM event_ids i
    LEFT JOIN usage_events e
        ON e.workspace_id = i.workspace_id AND e.id = i.id AND e.occurred_at = i.occurred_at;
DROP TABLE event_ids;
ALTER TABLE event_ids_new RENAME TO event_ids;
ALTER TABLE event_ids ADD PRIMARY KEY (workspace_id, id);
ANALYZE event_ids;

-- 2. The packs. `month` is the first instant (ms, UTC) of the month the
--    events came from, which a retention drop of that month deletes with
--    it. Arrays hold the events in time order; `credits` and `actions`
--    hold NULLs for conversations, the keys NULLs where an event has none.
CREATE TABLE event_packs (
    month BIGINT NOT NULL,
    events INTEGER NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    kind TEXT NOT NULL,
    day TEXT NOT NULL,
    first_id TEXT NOT NULL,
    ids TEXT[] NOT NULL,
    occurred_at BIGINT[] NOT NULL,
    actions TEXT[] NOT NULL,
    credits BIGINT[] NOT NULL,
    user_ids TEXT[] NOT NULL,
    campaign_ids TEXT[] NOT NULL,
    identity_ids TEXT[] NOT NULL,
    PRIMARY KEY (workspace_id, kind, day, first_id)
);

-- 3. Every event, packed or not.
CREATE VIEW stored_events AS
    SELECT workspace_id, id, kind, occurred_at, day, action, credits, user_id, campaign_id, identity_id
    FROM usage_events
    UNION ALL
    SELECT p.workspace_id, u.id, p.kind, u.occurred_at, p.day, u.action, u.credits, u.user_id,
           u.campaign_id, u.identity_id
    FROM event_packs p
    CROSS JOIN LATERAL unnest(p.ids, p.occurred_at, p.actions, p.credits, p.user_ids, p.campaign_ids,
                              p.identity_ids)
        AS u (id, occurred_at, action, credits, user_id, campaign_id, identity_id);
