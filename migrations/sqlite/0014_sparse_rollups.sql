-- Keyed rollups only where they pay (issue 33, bytes per event).
-- The rollups by user, campaign, identity and the drill-downs' pairs open
-- a row for nearly every event of a workspace with a hundred events a day
-- (about three rows per event, two thirds of the bytes on disk), and
-- reading them costs what reading its events does. A workspace keeps the
-- day's totals always, and its keyed rollups once it has taken
-- KEYED_FROM events (server/src/store/density.rs: 100,000); its reports
-- read its events until then. `taken` counts the events it has taken
-- (never down: a drop past the retention horizon leaves it); `keyed` is 1
-- once its keyed rollups hold all of its events.
CREATE TABLE keyed_rollups (
    workspace_id TEXT NOT NULL PRIMARY KEY REFERENCES workspaces (id),
    taken BIGINT NOT NULL,
    keyed BIGINT NOT NULL
);
INSERT INTO keyed_rollups (workspace_id, taken, keyed)
    SELECT w.id, (SELECT COUNT(*) FROM usage_events e WHERE e.workspace_id = w.id), 0
    FROM workspaces w;
UPDATE keyed_rollups SET keyed = 1 WHERE taken >= 100000;
-- The keyed rows of the workspaces below the mark go (on PostgreSQL their
-- space is reused after the next VACUUM).
DELETE FROM daily_rollup WHERE dim <> ''
    AND workspace_id IN (SELECT workspace_id FROM keyed_rollups WHERE keyed = 0);

-- The events in time order within their workspace and kind: the key of the
-- table (WITHOUT ROWID: the rows live in it) is what a report over a
-- period reads, so the events of a workspace below the mark answer from
-- one range of pages instead of a lookup by id per event (a year of 40,000
-- events went from 350 ms to tens of milliseconds). The ids stay unique by an index of
-- their own, of the size the index by time had.
CREATE TABLE usage_events_new (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    id TEXT NOT NULL,
    day TEXT NOT NULL,
    action TEXT,
    credits BIGINT,
    user_id TEXT NOT NULL,
    campaign_id TEXT,
    identity_id TEXT,
    digest BLOB,
    request TEXT,
    PRIMARY KEY (workspace_id, kind, occurred_at, id)
) WITHOUT ROWID;
INSERT INTO usage_events_new (workspace_id, kind, occurred_at, id, day, action, credits, user_id,
                              campaign_id, identity_id, digest, request)
    SELECT workspace_id, kind, occurred_at, id, day, action, credits, user_id,
           campaign_id, identity_id, digest, request
    FROM usage_events;
DROP TABLE usage_events;
ALTER TABLE usage_events_new RENAME TO usage_events;
CREATE UNIQUE INDEX usage_events_by_id ON usage_events (workspace_id, id);
