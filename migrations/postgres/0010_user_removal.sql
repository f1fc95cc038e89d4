-- A user the platform removed (DELETE …/users/{id}): their history stays
-- (events, rollups, limits, names in reports), their sessions end, and
-- hand-offs for them are refused until a PUT brings them back.
ALTER TABLE users ADD COLUMN removed_at BIGINT;
-- Ending one user's sessions (on removal, or DELETE …/users/{id}/sessions).
CREATE INDEX sessions_user ON sessions (workspace_id, user_id);
