// What Coffer counts while it runs, in the Prometheus exposition format (prom-client). One registry
// per running server (tests start several in one process), so every figure belongs to one gateway.
//
// Labels are ours only: route patterns (never paths), status codes, outcome and failure codes, audit
// actions, stage names. No label ever carries a name, a path, an id or a value a user chose, so a
// metric cannot leak a secret and the number of series stays bounded.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { accessCacheStats } from '../../db/access-cache.ts';
import type { InvocationTimings } from '../../runtime/index.ts';

/** Seconds; from a fraction of a millisecond (a cached grant check) to a minute (the longest timeout). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Where time goes, as the bench breaks it down. `http` is a whole request (every route); `invoke` is
 * a whole runtime call. The rest split one invocation's time, each observed once per invocation
 * (zero when it had none of that stage), so their means add up to an invocation's mean:
 * http_auth (request in, auth, body, the function and grant lookup, up to the runtime call), queue,
 * ipc, sandbox, secret_reads, redaction (see runtime InvocationTimings), audit_commit (waiting for
 * the invocation's audit rows to commit), response (from the answer to the response leaving the
 * handler chain: serialising, the log line). http_auth and response are observed for invocations
 * answered over HTTP with 200.
 */
export const STAGES = ['http', 'invoke', 'http_auth', 'queue', 'ipc', 'sandbox', 'secret_reads', 'audit_commit', 'redaction', 'response'] as const;
export type Stage = typeof STAGES[number];

export interface RuntimeGauges {
  /** isolates: the workers' isolates, active (running an invocation) and idle (pooled warm); optional for sources that do not count them. */
  stats(): { workers: number; busy: number; queued: number; restarts: number; recycles?: number; isolates?: { active: number; idle: number } };
}

/** The durable job queue (api/jobs/queue.ts), seen from one gateway. */
export interface JobGauges {
  /** Jobs this gateway is running now. */
  readonly active: number;
  /** Live jobs in the database, over every gateway on it. */
  depth(): Promise<{ pending: number; running: number }>;
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'coffer_' });

  const httpRequests = new Counter({
    name: 'coffer_http_requests_total', help: 'HTTP requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const, registers: [registry],
  });
  const invocations = new Counter({
    name: 'coffer_invocations_total', help: 'Function invocations, by outcome (ok, or the failure code) and by what started them',
    labelNames: ['outcome', 'via'] as const, registers: [registry],
  });
  const stageSeconds = new Histogram({
    name: 'coffer_stage_seconds', help: 'Time spent per stage of a request or an invocation',
    labelNames: ['stage'] as const, buckets: LATENCY_BUCKETS, registers: [registry],
  });
  // Bound once: an observation is then a bucket search, with no label object to hash per call.
  const stageOf = Object.fromEntries(STAGES.map((s) => [s, stageSeconds.labels(s)])) as Record<Stage, ReturnType<typeof stageSeconds.labels>>;
  const secretReads = new Counter({
    name: 'coffer_secret_reads_total', help: 'Secret value reads decided, by outcome (allowed, denied) and by whom (api, function)',
    labelNames: ['outcome', 'by'] as const, registers: [registry],
  });
  const auditRows = new Counter({
    name: 'coffer_audit_rows_total', help: 'Audit rows committed, by action and outcome',
    labelNames: ['action', 'outcome'] as const, registers: [registry],
  });
  const auditCommits = new Histogram({
    name: 'coffer_audit_commit_seconds', help: 'Latency of one audit commit (a group of rows)', buckets: LATENCY_BUCKETS, registers: [registry],
  });
  const auditFailures = new Counter({
    name: 'coffer_audit_commit_failures_total', help: 'Audit commits that failed (the output they guarded was withheld)', registers: [registry],
  });

  let runtime: RuntimeGauges | undefined;
  const runtimeGauge = (name: string, help: string, pick: (s: ReturnType<RuntimeGauges['stats']>) => number | undefined) =>
    new Gauge({
      name, help, registers: [registry],
      collect() { const v = runtime ? pick(runtime.stats()) : undefined; this.set(v ?? 0); },
    });
  runtimeGauge('coffer_runtime_workers', 'Live sandbox worker processes', (s) => s.workers);
  runtimeGauge('coffer_runtime_busy', 'Invocations running in workers', (s) => s.busy);
  runtimeGauge('coffer_runtime_queued', 'Invocations waiting for a worker or for their workspace\'s turn', (s) => s.queued);
  // Counts since the runtime started, so counters; the runtime keeps them, a scrape copies them.
  const runtimeCounter = (name: string, help: string, pick: (s: ReturnType<RuntimeGauges['stats']>) => number | undefined) =>
    new Counter({
      name, help, registers: [registry],
      collect() { const v = runtime ? pick(runtime.stats()) : undefined; this.reset(); this.inc(v ?? 0); },
    });
  runtimeCounter('coffer_runtime_worker_restarts_total', 'Unexpected worker deaths since start (each was replaced)', (s) => s.restarts);
  runtimeCounter('coffer_runtime_worker_recycles_total', 'Workers drained and replaced (invocation budget or memory) since start', (s) => s.recycles);
  // Labelled, so that nothing is exported (rather than a misleading 0) from a source that does not count isolates.
  // Before the first invocation starts the runtime, there are none: 0 and 0.
  new Gauge({
    name: 'coffer_runtime_isolates', help: 'Isolates in the workers, by state (active: running an invocation, idle: pooled warm)',
    labelNames: ['state'] as const, registers: [registry],
    collect() {
      const i = runtime?.stats().isolates;
      if (i) { this.set({ state: 'active' }, i.active); this.set({ state: 'idle' }, i.idle); }
    },
  });
  let jobs: JobGauges | undefined;
  new Gauge({
    name: 'coffer_jobs', help: 'Durable jobs waiting (pending, retries included) and running, in the database over all gateways on it',
    labelNames: ['status'] as const, registers: [registry],
    async collect() {
      if (!jobs) return;
      // A scrape during a database outage still answers, with the last figures it had.
      const d = await jobs.depth().catch(() => undefined);
      if (d) { this.set({ status: 'pending' }, d.pending); this.set({ status: 'running' }, d.running); }
    },
  });
  new Gauge({
    name: 'coffer_jobs_running_here', help: 'Durable jobs this gateway is running now', registers: [registry],
    collect() { this.set(jobs?.active ?? 0); },
  });
  new Gauge({
    name: 'coffer_access_cache_lookups', help: 'Access-cache lookups in this process since start, by result (hit, miss)',
    labelNames: ['result'] as const, registers: [registry],
    collect() { const s = accessCacheStats(); this.set({ result: 'hit' }, s.hits); this.set({ result: 'miss' }, s.misses); },
  });

  return {
    registry,
    /** Gives the gauges their source once the runtime exists. */
    watchRuntime(r: RuntimeGauges) { runtime = r; },
    /** Gives the job gauges their source once the queue exists. */
    watchJobs(q: JobGauges) { jobs = q; },
    request(route: string, method: string, status: number, seconds: number) {
      httpRequests.inc({ route, method, status: String(status) });
      stageOf.http.observe(seconds);
    },
    invocation(outcome: string, via: 'direct' | 'pipeline' | 'executor') { invocations.inc({ outcome, via }); },
    stage(stage: Stage, seconds: number) { stageOf[stage].observe(seconds); },
    /** One invocation's runtime stages (ms), as the runtime measured them. */
    invocationStages(t: InvocationTimings) {
      stageOf.queue.observe(t.queueMs / 1000);
      stageOf.ipc.observe(t.ipcMs / 1000);
      stageOf.sandbox.observe(t.sandboxMs / 1000);
      stageOf.secret_reads.observe(t.secretReadsMs / 1000);
      stageOf.redaction.observe(t.redactionMs / 1000);
    },
    /** Audit rows written; secret reads are counted from them, so a read is counted once it is on the trail. */
    auditWritten(rows: readonly { action: string; outcome: string; invocationId: string | null }[], seconds: number) {
      for (const r of rows) {
        auditRows.inc({ action: r.action, outcome: r.outcome });
        if (r.action === 'secret.read') secretReads.inc({ outcome: r.outcome, by: r.invocationId ? 'function' : 'api' });
      }
      auditCommits.observe(seconds);
    },
    auditFailed() { auditFailures.inc(); },
    async text(): Promise<string> { return registry.metrics(); },
    contentType: registry.contentType,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

