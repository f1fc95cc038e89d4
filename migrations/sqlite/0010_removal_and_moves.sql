-- A user the platform removed (DELETE …/users/{id}): their history stays
-- (events, rollups, limits, names in reports), their sessions end, and
-- hand-offs for them are refused until a PUT brings them back.
ALTER TABLE users ADD COLUMN removed_at BIGINT;
-- Ending one user's sessions (on removal, or DELETE …/users/{id}/sessions).
CREATE INDEX sessions_user ON sessions (workspace_id, user_id);
-- The background time-zone mover looks for unfinished moves every few
-- seconds, on every process: only the workspaces being moved are indexed.
CREATE INDEX workspaces_rebucketing ON workspaces (id) WHERE rebucket_from IS NOT NULL;
