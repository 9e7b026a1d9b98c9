// `coffer plan` and `coffer apply` as subprocesses against one running server: a project planned,
// applied, re-applied (no changes) and edited (the exact diff); write-only values sent only on a
// version bump; pruning only what the project created; drift; and files refused with file, line
// and key before anything is sent.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { cliUser } from '../support/cli.ts';

const CHARGE = 'export default async () => 1;\n';

function projectToml(memberId: string, o: { timeoutMs?: number; stripeVersion?: number; extra?: string } = {}) {
  return `project = "billing-app"

[vaults.payments]
description = "Stripe and database credentials"

[vaults.payments.secrets.stripe-key]
description = "Stripe live key"
value = { env = "STRIPE_KEY", version = ${o.stripeVersion ?? 1} }

[vaults.payments.secrets.db-password]
description = "Postgres password"          # declared, value managed elsewhere

[workspaces.billing]
description = "Billing"
members = [ { principal = "${memberId}", role = "editor" } ]

[[grants]]
vault = "payments"
workspace = "billing"
role = "reader"

[functions.charge]
workspace = "billing"
file = "functions/charge.js"
timeoutMs = ${o.timeoutMs ?? 5000}

[executors.stripe-events]
workspace = "billing"
trigger = { kind = "webhook", auth = { mode = "hmac", scheme = "stripe", secret = { vault = "payments", name = "stripe-key" } } }
target = { kind = "function", function = "charge" }

[pipelines.quote]
workspace = "billing"
operation = "query"
returns = "Int"
steps = [ { name = "one", function = "charge" } ]
${o.extra ?? ''}`;
}

describe('coffer plan / apply', { timeout: 180_000 }, () => {
  let s: TestServer;
  let u: ReturnType<typeof cliUser>;
  let dir: string;
  let tomlPath: string;
  let member: { id: string };
  const write = (text: string, name = 'coffer.toml') => { const p = path.join(dir, name); fs.writeFileSync(p, text); return p; };
  const plan = (extra: string[] = [], env: Record<string, string> = {}) => u.ok(['plan', '-f', tomlPath, ...extra], { env });
  const apply = (extra: string[] = [], env: Record<string, string> = { STRIPE_KEY: 'sk_live_one' }) => u.ok(['apply', '-f', tomlPath, '--yes', ...extra], { env });
  const value = async (vault: string, name: string) => (await s.request('GET', `/v1/vaults/${vault}/secrets/${name}/value`)).body;

  beforeAll(async () => {
    s = await startTestServer({ env: { COFFER_WORKERS: '1', COFFER_SCHEDULE_INTERVAL_MS: '0' } });
    u = cliUser();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-project-'));
    fs.mkdirSync(path.join(dir, 'functions'));
    fs.writeFileSync(path.join(dir, 'functions/charge.js'), CHARGE);
    member = await s.createUser('ci-bot');
    tomlPath = write(projectToml(member.id));
    await u.ok(['login', '--url', s.url], { input: `${s.adminKey}\n` });
  }, 120_000);
  afterAll(async () => {
    u?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    await s?.close();
  });

  it('plans every declared resource as a create, applies it in dependency order, and a second apply changes nothing', async () => {
    const first = await plan(['--json']);
    expect(first.json.summary).toEqual({ create: 8, update: 0, delete: 0 });
    expect(first.json.changes.map((c: any) => `${c.action} ${c.kind} ${c.key}`)).toEqual([
      'create workspace billing', 'create vault payments', 'create secret payments/stripe-key', `create member billing/principal:${member.id}`,
      'create grant payments/workspace:billing', 'create function billing/charge', 'create pipeline billing/quote', 'create executor billing/stripe-events',
    ]);
    expect(first.json.warnings.join('\n')).toContain('secret payments/db-password: declared but has no value on the server');
    expect(JSON.stringify(first.json)).not.toContain('sk_live_one');

    const applied = await apply();
    expect(applied.stdout).toContain('Applied: 8 created, 0 changed, 0 deleted.');
    expect(applied.stderr).toMatch(/created secret payments\/stripe-key: version 1 written/);
    expect(applied.stderr.indexOf('created workspace billing')).toBeLessThan(applied.stderr.indexOf('created function billing/charge'));
    expect(applied.stderr.indexOf('created grant payments/workspace:billing')).toBeLessThan(applied.stderr.indexOf('created executor billing/stripe-events'));
    expect(`${applied.stdout}${applied.stderr}`).not.toContain('sk_live_one');
    expect(await value('payments', 'stripe-key')).toMatchObject({ version: 1, value: 'sk_live_one' });
    expect((await s.request('GET', '/v1/workspaces/billing/functions/charge')).body.active.timeoutMs).toBe(5000);

    const again = await apply();
    expect(again.stdout).toContain('Nothing to apply.');
    expect((await plan(['--json'])).json).toMatchObject({ changes: [], drift: [], summary: { create: 0, update: 0, delete: 0 } });
    const owned = (await s.request('GET', '/v1/projects/billing-app/resources')).body.resources;
    expect(owned.filter((r: any) => r.created).map((r: any) => `${r.kind} ${r.key}`).sort()).toEqual([
      'executor billing/stripe-events', 'function billing/charge', 'grant payments/workspace:billing', `member billing/principal:${member.id}`,
      'pipeline billing/quote', 'secret payments/stripe-key', 'vault payments', 'workspace billing',
    ]);
  });

  it('after an edit, plan shows the exact diff', async () => {
    tomlPath = write(projectToml(member.id, { timeoutMs: 6000, extra: `
[vaults.payments.secrets.api-token]
description = "API token"
value = { env = "API_TOKEN", version = 1 }
` }));
    const p = await plan([], { API_TOKEN: 'tok_abc' });
    expect(p.stdout).toBe([
      `Project billing-app (${tomlPath})`,
      '',
      '  + secret payments/api-token  (value version 1)',
      '      description: "API token"',
      '  ~ function billing/charge',
      '      timeoutMs: 5000 -> 6000',
      '',
      'Warnings:',
      '  secret payments/db-password: declared but has no value on the server; give it one (value = { env = ..., version = 1 } or coffer secret put)',
      '',
      'Plan: 1 to create, 1 to change, 0 to delete.',
      '',
    ].join('\n'));
    await apply([], { STRIPE_KEY: 'sk_live_one', API_TOKEN: 'tok_abc' });
    expect((await s.request('GET', '/v1/workspaces/billing/functions/charge')).body.active.timeoutMs).toBe(6000);
    expect((await plan()).stdout).toContain('No changes');
  });

  it('writes a write-only value only when its declared version is newer than the one last applied', async () => {
    // A different value under the same version: not sent.
    expect((await plan(['--json'], { STRIPE_KEY: 'sk_live_two' })).json.changes).toEqual([]);
    await apply([], { STRIPE_KEY: 'sk_live_two' });
    expect(await value('payments', 'stripe-key')).toMatchObject({ version: 1, value: 'sk_live_one' });

    tomlPath = write(projectToml(member.id, { timeoutMs: 6000, stripeVersion: 2 }));
    const p = await plan([], { STRIPE_KEY: 'sk_live_two' });
    expect(p.stdout).toContain('  ~ secret payments/stripe-key  (value version 1 -> 2)');
    expect(p.stdout).not.toContain('sk_live_two');
    const a = await apply([], { STRIPE_KEY: 'sk_live_two' });
    expect(a.stderr).toContain('updated secret payments/stripe-key: version 2 written');
    expect(await value('payments', 'stripe-key')).toMatchObject({ version: 2, value: 'sk_live_two' });

    // A bump with the same value: the server's ifChanged keeps version 2.
    tomlPath = write(projectToml(member.id, { timeoutMs: 6000, stripeVersion: 3 }));
    const same = await apply([], { STRIPE_KEY: 'sk_live_two' });
    expect(same.stderr).toContain('updated secret payments/stripe-key: value unchanged, still version 2');
    expect((await s.request('GET', '/v1/vaults/payments/secrets/stripe-key')).body.latestVersion).toBe(2);

    // A due value whose source is missing: refused before anything is written.
    tomlPath = write(projectToml(member.id, { timeoutMs: 7000, stripeVersion: 4 }));
    const missing = await u.run(['apply', '-f', tomlPath, '--yes'], { env: {} });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('environment variable STRIPE_KEY is not set; nothing was applied [value_unavailable]');
    expect((await s.request('GET', '/v1/workspaces/billing/functions/charge')).body.active.timeoutMs).toBe(6000);
    tomlPath = write(projectToml(member.id, { timeoutMs: 6000, stripeVersion: 3 }));
  });

  it('shows a change made on the server since the last apply as drift, and apply restores the file\'s state', async () => {
    fs.writeFileSync(path.join(dir, 'other.js'), 'export default async () => 2;\n');
    await u.ok(['fn', 'deploy', 'billing', 'charge', path.join(dir, 'other.js'), '--timeout', '9000']);
    const p = await plan();
    expect(p.stdout).toContain('Drift (changed on the server since the last apply):\n  ! function billing/charge: codeHash, timeoutMs');
    expect(p.stdout).toContain('  ~ function billing/charge\n      codeHash: ');
    expect(p.stdout).toContain('      timeoutMs: 9000 -> 6000');
    await apply([], { STRIPE_KEY: 'sk_live_two' });
    expect((await s.request('GET', '/v1/workspaces/billing/functions/charge')).body.active.timeoutMs).toBe(6000);
    expect((await plan(['--json'])).json).toMatchObject({ changes: [], drift: [] });

    await u.ok(['fn', 'delete', 'billing', 'charge']);
    const gone = await plan();
    expect(gone.stdout).toContain('  ! function billing/charge: (deleted on the server)');
    expect(gone.stdout).toContain('  + function billing/charge');
    await apply([], { STRIPE_KEY: 'sk_live_two' });
    expect((await plan(['--json'])).json).toMatchObject({ changes: [], drift: [] });
  });

  it('refuses, before changing anything, to apply a resource another project manages', async () => {
    const otherDir = fs.mkdtempSync(path.join(dir, 'other-'));
    fs.writeFileSync(path.join(otherDir, 'charge.js'), CHARGE);
    const other = path.join(otherDir, 'coffer.toml');
    fs.writeFileSync(other, 'project = "other-app"\n[workspaces.billing]\n\n[functions.charge]\nworkspace = "billing"\nfile = "charge.js"\ntimeoutMs = 1234\n');
    const r = await u.run(['apply', '-f', other, '--yes']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('function billing/charge is owned by project "billing-app" [conflict]');
    expect((await s.request('GET', '/v1/workspaces/billing/functions/charge')).body.active.timeoutMs).toBe(6000);
  });

  it('--prune deletes only resources this project created, lists each delete, and asks for them', async () => {
    await u.ok(['vault', 'create', 'by-hand']);
    await u.ok(['fn', 'deploy', 'billing', 'manual', path.join(dir, 'other.js')]);
    // Dropping the pipeline and the executor from the file (the api-token secret went earlier).
    tomlPath = write(projectToml(member.id, { timeoutMs: 6000, stripeVersion: 3 }).replace(/\[executors[\s\S]*$/, ''));
    const noPrune = await plan(['--json']);
    expect(noPrune.json.changes).toEqual([]);
    expect(noPrune.json.warnings.join('\n')).toContain('3 resources created by project "billing-app" are no longer in the file and left alone (--prune deletes them): executor billing/stripe-events, pipeline billing/quote, secret payments/api-token');

    const p = await plan(['--prune']);
    expect(p.stdout).toContain([
      '  - executor billing/stripe-events  (created by this project, no longer in the file)',
      '  - pipeline billing/quote  (created by this project, no longer in the file)',
      '  - secret payments/api-token  (created by this project, no longer in the file)',
    ].join('\n'));
    expect(p.stdout).toContain('Plan: 0 to create, 0 to change, 3 to delete.');
    expect(p.stdout).not.toContain('by-hand');
    expect(p.stdout).not.toContain('manual');

    const refused = await u.run(['apply', '-f', tomlPath, '--prune'], { env: { STRIPE_KEY: 'sk_live_two' } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('no terminal to confirm on');
    expect((await s.request('GET', '/v1/workspaces/billing/executors/stripe-events')).status).toBe(200);

    const a = await apply(['--prune'], { STRIPE_KEY: 'sk_live_two' });
    expect(a.stdout).toContain('Applied: 0 created, 0 changed, 3 deleted.');
    expect(a.stderr.indexOf('deleted executor billing/stripe-events')).toBeLessThan(a.stderr.indexOf('deleted pipeline billing/quote'));
    expect((await s.request('GET', '/v1/workspaces/billing/executors/stripe-events')).status).toBe(404);
    expect((await s.request('GET', '/v1/workspaces/billing/pipelines/quote')).status).toBe(404);
    expect((await s.request('GET', '/v1/vaults/payments/secrets/api-token')).status).toBe(404);
    expect((await s.request('GET', '/v1/vaults/by-hand')).status).toBe(200);
    expect((await s.request('GET', '/v1/workspaces/billing/functions/manual')).status).toBe(200);
    expect((await plan(['--prune', '--json'])).json.changes).toEqual([]);
  });

  it('refuses to apply non-interactively without --yes', async () => {
    tomlPath = write(projectToml(member.id, { timeoutMs: 6500, stripeVersion: 3 }).replace(/\[executors[\s\S]*$/, ''));
    const r = await u.run(['apply', '-f', tomlPath], { env: { STRIPE_KEY: 'sk_live_two' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('run with --yes');
    expect((await s.request('GET', '/v1/workspaces/billing/functions/charge')).body.active.timeoutMs).toBe(6000);
  });

  it('another principal cannot read or write this project\'s ownership records', async () => {
    const other = await s.createUser('mallory');
    expect((await s.request('GET', '/v1/projects/billing-app/resources', { key: other.key })).status).toBe(403);
    const w = await s.request('POST', '/v1/projects/billing-app/resources', { key: other.key, body: { set: [{ kind: 'vault', key: 'by-hand', created: true }] } });
    expect(w.status).toBe(403);
  });

  describe('refuses a bad file with file, line and key before sending anything', () => {
    const refused = async (text: string, files: Record<string, string> = {}) => {
      const sub = fs.mkdtempSync(path.join(dir, 'bad-'));
      for (const [f, t] of Object.entries(files)) { fs.mkdirSync(path.dirname(path.join(sub, f)), { recursive: true }); fs.writeFileSync(path.join(sub, f), t); }
      const file = path.join(sub, 'coffer.toml');
      fs.writeFileSync(file, text);
      // A URL nobody listens on: a request would fail differently.
      const r = await u.run(['plan', '-f', file, '--url', 'http://127.0.0.1:9', '--json']);
      expect(r.code).toBe(2);
      return { file, error: JSON.parse(r.stderr).error };
    };
    const fn = { 'f.js': CHARGE };

    it('an unknown key', async () => {
      const { file, error } = await refused('project = "p"\n[workspaces.w]\n\n[functions.f]\nworkspace = "w"\nfile = "f.js"\ntimeout = 5\n', fn);
      expect(error).toMatchObject({ code: 'invalid_project', details: { file, line: 7, column: 1, key: 'functions.f.timeout' } });
      expect(error.message).toBe(`${file}:7:1: functions.f.timeout: unknown key "timeout"`);
    });
    it('a wrong type', async () => {
      const { error } = await refused('[workspaces.w]\n\n[functions.f]\nworkspace = "w"\nfile = "f.js"\ntimeoutMs = "5s"\n', fn);
      expect(error.details).toMatchObject({ line: 6, column: 1, key: 'functions.f.timeoutMs' });
      expect(error.message).toContain('wrong type: number expected, got string');
    });
    it('a grant without its vault', async () => {
      const { error } = await refused('[vaults.payments]\n[workspaces.w]\n\n[[grants]]\nworkspace = "w"\nrole = "reader"\n\n[[grants]]\nvault = "paymnts"\nworkspace = "w"\nrole = "reader"\n');
      // A missing key is reported at its table's header.
      expect(error.details).toMatchObject({ line: 4, column: 1, key: 'grants[0].vault' });
      expect(error.message).toContain('missing (string expected)');
    });
    it('a dangling vault in the second grant, and an executor target not declared', async () => {
      const g = await refused('[vaults.payments]\n[workspaces.w]\n\n[[grants]]\nvault = "payments"\nworkspace = "w"\nrole = "reader"\n\n[[grants]]\nvault = "paymnts"\nworkspace = "w"\nrole = "reader"\n');
      expect(g.error.details).toMatchObject({ line: 10, column: 1, key: 'grants[1].vault' });
      expect(g.error.message).toContain('vault "paymnts" is not declared in [vaults]');
      const e = await refused('[workspaces.w]\n[executors.hook]\nworkspace = "w"\ntrigger = { kind = "webhook" }\ntarget = { kind = "function", function = "nope" }\n');
      expect(e.error.details).toMatchObject({ line: 5, column: 31, key: 'executors.hook.target.function' });
      expect(e.error.message).toContain('function "nope" is not declared in [functions]');
    });
    it('a function file that does not exist', async () => {
      const { error } = await refused('[workspaces.w]\n[functions.f]\nworkspace = "w"\nfile = "functions/missing.js"\n');
      expect(error.details).toMatchObject({ line: 4, column: 1, key: 'functions.f.file' });
      expect(error.message).toContain('file "functions/missing.js" does not exist');
    });
    it('a TOML syntax error', async () => {
      const { error } = await refused('[workspaces.w]\ndescription = "unterminated\n');
      expect(error.details).toMatchObject({ line: 2, key: '' });
    });
  });
});
