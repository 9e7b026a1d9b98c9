// The typed client (coffer/client): one error class with code, status and request id; retries of
// idempotent requests only, on connection errors and 502/503/504, against real loopback receivers;
// OAuth tokens fetched once, cached and renewed, against the real server.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer, type TestServer } from '../support/server.ts';
import { createCofferClient, CofferApiError } from '../../client/index.ts';

/** A loopback receiver that answers the nth request with answers[n] (the last one repeats); 'drop' closes the socket. */
async function receiver(answers: (number | 'drop')[]) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    const answer = answers[Math.min(seen.length, answers.length - 1)]!;
    seen.push(req.method!);
    if (answer === 'drop') { req.socket.destroy(); return; }
    res.writeHead(answer, { 'content-type': 'application/json', 'x-request-id': 'req_test' });
    res.end(answer < 300 ? JSON.stringify({ vaults: [] }) : JSON.stringify({ error: { code: 'unavailable', message: 'try later', requestId: 'req_test' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const fast = { retries: 3, baseDelayMs: 1, maxDelayMs: 5 };

describe('coffer/client', { timeout: 180_000 }, () => {
  let s: TestServer;
  beforeAll(async () => { s = await startTestServer({ env: { COFFER_ACCESS_TOKEN_TTL_SECONDS: '1' } }); });
  afterAll(async () => { await s?.close(); });

  it('throws CofferApiError with the server\'s code, status and request id', async () => {
    const client = createCofferClient({ url: s.url, apiKey: s.adminKey });
    const err = await client.GET('/v1/vaults/{vault}', { params: { path: { vault: 'nowhere' } } }).catch((e) => e);
    expect(err).toBeInstanceOf(CofferApiError);
    expect(err).toMatchObject({ code: 'not_found', status: 404, requestId: expect.stringMatching(/^req_/) });
    const unauth = await createCofferClient({ url: s.url, apiKey: 'coffer_nope' }).GET('/v1/me').catch((e) => e);
    expect(unauth).toMatchObject({ code: 'unauthenticated', status: 401 });
    expect((await client.GET('/v1/me')).id).toBe(s.adminId);
  });

  it('retries a GET on 503 and on a dropped connection, then succeeds', async () => {
    const r = await receiver([503, 'drop', 502, 200]);
    try {
      const client = createCofferClient({ url: r.url, apiKey: 'coffer_x', retry: fast });
      expect(await client.GET('/v1/vaults')).toEqual({ vaults: [] });
      expect(r.seen).toEqual(['GET', 'GET', 'GET', 'GET']);
    } finally { await r.close(); }
  });

  it('never repeats a POST; gives up on a GET after its retries with the last answer', async () => {
    const r = await receiver([503]);
    try {
      const client = createCofferClient({ url: r.url, apiKey: 'coffer_x', retry: fast });
      const post = await client.POST('/v1/vaults', { body: { name: 'x' } }).catch((e) => e);
      expect(post).toMatchObject({ code: 'unavailable', status: 503, requestId: 'req_test' });
      expect(r.seen).toEqual(['POST']);
      const get = await client.GET('/v1/vaults').catch((e) => e);
      expect(get).toMatchObject({ status: 503 });
      expect(r.seen).toEqual(['POST', 'GET', 'GET', 'GET', 'GET']);
    } finally { await r.close(); }
    // 500 is the server's own failure, not a gateway's: not retried.
    const five = await receiver([500]);
    try {
      await createCofferClient({ url: five.url, apiKey: 'coffer_x', retry: fast }).GET('/v1/vaults').catch(() => {});
      expect(five.seen).toEqual(['GET']);
    } finally { await five.close(); }
  });

  it('a server that cannot be reached is connection_failed', async () => {
    const r = await receiver([200]);
    const { url } = r;
    await r.close();
    const err = await createCofferClient({ url, apiKey: 'coffer_x', retry: fast }).GET('/v1/me').catch((e) => e);
    expect(err).toMatchObject({ code: 'connection_failed', status: 0 });
  });

  it('OAuth: one token for concurrent requests, reused while valid, renewed before it expires', async () => {
    const created = await s.request('POST', '/v1/service-accounts', { body: { name: 'svc', auth: 'oauth' } });
    const tokenRequests: number[] = [];
    const client = createCofferClient({
      url: s.url,
      oauth: { clientId: created.body.clientId, clientSecret: created.body.clientSecret.secret },
      fetch: (req) => { if (new URL(req.url).pathname === '/oauth2/token') tokenRequests.push(Date.now()); return fetch(req); },
    });
    const answers = await Promise.all([client.GET('/v1/me'), client.GET('/v1/me'), client.GET('/v1/vaults')]);
    expect(answers[0]).toMatchObject({ kind: 'service_account', via: 'oauth' });
    expect(tokenRequests).toHaveLength(1);
    // A one-second token: renewed once it is within its margin of expiry.
    const started = Date.now();
    while (Date.now() - started < 1200) await new Promise((r) => setTimeout(r, 100));
    await client.GET('/v1/me');
    expect(tokenRequests).toHaveLength(2);
  });
});
