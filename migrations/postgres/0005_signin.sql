-- Hand-off tokens already used (API.md, sign-in): each token opens one
-- session, once, on every process sharing the database. Only a SHA-256
-- of the token's id is kept, until the token has expired.
CREATE TABLE used_handoffs (
    jti_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_handoffs_expiry ON used_handoffs (expires_at);

-- The demo workspace is marked when it is seeded: `/demo` signs in to a
-- marked workspace only, never to a real one that happens to be named `acme`.
ALTER TABLE workspaces ADD COLUMN is_demo BIGINT NOT NULL DEFAULT 0;
