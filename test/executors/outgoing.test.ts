// Outgoing webhook targets against a real HTTP receiver on loopback: values injected from a vault at
// send time and absent from every record; the Standard Webhooks signature verified with the public
// library; retries (503, 429 with Retry-After), no retry on 400, exhaustion, timeouts; rotation and
// a revoked grant between attempts; the egress policy refusing non-public addresses before connecting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { jobs, jobAttempts } from '../../db/schema.ts';
import { createEgressPolicy } from '../../api/egress/policy.ts';
import { startExecutorWorld, ok, type ExecutorWorld } from './fixture.ts';

interface Received { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }
type Answer = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number; before?: () => Promise<void> };

const TOKEN = `tkt_${crypto.randomBytes(12).toString('hex')}`;
const TOKEN2 = `tkt_${crypto.randomBytes(12).toString('hex')}`;
const SIGNING = `whsec_${crypto.randomBytes(24).toString('base64')}`;
const file = (name: string) => fs.readFileSync(new URL(`../../functions-examples/executors/${name}`, import.meta.url), 'utf8');

let w: ExecutorWorld;
let receiver: http.Server;
let base: string;
const received: Received[] = [];
let answers: Answer[] = [];

const fire = async (executor: string, body: unknown = { summary: 'disk full', severity: 'high', service: 'db' }) =>
  ok(await w.s.request('POST', `/v1/workspaces/${w.ws}/executors/${executor}/trigger`, { body: { body } }), 202).body.jobId as string;
const target = (extra: Record<string, unknown> = {}) => ({ kind: 'webhook', url: `${base}/in`, ...extra });
const put = (name: string, t: unknown, retry: unknown = { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 20 }) =>
  w.putExecutor(name, { trigger: { kind: 'webhook', auth: { mode: 'bearer' } }, target: t, retry });

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const a = answers.shift() ?? { status: 200, body: 'ok' };
      await a.before?.();
      setTimeout(() => { if (!res.destroyed) { res.writeHead(a.status, a.headers); res.end(a.body ?? ''); } }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  w = await startExecutorWorld({ env: { COFFER_EGRESS_ALLOW: '127.0.0.1' } });
  ok(await w.s.request('POST', '/v1/vaults', { body: { name: 'partners' } }), 201);
  ok(await w.s.request('POST', '/v1/vaults', { body: { name: 'elsewhere' } }), 201);
  await w.grant('partners');
  ok(await w.putSecret('ticket-api-token', TOKEN, 'partners'), 201);
  ok(await w.putSecret('coffer-signing-key', SIGNING, 'partners'), 201);
  ok(await w.putSecret('hidden', 'hidden-value-123456', 'elsewhere'), 201);
  ok(await w.deploy('ticket-body', file('ticket-body.js')), 201);
});
afterAll(async () => { await w?.close(); receiver?.close(); });

describe('outgoing webhook targets', () => {
  it('functions-examples open-ticket: the header is injected at send time, the body shaped by a function that never had it, the signature verifies', async () => {
    const def = JSON.parse(file('open-ticket.executor.json'));
    def.target.url = `${base}/api/v2/tickets`;
    ok(await w.putExecutor('open-ticket', def), 201);
    received.length = 0;
    const jobId = await fire('open-ticket');
    const job = await w.waitForJob(jobId);
    expect(job.status, JSON.stringify(job)).toBe('succeeded');
    expect(received).toHaveLength(1);
    const [r] = received;
    expect(r).toMatchObject({ method: 'POST', url: '/api/v2/tickets' });
    expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(r.headers['x-source']).toBe('coffer');
    const body = JSON.parse(r.body);
    expect(body).toMatchObject({ title: '[high] disk full', labels: ['coffer', 'db'], idempotencyKey: jobId });
    expect(r.body).not.toContain(TOKEN);
    // The receiver's side: the public Standard Webhooks implementation verifies Coffer's signature.
    expect(new Webhook(SIGNING).verify(r.body, r.headers as Record<string, string>)).toEqual(body);
    expect(() => new Webhook(`whsec_${crypto.randomBytes(24).toString('base64')}`).verify(r.body, r.headers as Record<string, string>)).toThrow();
    expect(job.attempts[0]).toMatchObject({ outcome: 'succeeded', http: { status: 200, latencyMs: expect.any(Number), responseExcerpt: 'ok' } });
    // The function's invocation saw neither the token nor the signing key.
    const inv = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/ticket-body/invocations/${job.attempts[0].invocationId}`), 200);
    expect(inv.text).not.toContain(TOKEN);
    // Each read audited as the executor's, with the job.
    const audit = ok(await w.s.request('GET', '/v1/audit?limit=200'), 200);
    const reads = audit.body.events.filter((e: any) => e.action === 'secret.read' && e.detail?.jobId === jobId);
    expect(reads.map((e: any) => e.detail.purpose).sort()).toEqual(['header:authorization', 'webhook_signing']);
    expect(reads.every((e: any) => e.actorKind === 'executor' && e.outcome === 'allowed')).toBe(true);
  });

  it('retries on 503 and on 429 honouring Retry-After, and records each status; a 400 is not retried', async () => {
    ok(await put('flaky', target({ headers: { authorization: { secret: { vault: 'partners', name: 'ticket-api-token' } } } })), 201);
    received.length = 0;
    answers = [{ status: 503, body: `echo ${TOKEN}` }, { status: 429, headers: { 'retry-after': '1' } }, { status: 204 }];
    const job = await w.waitForJob(await fire('flaky'));
    expect(job.status).toBe('succeeded');
    expect(job.attempts.map((a: any) => [a.outcome, a.http.status])).toEqual([['failed', 503], ['failed', 429], ['succeeded', 204]]);
    // The receiver echoed the token: the stored excerpt has it redacted.
    expect(job.attempts[0].http.responseExcerpt).toBe('echo [REDACTED]');
    expect(Date.parse(job.attempts[2].startedAt) - Date.parse(job.attempts[1].endedAt)).toBeGreaterThanOrEqual(900);
    answers = [{ status: 400, body: 'bad' }];
    const bad = await w.waitForJob(await fire('flaky'));
    expect(bad).toMatchObject({ status: 'failed', lastError: { code: 'webhook_rejected' } });
    expect(bad.attempts).toHaveLength(1);
  });

  it('gives up after maxAttempts of 500s, and times out a receiver that does not answer', async () => {
    ok(await put('down', target(), { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 }), 201);
    answers = [{ status: 500 }, { status: 500 }];
    const job = await w.waitForJob(await fire('down'));
    expect(job).toMatchObject({ status: 'failed', attemptCount: 2, lastError: { code: 'webhook_failed' } });
    ok(await put('slow', target({ timeoutMs: 1000 }), { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 20 }), 201);
    answers = [{ status: 200, delayMs: 4000 }, { status: 200 }];
    const slow = await w.waitForJob(await fire('slow'));
    expect(slow.status).toBe('succeeded');
    expect(slow.attempts[0]).toMatchObject({ outcome: 'failed', errorCode: 'timeout', http: { status: null } });
  });

  it('a rotation between attempts is used by the next attempt; a revoked grant fails the next attempt clearly', async () => {
    ok(await w.s.request('POST', '/v1/vaults', { body: { name: 'rotating' } }), 201);
    const grant = await w.grant('rotating');
    ok(await w.putSecret('key', TOKEN, 'rotating'), 201);
    ok(await put('rotating', target({ headers: { 'x-key': { secret: { vault: 'rotating', name: 'key' } } } })), 201);
    received.length = 0;
    answers = [{ status: 503, before: async () => { ok(await w.putSecret('key', TOKEN2, 'rotating'), 200); } }, { status: 200 }];
    expect((await w.waitForJob(await fire('rotating'))).status).toBe('succeeded');
    expect(received.map((r) => r.headers['x-key'])).toEqual([TOKEN, TOKEN2]);
    received.length = 0;
    answers = [{ status: 503, before: async () => { ok(await w.s.request('DELETE', `/v1/vaults/rotating/grants/${grant}`), 204); } }];
    const job = await w.waitForJob(await fire('rotating'));
    expect(job).toMatchObject({ status: 'failed', lastError: { code: 'secret_unavailable' } });
    expect(job.lastError.message).toMatch(/no reader grant on vault "rotating"/);
    expect(received).toHaveLength(1);
  });

  it('refuses at PUT a secret in a vault the workspace cannot read, a non-http URL and a sync webhook trigger', async () => {
    const r = await put('sneaky', target({ headers: { 'x-k': { secret: { vault: 'elsewhere', name: 'hidden' } } } }));
    expect([r.status, r.body.error.code]).toEqual([403, 'forbidden']);
    expect((await put('sneaky', target({ signing: { secret: { vault: 'elsewhere', name: 'hidden' } } }))).status).toBe(403);
    expect((await put('sneaky', { kind: 'webhook', url: { secret: { vault: 'nope', name: 'x' } } })).status).toBe(403);
    expect((await put('sneaky', { kind: 'webhook', url: 'file:///etc/passwd' })).status).toBe(400);
    expect((await put('sneaky', target({ headers: { host: 'x' } }))).status).toBe(400);
    const sync = await w.putExecutor('sneaky', { trigger: { kind: 'webhook', auth: { mode: 'bearer' }, mode: 'sync' }, target: target() });
    expect(sync.status).toBe(400);
  });

  it('egress: without the allow-list, metadata, private and a name resolving to loopback are refused before connecting', async () => {
    const policy = createEgressPolicy([]);
    const port = (receiver.address() as AddressInfo).port;
    received.length = 0;
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/', `http://localhost:${port}/`, `http://127.0.0.1:${port}/`, 'http://[::1]/', 'http://[::ffff:127.0.0.1]/']) {
      const err = await request(url, { dispatcher: policy.dispatcher, headersTimeout: 2000 }).then(() => undefined, (e) => e);
      expect(err?.code ?? err?.cause?.code, url).toBe('egress_refused');
    }
    expect(received).toHaveLength(0);
    expect(policy.allows('example.com', '93.184.215.14')).toBe(true);
    expect(createEgressPolicy(['10.0.0.0/8', 'intranet.local']).allows('x', '10.1.2.3')).toBe(true);
    expect(createEgressPolicy(['intranet.local']).allows('intranet.local', '192.168.1.1')).toBe(true);
    // Through a job: the attempt fails with egress_refused and is not retried.
    ok(await put('metadata', { kind: 'webhook', url: 'http://169.254.169.254/latest/meta-data/' }), 201);
    const job = await w.waitForJob(await fire('metadata'));
    expect(job).toMatchObject({ status: 'failed', attemptCount: 1, lastError: { code: 'egress_refused' } });
  });

  it('/openapi.json documents the webhook target, the event trigger and attempt http records', async () => {
    const doc = ok(await w.s.request('GET', '/openapi.json', { key: null }), 200).body;
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['WebhookTarget', 'FunctionTarget', 'EventTrigger', 'JobAttempt']));
    expect(doc.components.schemas.JobAttempt.properties).toHaveProperty('http');
  });

  it('no value sent is in any job row, attempt row or log line', async () => {
    const everything = JSON.stringify([await w.s.database.db.select().from(jobs), await w.s.database.db.select().from(jobAttempts)]) + w.s.logs.join('\n');
    for (const v of [TOKEN, TOKEN2, SIGNING, SIGNING.slice(6)]) expect(everything).not.toContain(v);
    expect(everything).toContain('webhook_failed'); // the rows are there
  });
});
