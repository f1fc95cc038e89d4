-- Packed months (issue 33; decision 0007). PostgreSQL packs a past month's
-- events per workspace, kind and day, and its readers of the events read
-- `stored_events`, the rows and the packs. SQLite keeps its events as rows
-- (182 bytes an event at `--scale 1`, in time order in its table's key):
-- here the view is the table, so that both engines run the same readers.
CREATE VIEW stored_events AS
    SELECT workspace_id, id, kind, occurred_at, day, action, credits, user_id, campaign_id, identity_id
    FROM usage_events;
