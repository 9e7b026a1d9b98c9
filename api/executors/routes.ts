// The management API of executors and their jobs, under /v1/workspaces/{ws}.
import { createRoute, z } from '@hono/zod-openapi';
import { actorOf } from '../middleware/auth.ts';
import { BEARER, commonErrors, createRouter, Id, iso, jsonBody, jsonResponse, ResourceName, Timestamp, WorkspaceParam } from '../routes/openapi.ts';
import type { ExecutorRow, JobAttemptRow, JobRow } from '../../db/schema.ts';
import { JOB_STATUSES } from '../../db/schema.ts';
import { DEFAULT_RETRY } from '../jobs/retry-policy.ts';
import { ExecutorBody, RetrySchema, TargetSchema, TriggerSchema, type Trigger } from './schemas.ts';
import type { ExecutorService } from './service.ts';

const ExecutorParams = WorkspaceParam.extend({ name: ResourceName.openapi({ param: { name: 'name', in: 'path' } }) });
const JobParams = WorkspaceParam.extend({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) });

const ExecutorSchema = z.object({
  name: z.string(), description: z.string().nullable(), disabled: z.boolean(),
  trigger: TriggerSchema, target: TargetSchema, retry: RetrySchema,
  webhookPath: z.string().nullable().openapi({ description: 'Where to deliver (token mode: append /{token})' }),
  createdAt: Timestamp, createdBy: z.string(), updatedAt: Timestamp,
}).openapi('Executor');
const ExecutorCreatedSchema = ExecutorSchema.extend({
  token: z.string().optional().openapi({ description: 'Token mode, on creation only: shown this once, stored only as a hash' }),
  webhookUrlPath: z.string().optional().openapi({ description: 'Token mode, on creation only: the full path including the token' }),
}).openapi('ExecutorWithToken');

const AttemptSchema = z.object({
  attempt: z.number().int(), outcome: z.enum(['running', 'succeeded', 'failed', 'lost', 'canceled']),
  startedAt: Timestamp, endedAt: Timestamp.nullable(), invocationId: z.string().nullable(),
  errorCode: z.string().nullable(), errorMessage: z.string().nullable().openapi({ description: 'Redacted; never a secret value' }),
  http: z.object({
    status: z.number().int().nullable(), latencyMs: z.number().int().nullable(),
    responseExcerpt: z.string().nullable().openapi({ description: 'The first KiB of the response body, every value sent redacted' }),
  }).nullable().openapi({ description: 'Outgoing webhook targets: what the receiver answered' }),
}).openapi('JobAttempt');
const JobSchema = z.object({
  id: z.string(), executor: z.string().nullable(), status: z.enum(JOB_STATUSES), trigger: z.enum(['webhook', 'schedule', 'manual', 'event']),
  attemptCount: z.number().int().openapi({ description: 'Attempts started so far' }), maxAttempts: z.number().int(), depth: z.number().int(),
  runAt: Timestamp, createdAt: Timestamp, finishedAt: Timestamp.nullable(),
  scheduledTime: Timestamp.nullable(), requestKept: z.boolean().openapi({ description: 'Whether the (sealed) request is still stored' }),
  lastError: z.object({ code: z.string(), message: z.string().nullable() }).nullable(),
}).openapi('Job');
const JobDetailSchema = JobSchema.extend({ attempts: z.array(AttemptSchema) }).openapi('JobDetail');

const TriggerBody = z.strictObject({
  body: z.unknown().optional().openapi({ description: 'Webhook executors: the body the function receives (rawBody is its JSON text)' }),
  headers: z.record(z.string().max(100), z.string().max(8192)).optional(),
});

function webhookPath(wsName: string, e: ExecutorRow) {
  return (e.trigger as Trigger).kind === 'webhook' ? `/hooks/${wsName}/${e.name}` : null;
}
const presentExecutor = (wsName: string, e: ExecutorRow) => ({
  name: e.name, description: e.description, disabled: e.disabled,
  trigger: e.trigger as z.infer<typeof TriggerSchema>, target: e.target as z.infer<typeof TargetSchema>,
  retry: (e.retry as z.infer<typeof RetrySchema> | null) ?? DEFAULT_RETRY,
  webhookPath: webhookPath(wsName, e), createdAt: iso(e.createdAt)!, createdBy: e.createdBy, updatedAt: iso(e.updatedAt)!,
});
const presentJob = (j: JobRow, executor: string | null) => ({
  id: j.id, executor, status: j.status, trigger: j.trigger, attemptCount: j.attempts, maxAttempts: j.maxAttempts, depth: j.depth,
  runAt: iso(j.runAt)!, createdAt: iso(j.createdAt)!, finishedAt: iso(j.finishedAt),
  scheduledTime: typeof (j.args as { scheduledTime?: unknown }).scheduledTime === 'string' ? (j.args as { scheduledTime: string }).scheduledTime : null,
  requestKept: j.requestCiphertext !== null,
  lastError: j.lastErrorCode ? { code: j.lastErrorCode, message: j.lastErrorMessage } : null,
});
const presentAttempt = (a: JobAttemptRow) => ({
  attempt: a.attempt, outcome: a.outcome, startedAt: iso(a.startedAt)!, endedAt: iso(a.endedAt), invocationId: a.invocationId,
  errorCode: a.errorCode, errorMessage: a.errorMessage,
  http: a.httpStatus !== null || a.latencyMs !== null ? { status: a.httpStatus, latencyMs: a.latencyMs, responseExcerpt: a.responseExcerpt } : null,
});

export function executorRoutes(executors: ExecutorService) {
  const r = createRouter();
  const tags = ['Executors'];
  const base = '/v1/workspaces/{ws}/executors';

  r.openapi(createRoute({ method: 'get', path: base, tags, security: BEARER, summary: 'List executors (viewer)',
    request: { params: WorkspaceParam }, responses: { 200: jsonResponse(z.object({ executors: z.array(ExecutorSchema) }), 'Executors'), ...commonErrors } }),
  async (c) => {
    const { executors: rows, workspace } = await executors.list(actorOf(c), c.req.valid('param').ws);
    return c.json({ executors: rows.map((e) => presentExecutor(workspace.name, e)) }, 200);
  });

  r.openapi(createRoute({ method: 'put', path: `${base}/{name}`, tags, security: BEARER,
    summary: 'Create or replace an executor (editor). A token-mode webhook answers its token once, on creation.',
    request: { params: ExecutorParams, body: jsonBody(ExecutorBody) },
    responses: { 200: jsonResponse(ExecutorCreatedSchema, 'Replaced'), 201: jsonResponse(ExecutorCreatedSchema, 'Created'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const out = await executors.put(actorOf(c), ws, name, c.req.valid('json'));
    const shown = presentExecutor(out.workspace.name, out.executor);
    c.header('Cache-Control', 'no-store');
    return c.json({ ...shown, ...(out.token ? { token: out.token, webhookUrlPath: `${shown.webhookPath}/${out.token}` } : {}) }, out.created ? 201 : 200);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}`, tags, security: BEARER, summary: 'Show an executor (viewer)',
    request: { params: ExecutorParams }, responses: { 200: jsonResponse(ExecutorSchema, 'Executor'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const { executor, workspace } = await executors.get(actorOf(c), ws, name);
    return c.json(presentExecutor(workspace.name, executor), 200);
  });

  r.openapi(createRoute({ method: 'delete', path: `${base}/{name}`, tags, security: BEARER, summary: 'Delete an executor and its jobs (editor)',
    request: { params: ExecutorParams }, responses: { 204: { description: 'Deleted' }, ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    await executors.remove(actorOf(c), ws, name);
    return c.body(null, 204);
  });

  r.openapi(createRoute({ method: 'post', path: `${base}/{name}/rotate-token`, tags, security: BEARER,
    summary: 'Issue a new path token (editor); the previous one stays valid for the rotation grace period (24 h by default)',
    request: { params: ExecutorParams },
    responses: { 200: jsonResponse(z.object({ token: z.string(), webhookUrlPath: z.string(), previousTokenValidUntil: Timestamp }), 'The new token, shown once'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const out = await executors.rotateToken(actorOf(c), ws, name);
    c.header('Cache-Control', 'no-store');
    return c.json({ token: out.token, webhookUrlPath: `/hooks/${out.workspace.name}/${out.executor.name}/${out.token}`, previousTokenValidUntil: iso(out.previousTokenValidUntil)! }, 200);
  });

  r.openapi(createRoute({ method: 'post', path: `${base}/{name}/trigger`, tags, security: BEARER,
    summary: 'Fire a webhook or schedule executor by hand, as a job (editor)',
    request: { params: ExecutorParams, body: { required: false, content: { 'application/json': { schema: TriggerBody } } } },
    responses: { 202: jsonResponse(z.object({ jobId: z.string() }), 'Queued'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const job = await executors.trigger(actorOf(c), ws, name, (c.req.valid('json') ?? {}) as z.infer<typeof TriggerBody>);
    return c.json({ jobId: job.id }, 202);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}/jobs`, tags, security: BEARER, summary: 'Jobs of an executor, newest first (viewer)',
    request: { params: ExecutorParams, query: z.strictObject({
      status: z.enum(JOB_STATUSES).optional(), limit: z.coerce.number().int().min(1).max(100).default(20), cursor: z.string().max(200).optional(),
    }) },
    responses: { 200: jsonResponse(z.object({ jobs: z.array(JobSchema), nextCursor: z.string().nullable() }), 'Jobs'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const out = await executors.jobs(actorOf(c), ws, name, c.req.valid('query'));
    return c.json({ jobs: out.jobs.map((j) => presentJob(j, out.executor.name)), nextCursor: out.nextCursor }, 200);
  });

  const jobsBase = '/v1/workspaces/{ws}/jobs/{id}';
  r.openapi(createRoute({ method: 'get', path: jobsBase, tags, security: BEARER, summary: 'One job with its attempts (viewer)',
    request: { params: JobParams }, responses: { 200: jsonResponse(JobDetailSchema, 'Job'), ...commonErrors } }),
  async (c) => {
    const { ws, id } = c.req.valid('param');
    const out = await executors.job(actorOf(c), ws, id);
    return c.json({ ...presentJob(out.job, out.executorName), attempts: out.attempts.map(presentAttempt) }, 200);
  });

  r.openapi(createRoute({ method: 'post', path: `${jobsBase}/retry`, tags, security: BEARER,
    summary: 'Queue a failed or canceled job again, with a fresh set of attempts (editor)',
    request: { params: JobParams }, responses: { 200: jsonResponse(JobSchema, 'Queued again'), ...commonErrors } }),
  async (c) => {
    const { ws, id } = c.req.valid('param');
    return c.json(presentJob(await executors.retry(actorOf(c), ws, id), null), 200);
  });

  r.openapi(createRoute({ method: 'post', path: `${jobsBase}/cancel`, tags, security: BEARER,
    summary: 'Cancel a pending or running job (editor); a running attempt\'s outcome is discarded',
    request: { params: JobParams }, responses: { 200: jsonResponse(JobSchema, 'Canceled'), ...commonErrors } }),
  async (c) => {
    const { ws, id } = c.req.valid('param');
    return c.json(presentJob(await executors.cancel(actorOf(c), ws, id), null), 200);
  });

  return r;
}
