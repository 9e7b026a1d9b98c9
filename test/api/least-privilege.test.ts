// Least-privilege workspace grants: limited to some functions of the workspace (exact names or *
// globs), on direct invocations and pipeline steps alike (both read through the one decision,
// decideFunctionRead), and expiring at an instant, checked at every read.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { GraphQLClient } from 'graphql-request';
import { sql } from 'drizzle-orm';
import { startFunctionWorld, deployed, type FunctionWorld } from './functions-fixture.ts';
import { selectRows } from '../support/assertions.ts';
import { globMatch } from '../../api/policy/grants.ts';

const API_KEY = 'sk_live_least_privilege_0123';
/** Reads default/api-key and says what happened, as a string (a pipeline field's type). */
const READ = `export default async () => {
  try { return "read " + (await tailor.secretmanager.getSecret("default", "api-key")).length; }
  catch (e) { return "denied: " + e.message; }
};`;
const READ_RESULT = `read ${API_KEY.length}`;
const DENIED = 'denied: access denied to vault "default"';

interface ReadRow { outcome: string; function: string; detail: any }
const readsOf = (w: FunctionWorld, fn: string) => selectRows<ReadRow>(w.s.database.db,
  sql`select outcome, function, detail from audit_events where action = 'secret.read' and function = ${fn} order by seq`);

describe('glob patterns', () => {
  it('* matches any run of characters and nothing else is special', () => {
    const cases: Array<[string, string, boolean]> = [
      ['billing-*', 'billing-charge', true], ['billing-*', 'billing-', true], ['billing-*', 'billing', false],
      ['sync-stripe', 'sync-stripe', true], ['sync-stripe', 'sync-stripe2', false], ['*', 'anything', true],
      ['*-stripe', 'sync-stripe', true], ['a*b*c', 'abc', true], ['a*b*c', 'axxbyyc', true], ['a*b*c', 'acb', false],
      ['a*a', 'a', false], ['stripe.*', 'stripe-key', false], ['stripe.*', 'stripe.key', true], ['**', '', true],
    ];
    for (const [pattern, name, expected] of cases) expect(globMatch(pattern, name), `${pattern} ~ ${name}`).toBe(expected);
  });
});

describe('function-scoped workspace grants', () => {
  let w: FunctionWorld;
  let grantId: string;
  beforeAll(async () => {
    w = await startFunctionWorld();
    expect((await w.putSecret('api-key', API_KEY)).status).toBe(201);
    const g = await w.s.request('POST', '/v1/vaults/default/grants', { body: { workspace: w.ws, role: 'reader', functions: ['billing-*', 'sync-stripe'] } });
    expect(g.status, g.text).toBe(201);
    grantId = g.body.id;
    for (const name of ['billing-charge', 'sync-stripe', 'sync-stripe-old', 'reporting']) await deployed(w, name, READ);
  });
  afterAll(async () => { await w?.close(); });

  it('a direct invocation of a named or matching function reads; its neighbours are denied with a denied audit row', async () => {
    for (const fn of ['billing-charge', 'sync-stripe']) expect((await w.invoke(fn, {}, w.users.invoker.key)).body.result, fn).toBe(READ_RESULT);
    for (const fn of ['reporting', 'sync-stripe-old']) expect((await w.invoke(fn, {}, w.users.invoker.key)).body.result, fn).toBe(DENIED);
    expect(await readsOf(w, 'billing-charge')).toEqual([expect.objectContaining({ outcome: 'allowed' })]);
    expect(await readsOf(w, 'reporting')).toEqual([
      { outcome: 'denied', function: 'reporting', detail: { functionVersion: 1, reason: 'not_for_function' } },
    ]);
  });

  it('a pipeline step reads under its own function\'s name: one step reads, its neighbour is denied (run by an invoker through a group)', async () => {
    for (const [name, fn] of [['charge', 'billing-charge'], ['report', 'reporting']]) {
      const r = await w.s.request('PUT', `/v1/workspaces/${w.ws}/pipelines/${name}`, {
        body: { operation: 'query', returns: 'String', steps: [{ name: 'only', function: fn }] },
      });
      expect(r.status, r.text).toBe(201);
    }
    // Run by someone who is an invoker only through a group.
    const runner = await w.s.createUser('group-invoker');
    const group = (await w.s.request('POST', '/v1/groups', { body: { name: 'pipeline-runners' } })).body.id;
    expect((await w.s.request('POST', `/v1/groups/${group}/members`, { body: { principal: runner.id } })).status).toBe(200);
    expect((await w.s.request('POST', `/v1/workspaces/${w.ws}/members`, { body: { group, role: 'invoker' } })).status).toBe(200);
    const client = new GraphQLClient(`${w.s.url}/v1/workspaces/${w.ws}/graphql`, { headers: { authorization: `Bearer ${runner.key}` } });
    expect(await client.request<any>('{ charge report }')).toEqual({ charge: READ_RESULT, report: DENIED });
    // Invoked directly by the same runner, the read's row names the group that let it invoke.
    expect((await w.invoke('billing-charge', {}, runner.key)).body.result).toBe(READ_RESULT);
    expect((await readsOf(w, 'billing-charge')).at(-1)?.detail).toEqual({ functionVersion: 1, invokerViaGroup: 'pipeline-runners', invokerViaGroupId: group });
    const rows = await readsOf(w, 'reporting');
    expect(rows.at(-1)).toEqual({ outcome: 'denied', function: 'reporting', detail: expect.objectContaining({ pipeline: 'report', step: 'only', reason: 'not_for_function' }) });
  });

  it('the grant listing and the access report show the functions the grant is limited to', async () => {
    const grants = (await w.s.request('GET', '/v1/vaults/default/grants')).body.grants;
    expect(grants.find((g: any) => g.id === grantId)).toMatchObject({ workspace: w.ws, functions: ['billing-*', 'sync-stripe'], expiresAt: null, expired: false });
    const access = (await w.s.request('GET', '/v1/vaults/default/access')).body;
    expect(access.workspaces).toEqual([{ workspace: w.ws, role: 'reader', grantId, functions: ['billing-*', 'sync-stripe'], secrets: null, expiresAt: null }]);
    // The invoker cannot read the vault, but uses it through the functions it may invoke.
    const mine = (await w.s.request('GET', `/v1/principals/${w.users.invoker.id}/access`, { key: w.users.invoker.key })).body;
    expect(mine.vaults).toEqual([]);
    expect(mine.throughFunctions).toEqual([expect.objectContaining({ vault: 'default', workspace: w.ws, workspaceRole: 'invoker', functions: ['billing-*', 'sync-stripe'] })]);
    const viewer = (await w.s.request('GET', `/v1/principals/${w.users.viewer.id}/access`)).body;
    expect(viewer.throughFunctions).toEqual([]);
  });

  it('re-granting without functions lifts the limit; a grant to * allows every function', async () => {
    expect((await w.s.request('POST', '/v1/vaults/default/grants', { body: { workspace: w.ws, role: 'reader', functions: ['*'] } })).status).toBe(201);
    expect((await w.invoke('reporting', {}, w.users.invoker.key)).body.result).toBe(READ_RESULT);
    expect((await w.s.request('POST', '/v1/vaults/default/grants', { body: { workspace: w.ws, role: 'reader', functions: ['billing-*'] } })).status).toBe(201);
    expect((await w.invoke('reporting', {}, w.users.invoker.key)).body.result).toBe(DENIED);
    expect((await w.s.request('POST', '/v1/vaults/default/grants', { body: { workspace: w.ws, role: 'reader' } })).status).toBe(201);
    expect((await w.invoke('reporting', {}, w.users.invoker.key)).body.result).toBe(READ_RESULT);
  });

  it('a workspace grant limited to some secret names lets functions read those only', async () => {
    expect((await w.s.request('POST', '/v1/vaults/default/grants', { body: { workspace: w.ws, role: 'reader', secrets: ['stripe-*'] } })).status).toBe(201);
    expect((await w.invoke('reporting', {}, w.users.invoker.key)).body.result).toBe(DENIED);
    expect((await readsOf(w, 'reporting')).at(-1)?.detail).toEqual({ functionVersion: 1, reason: 'not_for_secret' });
    const forKey = (await w.s.request('GET', '/v1/vaults/default/access?secret=api-key')).body;
    expect(forKey.workspaces).toEqual([]);
    const forStripe = (await w.s.request('GET', '/v1/vaults/default/access?secret=stripe-key')).body;
    expect(forStripe.workspaces).toEqual([expect.objectContaining({ workspace: w.ws, secrets: ['stripe-*'] })]);
    expect((await w.s.request('POST', '/v1/vaults/default/grants', { body: { workspace: w.ws, role: 'reader' } })).status).toBe(201);
  });

  it('an expiring workspace grant lets functions read until its instant, then stops, and stays listed as expired', async () => {
    const expiresAt = new Date(Date.now() + 700);
    expect((await w.s.request('POST', '/v1/vaults/default/grants', { body: { workspace: w.ws, role: 'reader', expiresAt: expiresAt.toISOString() } })).status).toBe(201);
    expect((await w.invoke('reporting', {}, w.users.invoker.key)).body.result).toBe(READ_RESULT);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() - Date.now()) + 20));
    // Nothing was written since the last read, so a memoised lookup would still say yes: the expiry
    // is decided at the read, not when the grant was loaded.
    expect((await w.invoke('reporting', {}, w.users.invoker.key)).body.result).toBe(DENIED);
    expect((await readsOf(w, 'reporting')).at(-1)?.detail).toEqual({ functionVersion: 1, reason: 'expired' });
    const grants = (await w.s.request('GET', '/v1/vaults/default/grants')).body.grants;
    expect(grants.find((g: any) => g.workspace === w.ws)).toMatchObject({ expiresAt: expiresAt.toISOString(), expired: true });
    expect((await w.s.request('GET', '/v1/vaults/default/access')).body.workspaces).toEqual([]);
  });
});
