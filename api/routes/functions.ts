// /v1/workspaces/{ws}/functions...: deploy, versions, rollback, delete, invoke, recent invocations.
// The code of a version is shown only by GET .../versions/{n}; other answers carry metadata.
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonBody, jsonResponse, ResourceName, WorkspaceParam, Timestamp, Id, iso, BEARER, ErrorSchema } from './openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import { MAX_CODE_BYTES, MIN_LIMITS, MAX_LIMITS, DEFAULT_LIMITS, type FunctionService } from '../services/functions.ts';
import type { FunctionRow, FunctionVersionMeta, InvocationRow } from '../../db/repos/functions.ts';

const FunctionParams = WorkspaceParam.extend({ name: ResourceName.openapi({ param: { name: 'name', in: 'path' } }) });
const VersionParams = FunctionParams.extend({ n: z.coerce.number().int().min(1).max(2_147_483_647).openapi({ param: { name: 'n', in: 'path' }, type: 'integer' }) });
const InvocationParams = FunctionParams.extend({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) });

const LogLineSchema = z.object({ level: z.enum(['log', 'info', 'warn', 'error', 'debug']), message: z.string(), at: Timestamp }).openapi('LogLine');
const VersionSchema = z.object({
  version: z.number().int(), active: z.boolean(), codeHash: z.string().openapi({ description: 'SHA-256 of the source, hex' }),
  description: z.string().nullable(), timeoutMs: z.number().int(), memoryMb: z.number().int(), exposeSecrets: z.boolean(),
  deployedBy: z.string(), deployedAt: Timestamp,
}).openapi('FunctionVersion');
const VersionWithCodeSchema = VersionSchema.extend({ code: z.string() }).openapi('FunctionVersionWithCode');
const FunctionSchema = z.object({
  name: z.string(), activeVersion: z.number().int(), latestVersion: z.number().int(),
  createdAt: Timestamp, createdBy: z.string(), updatedAt: Timestamp,
}).openapi('Function');
const FunctionDetailSchema = FunctionSchema.extend({ active: VersionSchema }).openapi('FunctionDetail');
const InvocationSchema = z.object({
  id: z.string(), version: z.number().int(), outcome: z.enum(['ok', 'error']), errorCode: z.string().nullable(), errorMessage: z.string().nullable(),
  logs: z.array(LogLineSchema), durationMs: z.number().int(), cpuMs: z.number().int(), startedAt: Timestamp, invokedBy: z.string().nullable(), trigger: z.string(),
}).openapi('Invocation');
const InvokeResultSchema = z.object({
  result: z.unknown().openapi({ description: 'The JSON value the function returned; secret values read are redacted unless the version has exposeSecrets' }),
  logs: z.array(LogLineSchema), durationMs: z.number(), cpuMs: z.number(), invocationId: z.string(), version: z.number().int(),
}).openapi('InvokeResult');

const DeployBody = z.strictObject({
  code: z.string().min(1).openapi({ description: `An ES module with a default-exported function; at most ${MAX_CODE_BYTES / 1024} KiB` }),
  timeoutMs: z.number().int().min(MIN_LIMITS.timeoutMs).max(MAX_LIMITS.timeoutMs).optional().openapi({ description: `Default ${DEFAULT_LIMITS.timeoutMs}` }),
  memoryMb: z.number().int().min(MIN_LIMITS.memoryMb).max(MAX_LIMITS.memoryMb).optional().openapi({ description: `Default ${DEFAULT_LIMITS.memoryMb}` }),
  exposeSecrets: z.boolean().optional().openapi({ description: 'Return secret values in the result unredacted (logs and errors stay redacted)' }),
  description: z.string().max(1024).optional(),
});

const errorWith = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });
const invokeErrors = {
  422: errorWith('The function failed: function_error (message and sandbox stack), memory_limit, result_too_large, invalid_result. details: {invocationId, version, logs, stack?, durationMs, cpuMs}'),
  429: errorWith('overloaded: every worker is busy and the queue is full; see Retry-After'),
  502: errorWith('worker_crashed: the worker process running the function stopped'),
  504: errorWith('timeout: the function did not finish within its timeoutMs'),
};

const presentFunction = (f: FunctionRow) => ({
  name: f.name, activeVersion: f.activeVersion, latestVersion: f.latestVersion,
  createdAt: iso(f.createdAt)!, createdBy: f.createdBy, updatedAt: iso(f.updatedAt)!,
});
const presentVersion = (v: FunctionVersionMeta, activeVersion: number) => ({
  version: v.version, active: v.version === activeVersion, codeHash: v.codeHash, description: v.description,
  timeoutMs: v.timeoutMs, memoryMb: v.memoryMb, exposeSecrets: v.exposeSecrets, deployedBy: v.deployedBy, deployedAt: iso(v.deployedAt)!,
});
const presentDetail = ({ fn, active }: { fn: FunctionRow; active: FunctionVersionMeta }) => ({ ...presentFunction(fn), active: presentVersion(active, fn.activeVersion) });
const presentInvocation = (i: InvocationRow) => ({
  id: i.id, version: i.version, outcome: i.outcome as 'ok' | 'error', errorCode: i.errorCode, errorMessage: i.errorMessage,
  logs: i.logs as z.infer<typeof LogLineSchema>[], durationMs: i.durationMs, cpuMs: i.cpuMs, startedAt: iso(i.startedAt)!,
  invokedBy: i.invokedBy, trigger: i.trigger,
});

export function functionRoutes(functions: FunctionService) {
  const r = createRouter();
  const tags = ['Functions'];
  const base = '/v1/workspaces/{ws}/functions';

  r.openapi(createRoute({ method: 'get', path: base, tags, security: BEARER, summary: 'List functions (viewer)',
    request: { params: WorkspaceParam }, responses: { 200: jsonResponse(z.object({ functions: z.array(FunctionSchema) }), 'Functions'), ...commonErrors } }),
  async (c) => c.json({ functions: (await functions.list(actorOf(c), c.req.valid('param').ws)).map(presentFunction) }, 200));

  r.openapi(createRoute({ method: 'put', path: `${base}/{name}`, tags, security: BEARER,
    summary: 'Deploy a new version and make it active (editor). Compiled and checked first: errors are 400 compile_error with line and column.',
    request: { params: FunctionParams, body: jsonBody(DeployBody) },
    responses: { 200: jsonResponse(FunctionDetailSchema, 'A new version of an existing function'), 201: jsonResponse(FunctionDetailSchema, 'Created (version 1)'), ...commonErrors,
      429: errorWith('overloaded: the runtime is too busy to check the code') } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const deployed = await functions.deploy(actorOf(c), ws, name, c.req.valid('json'));
    return c.json(presentDetail(deployed), deployed.created ? 201 : 200);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}`, tags, security: BEARER, summary: 'Show a function and its active version, without code (viewer)',
    request: { params: FunctionParams }, responses: { 200: jsonResponse(FunctionDetailSchema, 'Function'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    return c.json(presentDetail(await functions.get(actorOf(c), ws, name)), 200);
  });

  r.openapi(createRoute({ method: 'delete', path: `${base}/{name}`, tags, security: BEARER, summary: 'Delete a function with all its versions and invocation records (editor)',
    request: { params: FunctionParams }, responses: { 204: { description: 'Deleted' }, ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    await functions.remove(actorOf(c), ws, name);
    return c.body(null, 204);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}/versions`, tags, security: BEARER, summary: 'List versions, newest first (viewer)',
    request: { params: FunctionParams }, responses: { 200: jsonResponse(z.object({ versions: z.array(VersionSchema) }), 'Versions'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const { fn, versions } = await functions.versions(actorOf(c), ws, name);
    return c.json({ versions: versions.map((v) => presentVersion(v, fn.activeVersion)) }, 200);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}/versions/{n}`, tags, security: BEARER, summary: 'Show one version with its code (viewer)',
    request: { params: VersionParams }, responses: { 200: jsonResponse(VersionWithCodeSchema, 'Version'), ...commonErrors } }),
  async (c) => {
    const { ws, name, n } = c.req.valid('param');
    const { fn, version } = await functions.version(actorOf(c), ws, name, n);
    return c.json({ ...presentVersion(version, fn.activeVersion), code: version.code }, 200);
  });

  r.openapi(createRoute({ method: 'post', path: `${base}/{name}/versions/{n}/activate`, tags, security: BEARER, summary: 'Make an earlier (or later) version the active one: rollback (editor)',
    request: { params: VersionParams }, responses: { 200: jsonResponse(FunctionDetailSchema, 'Function'), ...commonErrors } }),
  async (c) => {
    const { ws, name, n } = c.req.valid('param');
    return c.json(presentDetail(await functions.activate(actorOf(c), ws, name, n)), 200);
  });

  r.openapi(createRoute({ method: 'post', path: `${base}/{name}/invoke`, tags, security: BEARER,
    summary: 'Run the active version with {args} (invoker). Failures use the error envelope with details {invocationId, version, logs, stack?, durationMs, cpuMs}.',
    request: { params: FunctionParams, body: { required: false, content: { 'application/json': { schema: z.strictObject({ args: z.unknown().optional() }) } } } },
    responses: { 200: jsonResponse(InvokeResultSchema, 'The result'), ...commonErrors, ...invokeErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const body = (c.req.valid('json') ?? {}) as { args?: unknown };
    const out = await functions.invoke(actorOf(c), ws, name, body.args);
    c.set('invocationMarks', [out.runStartedAt, performance.now()]);
    c.header('Cache-Control', 'no-store');
    return c.json({ result: out.result, logs: out.logs, durationMs: out.durationMs, cpuMs: out.cpuMs, invocationId: out.invocationId, version: out.version }, 200);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}/invocations`, tags, security: BEARER, summary: 'Recent invocations, newest first, logs redacted (viewer)',
    request: { params: FunctionParams, query: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) }) },
    responses: { 200: jsonResponse(z.object({ invocations: z.array(InvocationSchema) }), 'Invocations'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const rows = await functions.invocations(actorOf(c), ws, name, c.req.valid('query').limit);
    return c.json({ invocations: rows.map(presentInvocation) }, 200);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}/invocations/{id}`, tags, security: BEARER, summary: 'One recent invocation (viewer)',
    request: { params: InvocationParams }, responses: { 200: jsonResponse(InvocationSchema, 'Invocation'), ...commonErrors } }),
  async (c) => {
    const { ws, name, id } = c.req.valid('param');
    return c.json(presentInvocation(await functions.invocation(actorOf(c), ws, name, id)), 200);
  });

  return r;
}
