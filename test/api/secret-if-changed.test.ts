// PUT /v1/vaults/{vault}/secrets/{name} with ifChanged: an equal value creates no version and says
// changed: false; a different value, a disabled latest version or no ifChanged write as usual. The
// value appears in no response, audit row or log line.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('PUT secret with ifChanged', { timeout: 60_000 }, () => {
  let s: TestServer;
  const put = (body: Record<string, unknown>) => s.request('PUT', '/v1/vaults/v/secrets/k', { body });

  beforeAll(async () => {
    s = await startTestServer();
    expect((await s.request('POST', '/v1/vaults', { body: { name: 'v' } })).status).toBe(201);
  }, 180_000);
  afterAll(async () => { await s?.close(); });

  it('creates, then answers the same version with changed: false for an equal value', async () => {
    const first = await put({ value: 'hunter2-value', ifChanged: true });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: 'k', version: 1, latestVersion: 1, changed: true });
    const same = await put({ value: 'hunter2-value', ifChanged: true });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ version: 1, latestVersion: 1, changed: false });
    expect((await s.request('GET', '/v1/vaults/v/secrets/k/versions')).body.versions).toHaveLength(1);
  });

  it('writes a new version for a different value, or without ifChanged even when equal', async () => {
    expect((await put({ value: 'other-value', ifChanged: true })).body).toMatchObject({ version: 2, changed: true });
    expect((await put({ value: 'other-value' })).body).toMatchObject({ version: 3, changed: true });
    expect((await put({ value: 'other-value', ifChanged: false })).body).toMatchObject({ version: 4, changed: true });
  });

  it('writes when the latest version is disabled, since readers would not get the value', async () => {
    expect((await s.request('PATCH', '/v1/vaults/v/secrets/k/versions/4', { body: { state: 'disabled' } })).status).toBe(200);
    expect((await put({ value: 'other-value', ifChanged: true })).body).toMatchObject({ version: 5, changed: true });
  });

  it('audits an unchanged write as unchanged, without the value anywhere', async () => {
    await put({ value: 'other-value', ifChanged: true });
    const audit = await s.request('GET', '/v1/audit?vault=v&limit=50');
    const rows = JSON.stringify(audit.body);
    expect(rows).toContain('"unchanged":true');
    expect(rows).not.toContain('other-value');
    expect(rows).not.toContain('hunter2-value');
    expect(s.logs.join('\n')).not.toContain('other-value');
  });

  it('refuses a non-boolean ifChanged with 400', async () => {
    const r = await put({ value: 'x', ifChanged: 'yes' });
    expect(r.status).toBe(400);
  });
});
