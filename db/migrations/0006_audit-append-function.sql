-- The hot-path append of audit rows whose hashes the gateway computed (db/repos/audit.ts,
-- appendHashedAuditRows), as a function: a function's statements are planned once per session and
-- the plan kept, while the same statement sent on its own is parsed and planned on every call by
-- drivers that do not prepare it (embedded PGlite: about 0.4 ms of the gateway's thread per commit).
-- Lock the head and compare it with the head the hashes chain from; if another writer moved it,
-- write nothing and answer NULL (the caller then lets the database chain the rows itself).
CREATE OR REPLACE FUNCTION coffer_append_hashed_audit(batch jsonb, expected_head text, new_head text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  appended bigint;
BEGIN
  WITH head AS (SELECT 1 FROM audit_head WHERE id = 1 AND last_hash = expected_head FOR UPDATE),
  ins AS (
    INSERT INTO audit_events (id, at, request_id, actor_id, actor_kind, action, outcome, vault, secret, version,
                              workspace, function, invocation_id, detail, vault_id, workspace_id, client_request_id, hash_version,
                              prev_hash, hash)
    SELECT r.id, r.at, r.request_id, r.actor_id, r.actor_kind, r.action, r.outcome, r.vault, r.secret, r.version,
           r.workspace, r.function, r.invocation_id, r.detail, r.vault_id, r.workspace_id, r.client_request_id, r.hash_version,
           r.prev_hash, r.hash
    FROM head, ROWS FROM (jsonb_to_recordset(batch) AS (
      id text, at timestamptz, request_id text, actor_id text, actor_kind text, action text, outcome text, vault text, secret text,
      version integer, workspace text, function text, invocation_id text, detail jsonb, vault_id text, workspace_id text,
      client_request_id text, hash_version integer, prev_hash text, hash text)) WITH ORDINALITY AS r
    ORDER BY r.ordinality
    RETURNING seq)
  UPDATE audit_head SET last_seq = (SELECT max(seq) FROM ins), last_hash = new_head
  WHERE id = 1 AND EXISTS (SELECT 1 FROM ins)
  RETURNING last_seq INTO appended;
  RETURN appended;
END
$$;
