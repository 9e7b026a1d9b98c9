// Shared setup for the function API tests: a workspace with members of every role, a vault the
// workspace may read, and small helpers to deploy and invoke through HTTP.
import { expect } from 'vitest';
import { startTestServer, type TestServer, type TestServerOptions, type Reply } from '../support/server.ts';

export interface FunctionWorld {
  s: TestServer;
  ws: string;
  vault: string;
  users: Record<'editor' | 'invoker' | 'viewer' | 'outsider', { id: string; key: string }>;
  deploy(name: string, code: string, extra?: Record<string, unknown>, key?: string): Promise<Reply>;
  invoke(name: string, args?: unknown, key?: string, ws?: string): Promise<Reply>;
  putSecret(name: string, value: string, vault?: string): Promise<Reply>;
  grant(vault?: string, ws?: string): Promise<string>;
  close(): Promise<void>;
}

let worlds = 0;

export async function startFunctionWorld(options: TestServerOptions = {}): Promise<FunctionWorld> {
  const s = await startTestServer({ ...options, env: { COFFER_WORKERS: '1', ...options.env } });
  const n = ++worlds;
  const ws = `acme-${n}`;
  const vault = 'default';
  const ok = (r: Reply, status: number) => { expect(r.status, r.text).toBe(status); return r; };
  ok(await s.request('POST', '/v1/workspaces', { body: { name: ws } }), 201);
  const users = {} as FunctionWorld['users'];
  for (const role of ['editor', 'invoker', 'viewer', 'outsider'] as const) {
    const u = await s.createUser(`${role}-${n}`);
    users[role] = u;
    if (role !== 'outsider') ok(await s.request('POST', `/v1/workspaces/${ws}/members`, { body: { principal: u.id, role } }), 200);
  }
  ok(await s.request('POST', '/v1/vaults', { body: { name: vault } }), 201);

  const world: FunctionWorld = {
    s, ws, vault, users,
    deploy: (name, code, extra = {}, key) => s.request('PUT', `/v1/workspaces/${ws}/functions/${name}`, { key, body: { code, ...extra } }),
    invoke: (name, args, key, inWs = ws) => s.request('POST', `/v1/workspaces/${inWs}/functions/${name}/invoke`, { key, body: args === undefined ? {} : { args } }),
    putSecret: (name, value, v = vault) => s.request('PUT', `/v1/vaults/${v}/secrets/${name}`, { body: { value } }),
    async grant(v = vault, w = ws) {
      const r = ok(await s.request('POST', `/v1/vaults/${v}/grants`, { body: { workspace: w, role: 'reader' } }), 201);
      return r.body.id as string;
    },
    close: () => s.close(),
  };
  return world;
}

/** Deploys and asserts success. */
export async function deployed(w: FunctionWorld, name: string, code: string, extra: Record<string, unknown> = {}) {
  const r = await w.deploy(name, code, extra);
  expect([200, 201], r.text).toContain(r.status);
  return r.body;
}

/** Asserts the error envelope of a failed invocation and returns its details. */
export function expectInvokeError(r: Reply, status: number, code: string) {
  expect({ status: r.status, code: r.body?.error?.code }, r.text).toEqual({ status, code });
  const { error } = r.body;
  expect(typeof error.message).toBe('string');
  expect(error.requestId).toBe(r.headers.get('x-request-id'));
  expect(error.details).toMatchObject({ invocationId: expect.stringMatching(/^inv_/), version: expect.any(Number), logs: expect.any(Array), durationMs: expect.any(Number) });
  expect(r.text).not.toMatch(/\/work\/|node_modules|\.ts:\d+|coffer-bootstrap/);
  return error.details as { invocationId: string; version: number; logs: { level: string; message: string }[]; stack?: string; durationMs: number };
}
