// The `coffer` command as a subprocess against a running server: the journey of the issue (log in
// with a key from stdin, a vault, multi-line values from stdin and a file, a workspace grant, the
// reference example deployed, invoked, its logs read, the audit trail queried and verified), and
// the --json shape of every command group.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { startTestServer, type TestServer } from '../support/server.ts';
import { cliUser } from '../support/cli.ts';

const example = (name: string) => fileURLToPath(new URL(`../../functions-examples/${name}`, import.meta.url));

describe('coffer: the journey', { timeout: 180_000 }, () => {
  let s: TestServer;
  let u: ReturnType<typeof cliUser>;
  let dir: string;
  const MULTI = 'line one\n  line two\n\nline four\n';

  beforeAll(async () => {
    s = await startTestServer({ env: { COFFER_WORKERS: '1' } });
    u = cliUser();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-journey-'));
  }, 180_000);
  afterAll(async () => {
    u?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    await s?.close();
  });

  it('logs in with a key from stdin, into a 0600 file in a 0700 directory', async () => {
    const r = await u.ok(['login', '--url', s.url, '--json'], { input: `${s.adminKey}\n` });
    expect(r.json).toMatchObject({ profile: 'default', url: s.url, principal: { id: s.adminId, kind: 'user', isAdmin: true } });
    expect(r.stdout + r.stderr).not.toContain(s.adminKey);
    const file = path.join(u.configDir, 'config.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(u.configDir).mode & 0o777).toBe(0o700);
    const who = await u.ok(['whoami', '--json']);
    expect(who.json).toMatchObject({ profile: 'default', credentialsFrom: 'profile', principal: { id: s.adminId, via: 'api_key' } });
  });

  it('creates a vault and puts values from stdin and from a file, multi-line values intact', async () => {
    expect((await u.ok(['vault', 'create', 'default', '--description', 'for the example', '--json'])).json).toMatchObject({ name: 'default', role: 'manager' });
    // stdin: the one newline echo adds is dropped, inner ones kept.
    expect((await u.ok(['secret', 'put', 'default', 'test-secret-1', '--json'], { input: 'secret-value-1\n' })).json)
      .toMatchObject({ vault: 'default', name: 'test-secret-1', latestVersion: 1 });
    await u.ok(['secret', 'put', 'default', 'multi'], { input: `${MULTI}\n` });
    // A file: byte for byte, trailing newline included.
    fs.writeFileSync(path.join(dir, 'value.txt'), MULTI);
    await u.ok(['secret', 'put', 'default', 'test-secret-2', '--from-file', path.join(dir, 'value.txt')]);

    expect((await u.ok(['secret', 'get', 'default', 'multi', '--reveal', '--raw'])).stdout).toBe(MULTI);
    expect((await u.ok(['secret', 'get', 'default', 'test-secret-2', '--reveal', '--raw'])).stdout).toBe(MULTI);
    expect((await u.ok(['secret', 'get', 'default', 'test-secret-1', '--reveal', '--raw'])).stdout).toBe('secret-value-1');
  });

  it('grants a workspace, deploys the reference example, invokes it and reads its logs', async () => {
    expect((await u.ok(['workspace', 'create', 'acme', '--json'])).json).toMatchObject({ name: 'acme' });
    const grant = await u.ok(['grant', 'add', 'default', '--workspace', 'acme', '--role', 'reader', '--json']);
    expect(grant.json).toMatchObject({ vault: 'default', role: 'reader', workspace: 'acme' });
    const deployed = await u.ok(['fn', 'deploy', 'acme', 'reference', example('reference.js'), '--json']);
    expect(deployed.json).toMatchObject({ workspace: 'acme', name: 'reference', activeVersion: 1 });

    const invoked = await u.ok(['fn', 'invoke', 'acme', 'reference', '--args', '{}', '--json']);
    expect(invoked.json).toMatchObject({ version: 1, invocationId: expect.any(String) });
    // The server redacts what the function read; the CLI prints what it was given.
    expect(invoked.stdout).not.toContain('secret-value-1');
    expect(invoked.json.logs.map((l: { message: string }) => l.message)[0]).toBe('start');

    const logs = await u.ok(['fn', 'logs', 'acme', 'reference', '--json']);
    expect(logs.json).toMatchObject({ workspace: 'acme', function: 'reference', invocationId: invoked.json.invocationId });
    expect(logs.json.logs.length).toBeGreaterThanOrEqual(3);
    expect(logs.stdout).not.toContain('secret-value-1');
    const human = await u.ok(['fn', 'logs', 'acme', 'reference']);
    expect(human.stdout).toMatch(/log\s+start/);
  });

  it('queries the audit trail with filters and verifies the chain', async () => {
    const reads = await u.ok(['audit', 'query', '--action', 'secret.read', '--vault', 'default', '--json']);
    const fromFunction = reads.json.events.filter((e: { function?: string }) => e.function === 'reference');
    expect(fromFunction.length).toBeGreaterThanOrEqual(2);
    expect(fromFunction.every((e: { outcome: string; workspace: string }) => e.outcome === 'allowed' && e.workspace === 'acme')).toBe(true);
    expect(reads.stdout).not.toContain('secret-value-1');
    const verified = await u.ok(['audit', 'verify', '--json']);
    expect(verified.json).toMatchObject({ intact: true, checked: expect.any(Number) });
    expect((await u.ok(['audit', 'verify'])).stdout).toMatch(/intact/);
  });

  it('--json: vault, grant, secret (list, versions, states, import, export)', async () => {
    expect((await u.ok(['vault', 'list', '--json'])).json.vaults.map((v: { name: string }) => v.name)).toEqual(['default']);
    expect((await u.ok(['vault', 'get', 'default', '--json'])).json).toMatchObject({ name: 'default', description: 'for the example' });
    const grants = (await u.ok(['grant', 'list', 'default', '--json'])).json.grants;
    expect(grants.map((g: { role: string }) => g.role).sort()).toEqual(['manager', 'reader']);

    const list = await u.ok(['secret', 'list', 'default', '--json']);
    expect(list.json.secrets.map((x: { name: string }) => x.name).sort()).toEqual(['multi', 'test-secret-1', 'test-secret-2']);
    expect(list.stdout).not.toContain('line one');
    await u.ok(['secret', 'put', 'default', 'multi', '--value', 'second-version'], {});
    expect((await u.ok(['secret', 'disable', 'default', 'multi', '2', '--json'])).json).toMatchObject({ version: 2, state: 'disabled' });
    // Disabled: reads fall back to the latest enabled version.
    expect((await u.ok(['secret', 'get', 'default', 'multi', '--reveal', '--raw'])).stdout).toBe(MULTI);
    expect((await u.ok(['secret', 'enable', 'default', 'multi', '2', '--json'])).json).toMatchObject({ version: 2, state: 'enabled' });
    expect((await u.ok(['secret', 'destroy', 'default', 'multi', '1', '--json'])).json).toMatchObject({ version: 1, state: 'destroyed' });
    const versions = await u.ok(['secret', 'versions', 'default', 'multi', '--json']);
    expect(versions.json.versions.map((v: { version: number; state: string }) => [v.version, v.state]).sort()).toEqual([[1, 'destroyed'], [2, 'enabled']]);

    fs.writeFileSync(path.join(dir, 'app.env'), 'DB_URL=postgres://db/app\nMULTI="a\nb"\n# comment\nEMPTY=\n');
    const imported = await u.ok(['secret', 'import', 'default', '--from-dotenv', path.join(dir, 'app.env'), '--json']);
    expect(imported.json.imported.map((i: { name: string }) => i.name).sort()).toEqual(['DB_URL', 'EMPTY', 'MULTI']);
    fs.writeFileSync(path.join(dir, 'more.json'), JSON.stringify({ 'token.one': 'tok-1-abcdef' }));
    await u.ok(['secret', 'import', 'default', '--from-json', path.join(dir, 'more.json')]);

    const withheld = await u.ok(['secret', 'export', 'default', '--json']);
    expect(withheld.json['token.one']).toBeNull();
    const exported = await u.ok(['secret', 'export', 'default', '--format', 'json', '--reveal']);
    expect(exported.stderr).toMatch(/warning: printing \d+ secret values/);
    expect(JSON.parse(exported.stdout)).toMatchObject({ DB_URL: 'postgres://db/app', MULTI: 'a\nb', EMPTY: '', 'token.one': 'tok-1-abcdef', multi: 'second-version' });
    // dotenv export survives a round trip through Node's own dotenv parser.
    const dotenv = await u.ok(['secret', 'export', 'default', '--reveal']);
    expect(parseEnv(dotenv.stdout)['test-secret-2']).toBe(MULTI);
    expect((await u.ok(['secret', 'delete', 'default', 'EMPTY', '--json'])).json).toEqual({ deleted: { vault: 'default', name: 'EMPTY' } });
  });

  it('--json: user, api-key, workspace, member, service-account and client-secret', async () => {
    const user = (await u.ok(['user', 'create', 'carol', '--json'])).json;
    expect(user).toMatchObject({ name: 'carol', isAdmin: false, active: true });
    expect((await u.ok(['user', 'list', '--json'])).json.users.map((x: { name: string }) => x.name)).toContain('carol');
    expect((await u.ok(['user', 'get', user.id, '--json'])).json).toMatchObject({ id: user.id });
    const key = await u.ok(['api-key', 'create', '--user', user.id, '--name', 'laptop', '--json']);
    expect(key.json).toMatchObject({ user: user.id, key: expect.stringMatching(/^coffer_/), prefix: expect.any(String) });
    expect(key.stderr).toMatch(/shown only once/);
    const keys = await u.ok(['api-key', 'list', '--user', user.id, '--json']);
    expect(keys.json.apiKeys).toHaveLength(1);
    expect(keys.stdout).not.toContain(key.json.key);

    expect((await u.ok(['member', 'add', 'acme', user.id, '--role', 'invoker', '--json'])).json).toMatchObject({ workspace: 'acme', principalId: user.id, role: 'invoker' });
    expect((await u.ok(['member', 'list', 'acme', '--json'])).json.members.map((m: { role: string }) => m.role).sort()).toEqual(['invoker', 'owner']);
    expect((await u.ok(['workspace', 'list', '--json'])).json.workspaces.map((w: { name: string }) => w.name)).toEqual(['acme']);
    expect((await u.ok(['workspace', 'get', 'acme', '--json'])).json).toMatchObject({ name: 'acme' });
    expect((await u.ok(['member', 'remove', 'acme', user.id, '--json'])).json).toEqual({ deleted: { workspace: 'acme', principal: user.id } });
    expect((await u.ok(['api-key', 'revoke', key.json.id, '--user', user.id, '--json'])).json).toEqual({ revoked: { user: user.id, apiKey: key.json.id } });

    const sa = await u.ok(['service-account', 'create', 'ci', '--oauth', '--json']);
    expect(sa.json).toMatchObject({ serviceAccount: { name: 'ci', auth: 'oauth' }, clientSecret: { secret: expect.any(String) } });
    expect(sa.stderr).toMatch(/shown only once/);
    const id = sa.json.serviceAccount.id;
    expect((await u.ok(['service-account', 'rename', id, 'ci-bot', '--json'])).json).toMatchObject({ name: 'ci-bot' });
    expect((await u.ok(['service-account', 'deactivate', id, '--json'])).json).toMatchObject({ active: false });
    expect((await u.ok(['service-account', 'reactivate', id, '--json'])).json).toMatchObject({ active: true });
    const second = await u.ok(['service-account', 'client-secret', 'create', id, '--json']);
    expect(second.json).toMatchObject({ serviceAccount: id, secret: expect.any(String) });
    const secrets = await u.ok(['service-account', 'client-secret', 'list', id, '--json']);
    expect(secrets.json.clientSecrets).toHaveLength(2);
    expect(secrets.stdout).not.toContain(second.json.secret);
    await u.ok(['service-account', 'client-secret', 'deactivate', id, second.json.id]);
    expect((await u.ok(['service-account', 'client-secret', 'delete', id, second.json.id, '--json'])).json).toEqual({ deleted: { serviceAccount: id, clientSecret: second.json.id } });
    const withKey = await u.ok(['service-account', 'create', 'deployer', '--api-key', '--json']);
    expect(withKey.json.apiKey.key).toMatch(/^coffer_/);
    expect((await u.ok(['service-account', 'list', '--json'])).json.serviceAccounts.map((a: { name: string }) => a.name).sort()).toEqual(['ci-bot', 'deployer']);
  });

  it('--json: fn (list, get, versions, rollback, invocations) and pipeline (put, list, get, runs, run)', async () => {
    fs.writeFileSync(path.join(dir, 'v2.js'), 'export default () => "two";');
    await u.ok(['fn', 'deploy', 'acme', 'reference', path.join(dir, 'v2.js')]);
    expect((await u.ok(['fn', 'list', 'acme', '--json'])).json.functions).toMatchObject([{ name: 'reference', activeVersion: 2 }]);
    expect((await u.ok(['fn', 'versions', 'acme', 'reference', '--json'])).json.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect((await u.ok(['fn', 'rollback', 'acme', 'reference', '1', '--json'])).json).toMatchObject({ activeVersion: 1 });
    expect((await u.ok(['fn', 'get', 'acme', 'reference', '--json'])).json).toMatchObject({ activeVersion: 1, latestVersion: 2 });
    expect((await u.ok(['fn', 'invocations', 'acme', 'reference', '--json'])).json.invocations[0]).toMatchObject({ version: 1 });

    for (const f of ['line-total', 'apply-discount']) await u.ok(['fn', 'deploy', 'acme', f, example(`pipelines/${f}.js`)]);
    const put = await u.ok(['pipeline', 'put', 'acme', 'orderTotals', example('pipelines/order-totals.pipeline.json'), '--json']);
    expect(put.json).toMatchObject({ workspace: 'acme', name: 'orderTotals', field: 'Query.orderTotals', activeVersion: 1 });
    expect((await u.ok(['pipeline', 'list', 'acme', '--json'])).json.pipelines).toMatchObject([{ name: 'orderTotals' }]);
    expect((await u.ok(['pipeline', 'get', 'acme', 'orderTotals', '--json'])).json.active.spec).toMatchObject({ operation: 'query' });
    expect((await u.ok(['pipeline', 'versions', 'acme', 'orderTotals', '--json'])).json.versions).toHaveLength(1);

    const query = 'query($lines: [LineInput!]!) { orderTotals(lines: $lines) { subtotalCents totalCents } }';
    const ran = await u.ok(['pipeline', 'run', 'acme', query, '--variables', JSON.stringify({ lines: [{ sku: 'a', quantity: 2, unitCents: 150 }] })]);
    expect(ran.json).toEqual({ data: { orderTotals: { subtotalCents: 300, totalCents: 300 } } });
    const bad = await u.run(['pipeline', 'run', 'acme', '{ orderTotals(lines: []) { nope } }']);
    expect(bad.code).toBe(2);
    expect(bad.json.errors[0].message).toMatch(/nope/);
    const runs = await u.ok(['pipeline', 'runs', 'acme', 'orderTotals', '--json']);
    expect(runs.json.runs[0]).toMatchObject({ outcome: 'ok' });
    const one = await u.ok(['pipeline', 'runs', 'acme', 'orderTotals', runs.json.runs[0].id, '--json']);
    expect(one.json.steps.map((x: { name: string; status: string }) => [x.name, x.status])).toEqual([['price', 'ok'], ['discount', 'skipped']]);
  });
});
