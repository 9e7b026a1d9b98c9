// A pipeline run in one worker (runtime.runPipeline): the run's steps in one context of their own, per-step
// timeouts and the run's deadline, redaction over the whole run, expressions without secrets, the
// per-invocation read caps, the run's events for event executors, the reads of a caller who is an
// invoker through a group, and concurrent deploys of one pipeline. Real server, real workers, a
// real GraphQL client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { GraphQLClient, ClientError } from 'graphql-request';
import { sql } from 'drizzle-orm';
import { startExecutorWorld, startJsonReceiver, ok, type ExecutorWorld, type ReceivedJson } from '../executors/fixture.ts';
import { deployed } from '../api/functions-fixture.ts';
import { selectRows, until as untilGiven } from '../support/assertions.ts';

const KEY = `sk_run_${crypto.randomBytes(8).toString('hex')}`;
const FUNCTIONS = {
  leave: 'export default async () => { globalThis.left = "behind"; return { set: true }; }',
  look: 'export default async () => ({ seen: typeof globalThis.left })',
  flood: 'export default async () => { for (let i = 0; i < 1100; i++) console.log("line " + i); return 1; }',
  spin: 'export default async () => { for (;;) {} }',
  busy: 'export default async () => { const end = Date.now() + 300; while (Date.now() < end) {} return 1; }',
  'log-args': 'export default async ({ args }) => { console.log("told " + args.told); return 1; }',
  'read-key': 'export default async () => { const k = await tailor.secretmanager.getSecret("default", "api-key"); return { length: k.length }; }',
  'read-many': `export default async () => {
    for (let i = 0; i < 10; i++) { try { await tailor.secretmanager.getSecret("unreadable", "k" + i); } catch {} }
    return "done";
  }`,
  echo: 'export default async (x) => x',
  boom: 'export default async () => { throw new Error("boom " + (await tailor.secretmanager.getSecret("default", "api-key"))); }',
};

type GqlError = { message: string; extensions: Record<string, any> };

let w: ExecutorWorld;
let receiver: { base: string; close(): void };
let base: string;
const received: ReceivedJson[] = [];

const until = <T>(what: () => T | undefined) => untilGiven(what, () => `received ${JSON.stringify(received)}`);

const put = (name: string, body: unknown) => w.s.request('PUT', `/v1/workspaces/${w.ws}/pipelines/${name}`, { body });
const client = (key = w.users.invoker.key) => new GraphQLClient(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, { headers: { authorization: `Bearer ${key}` }, errorPolicy: 'all' });
async function raw(query: string, key?: string): Promise<{ data: any; errors: GqlError[] }> {
  try {
    const r = await client(key).rawRequest<any>(query);
    return { data: r.data, errors: (r.errors ?? []) as unknown as GqlError[] };
  } catch (err) {
    if (err instanceof ClientError) return { data: err.response.data, errors: (err.response.errors ?? []) as unknown as GqlError[] };
    throw err;
  }
}
const lastRun = async (name: string) => {
  const r = await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/${name}/runs?limit=1`);
  expect(r.status, r.text).toBe(200);
  return r.body.runs[0];
};
const readRows = (runId: string) => selectRows<{ outcome: string; function: string; invocation_id: string; detail: any }>(w.s.database.db,
  sql`select outcome, function, invocation_id, detail from audit_events where action = 'secret.read' and detail->>'runId' = ${runId} order by seq`);

beforeAll(async () => {
  receiver = await startJsonReceiver(received);
  base = receiver.base;
  w = await startExecutorWorld({ env: { COFFER_EGRESS_ALLOW: '127.0.0.1', COFFER_EVENT_INTERVAL_MS: '100' } });
  ok(await w.putSecret('api-key', KEY), 201);
  await w.grant();
  ok(await w.s.request('POST', '/v1/vaults', { body: { name: 'unreadable' } }), 201);
  for (const [name, code] of Object.entries(FUNCTIONS)) await deployed(w, name, code);
  // One isolate key (16 MB) for a run that loses its context to a memory bomb half way.
  await deployed(w, 'leave-16', FUNCTIONS.leave, { memoryMb: 16 });
  await deployed(w, 'look-16', FUNCTIONS.look, { memoryMb: 16 });
  await deployed(w, 'leave-spinning', 'export default async () => { (async () => { for (;;) await null; })(); return 1; }', { timeoutMs: 300 });
  await deployed(w, 'echo-300', FUNCTIONS.echo, { timeoutMs: 300 });
  // Answers (its result leaves on a later turn of the isolate's promise jobs, after the read) while still spinning.
  await deployed(w, 'read-then-spin', `export default async () => {
    await tailor.secretmanager.getSecret("default", "api-key");
    (async () => { for (;;) await null; })();
    return 1;
  }`, { timeoutMs: 300 });
  await deployed(w, 'hog-16', 'export default async () => { const kept = []; for (;;) kept.push(new Array(100000).fill(1)); }', { memoryMb: 16 });
  const pipelines: Record<string, unknown> = {
    shared: { operation: 'query', returns: 'String', steps: [{ name: 'a', function: 'leave' }, { name: 'b', function: 'look' }], result: 'pipeline.b.seen' },
    peek: { operation: 'query', returns: 'String', steps: [{ name: 'b', function: 'look' }], result: 'pipeline.b.seen' },
    recover: {
      operation: 'query', returns: 'String', result: 'pipeline.after.seen',
      steps: [{ name: 'before', function: 'leave-16' }, { name: 'hog', function: 'hog-16', onError: 'skip' }, { name: 'after', function: 'look-16' }],
    },
    spinningAfterRead: { operation: 'query', returns: 'Int', steps: [{ name: 'first', function: 'read-then-spin' }, { name: 'second', function: 'read-then-spin' }] },
    spinning: { operation: 'query', returns: 'Int', steps: [{ name: 'first', function: 'leave-spinning' }, { name: 'second', function: 'echo-300', input: '2' }] },
    chatty: { operation: 'query', returns: 'Int', steps: [{ name: 'loud', function: 'flood' }, { name: 'quiet', function: 'log-args' }] },
    stepTimeout: { operation: 'query', returns: 'Int', steps: [{ name: 'first', function: 'echo', input: '1' }, { name: 'stuck', function: 'spin', timeoutMs: 200 }] },
    deadline: { operation: 'query', returns: 'Int', deadlineMs: 450, steps: [{ name: 'one', function: 'busy' }, { name: 'two', function: 'busy' }, { name: 'three', function: 'busy' }] },
    redacted: { operation: 'query', args: 'told: String!', returns: 'Int', steps: [{ name: 'tell', function: 'log-args' }, { name: 'read', function: 'read-key' }], result: 'pipeline.read.length' },
    sneaky: { operation: 'query', returns: 'String', steps: [{ name: 's', function: 'echo', input: 'await tailor.secretmanager.getSecret("default", "api-key")' }] },
    capped: { operation: 'query', returns: 'String', steps: [{ name: 'many', function: 'read-many' }, { name: 'after', function: 'echo', input: '"ran"' }] },
    fine: { operation: 'query', returns: 'Int', steps: [{ name: 'x', function: 'echo', input: '5' }] },
    failing: { operation: 'query', returns: 'Int', steps: [{ name: 'read', function: 'read-key' }, { name: 'explode', function: 'boom' }] },
    long: {
      operation: 'query', returns: '[Int]', result: 'pipeline.again',
      steps: [{ name: 'each', function: 'echo', forEach: 'Array.from({ length: 20 }, (_, i) => i)' }, { name: 'again', function: 'echo', forEach: 'pipeline.each' }],
    },
  };
  for (const [name, body] of Object.entries(pipelines)) ok(await put(name, body), 201);
});
afterAll(async () => { await w?.close(); receiver?.close(); });

describe('a pipeline run in one worker', () => {
  it('runs a run\'s steps in one context: a global one step leaves is seen by the next, never by another run or invocation', async () => {
    expect((await raw('{ shared }')).data).toEqual({ shared: 'string' });
    const run = await lastRun('shared');
    expect(run.steps.map((s: any) => [s.status, s.invocationIds.length])).toEqual([['ok', 1], ['ok', 1]]);
    expect(run.steps[0].invocationIds[0]).not.toBe(run.steps[1].invocationIds[0]);
    // The isolate the run used is pooled again once it has answered, with a fresh context.
    for (let n = 0; n < 3; n++) {
      expect((await raw('{ peek }')).data).toEqual({ peek: 'undefined' });
      expect(ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/functions/look/invoke`, { body: {} }), 200).body.result).toEqual({ seen: 'undefined' });
    }
  });

  it('a step that loses the run\'s context (its isolate ran out of memory) is skipped, and the next step gets a fresh one', async () => {
    expect((await raw('{ recover }')).data).toEqual({ recover: 'undefined' });
    const run = await lastRun('recover');
    expect(run.steps.map((s: any) => [s.status, s.errorCode])).toEqual([['ok', null], ['failed', 'memory_limit'], ['ok', null]]);
    expect((await raw('{ recover }')).data).toEqual({ recover: 'undefined' });
  });

  it('a step that leaves code running in the run\'s context times out itself; the next runs are fine', async () => {
    const r = await raw('{ spinning }');
    expect(r.errors[0].extensions.code).toBe('timeout');
    // isolated-vm hands a result over once the isolate's queue of promise jobs is empty: never, here.
    expect(r.errors[0].extensions.step).toBe('first');
    for (let n = 0; n < 3; n++) expect((await raw('{ fine }')).data).toEqual({ fine: 5 });
    expect((await raw('{ shared }')).data).toEqual({ shared: 'string' });
  });

  it('a step that answers while its promise jobs still run leaves the next step nothing that blocks the worker', async () => {
    // The first step answers (its result settled after the read) with its promise jobs still
    // running; the second step's calls into the context wait behind them, on the isolate's thread.
    const r = await raw('{ spinningAfterRead }');
    expect(r.errors[0]).toMatchObject({ extensions: { code: 'timeout', step: 'second' } });
    const direct = await w.s.request('POST', `/v1/workspaces/${w.ws}/functions/echo/invoke`, { body: { args: 7 } });
    expect(direct.status, direct.text).toBe(200);
    for (let n = 0; n < 3; n++) expect((await raw('{ fine }')).data).toEqual({ fine: 5 });
  });

  it('each invocation in the shared context starts with its own budgets: a step that filled its log leaves the next one its own', async () => {
    expect((await raw('{ chatty }')).data).toEqual({ chatty: 1 });
    const run = await lastRun('chatty');
    expect(run.steps[0].logs).toHaveLength(200); // the record keeps 200 of the 1,000 the worker let through, then cut
    expect(run.steps[1].logs.map((l: any) => l.message)).toEqual(['told undefined']);
  });

  it('a run of more invocations than its workspace has isolates completes, alone and beside others', async () => {
    // A run holds its context until it has answered, unless an invocation finds no isolate free:
    // 40 invocations, and four runs beside each other over the workspace's 8 isolates, never wait on themselves.
    const all = Array.from({ length: 20 }, (_, i) => i);
    expect((await raw('{ long }')).data).toEqual({ long: all });
    const side = await Promise.all([raw('{ long }'), raw('{ long }'), raw('{ fine }'), raw('{ long }')]);
    expect(side.map((r) => r.data)).toEqual([{ long: all }, { long: all }, { fine: 5 }, { long: all }]);
    const run = await lastRun('long');
    expect(run.steps.map((s: any) => [s.status, s.invocationIds.length])).toEqual([['ok', 20], ['ok', 20]]);
  });

  it('a step over its own timeout halts the run with timeout at that step', async () => {
    const r = await raw('{ stepTimeout }');
    expect(r.errors[0]).toMatchObject({ extensions: { code: 'timeout', step: 'stuck' } });
    expect(r.errors[0].message).toMatch(/^stuck: .*200 ms/);
    // The worker survived (its isolate was disposed), and the next run works.
    expect((await raw('{ fine }')).data).toEqual({ fine: 5 });
  });

  it('the run\'s deadline cuts a step short even when each step is within its own timeout', async () => {
    const r = await raw('{ deadline }');
    expect(r.errors[0].extensions.code).toBe('timeout');
    expect(['two', 'three']).toContain(r.errors[0].extensions.step);
    const run = await lastRun('deadline');
    expect(run.steps[0].status).toBe('ok');
    expect(run.steps[2].status).not.toBe('ok');
  });

  it('redacts every log of the run with every value the run read, even one logged by an earlier step', async () => {
    const r = await raw(`{ redacted(told: ${JSON.stringify(KEY)}) }`);
    expect(r.errors).toEqual([]);
    expect(r.data.redacted).toBe(KEY.length);
    const run = await lastRun('redacted');
    expect(run.steps[0].logs[0].message).toBe('told [REDACTED]');
    expect(JSON.stringify(run)).not.toContain(KEY);
  });

  it('expressions cannot read secrets, and such an attempt leaves no read row', async () => {
    const r = await raw('{ sneaky }');
    expect(r.errors[0]).toMatchObject({ extensions: { code: 'function_error', step: 's' } });
    expect(r.errors[0].message).toMatch(/access denied/);
    expect(await readRows((await lastRun('sneaky')).id)).toEqual([]);
  });

  it('a step denied too often ends with secret_read_limit, every denial audited with its step', async () => {
    const r = await raw('{ capped }');
    expect(r.errors[0]).toMatchObject({ extensions: { code: 'secret_read_limit', step: 'many' } });
    const run = await lastRun('capped');
    expect(run.steps.map((s: any) => s.status)).toEqual(['failed', 'not_run']);
    const rows = await readRows(run.id);
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) {
      expect(row).toMatchObject({ outcome: 'denied', function: 'read-many', invocation_id: run.steps[0].invocationIds[0] });
      expect(row.detail).toMatchObject({ pipeline: 'capped', pipelineVersion: 1, step: 'many', runId: run.id });
    }
  });

  it('reads of a caller who is an invoker through a group name the group, like a direct invocation\'s', async () => {
    const member = await w.s.createUser('run-through-group');
    const group = ok(await w.s.request('POST', '/v1/groups', { body: { name: 'graphql-runners' } }), 201).body.id;
    ok(await w.s.request('POST', `/v1/groups/${group}/members`, { body: { principal: member.id } }), 200);
    ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/members`, { body: { group, role: 'invoker' } }), 200);
    expect((await raw(`{ redacted(told: "x") }`, member.key)).data).toEqual({ redacted: KEY.length });
    const rows = await readRows((await lastRun('redacted')).id);
    expect(rows).toHaveLength(1);
    expect(rows[0].detail).toMatchObject({ step: 'read', invokerViaGroup: 'graphql-runners', invokerViaGroupId: group });
    // A direct member's reads say nothing of groups.
    await raw(`{ redacted(told: "x") }`);
    expect((await readRows((await lastRun('redacted')).id))[0].detail.invokerViaGroup).toBeUndefined();
  });
});

const successRows = async (runId: string) => (await selectRows<{ n: number }>(w.s.database.db,
  sql`select count(*)::int as n from audit_events where action = 'pipeline.run.succeeded' and detail->>'runId' = ${runId}`))[0].n;

describe('pipeline run events', () => {
  it('a succeeded run that read nothing leaves no event row while no executor listens, and does once one does', async () => {
    expect((await raw('{ fine }')).data).toEqual({ fine: 5 });
    const unheard = (await lastRun('fine')).id;
    ok(await w.putExecutor('listener', { trigger: { kind: 'event', events: ['pipeline.run.succeeded'] }, target: { kind: 'webhook', url: `${base}/listener` } }), 201);
    expect((await raw('{ fine }')).data).toEqual({ fine: 5 });
    const heard = (await lastRun('fine')).id;
    expect(await untilGiven(async () => { const n = Number(await successRows(heard)); return n > 0 ? n : undefined; })).toBe(1);
    expect(Number(await successRows(unheard))).toBe(0);
    expect((await w.s.request('DELETE', `/v1/workspaces/${w.ws}/executors/listener`)).status).toBe(204);
  });

  it('an event executor hears pipeline.run.succeeded and pipeline.run.failed with names, versions and codes, never a value', async () => {
    ok(await w.putExecutor('runs', {
      trigger: { kind: 'event', events: ['pipeline.run.succeeded', 'pipeline.run.failed'], filter: { pipeline: 'f*' } },
      target: { kind: 'webhook', url: `${base}/runs` },
    }), 201);
    ok(await w.putExecutor('other', { trigger: { kind: 'event', events: ['pipeline.run.succeeded'], filter: { function: 'echo' } }, target: { kind: 'webhook', url: `${base}/other` } }), 201);
    expect((await raw('{ fine }')).data).toEqual({ fine: 5 });
    const failed = await raw('{ failing }');
    expect(failed.errors[0]).toMatchObject({ extensions: { code: 'function_error', step: 'explode' } });
    await raw('{ stepTimeout }'); // another pipeline, outside the filter
    const got = await until(() => (received.filter((r) => r.url === '/runs').length >= 2 ? received.filter((r) => r.url === '/runs') : undefined));
    await new Promise((r) => setTimeout(r, 400));
    const events = received.filter((r) => r.url === '/runs').map((r) => r.body.event);
    expect(events.map((e) => [e.type, e.pipeline])).toEqual([['pipeline.run.succeeded', 'fine'], ['pipeline.run.failed', 'failing']]);
    const fineRun = (await lastRun('fine')).id;
    const failingRun = await lastRun('failing');
    expect(events[0]).toMatchObject({ workspace: w.ws, pipeline: 'fine', version: 1, runId: fineRun, actor: { id: w.users.invoker.id } });
    expect(events[0].code).toBeUndefined();
    expect(events[1]).toMatchObject({
      workspace: w.ws, pipeline: 'failing', version: 1, runId: failingRun.id, code: 'function_error', step: 'explode',
      invocationId: failingRun.steps[1].invocationIds[0],
    });
    expect(JSON.stringify(got)).not.toContain(KEY);
    expect(JSON.stringify(got)).not.toContain('boom');
    // A function filter matches no pipeline event.
    expect(received.filter((r) => r.url === '/other')).toEqual([]);
  });
});

describe('deploying a pipeline', () => {
  it('concurrent deploys of one pipeline all succeed, as successive versions (new and existing alike)', async () => {
    const body = (n: number) => ({ operation: 'query', types: 'type RacedType { n: Int }', returns: 'Int', steps: [{ name: 's', function: 'echo', input: String(n) }] });
    const N = 8;
    for (const name of ['racedNew', 'racedNew', 'fine']) {
      const before = (await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/${name}`)).body?.latestVersion ?? 0;
      const replies = await Promise.all(Array.from({ length: N }, (_, n) => put(name, name === 'fine' ? { ...body(n), types: undefined } : body(n))));
      const statuses = replies.map((r) => r.status);
      expect(statuses.filter((s) => s === 201).length + statuses.filter((s) => s === 200).length, replies.map((r) => r.text).join('\n')).toBe(N);
      expect(statuses.filter((s) => s === 201)).toHaveLength(before === 0 ? 1 : 0);
      const versions = replies.map((r) => r.body.active.version).sort((a, b) => a - b);
      expect(versions).toEqual(Array.from({ length: N }, (_, n) => before + n + 1));
      const listed = await w.s.request('GET', `/v1/workspaces/${w.ws}/pipelines/${name}/versions`);
      expect(listed.status, listed.text).toBe(200);
      expect(listed.body.versions).toHaveLength(before + N);
    }
  });

  it('concurrent deploys of two pipelines declaring the same type: one is stored, the other refused, and the schema still builds', async () => {
    const body = { operation: 'query', types: 'type Contested { n: Int }', returns: 'Contested', steps: [{ name: 's', function: 'echo', input: '({ n: 1 })' }] };
    for (let round = 0; round < 3; round++) {
      const names = [`contestA${round}`, `contestB${round}`, `contestC${round}`];
      const replies = await Promise.all(names.map((name) => put(name, body)));
      expect(replies.map((r) => r.status).sort(), replies.map((r) => r.text).join('\n')).toEqual([201, 400, 400]);
      for (const r of replies.filter((x) => x.status === 400)) expect(r.body.error.code).toBe('invalid_schema');
      const winner = names[replies.findIndex((r) => r.status === 201)];
      expect((await raw(`{ ${winner} { n } }`)).data).toEqual({ [winner]: { n: 1 } });
      expect((await w.s.request('DELETE', `/v1/workspaces/${w.ws}/pipelines/${winner}`)).status).toBe(204);
    }
  });
});
