// /v1/workspaces/{ws}/pipelines...: deploy, versions, rollback, delete, recent runs. Running a
// pipeline is a GraphQL request (graphql.ts), not a route here.
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter, commonErrors, jsonBody, jsonResponse, WorkspaceParam, Timestamp, Id, iso, BEARER, ErrorSchema } from '../routes/openapi.ts';
import { actorOf } from '../middleware/auth.ts';
import type * as repo from '../../db/repos/pipelines.ts';
import type { PipelineService } from './service.ts';
import { PipelineBody, PIPELINE_NAME, PIPELINE_NAME_RULE, StepSchema, type PipelineSpec } from './spec.ts';

const PipelineName = z.string().regex(PIPELINE_NAME, PIPELINE_NAME_RULE);
const PipelineParams = WorkspaceParam.extend({ name: PipelineName.openapi({ param: { name: 'name', in: 'path' } }) });
const VersionParams = PipelineParams.extend({ n: z.coerce.number().int().min(1).max(2_147_483_647).openapi({ param: { name: 'n', in: 'path' }, type: 'integer' }) });
const RunParams = PipelineParams.extend({ id: Id.openapi({ param: { name: 'id', in: 'path' } }) });

const SpecSchema = z.object({
  operation: z.enum(['query', 'mutation']), types: z.string().optional(), args: z.string().optional(), returns: z.string(),
  steps: z.array(StepSchema), result: z.string().optional(), description: z.string().optional(),
  deadlineMs: z.number().int().optional(), exposeSecrets: z.boolean().optional(),
}).openapi('PipelineSpec');
const VersionSchema = z.object({
  version: z.number().int(), active: z.boolean(), specHash: z.string(), spec: SpecSchema, deployedBy: z.string(), deployedAt: Timestamp,
}).openapi('PipelineVersion');
const PipelineSchema = z.object({
  name: z.string(), field: z.string().openapi({ description: 'Query.<name> or Mutation.<name> in the workspace\'s GraphQL schema' }),
  activeVersion: z.number().int(), latestVersion: z.number().int(), createdAt: Timestamp, createdBy: z.string(), updatedAt: Timestamp,
}).openapi('Pipeline');
const PipelineDetailSchema = PipelineSchema.extend({ active: VersionSchema }).openapi('PipelineDetail');
const LogLineSchema = z.object({ level: z.string(), message: z.string(), at: Timestamp });
const RunStepSchema = z.object({
  name: z.string(), function: z.string(), status: z.enum(['ok', 'skipped', 'failed', 'not_run']), durationMs: z.number().int(),
  invocationIds: z.array(z.string()), logs: z.array(LogLineSchema), errorCode: z.string().nullable(), errorMessage: z.string().nullable(),
}).openapi('PipelineRunStep');
const RunSchema = z.object({
  id: z.string(), version: z.number().int(), outcome: z.enum(['ok', 'error']), errorCode: z.string().nullable(), errorMessage: z.string().nullable(),
  errorStep: z.string().nullable(), durationMs: z.number().int(), startedAt: Timestamp, invokedBy: z.string().nullable(), requestId: z.string().nullable(),
  steps: z.array(RunStepSchema),
}).openapi('PipelineRun');

const errorWith = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });

const fieldOf = (p: repo.PipelineRow, v: repo.PipelineVersionRow) => `${(v.spec as PipelineSpec).operation === 'mutation' ? 'Mutation' : 'Query'}.${p.name}`;
const presentPipeline = (p: repo.PipelineRow, v: repo.PipelineVersionRow) => ({
  name: p.name, field: fieldOf(p, v), activeVersion: p.activeVersion, latestVersion: p.latestVersion,
  createdAt: iso(p.createdAt)!, createdBy: p.createdBy, updatedAt: iso(p.updatedAt)!,
});
const presentVersion = (v: repo.PipelineVersionRow, activeVersion: number) => ({
  version: v.version, active: v.version === activeVersion, specHash: v.specHash, spec: v.spec as PipelineSpec, deployedBy: v.deployedBy, deployedAt: iso(v.deployedAt)!,
});
const presentDetail = ({ pipeline, version }: { pipeline: repo.PipelineRow; version: repo.PipelineVersionRow }) =>
  ({ ...presentPipeline(pipeline, version), active: presentVersion(version, pipeline.activeVersion) });
const presentRun = ({ run, steps }: { run: repo.PipelineRunRow; steps: repo.PipelineRunStepRow[] }) => ({
  id: run.id, version: run.version, outcome: run.outcome, errorCode: run.errorCode, errorMessage: run.errorMessage, errorStep: run.errorStep,
  durationMs: run.durationMs, startedAt: iso(run.startedAt)!, invokedBy: run.invokedBy, requestId: run.requestId,
  steps: steps.map((s) => ({
    name: s.name, function: s.function, status: s.status, durationMs: s.durationMs, invocationIds: s.invocationIds as string[],
    logs: s.logs as z.infer<typeof LogLineSchema>[], errorCode: s.errorCode, errorMessage: s.errorMessage,
  })),
});

export function pipelineRoutes(pipelines: PipelineService) {
  const r = createRouter();
  const tags = ['Pipelines'];
  const base = '/v1/workspaces/{ws}/pipelines';

  r.openapi(createRoute({ method: 'get', path: base, tags, security: BEARER, summary: 'List pipelines (viewer)',
    request: { params: WorkspaceParam }, responses: { 200: jsonResponse(z.object({ pipelines: z.array(PipelineSchema) }), 'Pipelines'), ...commonErrors } }),
  async (c) => {
    const rows = await pipelines.list(actorOf(c), c.req.valid('param').ws);
    return c.json({ pipelines: rows.map((row) => presentPipeline(row.pipeline, row.version)) }, 200);
  });

  r.openapi(createRoute({ method: 'put', path: `${base}/{name}`, tags, security: BEARER,
    summary: 'Deploy a new version and make it active (editor). SDL and expressions are checked first: 400 invalid_schema / invalid_expression with field, line and column; a step naming a missing function or a duplicate step name is 400 invalid_request.',
    request: { params: PipelineParams, body: jsonBody(PipelineBody) },
    responses: { 200: jsonResponse(PipelineDetailSchema, 'A new version of an existing pipeline'), 201: jsonResponse(PipelineDetailSchema, 'Created (version 1)'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const deployed = await pipelines.deploy(actorOf(c), ws, name, c.req.valid('json'));
    return c.json(presentDetail(deployed), deployed.created ? 201 : 200);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}`, tags, security: BEARER, summary: 'Show a pipeline and its active version (viewer)',
    request: { params: PipelineParams }, responses: { 200: jsonResponse(PipelineDetailSchema, 'Pipeline'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    return c.json(presentDetail(await pipelines.get(actorOf(c), ws, name)), 200);
  });

  r.openapi(createRoute({ method: 'delete', path: `${base}/{name}`, tags, security: BEARER,
    summary: 'Delete a pipeline with its versions and runs (editor); 409 conflict if other pipelines use types it declares',
    request: { params: PipelineParams }, responses: { 204: { description: 'Deleted' }, ...commonErrors, 409: errorWith('conflict: other pipelines still use its types') } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    await pipelines.remove(actorOf(c), ws, name);
    return c.body(null, 204);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}/versions`, tags, security: BEARER, summary: 'List versions, newest first (viewer)',
    request: { params: PipelineParams }, responses: { 200: jsonResponse(z.object({ versions: z.array(VersionSchema) }), 'Versions'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const { pipeline, versions } = await pipelines.versions(actorOf(c), ws, name);
    return c.json({ versions: versions.map((v) => presentVersion(v, pipeline.activeVersion)) }, 200);
  });

  r.openapi(createRoute({ method: 'post', path: `${base}/{name}/versions/{n}/activate`, tags, security: BEARER, summary: 'Make another version the active one: rollback (editor)',
    request: { params: VersionParams }, responses: { 200: jsonResponse(PipelineDetailSchema, 'Pipeline'), ...commonErrors } }),
  async (c) => {
    const { ws, name, n } = c.req.valid('param');
    return c.json(presentDetail(await pipelines.activate(actorOf(c), ws, name, n)), 200);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}/runs`, tags, security: BEARER, summary: 'Recent runs with their steps, newest first, logs redacted (viewer)',
    request: { params: PipelineParams, query: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20) }) },
    responses: { 200: jsonResponse(z.object({ runs: z.array(RunSchema) }), 'Runs'), ...commonErrors } }),
  async (c) => {
    const { ws, name } = c.req.valid('param');
    const rows = await pipelines.runs(actorOf(c), ws, name, c.req.valid('query').limit);
    return c.json({ runs: rows.map(presentRun) }, 200);
  });

  r.openapi(createRoute({ method: 'get', path: `${base}/{name}/runs/{id}`, tags, security: BEARER, summary: 'One recent run with its steps (viewer)',
    request: { params: RunParams }, responses: { 200: jsonResponse(RunSchema, 'Run'), ...commonErrors } }),
  async (c) => {
    const { ws, name, id } = c.req.valid('param');
    return c.json(presentRun(await pipelines.run(actorOf(c), ws, name, id)), 200);
  });

  return r;
}
