// functions-examples/project: the worked coffer.toml project, as a user runs it. `coffer run` answers
// its function's read from the environment (and says so under --explain, never the value); `coffer
// plan` and `coffer apply` bring a real server in line with it, after which the function, its
// least-privilege grant and the pipeline serve exactly what the file declares.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../support/server.ts';
import { cliUser } from '../support/cli.ts';

const DIR = fileURLToPath(new URL('../../functions-examples/project/', import.meta.url));
const TOML = `${DIR}coffer.toml`;
const KEY = 'sk_test_example_0123456789';

describe('the worked project (functions-examples/project)', { timeout: 180_000 }, () => {
  let s: TestServer;
  const u = cliUser();

  beforeAll(async () => {
    s = await startTestServer({ env: { COFFER_WORKERS: '1', COFFER_SCHEDULE_INTERVAL_MS: '0' } });
    await u.ok(['login', '--url', s.url], { input: `${s.adminKey}\n` });
  }, 120_000);
  afterAll(async () => { u.cleanup(); await s?.close(); });

  it('coffer run reads the key from COFFER__PAYMENTS__STRIPE_KEY and --explain names that source, never the value', async () => {
    const r = await u.ok(['run', 'functions/charge.js', '--args', '{"amountCents": 1250}', '--explain'], { cwd: DIR, env: { COFFER__PAYMENTS__STRIPE_KEY: KEY } });
    expect(JSON.parse(r.stdout)).toEqual({ amountCents: 1250, ready: true, dryRun: true, keyKind: 'test' });
    expect(r.stderr).toMatch(/payments\/stripe-key\s+env COFFER__PAYMENTS__STRIPE_KEY/);
    expect(r.stdout + r.stderr).not.toContain(KEY);
  });

  it('plan lists every declared resource, apply creates them, and the server then serves the project', async () => {
    const planned = await u.ok(['plan', '-f', TOML, '--json']);
    expect(planned.json.changes.map((c: any) => `${c.action} ${c.kind} ${c.key}`)).toEqual([
      'create workspace billing', 'create vault payments', 'create secret payments/stripe-key', 'create grant payments/workspace:billing',
      'create function billing/charge', 'create pipeline billing/quote', 'create executor billing/provider-events',
    ]);
    const applied = await u.ok(['apply', '-f', TOML, '--yes'], { env: { STRIPE_KEY: KEY } });
    expect(applied.stdout + applied.stderr).not.toContain(KEY);

    const invoked = await s.request('POST', '/v1/workspaces/billing/functions/charge/invoke', { body: { args: { amountCents: 990, dryRun: true } } });
    expect(invoked.status, invoked.text).toBe(200);
    expect(invoked.body.result).toEqual({ amountCents: 990, ready: true, dryRun: true, keyKind: 'test' });
    expect(JSON.stringify(invoked.body.logs)).not.toContain(KEY);

    const quoted = await s.request('POST', '/v1/workspaces/billing/graphql', { body: { query: '{ quote(amountCents: 1250) }' } });
    expect(quoted.status, quoted.text).toBe(200);
    expect(quoted.body).toEqual({ data: { quote: 1250 } });

    const again = await u.ok(['plan', '-f', TOML, '--json'], { env: { STRIPE_KEY: KEY } });
    expect(again.json.summary).toEqual({ create: 0, update: 0, delete: 0 });
  });
});
