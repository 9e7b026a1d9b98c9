-- The claim of 0007 judged every due job before choosing one: its filter (the job's workspace below
-- its cap of live jobs, an executor's event jobs in commit order) ran for each pending row, and only
-- then were the rows sorted by run_at. So each claim cost in proportion to the backlog: in-memory
-- PGlite, 1.1 ms with 100 jobs pending, 7.3 ms with 1,000 and 45 ms with 5,000, on the gateway's
-- thread, while the backlog drained. Two things made that plan: one condition over two statuses
-- (pending, or running under a lease that ran out), which no index orders; and estimates far from
-- the table (PGlite has no autovacuum to analyze it), under which a bitmap scan and a sort look
-- cheap. Now each status is its own query, walked in run_at order through jobs_claim_idx (status,
-- run_at) and stopping at the first job that may run, and the function tells the planner to prefer
-- that walk. A job whose lease ran out on another gateway is taken over first (there are few, and
-- it is the older work); then the earliest due pending job that may run, as before.

-- The rule both walks apply to a candidate: its workspace is below its cap of live jobs, and an
-- event job waits for every earlier event job of its executor to finish.
CREATE OR REPLACE FUNCTION coffer_job_may_run(j jobs, running_cap integer) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT (SELECT count(*) FROM jobs live WHERE live.workspace_id = j.workspace_id
            AND live.status = 'running' AND live.lease_until >= now()) < running_cap
     AND (j.event_seq IS NULL OR NOT EXISTS (SELECT 1 FROM jobs earlier WHERE earlier.executor_id = j.executor_id
            AND earlier.event_seq < j.event_seq AND earlier.status IN ('pending', 'running')))
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION coffer_claim_job(claimant text, lease_ms integer, running_cap integer) RETURNS SETOF jobs
LANGUAGE plpgsql
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
DECLARE
  picked text;
BEGIN
  SELECT j.id INTO picked FROM jobs j
  WHERE j.status = 'running' AND j.lease_until < now() AND j.locked_by IS DISTINCT FROM claimant
    AND coffer_job_may_run(j, running_cap)
  ORDER BY j.run_at
  LIMIT 1
  FOR UPDATE SKIP LOCKED;

  IF picked IS NULL THEN
    SELECT j.id INTO picked FROM jobs j
    WHERE j.status = 'pending' AND j.run_at <= now() AND coffer_job_may_run(j, running_cap)
    ORDER BY j.run_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED;
  END IF;

  IF picked IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
  UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, locked_by = claimant,
    lease_until = now() + make_interval(secs => lease_ms / 1000.0)
  WHERE jobs.id = picked
  RETURNING jobs.*;
END
$$;
