// coffer pipeline ...: deploy a pipeline from a JSON spec file, list and inspect, roll back, read
// its runs, and run GraphQL against the workspace's endpoint from the terminal.
import type { Command } from 'commander';
import { run, type Context } from '../context.ts';
import { CliError, EXIT, UsageError } from '../errors.ts';
import { parseJsonArgument, readFileText, readStdin } from '../input.ts';
import type { components, GraphQLError } from '../../client/index.ts';

type Pipeline = components['schemas']['Pipeline'];
type Spec = components['schemas']['PipelineSpec'];
type Version = components['schemas']['PipelineVersion'];
type Run = components['schemas']['PipelineRun'];
const pipelinePath = (ws: string, name: string) => ({ params: { path: { ws, name } } });

function positive(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what}: not a positive integer: ${text}`);
  return n;
}

/** The exit status for a GraphQL answer with errors: the first error's Coffer code decides. */
function exitCodeForGraphQL(errors: GraphQLError[]): number {
  const code = errors[0]?.extensions?.code;
  if (code === 'unauthenticated') return EXIT.auth;
  if (code === 'forbidden') return EXIT.permission;
  if (code === 'not_found') return EXIT.notFound;
  if (code === 'invalid_request' || code === 'query_too_complex' || code === 'GRAPHQL_VALIDATION_FAILED' || code === 'GRAPHQL_PARSE_FAILED') return EXIT.usage;
  return EXIT.error;
}

function showRun(ctx: Context, r: Run) {
  ctx.out.record([
    ['run', r.id], ['version', r.version], ['outcome', r.errorCode ? `${r.outcome} (${r.errorCode}${r.errorStep ? ` at ${r.errorStep}` : ''})` : r.outcome],
    ['message', r.errorMessage], ['duration', `${r.durationMs} ms`], ['started', r.startedAt], ['by', r.invokedBy],
  ]);
  ctx.out.line();
  ctx.out.table(r.steps, [
    { header: 'step', value: (s) => s.name }, { header: 'function', value: (s) => s.function }, { header: 'status', value: (s) => s.status },
    { header: 'ms', value: (s) => s.durationMs }, { header: 'error', value: (s) => (s.errorCode ? `${s.errorCode}: ${s.errorMessage}` : null) },
  ]);
}

export function registerPipelines(program: Command) {
  const pipeline = program.command('pipeline').description('Pipelines: GraphQL fields computed by steps of functions (docs/pipelines.md)');

  pipeline.command('put <workspace> <name> <spec-file>').description('Deploy a pipeline from a JSON spec file (editor); `-` reads stdin')
    .action(run(async (ctx, ws: string, name: string, file: string) => {
      const spec = parseJsonArgument(file === '-' ? await readStdin() : readFileText(file), file) as Spec;
      const p = await ctx.client().PUT('/v1/workspaces/{ws}/pipelines/{name}', { ...pipelinePath(ws, name), body: spec });
      ctx.out.emit({ workspace: ws, ...p }, () => ctx.out.line(`Deployed pipeline ${ws}/${p.name} version ${p.activeVersion} (${p.field}).`));
    }));

  pipeline.command('list <workspace>').description('List pipelines (viewer)')
    .action(run(async (ctx, ws: string) => {
      const { pipelines } = await ctx.client().GET('/v1/workspaces/{ws}/pipelines', { params: { path: { ws } } });
      ctx.out.emit({ workspace: ws, pipelines }, () => ctx.out.table<Pipeline>(pipelines, [
        { header: 'name', value: (p) => p.name }, { header: 'field', value: (p) => p.field }, { header: 'active', value: (p) => p.activeVersion },
        { header: 'latest', value: (p) => p.latestVersion }, { header: 'updated', value: (p) => p.updatedAt },
      ], 'no pipelines'));
    }));

  pipeline.command('get <workspace> <name>').description('Show a pipeline and its active spec (viewer)')
    .action(run(async (ctx, ws: string, name: string) => {
      const p = await ctx.client().GET('/v1/workspaces/{ws}/pipelines/{name}', pipelinePath(ws, name));
      ctx.out.emit({ workspace: ws, ...p }, () => {
        ctx.out.record([['name', p.name], ['field', p.field], ['active version', p.activeVersion], ['latest version', p.latestVersion], ['deployed', p.active.deployedAt]]);
        ctx.out.line();
        ctx.out.line(JSON.stringify(p.active.spec, null, 2));
      });
    }));

  pipeline.command('versions <workspace> <name>').description('List versions, newest first (viewer)')
    .action(run(async (ctx, ws: string, name: string) => {
      const { versions } = await ctx.client().GET('/v1/workspaces/{ws}/pipelines/{name}/versions', pipelinePath(ws, name));
      ctx.out.emit({ workspace: ws, pipeline: name, versions }, () => ctx.out.table<Version>(versions, [
        { header: 'version', value: (v) => v.version }, { header: 'active', value: (v) => (v.active ? '*' : '') },
        { header: 'deployed', value: (v) => v.deployedAt }, { header: 'by', value: (v) => v.deployedBy },
      ]));
    }));

  pipeline.command('rollback <workspace> <name> <version>').description('Make another version the active one (editor)')
    .action(run(async (ctx, ws: string, name: string, n: string) => {
      const p = await ctx.client().POST('/v1/workspaces/{ws}/pipelines/{name}/versions/{n}/activate', { params: { path: { ws, name, n: positive(n, 'version') } } });
      ctx.out.emit({ workspace: ws, ...p }, () => ctx.out.line(`Pipeline ${ws}/${p.name} now runs version ${p.activeVersion}.`));
    }));

  pipeline.command('delete <workspace> <name>').description('Delete a pipeline (editor); refused while others use the types it declares')
    .action(run(async (ctx, ws: string, name: string) => {
      await ctx.client().DELETE('/v1/workspaces/{ws}/pipelines/{name}', pipelinePath(ws, name));
      ctx.out.emit({ deleted: { workspace: ws, pipeline: name } }, () => ctx.out.line(`Deleted pipeline ${ws}/${name}.`));
    }));

  pipeline.command('runs <workspace> <name> [run-id]').description('Recent runs, or one run with its steps (viewer)')
    .action(run(async (ctx, ws: string, name: string, id?: string) => {
      const client = ctx.client();
      if (id) {
        const r = await client.GET('/v1/workspaces/{ws}/pipelines/{name}/runs/{id}', { params: { path: { ws, name, id } } });
        return ctx.out.emit({ workspace: ws, pipeline: name, ...r }, () => showRun(ctx, r));
      }
      const { runs } = await client.GET('/v1/workspaces/{ws}/pipelines/{name}/runs', pipelinePath(ws, name));
      ctx.out.emit({ workspace: ws, pipeline: name, runs }, () => ctx.out.table<Run>(runs, [
        { header: 'id', value: (r) => r.id }, { header: 'version', value: (r) => r.version }, { header: 'outcome', value: (r) => r.errorCode ?? r.outcome },
        { header: 'ms', value: (r) => r.durationMs }, { header: 'started', value: (r) => r.startedAt }, { header: 'by', value: (r) => r.invokedBy },
      ], 'no recent runs'));
    }));

  pipeline.command('run <workspace> [query]').description('Run a GraphQL query or mutation on the workspace\'s endpoint (invoker); prints the GraphQL response as JSON')
    .option('--file <file>', 'read the query from a file (`-`: stdin)')
    .option('--variables <json>', 'variables, as a JSON object')
    .option('--operation <name>', 'the operation to run, when the document has several')
    .action(run(async (ctx, ws: string, inline: string | undefined, opts: { file?: string; variables?: string; operation?: string }) => {
      if ((inline === undefined) === (opts.file === undefined)) throw new UsageError('give the query as an argument or with --file, not both');
      const query = inline ?? (opts.file === '-' ? await readStdin() : readFileText(opts.file!));
      const variables = opts.variables === undefined ? undefined : parseJsonArgument(opts.variables, '--variables');
      if (variables !== undefined && (typeof variables !== 'object' || variables === null || Array.isArray(variables))) throw new UsageError('--variables must be a JSON object');
      const response = await ctx.client().graphql(ws, { query, variables: variables as Record<string, unknown> | undefined, operationName: opts.operation });
      // The answer is JSON for people too: it is the shape the query asked for.
      ctx.out.result(response.errors?.length ? response : { data: response.data });
      if (response.errors?.length) {
        const first = response.errors[0]!;
        const where = first.path?.length ? ` at ${first.path.join('.')}` : '';
        throw new CliError(first.extensions?.code ?? 'graphql_error', `${first.message}${where}${response.errors.length > 1 ? ` (and ${response.errors.length - 1} more)` : ''}`, exitCodeForGraphQL(response.errors));
      }
    }));
}
