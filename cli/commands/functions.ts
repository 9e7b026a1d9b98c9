// coffer fn ...: deploy a file, invoke it, versions and rollback, recent invocations and their logs.
import type { Command } from 'commander';
import { run, type Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { parseJsonArgument, readFileText } from '../input.ts';
import { CofferApiError, type components } from '../../client/index.ts';

type Fn = components['schemas']['Function'];
type Version = components['schemas']['FunctionVersion'];
type Invocation = components['schemas']['Invocation'];
type LogLine = components['schemas']['LogLine'];
const fnPath = (ws: string, name: string) => ({ params: { path: { ws, name } } });

function integer(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what}: not a positive integer: ${text}`);
  return n;
}

function printLogs(ctx: Context, logs: LogLine[]) {
  for (const l of logs) ctx.out.note(`${ctx.out.dim(l.at)} ${l.level.padEnd(5)} ${l.message}`);
}

export function registerFunctions(program: Command) {
  const fn = program.command('fn').description('Functions: deploy, invoke, versions, logs');

  fn.command('deploy <workspace> <name> <file>').description('Deploy FILE (an ES module) as a new version and make it active (editor)')
    .option('--timeout <ms>', 'wall-clock limit per invocation')
    .option('--memory <mb>', 'isolate memory limit')
    .option('--expose-secrets', 'return secret values in results unredacted')
    .option('--description <text>', 'what changed')
    .action(run(async (ctx, ws: string, name: string, file: string, opts: { timeout?: string; memory?: string; exposeSecrets?: boolean; description?: string }) => {
      const code = readFileText(file);
      const deployed = await ctx.client().PUT('/v1/workspaces/{ws}/functions/{name}', {
        ...fnPath(ws, name),
        body: {
          code, description: opts.description, exposeSecrets: opts.exposeSecrets,
          timeoutMs: opts.timeout === undefined ? undefined : integer(opts.timeout, '--timeout'),
          memoryMb: opts.memory === undefined ? undefined : integer(opts.memory, '--memory'),
        },
      });
      ctx.out.emit({ workspace: ws, ...deployed }, () => ctx.out.line(`Deployed ${ws}/${deployed.name} version ${deployed.activeVersion}.`));
    }));

  fn.command('list <workspace>').description('List functions (viewer)')
    .action(run(async (ctx, ws: string) => {
      const { functions } = await ctx.client().GET('/v1/workspaces/{ws}/functions', { params: { path: { ws } } });
      ctx.out.emit({ workspace: ws, functions }, () => ctx.out.table<Fn>(functions, [
        { header: 'name', value: (f) => f.name }, { header: 'active', value: (f) => f.activeVersion },
        { header: 'latest', value: (f) => f.latestVersion }, { header: 'updated', value: (f) => f.updatedAt },
      ], 'no functions'));
    }));

  fn.command('get <workspace> <name>').description('Show a function and its active version (viewer)')
    .action(run(async (ctx, ws: string, name: string) => {
      const f = await ctx.client().GET('/v1/workspaces/{ws}/functions/{name}', fnPath(ws, name));
      ctx.out.emit({ workspace: ws, ...f }, () => ctx.out.record([
        ['name', f.name], ['active version', f.activeVersion], ['latest version', f.latestVersion], ['timeout', `${f.active.timeoutMs} ms`],
        ['memory', `${f.active.memoryMb} MB`], ['expose secrets', f.active.exposeSecrets], ['code sha-256', f.active.codeHash], ['deployed', f.active.deployedAt],
      ]));
    }));

  fn.command('versions <workspace> <name>').description('List versions, newest first (viewer)')
    .action(run(async (ctx, ws: string, name: string) => {
      const { versions } = await ctx.client().GET('/v1/workspaces/{ws}/functions/{name}/versions', fnPath(ws, name));
      ctx.out.emit({ workspace: ws, function: name, versions }, () => ctx.out.table<Version>(versions, [
        { header: 'version', value: (v) => v.version }, { header: 'active', value: (v) => (v.active ? '*' : '') },
        { header: 'deployed', value: (v) => v.deployedAt }, { header: 'by', value: (v) => v.deployedBy }, { header: 'description', value: (v) => v.description },
      ]));
    }));

  fn.command('rollback <workspace> <name> <version>').description('Make another version the active one (editor)')
    .action(run(async (ctx, ws: string, name: string, n: string) => {
      const f = await ctx.client().POST('/v1/workspaces/{ws}/functions/{name}/versions/{n}/activate', { params: { path: { ws, name, n: integer(n, 'version') } } });
      ctx.out.emit({ workspace: ws, ...f }, () => ctx.out.line(`${ws}/${f.name} now runs version ${f.activeVersion}.`));
    }));

  fn.command('invoke <workspace> <name>').description('Run the active version; the result on stdout, its logs on stderr (invoker)')
    .option('--args <json>', 'the argument, as JSON')
    .option('--args-file <file>', 'the argument, from a JSON file')
    .action(run(async (ctx, ws: string, name: string, opts: { args?: string; argsFile?: string }) => {
      if (opts.args !== undefined && opts.argsFile !== undefined) throw new UsageError('give at most one of --args and --args-file');
      const args = opts.args !== undefined ? parseJsonArgument(opts.args, '--args')
        : opts.argsFile !== undefined ? parseJsonArgument(readFileText(opts.argsFile), opts.argsFile) : undefined;
      try {
        const r = await ctx.client().POST('/v1/workspaces/{ws}/functions/{name}/invoke', { ...fnPath(ws, name), body: { args } });
        ctx.out.emit(r, () => {
          printLogs(ctx, r.logs);
          ctx.out.line(JSON.stringify(r.result, null, 2) ?? 'undefined');
        });
      } catch (err) {
        // A failed function's logs and stack come in the error's details: show them before the error.
        const logs = err instanceof CofferApiError ? (err.details?.logs as LogLine[] | undefined) : undefined;
        if (!ctx.out.json && logs) printLogs(ctx, logs);
        if (!ctx.out.json && err instanceof CofferApiError && typeof err.details?.stack === 'string') ctx.out.note(err.details.stack);
        throw err;
      }
    }));

  fn.command('invocations <workspace> <name>').description('Recent invocations, newest first (viewer)')
    .option('--limit <n>', 'how many (1-100)', '20')
    .action(run(async (ctx, ws: string, name: string, opts: { limit: string }) => {
      const { invocations } = await ctx.client().GET('/v1/workspaces/{ws}/functions/{name}/invocations', {
        params: { path: { ws, name }, query: { limit: integer(opts.limit, '--limit') } },
      });
      ctx.out.emit({ workspace: ws, function: name, invocations }, () => ctx.out.table<Invocation>(invocations, [
        { header: 'id', value: (i) => i.id }, { header: 'version', value: (i) => i.version }, { header: 'outcome', value: (i) => i.errorCode ?? i.outcome },
        { header: 'ms', value: (i) => i.durationMs }, { header: 'started', value: (i) => i.startedAt }, { header: 'by', value: (i) => i.invokedBy },
      ], 'no recent invocations'));
    }));

  fn.command('logs <workspace> <name> [invocation-id]').description('The (redacted) logs of an invocation, by default the latest (viewer)')
    .action(run(async (ctx, ws: string, name: string, id?: string) => {
      const client = ctx.client();
      const invocation = id
        ? await client.GET('/v1/workspaces/{ws}/functions/{name}/invocations/{id}', { params: { path: { ws, name, id } } })
        : (await client.GET('/v1/workspaces/{ws}/functions/{name}/invocations', { params: { path: { ws, name }, query: { limit: 1 } } })).invocations[0];
      if (!invocation) throw new CofferApiError('not_found', `no recent invocations of ${ws}/${name}`, { status: 404 });
      ctx.out.emit({ workspace: ws, function: name, invocationId: invocation.id, logs: invocation.logs }, () => {
        for (const l of invocation.logs) ctx.out.line(`${ctx.out.dim(l.at)} ${l.level.padEnd(5)} ${l.message}`);
      });
    }));

  fn.command('delete <workspace> <name>').description('Delete a function with all its versions (editor)')
    .action(run(async (ctx, ws: string, name: string) => {
      await ctx.client().DELETE('/v1/workspaces/{ws}/functions/{name}', fnPath(ws, name));
      ctx.out.emit({ deleted: { workspace: ws, function: name } }, () => ctx.out.line(`Deleted ${ws}/${name}.`));
    }));
}
