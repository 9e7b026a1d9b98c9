// The OAuth 2.0 client-credentials grant end to end: a real OAuth client (oauth4webapi) against the
// running server, tokens verified with jose against the published JWKS, and every refusal rule.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, jwtVerify, decodeJwt, decodeProtectedHeader, SignJWT, generateKeyPair, exportSPKI, base64url, type JWTPayload } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { expectError } from '../support/assertions.ts';
import { createSigningKeys } from '../../api/services/signing-keys.ts';

interface OAuthAccount { id: string; secret: string; secretId: string }

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const basic = (id: string, secret: string) => `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const getJsonBody = (res: Response): Promise<any> => res.json();
const getJson = async (url: string | URL): Promise<any> => (await fetch(url)).json();

/** Every credential and token handed out in this file, to prove none of them leaks anywhere. */
const handedOut: string[] = [];

async function createOAuthAccount(s: TestServer, name: string, key = s.adminKey): Promise<OAuthAccount> {
  const res = await s.request('POST', '/v1/service-accounts', { key, body: { name, auth: 'oauth' } });
  expect(res.status, res.text).toBe(201);
  handedOut.push(res.body.clientSecret.secret);
  return { id: res.body.clientId, secret: res.body.clientSecret.secret, secretId: res.body.clientSecret.id };
}

/** A raw POST to the token endpoint. */
async function tokenRequest(s: TestServer, body: string, opts: { headers?: Record<string, string>; query?: string } = {}) {
  const res = await fetch(`${s.url}/oauth2/token${opts.query ?? ''}`, { method: 'POST', headers: { ...FORM, ...opts.headers }, body });
  const json: any = await res.json().catch(() => null);
  if (json?.access_token) handedOut.push(json.access_token);
  return { status: res.status, body: json, headers: res.headers };
}

const postForm = (a: OAuthAccount, extra: Record<string, string> = {}) =>
  new URLSearchParams({ grant_type: 'client_credentials', client_id: a.id, client_secret: a.secret, ...extra }).toString();

async function tokenFor(s: TestServer, a: OAuthAccount, secret = a.secret): Promise<string> {
  const res = await tokenRequest(s, postForm({ ...a, secret }));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.access_token;
}

function expectOAuthError(res: { status: number; body: any; headers: Headers }, status: number, error: string) {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error });
  expect(Object.keys(res.body).every((k) => k === 'error' || k === 'error_description')).toBe(true);
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describe('OAuth 2.0 client credentials', () => {
  let s: TestServer;
  let as: oauth.AuthorizationServer;
  let account: OAuthAccount;

  beforeAll(async () => {
    // Failures are limited per source address, and every test here calls from loopback; the limit
    // itself is tested on a server of its own below.
    s = await startTestServer({ env: { COFFER_TOKEN_FAILURES_PER_MINUTE: '10000', COFFER_AUTH_FAILURE_ROWS_PER_MINUTE: '10000' } });
    account = await createOAuthAccount(s, 'oauth-main');
  });
  afterAll(async () => { await s?.close(); });

  describe('discovery and key publication', () => {
    it('publishes RFC 8414 metadata that oauth4webapi accepts', async () => {
      const issuer = new URL(s.url);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
      expect(as).toEqual({
        issuer: s.url,
        token_endpoint: `${s.url}/oauth2/token`,
        jwks_uri: `${s.url}/.well-known/jwks.json`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        scopes_supported: ['coffer'],
        response_types_supported: [],
      });
    });

    it('publishes every signing key with alg, kid and use', async () => {
      await tokenFor(s, account); // the first key is made on first use
      const jwks = await getJson(`${s.url}/.well-known/jwks.json`);
      expect(jwks.keys.length).toBeGreaterThanOrEqual(1);
      for (const k of jwks.keys) {
        expect(k).toMatchObject({ alg: 'ES256', use: 'sig', kty: 'EC', crv: 'P-256' });
        expect(typeof k.kid).toBe('string');
        expect(k.d).toBeUndefined();
      }
    });
  });

  describe('issuing tokens', () => {
    it('issues a token to oauth4webapi with client_secret_post', async () => {
      const client = { client_id: account.id };
      const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretPost(account.secret), { scope: 'coffer' }, insecure);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
      const result = await oauth.processClientCredentialsResponse(as, client, res);
      handedOut.push(result.access_token);
      expect(result).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'coffer' });
      expect(result.refresh_token).toBeUndefined();
    });

    it('issues a token to oauth4webapi with client_secret_basic (form-urlencoded id and secret)', async () => {
      const client = { client_id: account.id };
      const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(account.secret), {}, insecure);
      const result = await oauth.processClientCredentialsResponse(as, client, res);
      handedOut.push(result.access_token);
      expect(result.scope).toBe('coffer'); // the default scope
    });

    it('answers exactly {access_token, token_type, expires_in, scope}', async () => {
      const res = await tokenRequest(s, postForm(account));
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
      expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'coffer' });
    });

    it('mints an at+jwt that verifies against the published JWKS with the documented claims', async () => {
      const token = await tokenFor(s, account);
      const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(`${s.url}/.well-known/jwks.json`)), {
        issuer: s.url, audience: `${s.url}/v1`, typ: 'at+jwt', algorithms: ['ES256'],
      });
      expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      expect(typeof protectedHeader.kid).toBe('string');
      expect(payload).toMatchObject({ sub: account.id, client_id: account.id, csid: account.secretId, scope: 'coffer' });
      expect(payload.exp! - payload.iat!).toBe(3600);
      expect(payload.nbf).toBe(payload.iat);
      expect(payload.jti).toMatch(/^at_/);
    });

    it('the token authenticates API calls as the service account', async () => {
      const token = await tokenFor(s, account);
      const me = await s.request('GET', '/v1/me', { key: token });
      expect(me.status, me.text).toBe(200);
      expect(me.body).toMatchObject({ id: account.id, kind: 'service_account', via: 'oauth', isAdmin: false });
    });

    it('the service account reads what its grants allow, with a token', async () => {
      await s.request('POST', '/v1/vaults', { body: { name: 'oauth-vault' } });
      await s.request('PUT', '/v1/vaults/oauth-vault/secrets/api-token', { body: { value: 'value-for-oauth' } });
      const token = await tokenFor(s, account);
      expect((await s.request('GET', '/v1/vaults/oauth-vault/secrets/api-token/value', { key: token })).status).toBe(404);
      await s.request('POST', '/v1/vaults/oauth-vault/grants', { body: { principal: account.id, role: 'reader' } });
      const read = await s.request('GET', '/v1/vaults/oauth-vault/secrets/api-token/value', { key: token });
      expect(read.body.value).toBe('value-for-oauth');
    });

    it('records last use of the client secret', async () => {
      const list = await s.request('GET', `/v1/service-accounts/${account.id}/client-secrets`);
      expect(list.body.clientSecrets[0].lastUsedAt).not.toBeNull();
    });
  });

  describe('token endpoint refusals (RFC 6749 §5.2)', () => {
    it('a wrong secret, an unknown client and an api_key account all get the same invalid_client', async () => {
      const apiKeyAccount = await s.request('POST', '/v1/service-accounts', { body: { name: 'oauth-apikey-sa', auth: 'api_key' } });
      handedOut.push(apiKeyAccount.body.apiKey.key);
      const attempts = [
        postForm({ ...account, secret: `${account.secret}x` }),
        postForm({ ...account, id: 'sa_doesnotexist0000' }),
        postForm({ ...account, id: s.adminId }),
        postForm({ id: apiKeyAccount.body.serviceAccount.id, secret: apiKeyAccount.body.apiKey.key, secretId: '' }),
      ];
      const bodies = [];
      for (const body of attempts) {
        const res = await tokenRequest(s, body);
        expectOAuthError(res, 401, 'invalid_client');
        expect(res.headers.get('www-authenticate')).toBeNull(); // no Basic was attempted
        bodies.push(res.body);
      }
      expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    });

    it('a failed Basic attempt gets 401 with a Basic challenge', async () => {
      const res = await tokenRequest(s, 'grant_type=client_credentials', { headers: { authorization: basic(account.id, 'coffer_cs_wrong') } });
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="coffer"');
    });

    it('oauth4webapi sees invalid_client for a wrong secret', async () => {
      const client = { client_id: account.id };
      const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretPost('coffer_cs_wrong'), {}, insecure);
      await expect(oauth.processClientCredentialsResponse(as, client, res)).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
    });

    it('no credentials at all is invalid_client', async () => {
      expectOAuthError(await tokenRequest(s, 'grant_type=client_credentials'), 401, 'invalid_client');
      expectOAuthError(await tokenRequest(s, `grant_type=client_credentials&client_id=${account.id}`), 401, 'invalid_client');
    });

    it('refuses credentials in the query string', async () => {
      const res = await tokenRequest(s, 'grant_type=client_credentials', { query: `?client_id=${account.id}&client_secret=${account.secret}` });
      expectOAuthError(res, 400, 'invalid_request');
      // Even alongside valid body credentials.
      expectOAuthError(await tokenRequest(s, postForm(account), { query: `?client_secret=${account.secret}` }), 400, 'invalid_request');
    });

    it('refuses Basic and body credentials together', async () => {
      const res = await tokenRequest(s, postForm(account), { headers: { authorization: basic(account.id, account.secret) } });
      expectOAuthError(res, 400, 'invalid_request');
    });

    it('refuses a body that is not form-encoded', async () => {
      const res = await fetch(`${s.url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credentials', client_id: account.id, client_secret: account.secret }) });
      expectOAuthError({ status: res.status, body: await getJsonBody(res), headers: res.headers }, 400, 'invalid_request');
    });

    it('refuses a missing grant type, an unsupported one, and repeated parameters', async () => {
      expectOAuthError(await tokenRequest(s, `client_id=${account.id}&client_secret=${account.secret}`), 400, 'invalid_request');
      expectOAuthError(await tokenRequest(s, postForm(account, { grant_type: 'password' })), 400, 'unsupported_grant_type');
      expectOAuthError(await tokenRequest(s, postForm(account, { grant_type: 'refresh_token' })), 400, 'unsupported_grant_type');
      expectOAuthError(await tokenRequest(s, `${postForm(account)}&scope=coffer&scope=coffer`), 400, 'invalid_request');
    });

    it('refuses an unknown scope with invalid_scope', async () => {
      expectOAuthError(await tokenRequest(s, postForm(account, { scope: 'admin' })), 400, 'invalid_scope');
      expectOAuthError(await tokenRequest(s, postForm(account, { scope: 'coffer admin' })), 400, 'invalid_scope');
    });

    it('audits refusals without the attempted secret', async () => {
      const audit = await s.request('GET', '/v1/audit?action=oauth.token.denied&limit=500');
      expect(audit.body.events.length).toBeGreaterThan(5);
      for (const e of audit.body.events) expect(e.outcome).toBe('denied');
      expect(audit.body.events.map((e: any) => e.detail.reason)).toEqual(expect.arrayContaining(['wrong_secret', 'unknown_client', 'credentials_in_query', 'both_methods']));
    });
  });

  describe('immediate revocation', () => {
    let sa: OAuthAccount;
    let second: { id: string; secret: string };
    beforeAll(async () => {
      sa = await createOAuthAccount(s, 'oauth-revocation');
      const res = await s.request('POST', `/v1/service-accounts/${sa.id}/client-secrets`);
      second = { id: res.body.id, secret: res.body.secret };
      handedOut.push(second.secret);
    });
    const me = (token: string) => s.request('GET', '/v1/me', { key: token });

    it('deactivating the account refuses its token on the next request; reactivating restores it', async () => {
      const token = await tokenFor(s, sa);
      expect((await me(token)).status).toBe(200);
      await s.request('PATCH', `/v1/service-accounts/${sa.id}`, { body: { active: false } });
      expectError(await me(token), 401, 'unauthenticated');
      expectOAuthError(await tokenRequest(s, postForm(sa)), 401, 'invalid_client');
      await s.request('PATCH', `/v1/service-accounts/${sa.id}`, { body: { active: true } });
      expect((await me(token)).status).toBe(200);
    });

    it('deactivating the minting secret refuses its tokens but not those of the other secret', async () => {
      const first = await tokenFor(s, sa);
      const other = await tokenFor(s, sa, second.secret);
      await s.request('PATCH', `/v1/service-accounts/${sa.id}/client-secrets/${sa.secretId}`, { body: { active: false } });
      const refused = await me(first);
      expectError(refused, 401, 'unauthenticated');
      expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect((await me(other)).status).toBe(200);
      expectOAuthError(await tokenRequest(s, postForm(sa)), 401, 'invalid_client');

      await s.request('DELETE', `/v1/service-accounts/${sa.id}/client-secrets/${sa.secretId}`);
      expectError(await me(first), 401, 'unauthenticated');
      expect((await me(other)).status).toBe(200);
    });

    it('deleting the account refuses its tokens', async () => {
      const token = await tokenFor(s, sa, second.secret);
      expect((await me(token)).status).toBe(200);
      expect((await s.request('DELETE', `/v1/service-accounts/${sa.id}`)).status).toBe(204);
      expectError(await me(token), 401, 'unauthenticated');
    });
  });

  describe('token verification', () => {
    let claims: JWTPayload;
    let kid: string;
    const now = () => Math.floor(Date.now() / 1000);

    beforeAll(async () => {
      const token = await tokenFor(s, account);
      claims = decodeJwt(token);
      kid = decodeProtectedHeader(token).kid!;
    });

    /** Signs with the server's real current key, so only the named difference can cause a refusal. */
    async function forge(overrides: JWTPayload = {}, header: Record<string, unknown> = {}) {
      const { key } = await s.running.services.signingKeys.current();
      return new SignJWT({ ...claims, ...overrides }).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt', ...header }).sign(key);
    }
    async function expectRefused(token: string, description = /not valid/) {
      const res = await s.request('GET', '/v1/me', { key: token });
      expectError(res, 401, 'unauthenticated');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="coffer", error="invalid_token"/);
      expect(res.body.error.message).toMatch(description);
    }

    it('accepts a correctly forged control token (the forging itself is sound)', async () => {
      expect((await s.request('GET', '/v1/me', { key: await forge() })).status).toBe(200);
    });

    it('refuses an expired token with "the access token has expired"', async () => {
      const token = await forge({ iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 });
      await expectRefused(token, /the access token has expired/);
      const res = await s.request('GET', '/v1/me', { key: token });
      expect(res.headers.get('www-authenticate')).toContain('error_description="the access token has expired"');
    });

    it('allows 30 seconds of clock difference, no more', async () => {
      expect((await s.request('GET', '/v1/me', { key: await forge({ exp: now() - 10 }) })).status).toBe(200);
      expect((await s.request('GET', '/v1/me', { key: await forge({ nbf: now() + 10 }) })).status).toBe(200);
      await expectRefused(await forge({ exp: now() - 60 }), /expired/);
      await expectRefused(await forge({ nbf: now() + 120 }));
    });

    it('refuses a tampered token', async () => {
      const [h, , sig] = (await forge()).split('.');
      const payload = base64url.encode(JSON.stringify({ ...claims, scope: 'coffer', sub: s.adminId }));
      await expectRefused(`${h}.${payload}.${sig}`);
    });

    it('refuses a wrong audience, a wrong issuer, a missing claim', async () => {
      await expectRefused(await forge({ aud: 'https://elsewhere.example/v1' }));
      await expectRefused(await forge({ iss: 'https://evil.example' }));
      const { jti: _jti, ...withoutJti } = claims;
      const { key } = await s.running.services.signingKeys.current();
      await expectRefused(await new SignJWT(withoutJti).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(key));
    });

    it('refuses a token without typ at+jwt', async () => {
      await expectRefused(await forge({}, { typ: 'JWT' }));
      await expectRefused(await forge({}, { typ: undefined }));
    });

    it('refuses alg: none', async () => {
      const h = base64url.encode(JSON.stringify({ alg: 'none', kid, typ: 'at+jwt' }));
      const p = base64url.encode(JSON.stringify(claims));
      await expectRefused(`${h}.${p}.`);
    });

    it('refuses HS256 signed with the public key as the HMAC secret', async () => {
      const jwks = await getJson(`${s.url}/.well-known/jwks.json`);
      const jwk = jwks.keys.find((k: { kid: string }) => k.kid === kid);
      const { importJWK } = await import('jose');
      const pem = await exportSPKI(await importJWK(jwk, 'ES256', { extractable: true }) as Parameters<typeof exportSPKI>[0]);
      for (const secret of [JSON.stringify(jwk), pem]) {
        const token = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(secret));
        await expectRefused(token);
      }
    });

    it('refuses an unknown kid and a foreign key claiming our kid', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      await expectRefused(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'unknown-kid', typ: 'at+jwt' }).sign(privateKey));
      await expectRefused(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(privateKey));
      await expectRefused(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey));
    });

    it('refuses a token naming another account than its secret belongs to', async () => {
      const other = await createOAuthAccount(s, 'oauth-other');
      await expectRefused(await forge({ sub: other.id }), /no longer exists/);
    });
  });

  describe('signing-key rotation', () => {
    it('only admins rotate', async () => {
      const user = await s.createUser('oauth-nonadmin');
      expectError(await s.request('POST', '/v1/admin/signing-keys/rotate', { key: user.key }), 403, 'forbidden');
      expectError(await s.request('POST', '/v1/admin/signing-keys/rotate', { key: await tokenFor(s, account) }), 403, 'forbidden');
    });

    it('keeps tokens signed by the old key valid and its kid published; new tokens use the new key; pruned after the last token expired', async () => {
      const before = await tokenFor(s, account);
      const oldKid = decodeProtectedHeader(before).kid!;

      const rotated = await s.request('POST', '/v1/admin/signing-keys/rotate');
      expect(rotated.status, rotated.text).toBe(200);
      expect(rotated.body.retiredKid).toBe(oldKid);
      const newKid = rotated.body.kid;
      expect(newKid).not.toBe(oldKid);

      const after = await tokenFor(s, account);
      expect(decodeProtectedHeader(after).kid).toBe(newKid);
      const jwksUrl = new URL(`${s.url}/.well-known/jwks.json`);
      const kids = (await getJson(jwksUrl)).keys.map((k: { kid: string }) => k.kid);
      expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));

      const keySet = createRemoteJWKSet(jwksUrl);
      for (const token of [before, after]) {
        await jwtVerify(token, keySet, { issuer: s.url, audience: `${s.url}/v1`, typ: 'at+jwt' });
        expect((await s.request('GET', '/v1/me', { key: token })).status).toBe(200);
      }

      // An hour and a half later (token lifetime + tolerance have passed), the old key is pruned.
      const later = createSigningKeys({ db: s.database.db, keyring: s.running.keyring, now: () => new Date(Date.now() + 5400_000) });
      expect((await later.jwks()).keys.map((k) => k.kid)).toEqual([newKid]);
      const published = (await getJson(jwksUrl)).keys.map((k: { kid: string }) => k.kid);
      expect(published).toEqual([newKid]);
      expectError(await s.request('GET', '/v1/me', { key: before }), 401, 'unauthenticated');
      expect((await s.request('GET', '/v1/me', { key: after })).status).toBe(200);
    });

    it('audits rotation and issued tokens by jti, never the token', async () => {
      const token = await tokenFor(s, account);
      const jti = decodeJwt(token).jti;
      const issued = await s.request('GET', '/v1/audit?action=oauth.token.issued&limit=500');
      const row = issued.body.events.find((e: any) => e.detail.jti === jti);
      expect(row).toMatchObject({ actorId: account.id, actorKind: 'service_account', outcome: 'allowed' });
      expect(row.detail).toMatchObject({ clientSecretId: account.secretId, scope: 'coffer' });
      const rotations = await s.request('GET', '/v1/audit?action=signing_key.rotate');
      expect(rotations.body.events).toHaveLength(1);
    });
  });

  describe('confidentiality', () => {
    it('no client secret or access token appears in logs, audit rows or list responses', async () => {
      expect(handedOut.length).toBeGreaterThan(10);
      const pages = [
        (await s.request('GET', '/v1/audit?limit=500')).text,
        (await s.request('GET', '/v1/service-accounts')).text,
        (await s.request('GET', `/v1/service-accounts/${account.id}/client-secrets`)).text,
      ];
      const haystack = [...pages, ...s.logs].join('\n');
      for (const value of handedOut) expect(haystack).not.toContain(value);
    });
  });
});

describe('OAuth token endpoint rate limiting', () => {
  let s: TestServer;
  let a: OAuthAccount;
  let b: OAuthAccount;
  beforeAll(async () => {
    // The default: 10 failures per minute per source address; 5 audit rows per address and minute.
    s = await startTestServer({ env: { COFFER_AUTH_FAILURE_ROWS_PER_MINUTE: '5' } });
    a = await createOAuthAccount(s, 'limited-a');
    b = await createOAuthAccount(s, 'limited-b');
  });
  afterAll(async () => { await s?.close(); });

  /** A token request from a chosen loopback address (the whole 127/8 reaches the server). */
  function fromAddress(localAddress: string, body: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${s.url}/oauth2/token`, { method: 'POST', localAddress, headers: FORM }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => {
          const json: any = JSON.parse(text);
          if (json.access_token) handedOut.push(json.access_token);
          resolve({ status: res.statusCode!, headers: res.headers, body: json });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('after 10 failures, refuses that address with 429 and Retry-After, for every client', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await fromAddress('127.0.0.1', postForm({ ...a, secret: `coffer_cs_guess${i}` }))).status).toBe(401);
    }
    // From the guessing address even the right secret is refused: otherwise the block would tell
    // a guesser when they hit.
    const blocked = await fromAddress('127.0.0.1', postForm(a));
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(blocked.headers['cache-control']).toBe('no-store');
    expect((await fromAddress('127.0.0.1', postForm(b))).status).toBe(429);
  });

  it('failures naming a client id never lock the real client out: its correct secret works from its own address', async () => {
    // Someone who knows a's client id (viewers, grant lists and audit rows show it) fails with it...
    for (let i = 0; i < 12; i++) await fromAddress('127.0.0.3', postForm({ ...a, secret: `coffer_cs_other${i}` }));
    // ...and the real client, elsewhere, still gets its token, every time.
    for (let i = 0; i < 3; i++) expect((await fromAddress('127.0.0.2', postForm(a))).status).toBe(200);
    expect((await fromAddress('127.0.0.2', postForm(b))).status).toBe(200);
    // A wrong secret from there is a plain 401, not a block.
    expect((await fromAddress('127.0.0.2', postForm({ ...a, secret: 'coffer_cs_wrong' }))).status).toBe(401);
  });

  it('audited failed attempts (not the blocked ones), 5 rows per address and minute, the excess counted in one row', async () => {
    await s.running.services.failureAudit.flush(true);
    const denied = await s.request('GET', '/v1/audit?action=oauth.token.denied&limit=500');
    const from = (source: string) => denied.body.events.filter((e: any) => e.detail.source === source);
    for (const source of ['127.0.0.1', '127.0.0.3']) {
      const rows = from(source);
      const single = rows.filter((e: any) => e.detail.suppressed === undefined);
      expect(single).toHaveLength(5);
      for (const e of single) expect(e.detail).toMatchObject({ reason: 'wrong_secret', clientId: a.id });
      // 10 failures were checked (the rest blocked before any check): 5 rows, then one counting 5.
      expect(rows.filter((e: any) => e.detail.suppressed !== undefined)).toEqual([
        expect.objectContaining({ outcome: 'denied', detail: expect.objectContaining({ suppressed: 5, reasons: { wrong_secret: 5 } }) })]);
    }
    expect(from('127.0.0.2')).toHaveLength(1);
    const haystack = [denied.text, ...s.logs].join('\n');
    for (let i = 0; i < 10; i++) expect(haystack).not.toContain(`coffer_cs_guess${i}`);
    for (let i = 0; i < 12; i++) expect(haystack).not.toContain(`coffer_cs_other${i}`);
    for (const value of handedOut) expect(haystack).not.toContain(value);
  });
});
