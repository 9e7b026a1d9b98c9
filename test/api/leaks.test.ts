// Secrets stay secret: values never reach a log line, an audit row, an error body or a plain column;
// API keys are stored only as hashes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import crypto from 'node:crypto';
import http from 'node:http';
import { sql } from 'drizzle-orm';
import { startTestServer, type TestServer, type Reply } from '../support/server.ts';
import { selectRows } from '../support/assertions.ts';

let s: TestServer;
let reader: { id: string; key: string };
let outsider: { id: string; key: string };
const canary = (label: string) => `CANARY${label}${crypto.randomBytes(8).toString('hex')}`;
/** Every value sent in this file, and every reply that was not a successful read of one. */
const sent: string[] = [];
const errorReplies: Reply[] = [];
const V = '/v1/vaults/vault-of-canaries';

async function send(method: string, path: string, opts: Parameters<TestServer['request']>[2] = {}) {
  const reply = await s.request(method, path, opts);
  if (reply.status >= 400) errorReplies.push(reply);
  return reply;
}

beforeAll(async () => {
  s = await startTestServer();
  reader = await s.createUser('leak-reader');
  outsider = await s.createUser('leak-outsider');
  await s.request('POST', '/v1/vaults', { body: { name: 'vault-of-canaries' } });
  await s.request('POST', `${V}/grants`, { body: { principal: reader.id, role: 'reader' } });
});
afterAll(async () => { await s?.close(); });

describe('values travel only in the read response', () => {
  it('values written and read through the API come back intact', async () => {
    for (let i = 0; i < 3; i++) {
      const value = canary(`ok${i}`);
      sent.push(value);
      expect((await send('PUT', `${V}/secrets/s${i}`, { body: { value, description: 'a description' } })).status).toBe(201);
      const read = await send('GET', `${V}/secrets/s${i}/value`, { key: reader.key });
      expect(read.body.value).toBe(value);
    }
    // Metadata and listings never carry them.
    const listing = await send('GET', `${V}/secrets`);
    const versions = await send('GET', `${V}/secrets/s0/versions`);
    for (const value of sent) expect(listing.text + versions.text).not.toContain(value);
  });

  it('refused requests that carry a value do not echo it', async () => {
    const cases: Array<[string, string, Parameters<TestServer['request']>[2]]> = [];
    const add = (method: string, path: string, make: (v: string) => Parameters<TestServer['request']>[2]) => {
      const v = canary('bad'); sent.push(v); cases.push([method, path, make(v)]);
    };
    add('PUT', `${V}/secrets/big`, (v) => ({ body: { value: v + 'x'.repeat(64 * 1024) } }));
    add('PUT', `${V}/secrets/extra`, (v) => ({ body: { value: v, unknown: true } }));
    add('PUT', `${V}/secrets/typed`, (v) => ({ body: { value: { nested: v } } }));
    add('PUT', `${V}/secrets/typed2`, (v) => ({ body: { value: [v] } }));
    add('PUT', `${V}/secrets/desc`, (v) => ({ body: { value: v, description: 42 } }));
    add('PUT', `${V}/secrets/malformed`, (v) => ({ rawBody: `{"value": "${v}"`, headers: { 'content-type': 'application/json' } }));
    add('PUT', `${V}/secrets/bad..name`, (v) => ({ body: { value: v } }));
    add('PUT', `${V}/secrets/wrong-type`, (v) => ({ rawBody: JSON.stringify({ value: v }), headers: { 'content-type': 'text/plain' } }));
    add('PUT', `${V}/secrets/denied`, (v) => ({ key: reader.key, body: { value: v } }));
    add('PUT', `${V}/secrets/hidden`, (v) => ({ key: outsider.key, body: { value: v } }));
    add('PUT', '/v1/vaults/no-such-vault/secrets/x', (v) => ({ body: { value: v } }));
    add('PUT', `${V}/secrets/unauth`, (v) => ({ key: null, body: { value: v } }));
    add('PUT', `${V}/secrets/bad-key`, (v) => ({ key: 'coffer_' + 'A'.repeat(43), body: { value: v } }));
    add('PATCH', `${V}/secrets/s0/versions/1`, (v) => ({ body: { state: v } }));
    add('POST', `${V}/grants`, (v) => ({ body: { principal: reader.id, role: v } }));
    for (const [method, path, opts] of cases) {
      const reply = await send(method, path, opts);
      expect(reply.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(reply.status).toBeLessThan(500);
    }
  });

  it('a chunked body over 1 MiB carrying a value is refused without echoing it', async () => {
    const v = canary('chunked');
    sent.push(v);
    const url = new URL(`${s.url}${V}/secrets/chunked`);
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.request({ hostname: url.hostname, port: url.port, path: url.pathname, method: 'PUT', agent: false,
        headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let t = ''; res.on('data', (d) => { t += d; }); res.on('end', () => resolve(`${res.statusCode} ${t}`));
      });
      req.on('error', reject);
      req.write(`{"value":"${v}`);
      req.end('x'.repeat(1024 * 1024 + 100) + '"}');
    });
    expect(text).toMatch(/^413 /);
    expect(text).not.toContain(v);
  });

  it('no error body contains a value or a stack trace', () => {
    expect(errorReplies.length).toBeGreaterThan(10);
    for (const reply of errorReplies) {
      expect(Object.keys(reply.body)).toEqual(['error']);
      for (const value of sent) expect(reply.text).not.toContain(value);
      expect(reply.text).not.toMatch(/CANARY/);
      expect(reply.text).not.toMatch(/\n\s+at /);
    }
  });

  it('no log line contains a value or a credential', () => {
    const logs = s.logs.join('\n');
    expect(s.logs.length).toBeGreaterThan(20);
    expect(logs).not.toMatch(/CANARY/);
    expect(logs).not.toContain(s.adminKey);
    expect(logs).not.toContain(reader.key);
  });

  it('no audit row contains a value, through the API or in the table', async () => {
    const api = await s.request('GET', '/v1/audit?limit=500');
    expect(api.body.events.length).toBeGreaterThan(10);
    expect(api.text).not.toMatch(/CANARY/);
    const rows = await selectRows(s.database.db, sql`select * from audit_events`);
    expect(JSON.stringify(rows)).not.toMatch(/CANARY/);
  });

  it('no table holds a value in the clear; ciphertexts do not contain it either', async () => {
    for (const table of ['settings', 'principals', 'api_keys', 'vaults', 'vault_grants', 'secrets', 'secret_versions', 'audit_events', 'audit_head', 'workspaces']) {
      const rows = await selectRows(s.database.db, sql`select * from ${sql.identifier(table)}`);
      const dump = JSON.stringify(rows, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
      expect(dump, table).not.toMatch(/CANARY/);
    }
  });
});

describe('API keys', () => {
  it('are stored only as hashes: no column holds the key text', async () => {
    const fresh = await s.createUser('leak-keys');
    const rows = await selectRows<Record<string, unknown>>(s.database.db, sql`select * from api_keys`);
    const dump = JSON.stringify(rows);
    for (const key of [s.adminKey, reader.key, outsider.key, fresh.key]) {
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(key.slice(12));
      expect(dump).toContain(crypto.createHash('sha256').update(key).digest('hex'));
    }
  });

  it('are shown once at creation and never in listings', async () => {
    const fresh = await s.createUser('leak-keys-2');
    const listed = await s.request('GET', `/v1/users/${fresh.id}/api-keys`);
    expect(listed.body.apiKeys).toHaveLength(1);
    expect(Object.keys(listed.body.apiKeys[0]).sort()).toEqual(['createdAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt']);
    expect(listed.text).not.toContain(fresh.key);
    expect(fresh.key.startsWith(listed.body.apiKeys[0].prefix)).toBe(true);
  });

  it('the issuing response is not cacheable', async () => {
    const issued = await s.request('POST', `/v1/users/${reader.id}/api-keys`, { body: { name: 'second' } });
    expect(issued.status).toBe(201);
    expect(issued.headers.get('cache-control')).toBe('no-store');
  });
});
