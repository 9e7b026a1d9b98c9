-- A gateway's job claim as a function, for the reason 0006 gives: its plan is kept for the session,
-- where the same statement sent on its own was parsed and planned on every call (about 1.3-1.8 ms
-- on embedded PGlite, on the gateway's thread, and a gateway claims two or three times per job:
-- after an enqueue, until nothing is left, and when a job ends). Same rule as before: the next job
-- that is pending and due, or running under a lease that ran out on another gateway, in a workspace
-- below its cap of live jobs, with an executor's event jobs in commit order; skipped if locked.
CREATE OR REPLACE FUNCTION coffer_claim_job(claimant text, lease_ms integer, running_cap integer) RETURNS SETOF jobs
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, locked_by = claimant,
    lease_until = now() + make_interval(secs => lease_ms / 1000.0)
  WHERE jobs.id IN (
    SELECT j.id FROM jobs j
    WHERE ((j.status = 'pending' AND j.run_at <= now())
        OR (j.status = 'running' AND j.lease_until < now() AND j.locked_by IS DISTINCT FROM claimant))
      AND (SELECT count(*) FROM jobs live WHERE live.workspace_id = j.workspace_id
            AND live.status = 'running' AND live.lease_until >= now()) < running_cap
      AND (j.event_seq IS NULL OR NOT EXISTS (SELECT 1 FROM jobs earlier WHERE earlier.executor_id = j.executor_id
            AND earlier.event_seq < j.event_seq AND earlier.status IN ('pending', 'running')))
    ORDER BY j.run_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
  RETURNING jobs.*;
END
$$;
