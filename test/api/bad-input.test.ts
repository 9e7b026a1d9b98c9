// Hostile and malformed input: every refusal is a coded 4xx in the one error shape, never a 500
// and never a stack trace.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError, expectNot500 } from '../support/assertions.ts';

let s: TestServer;
const V = '/v1/vaults/inputs';

/**
 * Sends a body on a fresh connection (never a pooled one the server may close after answering early),
 * chunked without a Content-Length unless `contentLength` is set.
 */
function sendRaw(path: string, pieces: Buffer[], opts: { contentLength?: boolean; method?: string } = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const url = new URL(s.url + path);
    const total = pieces.reduce((n, p) => n + p.length, 0);
    const headers: Record<string, string | number> = { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' };
    if (opts.contentLength) headers['content-length'] = total; else headers['transfer-encoding'] = 'chunked';
    const req = http.request({ hostname: url.hostname, port: url.port, path: url.pathname, method: opts.method ?? 'PUT', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    // The server may answer and close before the whole body is sent; the answer is what counts.
    req.on('error', reject);
    let i = 0;
    const pump = () => {
      while (i < pieces.length) if (!req.write(pieces[i++])) { req.once('drain', pump); return; }
      req.end();
    };
    pump();
  });
}

/** A JSON body {"value": "aaa..."} of about `size` bytes, in 32 KiB pieces. */
function valueBody(size: number): Buffer[] {
  const pieces = [Buffer.from('{"value":"')];
  for (let left = size; left > 0; left -= 32 * 1024) pieces.push(Buffer.alloc(Math.min(left, 32 * 1024), 'a'));
  pieces.push(Buffer.from('"}'));
  return pieces;
}

beforeAll(async () => {
  s = await startTestServer();
  await s.request('POST', '/v1/vaults', { body: { name: 'inputs' } });
  await s.request('PUT', `${V}/secrets/present`, { body: { value: 'here' } });
});
afterAll(async () => { await s?.close(); });

describe('names outside the documented patterns', () => {
  it.each([
    ['uppercase', 'Vault'],
    ['too long (64 chars)', 'v'.repeat(64)],
    ['a NUL', 'a\u0000b'],
    ['a slash', 'a/b'],
    ['dot-dot', '..'],
    ['a control character', 'a\u0007b'],
    ['a bidi override', 'a\u202eb'],
    ['whitespace', 'a b'],
    ['a leading dash', '-abc'],
    ['the empty string', ''],
    ['a non-string', 42],
  ])('a vault name with %s is refused', async (_what, name) => {
    expectError(await s.request('POST', '/v1/vaults', { body: { name } }), 400, 'validation_failed');
  });

  it('a 63-character vault name is accepted', async () => {
    expect((await s.request('POST', '/v1/vaults', { body: { name: 'v'.repeat(63) } })).status).toBe(201);
  });

  it.each([
    ['a NUL', '%00x'],
    ['an encoded slash', 'a%2Fb'],
    ['dot-dot', 'a..b'],
    ['a newline', 'a%0Ab'],
    ['a DEL', 'a%7Fb'],
    ['a bidi override (U+202E)', 'a%E2%80%AEb'],
    ['a zero-width joiner', 'a%E2%80%8Db'],
    ['a space', 'a%20b'],
    ['a leading dot', '.hidden'],
    ['129 characters', 'a'.repeat(129)],
    ['non-ASCII letters', '%C3%A9t%C3%A9'],
  ])('a secret name with %s is refused', async (_what, encoded) => {
    const reply = await s.request('PUT', `${V}/secrets/${encoded}`, { body: { value: 'x' } });
    expectError(reply, 400, 'validation_failed');
  });

  it('a path that would walk out of the vault does not reach another route', async () => {
    for (const path of [`${V}/secrets/..%2F..%2Fvaults`, `${V}/secrets/%2e%2e`, `${V}/secrets/x/..%2Fvalue`]) {
      const reply = await s.request('GET', path);
      expect([400, 404]).toContain(reply.status);
      expectError(reply, reply.status, reply.status === 400 ? 'validation_failed' : 'not_found');
    }
  });

  it('a malformed percent-encoding is refused, not a crash', async () => {
    for (const path of [`${V}/secrets/%E0%A4%A`, `${V}/secrets/%zz`, '/v1/vaults/%FF%FE']) {
      expectNot500(await s.request('GET', path));
    }
  });

  it('a 128-character secret name is accepted', async () => {
    expect((await s.request('PUT', `${V}/secrets/${'a'.repeat(128)}`, { body: { value: 'x' } })).status).toBe(201);
  });

  it('a workspace or user name outside the pattern is refused', async () => {
    expectError(await s.request('POST', '/v1/workspaces', { body: { name: 'Bad Name' } }), 400, 'validation_failed');
    expectError(await s.request('POST', '/v1/users', { body: { name: 'a\u202eb' } }), 400, 'validation_failed');
  });
});

describe('sizes', () => {
  it('a value of exactly 64 KiB is accepted', async () => {
    expect((await s.request('PUT', `${V}/secrets/max`, { body: { value: 'x'.repeat(64 * 1024) } })).status).toBe(201);
  });

  it('a value over 64 KiB is 413 value_too_large, and nothing is written', async () => {
    expectError(await s.request('PUT', `${V}/secrets/big`, { body: { value: 'x'.repeat(64 * 1024 + 1) } }), 413, 'value_too_large');
    expectError(await s.request('GET', `${V}/secrets/big`), 404, 'not_found');
  });

  it('the 64 KiB limit counts bytes, not characters', async () => {
    const value = 'é'.repeat(32 * 1024 + 1); // 65538 bytes in UTF-8
    expectError(await s.request('PUT', `${V}/secrets/wide`, { body: { value } }), 413, 'value_too_large');
  });

  it('a body over 1 MiB with a Content-Length is 413 payload_too_large', async () => {
    const reply = await sendRaw(`${V}/secrets/huge`, valueBody(1024 * 1024 + 10), { contentLength: true });
    expect(reply.status).toBe(413);
    expect(reply.body.error.code).toBe('payload_too_large');
  });

  it('a body over 1 MiB sent chunked, without a Content-Length, is 413 payload_too_large', async () => {
    const reply = await sendRaw(`${V}/secrets/streamed`, valueBody(1024 * 1024 + 10));
    expect(reply.status).toBe(413);
    expect(reply.body.error.code).toBe('payload_too_large');
    expectError(await s.request('GET', `${V}/secrets/streamed`), 404, 'not_found');
  });

  it('a small chunked body is accepted', async () => {
    expect((await sendRaw(`${V}/secrets/small-chunked`, valueBody(2000))).status).toBe(201);
  });

});

/** Bodies that are not JSON, whatever the route expects. */
const MALFORMED_JSON: [string, string][] = [
  ['truncated JSON', '{"value": "abc"'],
  ['not JSON at all', 'value=abc'],
  ['an empty body', ''],
  ['a trailing comma', '{"value": "abc",}'],
];

/** A raw body sent to a route that updates a secret. */
const put = (rawBody: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  s.request('PUT', `${V}/secrets/present`, { rawBody, headers });

describe('malformed bodies', () => {
  it.each(MALFORMED_JSON)('%s is 400', async (_what, raw) => {
    const reply = await put(raw);
    expect(reply.status).toBe(400);
    expectError(reply, 400, reply.body.error.code);
    expect(['invalid_json', 'validation_failed']).toContain(reply.body.error.code);
  });

  it.each([
    ['a number value', { value: 123 }],
    ['a null value', { value: null }],
    ['an object value', { value: { nested: 'x' } }],
    ['an array value', { value: ['x'] }],
    ['a missing value', { description: 'only' }],
    ['a JSON array body', ['value']],
    ['a JSON string body', 'value'],
    ['a JSON null body', null],
    ['an unknown field', { value: 'x', extra: true }],
    ['a description that is too long', { value: 'x', description: 'd'.repeat(1025) }],
  ])('%s is 400 validation_failed', async (_what, body) => {
    expectError(await put(JSON.stringify(body)), 400, 'validation_failed');
  });

  it('a __proto__ or constructor key is refused as an unknown field, and nothing is created', async () => {
    for (const raw of ['{"value":"x","__proto__":{"isAdmin":true}}', '{"value":"x","constructor":{"prototype":{"polluted":1}}}']) {
      expectError(await put(raw), 400, 'validation_failed');
    }
    const json = { 'content-type': 'application/json' };
    expectError(await s.request('POST', '/v1/vaults', { rawBody: '{"name":"proto-v","__proto__":{"role":"manager"}}', headers: json }), 400, 'validation_failed');
    expectError(await s.request('POST', '/v1/users', { rawBody: '{"name":"proto-u","__proto__":{"isAdmin":true}}', headers: json }), 400, 'validation_failed');
    expect((await s.request('GET', '/v1/vaults/proto-v')).status).toBe(404);
    const users = await s.request('GET', '/v1/users');
    expect(JSON.stringify(users.body)).not.toContain('proto-u');
  });

  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['form-encoded', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['no content type', {}],
  ])('a JSON body sent as %s is 400 invalid_request', async (_what, headers) => {
    expectError(await put('{"value":"x"}', headers), 400, 'invalid_request');
  });
});

// Bodies are read straight from Node's request stream (the limit is decided from Content-Length,
// api/middleware/body-limit.ts): an invocation gets the same answers as any other route.
describe('invocation bodies', () => {
  const INVOKE = '/v1/workspaces/inputs-ws/functions/echo/invoke';
  const post = (body: string | Buffer, contentLength = true) => sendRaw(INVOKE, [Buffer.from(body)], { method: 'POST', contentLength });
  beforeAll(async () => {
    await s.request('POST', '/v1/workspaces', { body: { name: 'inputs-ws' } });
    expect((await s.request('PUT', '/v1/workspaces/inputs-ws/functions/echo', { body: { code: 'export default async (args) => ({ got: args })' } })).status).toBe(201);
  });

  it('is read with a Content-Length, and chunked without one', async () => {
    for (const contentLength of [true, false]) {
      const reply = await post('{"args":{"a":1,"s":"é"}}', contentLength);
      expect(reply.status).toBe(200);
      expect(reply.body.result).toEqual({ got: { a: 1, s: 'é' } });
    }
  });

  it('drops a leading byte order mark and replaces invalid UTF-8, as Request.text() does', async () => {
    expect((await post('\uFEFF{"args":{"a":2}}')).body.result).toEqual({ got: { a: 2 } });
    const reply = await post(Buffer.concat([Buffer.from('{"args":{"s":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]));
    expect(reply.status).toBe(200);
    expect(reply.body.result).toEqual({ got: { s: '\uFFFD\uFFFD' } });
  });

  it('over 1 MiB is 413 payload_too_large, with or without a Content-Length', async () => {
    for (const contentLength of [true, false]) {
      const reply = await sendRaw(INVOKE, valueBody(1024 * 1024 + 10), { method: 'POST', contentLength });
      expect(reply.status).toBe(413);
      expect(reply.body.error.code).toBe('payload_too_large');
    }
  });

  it.each(MALFORMED_JSON)('%s is 400, as on any other route', async (_what, raw) => {
    const reply = await post(raw);
    expect(reply.status).toBe(400);
    expect(['invalid_json', 'validation_failed']).toContain(reply.body.error.code);
    expect(reply.body.error.code).toBe((await put(raw)).body.error.code);
  });
});

describe('numbers', () => {
  it.each([
    ['zero', '0'], ['negative', '-1'], ['fractional', '1.5'], ['huge', '99999999999999999999'], ['just over int32', '2147483648'],
    ['not a number', 'abc'], ['empty', ''], ['exponent overflow', '1e400'],
  ])('a %s version is refused with 400', async (_what, n) => {
    expectError(await s.request('GET', `${V}/secrets/present/value?version=${n}`), 400, 'validation_failed');
    if (n !== '') {
      expectError(await s.request('PATCH', `${V}/secrets/present/versions/${n}`, { body: { state: 'disabled' } }), 400, 'validation_failed');
      expectError(await s.request('DELETE', `${V}/secrets/present/versions/${n}`), 400, 'validation_failed');
    }
  });

  it('the largest allowed version number that does not exist is a plain 404', async () => {
    expectError(await s.request('GET', `${V}/secrets/present/value?version=2147483647`), 404, 'not_found');
  });

  it('an unknown or repeated query parameter is refused', async () => {
    expectError(await s.request('GET', `${V}/secrets/present/value?verison=1`), 400, 'validation_failed');
    expectError(await s.request('GET', `${V}/secrets/present/value?version=1&version=2`), 400, 'validation_failed');
  });
});

describe('routes and methods', () => {
  it('an unknown route is 404 not_found in the error shape', async () => {
    expectError(await s.request('GET', '/v1/nothing-here'), 404, 'not_found');
    expectError(await s.request('GET', '/nothing'), 404, 'not_found');
  });

  it('a method a route does not have is not a 500', async () => {
    for (const [method, path] of [['POST', `${V}/secrets/present/value`], ['PUT', '/v1/vaults'], ['PATCH', V]]) {
      const reply = await s.request(method, path, { body: {} });
      expectNot500(reply);
      expect(reply.body.error).toBeDefined();
    }
  });

  it('the request id is always the server\'s own, whatever X-Request-Id the client sends', async () => {
    const reply = await s.request('GET', '/v1/nothing-here', { headers: { 'x-request-id': 'a b<script>' } });
    expect(reply.headers.get('x-request-id')).toMatch(/^req_/);
    const sent = await s.request('GET', '/v1/nothing-here', { headers: { 'x-request-id': 'trace-123' } });
    expect(sent.headers.get('x-request-id')).toMatch(/^req_/);
    expect(sent.body.error.requestId).toBe(sent.headers.get('x-request-id'));
  });
});

// Last: fetch pools its connections, and this one is answered before its body is sent.
describe('streamed bodies through fetch', () => {
  it('a body over 1 MiB streamed through fetch (duplex: half) is 413 payload_too_large', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (n === 0) controller.enqueue(new TextEncoder().encode('{"value":"'));
        if (n++ < 20) controller.enqueue(chunk);
        else { controller.enqueue(new TextEncoder().encode('"}')); controller.close(); }
      },
    });
    const res = await fetch(`${s.url}${V}/secrets/fetched`, {
      method: 'PUT', body, duplex: 'half', headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json' },
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });
});
