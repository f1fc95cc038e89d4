-- Retention (issue 33): raw events older than the operator's horizon
-- (`--retain-events-months`) are folded, in the transaction that deletes
-- them, into per-day sums by every key a report can name: workspace, kind,
-- local day, action, user, campaign and identity. The rollups answer most
-- reports; the shapes that read the events (user with identity, or all
-- three) read these sums for the days whose events are gone, and
-- `credits verify` recomputes every rollup from the events and these sums.
-- The keys are '' where an event has none (a key cannot be NULL).
CREATE TABLE event_archive (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    kind TEXT NOT NULL,
    day TEXT NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, kind, day, action, user_id, campaign_id, identity_id)
) WITHOUT ROWID;
