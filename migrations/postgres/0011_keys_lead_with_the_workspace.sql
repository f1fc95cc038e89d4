-- Every key of a workspace's table leads with workspace_id (docs/citus.md):
-- the alerts and the requests to the account manager were keyed by id alone.
ALTER TABLE alerts DROP CONSTRAINT alerts_pkey, ADD PRIMARY KEY (workspace_id, id);
ALTER TABLE support_requests DROP CONSTRAINT support_requests_pkey, ADD PRIMARY KEY (workspace_id, id);
