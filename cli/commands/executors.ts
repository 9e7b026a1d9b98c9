// coffer executor ...: executors from a JSON file, firing them by hand, their jobs and attempts,
// retry and cancel, and the webhook path token (printed once, as the API shows it only once).
import type { Command } from 'commander';
import { run, type Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { parseJsonArgument, readFileText } from '../input.ts';
import type { components, paths } from '../../client/index.ts';

type Executor = components['schemas']['Executor'];
type Job = components['schemas']['Job'];
type Attempt = components['schemas']['JobAttempt'];
type ExecutorInput = paths['/v1/workspaces/{ws}/executors/{name}']['put']['requestBody']['content']['application/json'];
const executorPath = (ws: string, name: string) => ({ params: { path: { ws, name } } });
const jobPath = (ws: string, id: string) => ({ params: { path: { ws, id } } });
const STATUSES = ['pending', 'running', 'succeeded', 'failed', 'canceled'] as const;

function integer(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what}: not a positive integer: ${text}`);
  return n;
}

/** --header K=V, repeatable: commander folds them into one object. */
function collectHeader(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq < 1) throw new UsageError(`--header: expected NAME=VALUE, got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

const describeTrigger = (e: Executor) => {
  const t = e.trigger;
  if (t.kind === 'webhook') return `webhook (${t.auth?.mode ?? 'token'}, ${t.mode ?? 'async'})`;
  if (t.kind === 'schedule') return `schedule ${t.cron} ${t.timezone ?? 'UTC'}`;
  return `event ${t.events.join(',')}`;
};
const describeTarget = (e: Executor) => (e.target.kind === 'function' ? `function ${e.target.function}`
  : `webhook ${typeof e.target.url === 'string' ? e.target.url : `secret ${e.target.url.secret.vault}/${e.target.url.secret.name}`}`);

function showExecutor(ctx: Context, e: Executor) {
  ctx.out.record([
    ['name', e.name], ['description', e.description], ['disabled', e.disabled], ['trigger', describeTrigger(e)], ['target', describeTarget(e)],
    ['retry', `${e.retry.maxAttempts} attempts, backoff ${e.retry.initialBackoffMs}-${e.retry.maxBackoffMs} ms`],
    ['webhook path', e.webhookPath], ['created', `${e.createdAt} by ${e.createdBy}`], ['updated', e.updatedAt],
  ]);
}

const jobColumns = [
  { header: 'id', value: (j: Job) => j.id }, { header: 'status', value: (j: Job) => j.status }, { header: 'trigger', value: (j: Job) => j.trigger },
  { header: 'attempts', value: (j: Job) => `${j.attemptCount}/${j.maxAttempts}` }, { header: 'created', value: (j: Job) => j.createdAt },
  { header: 'finished', value: (j: Job) => j.finishedAt }, { header: 'error', value: (j: Job) => j.lastError?.code },
];

function readExecutorFile(file: string): ExecutorInput {
  const body = parseJsonArgument(readFileText(file), file);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UsageError(`${file}: an executor is a JSON object with trigger and target`);
  // The server validates the shape; a bad field comes back as a 400 with its path (exit 2).
  return body as ExecutorInput;
}

export function registerExecutors(program: Command) {
  const ex = program.command('executor').description('Executors: webhooks, schedules and events that run a function or call a URL, as durable jobs');

  ex.command('put <workspace> <name>').description('Create or replace an executor from a JSON file (editor); a new token-mode webhook prints its token once')
    .requiredOption('--file <file>', 'the executor as JSON: {description?, disabled?, trigger, target, retry?}')
    .action(run(async (ctx, ws: string, name: string, opts: { file: string }) => {
      const body = readExecutorFile(opts.file);
      const e = await ctx.client().PUT('/v1/workspaces/{ws}/executors/{name}', { ...executorPath(ws, name), body });
      if (e.token) ctx.out.warn('the webhook token below is shown only once: store it now (rotate-token issues a new one)');
      ctx.out.emit({ workspace: ws, ...e }, () => {
        ctx.out.line(`Put executor ${ws}/${e.name}.`);
        if (e.token) ctx.out.reveal(`token  ${e.token}\nurl    ${e.webhookUrlPath}`, false);
      });
    }));

  ex.command('list <workspace>').description('List executors (viewer)')
    .action(run(async (ctx, ws: string) => {
      const { executors } = await ctx.client().GET('/v1/workspaces/{ws}/executors', { params: { path: { ws } } });
      ctx.out.emit({ workspace: ws, executors }, () => ctx.out.table<Executor>(executors, [
        { header: 'name', value: (e) => e.name }, { header: 'trigger', value: describeTrigger }, { header: 'target', value: describeTarget },
        { header: 'disabled', value: (e) => e.disabled }, { header: 'updated', value: (e) => e.updatedAt },
      ], 'no executors'));
    }));

  ex.command('get <workspace> <name>').description('Show an executor (viewer)')
    .action(run(async (ctx, ws: string, name: string) => {
      const e = await ctx.client().GET('/v1/workspaces/{ws}/executors/{name}', executorPath(ws, name));
      ctx.out.emit({ workspace: ws, ...e }, () => showExecutor(ctx, e));
    }));

  ex.command('delete <workspace> <name>').description('Delete an executor and its jobs (editor)')
    .action(run(async (ctx, ws: string, name: string) => {
      await ctx.client().DELETE('/v1/workspaces/{ws}/executors/{name}', executorPath(ws, name));
      ctx.out.emit({ deleted: { workspace: ws, executor: name } }, () => ctx.out.line(`Deleted executor ${ws}/${name}.`));
    }));

  ex.command('trigger <workspace> <name>').description('Fire a webhook or schedule executor by hand, as a job (editor); prints the job id')
    .option('--body <json>', 'webhook executors: the request body, as JSON')
    .option('--body-file <file>', 'webhook executors: the request body, from a JSON file')
    .option('--header <name=value>', 'a request header (repeatable)', collectHeader)
    .action(run(async (ctx, ws: string, name: string, opts: { body?: string; bodyFile?: string; header?: Record<string, string> }) => {
      if (opts.body !== undefined && opts.bodyFile !== undefined) throw new UsageError('give at most one of --body and --body-file');
      const body = opts.body !== undefined ? parseJsonArgument(opts.body, '--body')
        : opts.bodyFile !== undefined ? parseJsonArgument(readFileText(opts.bodyFile), opts.bodyFile) : undefined;
      const { jobId } = await ctx.client().POST('/v1/workspaces/{ws}/executors/{name}/trigger', {
        ...executorPath(ws, name), body: { ...(body !== undefined ? { body } : {}), ...(opts.header ? { headers: opts.header } : {}) },
      });
      ctx.out.emit({ workspace: ws, executor: name, jobId }, () => ctx.out.line(`Queued job ${jobId}.`));
    }));

  ex.command('jobs <workspace> <name>').description('Jobs of an executor, newest first (viewer)')
    .option('--status <status>', `only jobs in this status (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'how many (1-100)', '20')
    .option('--cursor <cursor>', 'the next page, from a previous listing')
    .action(run(async (ctx, ws: string, name: string, opts: { status?: string; limit: string; cursor?: string }) => {
      if (opts.status !== undefined && !(STATUSES as readonly string[]).includes(opts.status)) throw new UsageError(`--status: one of ${STATUSES.join(', ')}`);
      const { jobs, nextCursor } = await ctx.client().GET('/v1/workspaces/{ws}/executors/{name}/jobs', {
        params: { path: { ws, name }, query: { status: opts.status as Job['status'] | undefined, limit: integer(opts.limit, '--limit'), cursor: opts.cursor } },
      });
      ctx.out.emit({ workspace: ws, executor: name, jobs, nextCursor }, () => {
        ctx.out.table<Job>(jobs, jobColumns, 'no jobs');
        if (nextCursor) ctx.out.note(`more: --cursor ${nextCursor}`);
      });
    }));

  ex.command('job <workspace> <job-id>').description('One job with its attempts (viewer)')
    .action(run(async (ctx, ws: string, id: string) => {
      const j = await ctx.client().GET('/v1/workspaces/{ws}/jobs/{id}', jobPath(ws, id));
      ctx.out.emit({ workspace: ws, ...j }, () => {
        ctx.out.record([
          ['id', j.id], ['executor', j.executor], ['status', j.status], ['trigger', j.trigger], ['attempts', `${j.attemptCount}/${j.maxAttempts}`],
          ['run at', j.runAt], ['created', j.createdAt], ['finished', j.finishedAt], ['scheduled time', j.scheduledTime],
          ['request kept', j.requestKept], ['last error', j.lastError ? `${j.lastError.code}: ${j.lastError.message ?? ''}` : null],
        ]);
        ctx.out.line();
        ctx.out.table<Attempt>(j.attempts, [
          { header: 'attempt', value: (a) => a.attempt }, { header: 'outcome', value: (a) => a.outcome }, { header: 'started', value: (a) => a.startedAt },
          { header: 'ended', value: (a) => a.endedAt }, { header: 'invocation', value: (a) => a.invocationId }, { header: 'http', value: (a) => a.http?.status },
          { header: 'error', value: (a) => (a.errorCode ? `${a.errorCode}: ${a.errorMessage ?? ''}` : null) },
        ], 'no attempts yet');
      });
    }));

  for (const [verb, description, done] of [
    ['retry', 'Queue a failed or canceled job again, with a fresh set of attempts (editor)', 'queued again'],
    ['cancel', 'Cancel a pending or running job (editor)', 'canceled'],
  ] as const) {
    ex.command(`${verb} <workspace> <job-id>`).description(description)
      .action(run(async (ctx, ws: string, id: string) => {
        const route = verb === 'retry' ? '/v1/workspaces/{ws}/jobs/{id}/retry' as const : '/v1/workspaces/{ws}/jobs/{id}/cancel' as const;
        const j = await ctx.client().POST(route, jobPath(ws, id));
        ctx.out.emit({ workspace: ws, ...j }, () => ctx.out.line(`Job ${j.id} ${done} (${j.status}).`));
      }));
  }

  ex.command('rotate-token <workspace> <name>').description('Issue a new webhook path token, printed once (editor); the previous one stays valid for the grace period')
    .action(run(async (ctx, ws: string, name: string) => {
      const t = await ctx.client().POST('/v1/workspaces/{ws}/executors/{name}/rotate-token', executorPath(ws, name));
      ctx.out.warn(`the token below is shown only once: store it now; the previous token stays valid until ${t.previousTokenValidUntil}`);
      ctx.out.emit({ workspace: ws, executor: name, ...t }, () => {
        ctx.out.record([['url path', t.webhookUrlPath.replace(t.token, '{token}')], ['previous valid until', t.previousTokenValidUntil]]);
        ctx.out.reveal(t.token, false);
      });
    }));
}
