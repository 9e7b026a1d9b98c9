// The public surface: health, readiness, the OpenAPI document and the reference page.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

let s: TestServer;
beforeAll(async () => { s = await startTestServer(); });
afterAll(async () => { await s?.close(); });

describe('health', () => {
  it('/healthz answers ok without credentials', async () => {
    const reply = await s.request('GET', '/healthz', { key: null });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'ok' });
  });

  it('/readyz reports the database, migrations and master key', async () => {
    const reply = await s.request('GET', '/readyz', { key: null });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'ok', database: true, migrations: true, masterKey: true });
  });
});

describe('/openapi.json', () => {
  let doc: { openapi: string; paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>; components: { securitySchemes: Record<string, unknown> } };
  beforeAll(async () => { doc = (await s.request('GET', '/openapi.json', { key: null })).body; });

  it('is OpenAPI 3.1 with a bearer security scheme', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it.each([
    ['get', '/v1/vaults'], ['post', '/v1/vaults'], ['get', '/v1/vaults/{vault}'], ['delete', '/v1/vaults/{vault}'],
    ['get', '/v1/vaults/{vault}/secrets'], ['put', '/v1/vaults/{vault}/secrets/{name}'], ['get', '/v1/vaults/{vault}/secrets/{name}'],
    ['delete', '/v1/vaults/{vault}/secrets/{name}'], ['get', '/v1/vaults/{vault}/secrets/{name}/value'],
    ['get', '/v1/vaults/{vault}/secrets/{name}/versions'], ['patch', '/v1/vaults/{vault}/secrets/{name}/versions/{n}'],
    ['delete', '/v1/vaults/{vault}/secrets/{name}/versions/{n}'], ['get', '/v1/vaults/{vault}/grants'], ['post', '/v1/vaults/{vault}/grants'],
    ['delete', '/v1/vaults/{vault}/grants/{id}'], ['get', '/v1/workspaces'], ['post', '/v1/workspaces'], ['get', '/v1/workspaces/{ws}/members'],
    ['post', '/v1/workspaces/{ws}/members'], ['get', '/v1/users'], ['post', '/v1/users'], ['get', '/v1/users/{id}/api-keys'],
    ['post', '/v1/users/{id}/api-keys'], ['delete', '/v1/users/{id}/api-keys/{keyId}'], ['get', '/v1/me'], ['get', '/v1/audit'],
    ['get', '/v1/audit/verify'], ['get', '/healthz'], ['get', '/readyz'],
    ['get', '/v1/groups'], ['post', '/v1/groups'], ['get', '/v1/groups/{id}'], ['patch', '/v1/groups/{id}'], ['delete', '/v1/groups/{id}'],
    ['get', '/v1/groups/{id}/members'], ['post', '/v1/groups/{id}/members'], ['delete', '/v1/groups/{id}/members/{principal}'],
    ['get', '/v1/vaults/{vault}/access'], ['get', '/v1/principals/{id}/access'],
  ])('lists %s %s', (method, path) => {
    expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
  });

  it('every /v1 operation requires the bearer scheme and documents the error shape', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!path.startsWith('/v1/')) continue;
      for (const op of Object.values(item)) {
        expect(op.security, path).toEqual([{ bearer: [] }]);
        expect(op.responses['401'], path).toBeDefined();
      }
    }
  });
});

describe('/docs', () => {
  it('serves a self-contained HTML reference page', async () => {
    const reply = await s.request('GET', '/docs', { key: null });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
    expect(reply.text).toContain('/openapi.json');
    expect(reply.text).not.toMatch(/<script[^>]+src=["']https?:/);
  });
});
