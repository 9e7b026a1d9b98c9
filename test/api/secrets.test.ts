// The secret API: values, versions and their states, deletion, and what listings show.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from 'drizzle-orm';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError, selectRows } from '../support/assertions.ts';

let s: TestServer;
const V = '/v1/vaults/app';
const S = `${V}/secrets/api-token`;

beforeAll(async () => {
  s = await startTestServer();
  expect((await s.request('POST', '/v1/vaults', { body: { name: 'app' } })).status).toBe(201);
});
afterAll(async () => { await s?.close(); });

describe('writing and reading values', () => {
  it('the first PUT creates the secret (201, version 1), later PUTs add versions (200)', async () => {
    const first = await s.request('PUT', S, { body: { value: 'first', description: 'the token' } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: 'api-token', latestVersion: 1, description: 'the token', createdBy: s.adminId });
    const second = await s.request('PUT', S, { body: { value: 'second' } });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ latestVersion: 2, description: 'the token' });
    const third = await s.request('PUT', S, { body: { value: 'third', description: 'renamed' } });
    expect(third.body).toMatchObject({ latestVersion: 3, description: 'renamed' });
  });

  it('reading a value gives the latest enabled version by default, uncacheable', async () => {
    const read = await s.request('GET', `${S}/value`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ name: 'api-token', version: 3, value: 'third' });
    expect(read.headers.get('cache-control')).toBe('no-store');
  });

  it('?version=N reads that version', async () => {
    expect((await s.request('GET', `${S}/value?version=1`)).body).toEqual({ name: 'api-token', version: 1, value: 'first' });
    expect((await s.request('GET', `${S}/value?version=2`)).body).toEqual({ name: 'api-token', version: 2, value: 'second' });
  });

  it('a version that does not exist is 404', async () => {
    expectError(await s.request('GET', `${S}/value?version=99`), 404, 'not_found');
  });

  it('a secret that does not exist is 404, for reads, metadata, versions and deletion', async () => {
    for (const [method, path] of [['GET', `${V}/secrets/nope/value`], ['GET', `${V}/secrets/nope`], ['GET', `${V}/secrets/nope/versions`],
      ['DELETE', `${V}/secrets/nope`], ['PATCH', `${V}/secrets/nope/versions/1`], ['DELETE', `${V}/secrets/nope/versions/1`]]) {
      const reply = await s.request(method, path, method === 'PATCH' ? { body: { state: 'disabled' } } : {});
      expectError(reply, 404, 'not_found');
    }
  });

  it('values keep every character: unicode, newlines, the empty string, and exactly 64 KiB', async () => {
    const values = ['', 'ünïcødé 🔑 \u202e rtl', 'line1\nline2\r\n\ttab', '"quoted" \\ back\\slash', 'x'.repeat(64 * 1024)];
    for (const [i, value] of values.entries()) {
      const put = await s.request('PUT', `${V}/secrets/chars-${i}`, { body: { value } });
      expect(put.status, put.text).toBe(201);
      expect((await s.request('GET', `${V}/secrets/chars-${i}/value`)).body.value).toBe(value);
    }
  });

  it('secret names are case-sensitive and may contain dots, dashes and underscores', async () => {
    await s.request('PUT', `${V}/secrets/Case.Name_1-x`, { body: { value: 'upper' } });
    await s.request('PUT', `${V}/secrets/case.name_1-x`, { body: { value: 'lower' } });
    expect((await s.request('GET', `${V}/secrets/Case.Name_1-x/value`)).body.value).toBe('upper');
    expect((await s.request('GET', `${V}/secrets/case.name_1-x/value`)).body.value).toBe('lower');
  });
});

describe('listing and metadata never include values', () => {
  it('GET /secrets lists names and metadata only', async () => {
    const list = await s.request('GET', `${V}/secrets`);
    expect(list.status).toBe(200);
    const token = list.body.secrets.find((x: { name: string }) => x.name === 'api-token');
    expect(Object.keys(token).sort()).toEqual(['createdAt', 'createdBy', 'description', 'latestVersion', 'name', 'updatedAt', 'updatedBy']);
    expect(list.text).not.toMatch(/"value"|third|second/);
  });

  it('GET /secrets/{name} gives metadata only', async () => {
    const meta = await s.request('GET', S);
    expect(meta.body).toMatchObject({ name: 'api-token', latestVersion: 3 });
    expect(meta.text).not.toMatch(/"value"|third/);
  });

  it('GET /versions lists every version newest first, without values', async () => {
    const versions = await s.request('GET', `${S}/versions`);
    expect(versions.body.versions.map((v: { version: number; state: string }) => [v.version, v.state])).toEqual([[3, 'enabled'], [2, 'enabled'], [1, 'enabled']]);
    expect(versions.text).not.toMatch(/"value"|first|second|third|ciphertext|wrapped/i);
  });
});

describe('version states', () => {
  const SV = `${V}/secrets/rotating`;

  beforeAll(async () => {
    for (const value of ['r1', 'r2', 'r3']) await s.request('PUT', SV, { body: { value } });
  });

  it('disabling the latest version makes the default read fall back to the newest enabled one', async () => {
    const disabled = await s.request('PATCH', `${SV}/versions/3`, { body: { state: 'disabled' } });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toEqual({ version: 3, state: 'disabled' });
    expect((await s.request('GET', `${SV}/value`)).body).toMatchObject({ version: 2, value: 'r2' });
  });

  it('reading a disabled version explicitly is refused with version_disabled', async () => {
    expectError(await s.request('GET', `${SV}/value?version=3`), 409, 'version_disabled');
  });

  it('enabling it again makes it the default once more', async () => {
    expect((await s.request('PATCH', `${SV}/versions/3`, { body: { state: 'enabled' } })).status).toBe(200);
    expect((await s.request('GET', `${SV}/value`)).body).toMatchObject({ version: 3, value: 'r3' });
  });

  it('destroying a version erases its ciphertext in the database and keeps its metadata', async () => {
    expect((await s.request('DELETE', `${SV}/versions/2`)).status).toBe(204);
    const [row] = await selectRows<{ state: string; ciphertext: unknown; wrapped_key: unknown; master_key_id: unknown; destroyed_at: unknown }>(s.database.db, sql`
      select v.state, v.ciphertext, v.wrapped_key, v.master_key_id, v.destroyed_at from secret_versions v
      join secrets x on x.id = v.secret_id where x.name = 'rotating' and v.version = 2`);
    expect(row).toMatchObject({ state: 'destroyed', ciphertext: null, wrapped_key: null, master_key_id: null });
    expect(row.destroyed_at).not.toBeNull();
    const versions = (await s.request('GET', `${SV}/versions`)).body.versions;
    expect(versions.find((v: { version: number }) => v.version === 2)).toMatchObject({ state: 'destroyed', destroyedAt: expect.any(String) });
  });

  it('a destroyed version cannot be read, enabled or disabled', async () => {
    expectError(await s.request('GET', `${SV}/value?version=2`), 409, 'version_destroyed');
    expectError(await s.request('PATCH', `${SV}/versions/2`, { body: { state: 'enabled' } }), 409, 'version_destroyed');
    expectError(await s.request('PATCH', `${SV}/versions/2`, { body: { state: 'disabled' } }), 409, 'version_destroyed');
  });

  it('when no version is enabled, the default read is 404 and the versions stay listed', async () => {
    await s.request('PATCH', `${SV}/versions/1`, { body: { state: 'disabled' } });
    await s.request('PATCH', `${SV}/versions/3`, { body: { state: 'disabled' } });
    expectError(await s.request('GET', `${SV}/value`), 404, 'not_found');
    expect((await s.request('GET', `${SV}/versions`)).body.versions).toHaveLength(3);
  });

  it('a new write after destroyed and disabled versions gets the next number, never a reused one', async () => {
    const put = await s.request('PUT', SV, { body: { value: 'r4' } });
    expect(put.body.latestVersion).toBe(4);
    expect((await s.request('GET', `${SV}/value`)).body).toMatchObject({ version: 4, value: 'r4' });
  });

  it('changing the state of a version that does not exist is 404', async () => {
    expectError(await s.request('PATCH', `${SV}/versions/40`, { body: { state: 'disabled' } }), 404, 'not_found');
    expectError(await s.request('DELETE', `${SV}/versions/40`), 404, 'not_found');
  });

  it('a state other than enabled or disabled is refused (destroying is DELETE)', async () => {
    expectError(await s.request('PATCH', `${SV}/versions/1`, { body: { state: 'destroyed' } }), 400, 'validation_failed');
  });
});

describe('deleting', () => {
  it('deleting a secret removes it with all its versions; writing the name again starts at version 1', async () => {
    const SD = `${V}/secrets/short-lived`;
    await s.request('PUT', SD, { body: { value: 'a' } });
    await s.request('PUT', SD, { body: { value: 'b' } });
    expect((await s.request('DELETE', SD)).status).toBe(204);
    expectError(await s.request('GET', `${SD}/value`), 404, 'not_found');
    expect((await s.request('GET', `${V}/secrets`)).body.secrets.map((x: { name: string }) => x.name)).not.toContain('short-lived');
    const rows = await selectRows(s.database.db, sql`select 1 from secrets where name = 'short-lived'`);
    expect(rows).toHaveLength(0);
    const again = await s.request('PUT', SD, { body: { value: 'c' } });
    expect(again.status).toBe(201);
    expect(again.body.latestVersion).toBe(1);
  });

  it('deleting a vault removes its secrets, versions and grants', async () => {
    await s.request('POST', '/v1/vaults', { body: { name: 'doomed' } });
    await s.request('PUT', '/v1/vaults/doomed/secrets/x', { body: { value: 'gone' } });
    expect((await s.request('DELETE', '/v1/vaults/doomed')).status).toBe(204);
    expectError(await s.request('GET', '/v1/vaults/doomed'), 404, 'not_found');
    expectError(await s.request('GET', '/v1/vaults/doomed/secrets/x/value'), 404, 'not_found');
    const left = await selectRows(s.database.db, sql`
      select 1 from secret_versions v join secrets x on x.id = v.secret_id join vaults w on w.id = x.vault_id where w.name = 'doomed'
      union all select 1 from vault_grants g join vaults w on w.id = g.vault_id where w.name = 'doomed'`);
    expect(left).toHaveLength(0);
    // The name stays reserved until an admin releases it; then it is free again, with nothing of the old vault.
    expect((await s.request('POST', '/v1/vaults', { body: { name: 'doomed' } })).status).toBe(409);
    expect((await s.request('DELETE', '/v1/admin/vault-names/doomed')).status).toBe(204);
    expect((await s.request('POST', '/v1/vaults', { body: { name: 'doomed' } })).status).toBe(201);
    expectError(await s.request('GET', '/v1/vaults/doomed/secrets/x/value'), 404, 'not_found');
  });
});
