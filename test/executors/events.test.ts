// Event triggers: committed changes delivered to subscribers through durable jobs, in commit order,
// filtered by exact names and * globs, only about vaults the workspace can read, never with a
// value; the worked example (a rotation notifies Slack, whose URL is itself a secret).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { jobs } from '../../db/schema.ts';
import { globMatches } from '../../api/events/match.ts';
import { until as untilGiven } from '../support/assertions.ts';
import { startExecutorWorld, startJsonReceiver, ok, type ExecutorWorld, type ReceivedJson } from './fixture.ts';

const file = (name: string) => fs.readFileSync(new URL(`../../functions-examples/executors/${name}`, import.meta.url), 'utf8');
const V1 = `prod-db-pass-${crypto.randomBytes(8).toString('hex')}`;
const V2 = `prod-db-pass-${crypto.randomBytes(8).toString('hex')}`;
const HIDDEN = `hidden-${crypto.randomBytes(8).toString('hex')}`;

let w: ExecutorWorld;
let receiver: { base: string; close(): void };
let base: string;
const received: ReceivedJson[] = [];

const until = <T>(what: () => T | undefined) => untilGiven(what, () => `received ${JSON.stringify(received)}`);
const at = (path: string) => received.filter((r) => r.url === path);

beforeAll(async () => {
  receiver = await startJsonReceiver(received);
  base = receiver.base;
  w = await startExecutorWorld({ env: { COFFER_EGRESS_ALLOW: '127.0.0.1', COFFER_EVENT_INTERVAL_MS: '100' } });
  for (const v of ['prod-main', 'prod-other', 'staging', 'prod-foreign', 'notify']) ok(await w.s.request('POST', '/v1/vaults', { body: { name: v } }), 201);
  for (const v of ['prod-main', 'prod-other', 'staging', 'notify']) await w.grant(v);
  ok(await w.putSecret('slack-webhook-url', `${base}/slack/T000/B000/${crypto.randomBytes(8).toString('hex')}`, 'notify'), 201);
  ok(await w.deploy('rotation-message', file('rotation-message.js')), 201);
  ok(await w.putExecutor('notify-rotation', JSON.parse(file('notify-rotation.executor.json'))), 201);
  ok(await w.putExecutor('keys', {
    trigger: { kind: 'event', events: ['secret.version.created', 'secret.version.state_changed', 'secret.deleted'], filter: { vault: 'prod-*', secret: '*-pass' } },
    target: { kind: 'webhook', url: `${base}/keys` },
  }), 201);
  ok(await w.putExecutor('deploys', {
    trigger: { kind: 'event', events: ['function.deployed', 'grant.created'], filter: { function: 'report*' } },
    target: { kind: 'webhook', url: `${base}/deploys` },
  }), 201);
});
afterAll(async () => { await w?.close(); receiver?.close(); });

describe('event triggers', () => {
  it('a rotation notifies every subscriber once per committed change, in commit order, names and versions only', async () => {
    ok(await w.putSecret('db-pass', V1, 'prod-main'), 201);
    ok(await w.putSecret('db-pass', V2, 'prod-main'), 200);
    ok(await w.s.request('PATCH', '/v1/vaults/prod-main/secrets/db-pass/versions/1', { body: { state: 'disabled' } }), 200);
    ok(await w.putSecret('api-token', 'not-matching-secret-1', 'prod-main'), 201); // secret filter *-pass
    ok(await w.putSecret('db-pass', 'staging-value-xyz-1', 'staging'), 201); // vault filter prod-*
    ok(await w.putSecret('db-pass', HIDDEN, 'prod-foreign'), 201); // matches the glob, but no grant
    ok(await w.s.request('DELETE', '/v1/vaults/prod-main/secrets/db-pass'), 204);
    const keys = await until(() => (at('/keys').length >= 4 ? at('/keys') : undefined));
    await new Promise((r) => setTimeout(r, 500)); // nothing more arrives
    expect(at('/keys').map((r) => [r.body.event.type, r.body.event.version ?? null, r.body.event.state ?? null])).toEqual([
      ['secret.version.created', 1, null], ['secret.version.created', 2, null], ['secret.version.state_changed', 1, 'disabled'], ['secret.deleted', null, null],
    ]);
    expect(keys[0].body).toMatchObject({
      trigger: 'event', executor: 'keys', jobId: expect.stringMatching(/^job_/), attempt: 1,
      event: { type: 'secret.version.created', vault: 'prod-main', secret: 'db-pass', version: 1, at: expect.any(String), actor: { id: w.s.adminId, kind: expect.any(String) } },
    });
    // The example: Slack gets a message shaped by a function, at a URL read from the vault.
    const slack = await until(() => (received.filter((r) => r.url.startsWith('/slack/')).length >= 5 ? received.filter((r) => r.url.startsWith('/slack/')) : undefined));
    expect(slack[0].body.text).toMatch(/^:key: prod-main\/db-pass: new version 1 by /);
    expect(slack.map((r) => r.body.text)).toContainEqual(expect.stringMatching(/prod-main\/db-pass: version 1 disabled/));
    expect(slack.some((r) => r.body.text.includes('prod-foreign') || r.body.text.includes('staging'))).toBe(false);
    // No value anywhere: payloads, job rows, logs.
    const everything = JSON.stringify(received) + JSON.stringify(await w.s.database.db.select().from(jobs)) + w.s.logs.join('\n');
    for (const v of [V1, V2, HIDDEN, 'staging-value-xyz-1']) expect(everything).not.toContain(v);
  });

  it('function events come only from the executor\'s own workspace, filtered by name', async () => {
    ok(await w.deploy('report-daily', 'export default async () => 1'), 201);
    ok(await w.deploy('other', 'export default async () => 1'), 201);
    ok(await w.s.request('POST', '/v1/workspaces', { body: { name: 'elsewhere-ws' } }), 201);
    ok(await w.s.request('PUT', '/v1/workspaces/elsewhere-ws/functions/report-x', { body: { code: 'export default async () => 1' } }), 201);
    const d = await until(() => (at('/deploys').length >= 1 ? at('/deploys') : undefined));
    await new Promise((r) => setTimeout(r, 500));
    expect(at('/deploys').map((r) => [r.body.event.type, r.body.event.function, r.body.event.workspace])).toEqual([['function.deployed', 'report-daily', w.ws]]);
    expect(d[0].body.event.version).toBe(1);
  });

  it('a failed invocation and a failed job are events of their workspace, with codes and never the message', async () => {
    const SECRETISH = `boom-${crypto.randomBytes(8).toString('hex')}`;
    ok(await w.putExecutor('failures', { trigger: { kind: 'event', events: ['invocation.failed', 'executor.job.failed'] }, target: { kind: 'webhook', url: `${base}/failures` } }), 201);
    ok(await w.deploy('breaks', `export default async () => { throw new Error(${JSON.stringify(SECRETISH)}); }`), 201);
    ok(await w.putExecutor('breaks-hook', { trigger: { kind: 'webhook', auth: { mode: 'bearer' } }, target: { kind: 'function', function: 'breaks' }, retry: { maxAttempts: 1, initialBackoffMs: 10, maxBackoffMs: 10 } }), 201);
    expect((await w.s.request('POST', `/v1/workspaces/${w.ws}/functions/breaks/invoke`, { body: {} })).status).toBe(422);
    const jobId = ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/breaks-hook/trigger`, { body: {} }), 202).body.jobId as string;
    const got = await until(() => (at('/failures').length >= 3 ? at('/failures') : undefined));
    await new Promise((r) => setTimeout(r, 500)); // and nothing more: the subscriber hears nothing of its own jobs
    const events = at('/failures').map((r) => r.body.event);
    expect(events.map((e) => [e.type, e.trigger ?? e.job?.trigger, e.code ?? e.job?.errorCode])).toEqual([
      ['invocation.failed', 'api', 'function_error'], ['invocation.failed', 'manual', 'function_error'], ['executor.job.failed', 'manual', 'function_error'],
    ]);
    expect(events[0]).toMatchObject({ workspace: w.ws, function: 'breaks', invocationId: expect.stringMatching(/^inv_/), version: 1 });
    expect(events[2].job).toMatchObject({ id: jobId, executor: 'breaks-hook', attempts: 1 });
    expect(JSON.stringify(got)).not.toContain(SECRETISH);
  });

  it('refuses at PUT a subscription to a vault the workspace cannot read', async () => {
    const r = await w.putExecutor('spy', { trigger: { kind: 'event', events: ['secret.version.created'], filter: { vault: 'prod-foreign' } }, target: { kind: 'webhook', url: `${base}/spy` } });
    expect([r.status, r.body.error.code]).toEqual([403, 'forbidden']);
    expect((await w.putExecutor('spy', { trigger: { kind: 'event', events: ['secret.leaked'] }, target: { kind: 'webhook', url: `${base}/spy` } })).status).toBe(400);
    expect((await w.putExecutor('spy', { trigger: { kind: 'event', events: ['secret.deleted'], filter: { vault: 'a(b' } }, target: { kind: 'webhook', url: `${base}/spy` } })).status).toBe(400);
  });

  it('globs match without regular expressions', () => {
    expect(globMatches('prod-*', 'prod-main')).toBe(true);
    expect(globMatches('prod-*', 'staging')).toBe(false);
    expect(globMatches('*-pass', 'db-pass')).toBe(true);
    expect(globMatches('a*b*c', 'axxbyyc')).toBe(true);
    expect(globMatches('a*b*c', 'acb')).toBe(false);
    expect(globMatches('ab*ba', 'aba')).toBe(false);
    expect(globMatches('exact', 'exact')).toBe(true);
    expect(globMatches('*', 'anything')).toBe(true);
  });
});
