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
ALTER TABLE keyed_rollups SET (fillfactor = 50);
