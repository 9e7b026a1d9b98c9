// The worked examples of docs/executors.md (functions-examples/executors/): each function deployed
// with its executor definition as written, and exercised the way its provider would call it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { startExecutorWorld, ok, type ExecutorWorld } from './fixture.ts';

const file = (name: string) => fs.readFileSync(new URL(`../../functions-examples/executors/${name}`, import.meta.url), 'utf8');
const GITHUB_SECRET = 'github-example-secret-8c1f';
const SLACK_SECRET = 'slack-example-signing-secret-0b7e';
let w: ExecutorWorld;

async function install(name: string) {
  ok(await w.deploy(name, file(`${name}.js`)), 201);
  return ok(await w.putExecutor(name, JSON.parse(file(`${name}.executor.json`))), 201);
}

beforeAll(async () => {
  w = await startExecutorWorld();
  for (const vault of ['webhooks', 'reports']) {
    ok(await w.s.request('POST', '/v1/vaults', { body: { name: vault } }), 201);
    await w.grant(vault);
  }
  ok(await w.putSecret('github-webhook-secret', GITHUB_SECRET, 'webhooks'), 201);
  ok(await w.putSecret('slack-signing-secret', SLACK_SECRET, 'webhooks'), 201);
  ok(await w.putSecret('report-api-token', 'rpt_example_token_77', 'reports'), 201);
  for (const name of ['github-push', 'slack-command', 'nightly-report']) await install(name);
});
afterAll(async () => { await w?.close(); });

describe('functions-examples/executors', () => {
  it('github-push: a signed push becomes a job; a redelivery of the same delivery id is the same job', async () => {
    const body = JSON.stringify({
      ref: 'refs/heads/main', repository: { full_name: 'acme/shop' },
      commits: [{ author: { username: 'ada' } }, { author: { username: 'ada' } }, { author: { name: 'Grace' } }],
    });
    const headers = { 'x-github-event': 'push', 'x-github-delivery': crypto.randomUUID(), 'x-hub-signature-256': await githubSign(GITHUB_SECRET, body) };
    const first = ok(await w.hook(`/hooks/${w.ws}/github-push`, { body, headers }), 202);
    const job = await w.waitForJob(first.body.jobId);
    expect(job.status).toBe('succeeded');
    const inv = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/github-push/invocations/${job.attempts[0].invocationId}`), 200);
    expect(inv.body.logs[0].message).toMatch(/^push to acme\/shop refs\/heads\/main: 3 commit\(s\)/);
    const again = ok(await w.hook(`/hooks/${w.ws}/github-push`, { body, headers }), 202);
    expect(again.body.jobId).toBe(first.body.jobId);
    expect((await w.hook(`/hooks/${w.ws}/github-push`, { body, headers: { ...headers, 'x-hub-signature-256': await githubSign('guess', body) } })).status).toBe(401);
  });

  it('slack-command: answers a signed slash command while Slack waits, and the URL verification challenge', async () => {
    const signed = (body: string, type: string) => {
      const ts = String(Math.floor(Date.now() / 1000));
      return { 'content-type': type, 'x-slack-request-timestamp': ts, 'x-slack-signature': `v0=${crypto.createHmac('sha256', SLACK_SECRET).update(`v0:${ts}:${body}`).digest('hex')}` };
    };
    const form = new URLSearchParams({ command: '/coffer', text: 'echo hello there', user_name: 'ada', team_id: 'T1' }).toString();
    const r = ok(await w.hook(`/hooks/${w.ws}/slack-command`, { body: form, headers: signed(form, 'application/x-www-form-urlencoded') }), 200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.body).toEqual({ response_type: 'ephemeral', text: 'Hi ada: hello there' });
    const challenge = JSON.stringify({ type: 'url_verification', challenge: 'c-3b91' });
    const v = ok(await w.hook(`/hooks/${w.ws}/slack-command`, { body: challenge, headers: signed(challenge, 'application/json') }), 200);
    expect(v.text).toBe('c-3b91');
  });

  it('nightly-report: the 02:00 Berlin tick runs once, reads its token under the grant, and reports the day before the tick', async () => {
    const tomorrow = new Date(Date.now() + 26 * 3600_000);
    await w.s.running.services.executors.scheduler.tick(tomorrow);
    const jobs = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/executors/nightly-report/jobs`), 200).body.jobs;
    expect(jobs).toHaveLength(1);
    const at = new Date(jobs[0].scheduledTime);
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }).format(at)).toBe('02:00');
    const job = await w.waitForJob(jobs[0].id);
    expect(job.status).toBe('succeeded');
    const inv = ok(await w.s.request('GET', `/v1/workspaces/${w.ws}/functions/nightly-report/invocations/${job.attempts[0].invocationId}`), 200);
    expect(inv.body.logs[0].message).toContain(`.. ${at.toISOString()} (job ${job.id}, attempt 1)`);
    const audit = ok(await w.s.request('GET', '/v1/audit?limit=100'), 200);
    expect(audit.body.events.find((e: any) => e.action === 'secret.read' && e.secret === 'report-api-token'))
      .toMatchObject({ outcome: 'allowed', function: 'nightly-report', detail: { executor: 'nightly-report', jobId: job.id } });
  });
});
