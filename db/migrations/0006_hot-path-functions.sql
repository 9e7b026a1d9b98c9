-- The statements of the hot path's writes, as functions: a function's statements are planned once
-- per session and the plan kept, while the same statement sent on its own is parsed and planned on
-- every call by drivers that do not prepare it (embedded PGlite, where that work is the gateway's
-- thread: about 0.4 ms per audit commit). Each takes its rows as one jsonb array.

-- The append of audit rows whose hashes the gateway computed (db/repos/audit.ts, appendHashedAuditRows).
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
--> statement-breakpoint
-- Invocation records, in batches (db/repos/functions.ts, insertInvocations).
CREATE OR REPLACE FUNCTION coffer_insert_invocations(batch jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO invocations (id, function_id, workspace_id, version, invoked_by, trigger, outcome, error_code, error_message,
                           logs, duration_ms, cpu_ms, started_at)
  SELECT id, function_id, workspace_id, version, invoked_by, trigger, outcome, error_code, error_message,
         logs, duration_ms, cpu_ms, started_at
  FROM jsonb_to_recordset(batch) AS r(id text, function_id text, workspace_id text, version integer, invoked_by text,
    trigger text, outcome text, error_code text, error_message text, logs jsonb, duration_ms integer, cpu_ms integer, started_at timestamptz);
END
$$;
--> statement-breakpoint
-- Pipeline runs and their steps, in batches, together (db/repos/pipelines.ts, insertRuns): one
-- statement is one transaction, so a run is never stored without its steps.
CREATE OR REPLACE FUNCTION coffer_insert_pipeline_runs(runs jsonb, steps jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO pipeline_runs (id, pipeline_id, workspace_id, version, invoked_by, request_id, outcome, error_code, error_message,
                             error_step, duration_ms, started_at)
  SELECT id, pipeline_id, workspace_id, version, invoked_by, request_id, outcome, error_code, error_message,
         error_step, duration_ms, started_at
  FROM jsonb_to_recordset(runs) AS r(id text, pipeline_id text, workspace_id text, version integer, invoked_by text, request_id text,
    outcome text, error_code text, error_message text, error_step text, duration_ms integer, started_at timestamptz);
  INSERT INTO pipeline_run_steps (run_id, position, name, function, status, duration_ms, invocation_ids, logs, error_code, error_message)
  SELECT run_id, position, name, function, status, duration_ms, invocation_ids, logs, error_code, error_message
  FROM jsonb_to_recordset(steps) AS s(run_id text, position integer, name text, function text, status text, duration_ms integer,
    invocation_ids jsonb, logs jsonb, error_code text, error_message text);
END
$$;
