// What happens when a pipeline is deployed, rolled back, deleted or listed, and how a workspace's
// GraphQL schema is found for a request: all of it is here. Every deploy is checked by building the
// workspace's whole schema with the new version in place, so a version that is stored always builds.
//
// Schemas are cached per workspace under the workspace's schema revision (each pipeline's id and
// active version). The revision is memoised under the access epoch, which every committed write
// moves on, here and (through NOTIFY on PostgreSQL) on every other gateway: a redeploy anywhere is
// seen by the next request everywhere, and the schema is rebuilt only when the revision changed.
import crypto from 'node:crypto';
import type { GraphQLFieldResolver, GraphQLSchema } from 'graphql/index.js';
import { createAccessCache, type AccessCachePolicy } from '../../db/access-cache.ts';
import { inTransaction, type Db } from '../../db/client.ts';
import * as repo from '../../db/repos/pipelines.ts';
import type { Workspace, WorkspaceRole } from '../../db/schema.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { newId } from '../crypto/credentials.ts';
import { CofferError, notFound } from '../errors.ts';
import { isResourceName } from '../names.ts';
import { checkWorkspaceAccess, viaGroup, type ViaGroup, type WorkspaceService } from '../services/workspaces.ts';
import { compileExpressionModule } from './expressions.ts';
import type { PipelineRunner } from './runner.ts';
import type { RunRecords } from './runs.ts';
import { buildWorkspaceSchema } from './schema-builder.ts';
import { checkSteps, parsePipelineSdl, PIPELINE_NAME, type ParsedPipeline, type PipelineSpec } from './spec.ts';

/** What a resolver gets from the request (graphql.ts puts it in the GraphQL context). */
export interface GraphqlRequestContext {
  actor: Actor;
  workspace: Workspace;
  role: WorkspaceRole | undefined;
  /** The caller's role comes through a group: its runs' reads say which (as a direct invocation's do). */
  via?: ViaGroup;
}

const SCHEMA_CACHE_SIZE = 256;

export function createPipelineService(deps: {
  db: Db; audit: AuditLog; workspaces: WorkspaceService; runner: PipelineRunner; records: RunRecords; accessCache?: AccessCachePolicy;
  /** Turns a run into a field resolver (graphql.ts: errors, stacks); kept there so this file knows nothing of GraphQL errors. */
  resolverFor: (run: PipelineRunner['run'], pipeline: repo.PipelineRow, version: repo.PipelineVersionRow) => GraphQLFieldResolver<unknown, GraphqlRequestContext>;
}) {
  const { db, audit, workspaces, runner, records } = deps;
  const memberships = createAccessCache<Awaited<ReturnType<typeof repo.findWorkspaceWithRole>>>(deps.accessCache);
  const revisions = createAccessCache<string>(deps.accessCache);
  const schemas = new Map<string, { revision: string; schema: GraphQLSchema }>();

  async function findPipelineOr404(workspace: Workspace, name: string) {
    const p = PIPELINE_NAME.test(name) ? await repo.findPipeline(db, workspace.id, name) : undefined;
    if (!p) throw notFound('pipeline');
    return p;
  }

  /** The other pipelines' active versions, parsed: what a change is checked against. */
  async function others(workspaceId: string, except: string, tx: Db = db): Promise<ParsedPipeline[]> {
    const rows = await repo.activeVersions(tx, workspaceId);
    return rows.filter((r) => r.pipeline.name !== except)
      .map((r) => parsePipelineSdl(r.pipeline.name, r.version.spec as PipelineSpec, `${r.pipeline.name}.`));
  }

  async function buildSchema(workspaceId: string): Promise<GraphQLSchema> {
    const rows = await repo.activeVersions(db, workspaceId);
    const byName = new Map(rows.map((r) => [r.pipeline.name, r]));
    const parsed = rows.map((r) => parsePipelineSdl(r.pipeline.name, r.version.spec as PipelineSpec, `${r.pipeline.name}.`));
    return buildWorkspaceSchema(parsed, (p) => {
      const row = byName.get(p.name)!;
      return deps.resolverFor(runner.run, row.pipeline, row.version);
    });
  }

  return {
    async deploy(actor: Actor, wsName: string, name: string, spec: PipelineSpec) {
      const { workspace, via } = await workspaces.authorizeWorkspace(actor, wsName, 'pipelines.deploy');
      if (!PIPELINE_NAME.test(name)) throw new CofferError('invalid_name', `pipeline names are ${'1-63 characters: letters, digits and "_", starting with a lowercase letter'}`);
      checkSteps(spec);
      const parsed = parsePipelineSdl(name, spec);
      buildWorkspaceSchema([...(await others(workspace.id, name)), parsed]);
      const fnNames = [...new Set(spec.steps.map((s) => s.function))];
      const existing = await repo.existingFunctionNames(db, workspace.id, fnNames);
      const missing = spec.steps.findIndex((s) => !existing.has(s.function));
      if (missing >= 0) {
        throw new CofferError('invalid_request', `steps[${missing}].function: no function "${spec.steps[missing].function}" in workspace "${wsName}"`, { details: { field: `steps[${missing}].function` } });
      }
      const compiled = compileExpressionModule(spec);
      if (!compiled.ok) throw new CofferError('invalid_expression', `the expressions do not compile together: ${compiled.message}`);
      const specHash = crypto.createHash('sha256').update(JSON.stringify(spec)).digest('hex');
      return inTransaction(db, async (tx) => {
        // Checked once more under the workspace's lock: a concurrent deploy of another pipeline may
        // have declared a type this one declares since the check above (which keeps the usual
        // refusal off the lock).
        await repo.lockWorkspacePipelines(tx, workspace.id);
        buildWorkspaceSchema([...(await others(workspace.id, name, tx)), parsed]);
        const p = await repo.reserveNextVersion(tx, { id: newId('pl'), workspaceId: workspace.id, name, createdBy: actor.principal.id });
        await repo.insertVersion(tx, { pipelineId: p.id, version: p.latestVersion, spec, script: compiled.script, specHash, deployedBy: actor.principal.id });
        await audit.append({
          action: 'pipeline.deploy', outcome: 'allowed', workspace: workspace.name, ...actorFields(actor),
          detail: { pipeline: name, pipelineVersion: p.latestVersion, specHash, functions: fnNames, ...via },
        }, tx);
        const version = (await repo.findVersion(tx, p.id, p.latestVersion))!;
        return { pipeline: p, version, created: p.latestVersion === 1 };
      });
    },

    async list(actor: Actor, wsName: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'pipelines.view');
      return repo.activeVersions(db, workspace.id);
    },

    async get(actor: Actor, wsName: string, name: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'pipelines.view');
      const pipeline = await findPipelineOr404(workspace, name);
      const version = (await repo.findVersion(db, pipeline.id, pipeline.activeVersion))!;
      return { pipeline, version };
    },

    async remove(actor: Actor, wsName: string, name: string) {
      const { workspace, via } = await workspaces.authorizeWorkspace(actor, wsName, 'pipelines.deploy');
      const pipeline = await findPipelineOr404(workspace, name);
      try {
        buildWorkspaceSchema(await others(workspace.id, name));
      } catch (err) {
        throw new CofferError('conflict', `other pipelines still need types this pipeline declares: ${(err as Error).message}`);
      }
      await records.flush();
      await inTransaction(db, async (tx) => {
        await repo.lockWorkspacePipelines(tx, workspace.id);
        try {
          buildWorkspaceSchema(await others(workspace.id, name, tx));
        } catch (err) {
          throw new CofferError('conflict', `other pipelines still need types this pipeline declares: ${(err as Error).message}`);
        }
        await repo.deletePipeline(tx, pipeline.id);
        await audit.append({ action: 'pipeline.delete', outcome: 'allowed', workspace: workspace.name, ...actorFields(actor), detail: { pipeline: name, ...via } }, tx);
      });
    },

    async versions(actor: Actor, wsName: string, name: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'pipelines.view');
      const pipeline = await findPipelineOr404(workspace, name);
      return { pipeline, versions: await repo.listVersions(db, pipeline.id) };
    },

    async activate(actor: Actor, wsName: string, name: string, n: number) {
      const { workspace, via } = await workspaces.authorizeWorkspace(actor, wsName, 'pipelines.deploy');
      const pipeline = await findPipelineOr404(workspace, name);
      const target = await repo.findVersion(db, pipeline.id, n);
      if (!target) throw notFound('version');
      const parsed = parsePipelineSdl(name, target.spec as PipelineSpec);
      buildWorkspaceSchema([...(await others(workspace.id, name)), parsed]);
      return inTransaction(db, async (tx) => {
        await repo.lockWorkspacePipelines(tx, workspace.id);
        buildWorkspaceSchema([...(await others(workspace.id, name, tx)), parsed]);
        const updated = await repo.setActiveVersion(tx, pipeline.id, n);
        if (!updated) throw notFound('pipeline');
        await audit.append({
          action: 'pipeline.activate', outcome: 'allowed', workspace: workspace.name, ...actorFields(actor),
          detail: { pipeline: name, pipelineVersion: n, previousVersion: pipeline.activeVersion, ...via },
        }, tx);
        return { pipeline: updated, version: target };
      });
    },

    async runs(actor: Actor, wsName: string, name: string, limit: number) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'pipelines.view');
      const pipeline = await findPipelineOr404(workspace, name);
      await records.flush();
      const runs = await repo.listRuns(db, pipeline.id, limit);
      return withSteps(runs);
    },

    async run(actor: Actor, wsName: string, name: string, id: string) {
      const { workspace } = await workspaces.authorizeWorkspace(actor, wsName, 'pipelines.view');
      const pipeline = await findPipelineOr404(workspace, name);
      await records.flush();
      const row = await repo.findRun(db, pipeline.id, id);
      if (!row) throw notFound('run');
      return (await withSteps([row]))[0];
    },

    /**
     * The GraphQL endpoint's gate: members of any role may see the schema (introspection); running
     * a field needs `invoker` (checked per field, see graphql.ts). Non-members get 404.
     */
    async graphqlTarget(actor: Actor, wsName: string): Promise<GraphqlRequestContext & { schema: GraphQLSchema }> {
      const row = isResourceName(wsName)
        ? await memberships.get(`${wsName}\0${actor.principal.id}`, () => repo.findWorkspaceWithRole(db, wsName, actor.principal.id))
        : undefined;
      if (!row) throw notFound('workspace');
      const role = row.role ?? undefined;
      checkWorkspaceAccess(actor, wsName, role, 'pipelines.view');
      const workspace = row.workspace;
      const revision = await revisions.get(workspace.id, () => repo.schemaRevision(db, workspace.id));
      let hit = schemas.get(workspace.id);
      if (!hit || hit.revision !== revision) {
        hit = { revision, schema: await buildSchema(workspace.id) };
        schemas.delete(workspace.id);
        if (schemas.size >= SCHEMA_CACHE_SIZE) schemas.delete(schemas.keys().next().value!);
        schemas.set(workspace.id, hit);
      }
      return { actor, workspace, role, via: viaGroup(actor, row), schema: hit.schema };
    },

    prune: records.prune,
    close: records.close,
  };

  async function withSteps(runs: repo.PipelineRunRow[]) {
    const steps = await repo.stepsOfRuns(db, runs.map((r) => r.id));
    return runs.map((run) => ({ run, steps: steps.filter((s) => s.runId === run.id) }));
  }
}

export type PipelineService = ReturnType<typeof createPipelineService>;
