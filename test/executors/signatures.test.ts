// hmac webhooks for each provider scheme, with signatures made the way the provider documents them
// (GitHub with @octokit/webhooks-methods, Stripe with the stripe package's own test signer,
// Standard Webhooks with its reference library, Slack by its documented basestring): good, bad,
// stale and replayed deliveries, rotation of the signing key in its vault, the grant check, the
// audit trail, and the per-address limit on failed checks. Real HTTP, either driver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import { sql } from 'drizzle-orm';
import { sign as githubSign } from '@octokit/webhooks-methods';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';
import { startExecutorWorld, ok, type ExecutorWorld } from './fixture.ts';

let w: ExecutorWorld;
const KEY_V1 = 'whsec_test_signing_key_version_one_0123';
const KEY_V2 = 'whsec_test_signing_key_version_two_4567';
const STANDARD_KEY = `whsec_${crypto.randomBytes(24).toString('base64')}`;
const stripe = new Stripe('sk_test_not_used_for_network');
const now = () => Math.floor(Date.now() / 1000);
const ECHO = 'export default async (a) => ({ body: a.body, headers: a.headers, attempt: a.attempt })';

const hmacExecutor = (scheme: string, secretName: string, mode: 'sync' | 'async') => ({
  trigger: { kind: 'webhook', mode, auth: { mode: 'hmac', scheme, secret: { vault: 'default', name: secretName } } },
  target: { kind: 'function', function: 'echo' },
});

function slackHeaders(key: string, body: string, ts = now()) {
  const sig = `v0=${crypto.createHmac('sha256', key).update(`v0:${ts}:${body}`).digest('hex')}`;
  return { 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sig };
}
const stripeHeader = (key: string, payload: string, timestamp = now()) =>
  stripe.webhooks.generateTestHeaderString({ payload, secret: key, timestamp });
function standardHeaders(key: string, body: string, at = new Date(), id = `msg_${crypto.randomBytes(6).toString('hex')}`) {
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(key).sign(id, at, body) };
}

beforeAll(async () => {
  w = await startExecutorWorld({ env: { COFFER_WEBHOOK_ROTATION_GRACE_HOURS: '1', COFFER_TOKEN_FAILURES_PER_MINUTE: '40' } });
  await w.grant();
  ok(await w.putSecret('github-key', KEY_V1), 201);
  ok(await w.putSecret('stripe-key', KEY_V1), 201);
  ok(await w.putSecret('slack-key', KEY_V1), 201);
  ok(await w.putSecret('standard-key', STANDARD_KEY), 201);
  ok(await w.putSecret('rotating-key', KEY_V1), 201);
  ok(await w.deploy('echo', ECHO), 201);
  ok(await w.putExecutor('gh', hmacExecutor('github', 'github-key', 'sync')), 201);
  ok(await w.putExecutor('gh-async', hmacExecutor('github', 'github-key', 'async')), 201);
  ok(await w.putExecutor('stripe', hmacExecutor('stripe', 'stripe-key', 'async')), 201);
  ok(await w.putExecutor('slack', hmacExecutor('slack', 'slack-key', 'sync')), 201);
  ok(await w.putExecutor('std', hmacExecutor('standard', 'standard-key', 'async')), 201);
  ok(await w.putExecutor('rot', hmacExecutor('github', 'rotating-key', 'sync')), 201);
});
afterAll(async () => { await w?.close(); });

const expect401 = (r: { status: number; body: any }, message?: RegExp) => {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status: 401, code: 'invalid_signature' });
  if (message) expect(r.body.error.message).toMatch(message);
};

describe('github (X-Hub-Signature-256)', () => {
  const body = JSON.stringify({ action: 'opened', number: 7 });
  it('runs a good delivery, without the signature header, and refuses a bad or missing one', async () => {
    const sig = await githubSign(KEY_V1, body);
    const r = ok(await w.hook(`/hooks/${w.ws}/gh`, { body, headers: { 'x-hub-signature-256': sig, 'x-github-delivery': crypto.randomUUID(), 'x-github-event': 'pull_request' } }), 200);
    expect(r.body.body).toEqual({ action: 'opened', number: 7 });
    expect(r.body.headers['x-github-event']).toBe('pull_request');
    expect(r.body.headers['x-hub-signature-256']).toBeUndefined();
    expect401(await w.hook(`/hooks/${w.ws}/gh`, { body, headers: { 'x-hub-signature-256': await githubSign('some-other-key', body) } }), /does not verify/);
    expect401(await w.hook(`/hooks/${w.ws}/gh`, { body: body + ' ', headers: { 'x-hub-signature-256': sig } }));
    expect401(await w.hook(`/hooks/${w.ws}/gh`, { body }), /no signature/);
  });

  it('refuses a replayed delivery in sync mode and answers the same job in async mode', async () => {
    const headers = { 'x-hub-signature-256': await githubSign(KEY_V1, body), 'x-github-delivery': crypto.randomUUID() };
    ok(await w.hook(`/hooks/${w.ws}/gh`, { body, headers }), 200);
    expect401(await w.hook(`/hooks/${w.ws}/gh`, { body, headers }), /already delivered/);
    const a = ok(await w.hook(`/hooks/${w.ws}/gh-async`, { body, headers }), 202);
    const b = ok(await w.hook(`/hooks/${w.ws}/gh-async`, { body, headers }), 202);
    expect(b.body.jobId).toBe(a.body.jobId);
  });
});

describe('stripe (Stripe-Signature t=,v1=)', () => {
  const payload = JSON.stringify({ id: 'evt_1', type: 'payment_intent.succeeded' });
  it('accepts a good signature, refuses a bad and a stale one, and answers a replay with the same job', async () => {
    const header = stripeHeader(KEY_V1, payload);
    const a = ok(await w.hook(`/hooks/${w.ws}/stripe`, { body: payload, headers: { 'stripe-signature': header } }), 202);
    const job = await w.waitForJob(a.body.jobId);
    expect(job.status).toBe('succeeded');
    const replay = ok(await w.hook(`/hooks/${w.ws}/stripe`, { body: payload, headers: { 'stripe-signature': header } }), 202);
    expect(replay.body.jobId).toBe(a.body.jobId);
    expect401(await w.hook(`/hooks/${w.ws}/stripe`, { body: payload, headers: { 'stripe-signature': stripeHeader('whsec_wrong', payload) } }));
    expect401(await w.hook(`/hooks/${w.ws}/stripe`, { body: payload, headers: { 'stripe-signature': stripeHeader(KEY_V1, payload, now() - 600) } }), /5 minute/);
    expect401(await w.hook(`/hooks/${w.ws}/stripe`, { body: payload, headers: { 'stripe-signature': `t=${now()}` } }));
  });
});

describe('slack (X-Slack-Signature v0=)', () => {
  const body = 'token=x&team_id=T1&command=%2Fweather&text=berlin';
  it('accepts a good signature, refuses a bad, a stale and a replayed one', async () => {
    const headers = { ...slackHeaders(KEY_V1, body), 'content-type': 'application/x-www-form-urlencoded' };
    const r = ok(await w.hook(`/hooks/${w.ws}/slack`, { body, headers }), 200);
    expect(r.body.body).toMatchObject({ command: '/weather', text: 'berlin' });
    expect(r.body.headers['x-slack-signature']).toBeUndefined();
    expect401(await w.hook(`/hooks/${w.ws}/slack`, { body, headers }), /already delivered/);
    expect401(await w.hook(`/hooks/${w.ws}/slack`, { body, headers: { ...slackHeaders('wrong-key', body), 'content-type': 'application/x-www-form-urlencoded' } }));
    expect401(await w.hook(`/hooks/${w.ws}/slack`, { body, headers: { ...slackHeaders(KEY_V1, body, now() - 301), 'content-type': 'application/x-www-form-urlencoded' } }), /5 minute/);
  });
});

describe('standard webhooks (webhook-id, webhook-timestamp, webhook-signature)', () => {
  const body = JSON.stringify({ type: 'invoice.paid' });
  it('accepts a good signature, refuses a bad and a stale one, and answers a replay with the same job', async () => {
    const headers = standardHeaders(STANDARD_KEY, body);
    const a = ok(await w.hook(`/hooks/${w.ws}/std`, { body, headers }), 202);
    expect(ok(await w.hook(`/hooks/${w.ws}/std`, { body, headers }), 202).body.jobId).toBe(a.body.jobId);
    expect((await w.waitForJob(a.body.jobId)).status).toBe('succeeded');
    const otherKey = `whsec_${crypto.randomBytes(24).toString('base64')}`;
    expect401(await w.hook(`/hooks/${w.ws}/std`, { body, headers: standardHeaders(otherKey, body) }));
    expect401(await w.hook(`/hooks/${w.ws}/std`, { body, headers: standardHeaders(STANDARD_KEY, body, new Date(Date.now() - 10 * 60_000)) }), /5 minute/);
  });
});

describe('the signing key lives in a vault', () => {
  const body = '{"rotation":true}';
  it('accepts the previous key during the grace period after a rotation, and only the new one after it', async () => {
    ok(await w.hook(`/hooks/${w.ws}/rot`, { body, headers: { 'x-hub-signature-256': await githubSign(KEY_V1, body) } }), 200);
    ok(await w.putSecret('rotating-key', KEY_V2), 200);
    ok(await w.hook(`/hooks/${w.ws}/rot`, { body, headers: { 'x-hub-signature-256': await githubSign(KEY_V2, body) } }), 200);
    ok(await w.hook(`/hooks/${w.ws}/rot`, { body, headers: { 'x-hub-signature-256': await githubSign(KEY_V1, body) } }), 200);
    // The grace period (1 hour here) has passed since version 2 was written.
    await w.s.database.db.execute(sql`update secret_versions set created_at = now() - interval '2 hours'
      where secret_id = (select s.id from secrets s join vaults v on v.id = s.vault_id where v.name = 'default' and s.name = 'rotating-key')`);
    ok(await w.hook(`/hooks/${w.ws}/rot`, { body, headers: { 'x-hub-signature-256': await githubSign(KEY_V2, body) } }), 200);
    expect401(await w.hook(`/hooks/${w.ws}/rot`, { body, headers: { 'x-hub-signature-256': await githubSign(KEY_V1, body) } }));
  });

  it('reads the key under the workspace grant, audited like any secret read, never writing the key anywhere', async () => {
    const audit = ok(await w.s.request('GET', '/v1/audit?limit=500'), 200);
    const reads = audit.body.events.filter((e: any) => e.action === 'secret.read' && e.detail?.purpose === 'webhook_signature');
    expect(reads.length).toBeGreaterThan(5);
    expect(reads[0]).toMatchObject({ outcome: 'allowed', workspace: w.ws, vault: 'default', detail: { executor: expect.any(String) } });
    const rejected = audit.body.events.filter((e: any) => e.action === 'executor.webhook.rejected');
    expect(rejected.map((e: any) => e.detail.reason)).toEqual(expect.arrayContaining(['bad_signature', 'stale_timestamp', 'replayed', 'missing_signature']));
    const dump = JSON.stringify(audit.body) + w.s.logs.join('\n');
    for (const key of [KEY_V1, KEY_V2, STANDARD_KEY]) expect(dump).not.toContain(key);
  });

  it('refuses every delivery once the workspace loses its grant on the vault', async () => {
    ok(await w.putExecutor('no-grant', hmacExecutor('github', 'github-key', 'sync')), 201);
    const grants = ok(await w.s.request('GET', '/v1/vaults/default/grants'), 200);
    const grant = grants.body.grants.find((g: any) => g.workspace === w.ws);
    ok(await w.s.request('DELETE', `/v1/vaults/default/grants/${grant.id}`), 204);
    const body = '{}';
    expect401(await w.hook(`/hooks/${w.ws}/no-grant`, { body, headers: { 'x-hub-signature-256': await githubSign(KEY_V1, body) } }));
    const audit = ok(await w.s.request('GET', '/v1/audit?limit=50'), 200);
    expect(audit.body.events.find((e: any) => e.action === 'secret.read' && e.detail?.purpose === 'webhook_signature'))
      .toMatchObject({ outcome: 'denied', detail: { reason: 'no_workspace_grant' } });
  });
});

describe('failed signature checks', () => {
  // Last in this file: the limit is per source address, and every test here comes from 127.0.0.1.
  it('are limited per source address like failed logins, with Retry-After', async () => {
    const body = '{}';
    let status = 401;
    let r;
    for (let i = 0; i < 45 && status === 401; i++) {
      r = await w.hook(`/hooks/${w.ws}/gh`, { body, headers: { 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) } });
      status = r.status;
    }
    expect(status).toBe(429);
    expect(r!.body.error.code).toBe('rate_limited');
    expect(Number(r!.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
