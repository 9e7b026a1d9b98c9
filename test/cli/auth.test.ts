// Logging in: OAuth client credentials with a cached token refreshed after a short lifetime,
// profiles, environment overrides, logout; and shell completion scripts loading in bash.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startTestServer, type TestServer } from '../support/server.ts';
import { cliUser, BIN } from '../support/cli.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('coffer login, profiles and completion', { timeout: 180_000 }, () => {
  let s: TestServer;
  const users: ReturnType<typeof cliUser>[] = [];
  const newUser = (env: Record<string, string> = {}) => { const x = cliUser(env); users.push(x); return x; };

  beforeAll(async () => {
    // A two-second token: the CLI must renew it, not keep using an expired one.
    s = await startTestServer({ env: { COFFER_ACCESS_TOKEN_TTL_SECONDS: '2' } });
  }, 180_000);
  afterAll(async () => { for (const x of users) x.cleanup(); await s?.close(); });

  it('logs in with OAuth client credentials from stdin, caches the token 0600 and renews it after expiry', async () => {
    const admin = newUser({ COFFER_URL: s.url, COFFER_API_KEY: s.adminKey });
    const created = (await admin.ok(['service-account', 'create', 'robot', '--oauth', '--json'])).json;
    const clientId = created.serviceAccount.clientId;
    const secret = created.clientSecret.secret;

    const u = newUser();
    const login = await u.ok(['login', '--url', s.url, '--client-id', clientId, '--json'], { input: `${secret}\n` });
    expect(login.json.principal).toMatchObject({ kind: 'service_account', via: 'oauth' });
    expect(login.stdout + login.stderr).not.toContain(secret);

    const tokensFile = path.join(u.configDir, 'tokens.json');
    const cached = () => Object.values(JSON.parse(fs.readFileSync(tokensFile, 'utf8')))[0] as { accessToken: string; expiresAt: number };
    expect((await u.ok(['whoami', '--json'])).json.principal).toMatchObject({ id: created.serviceAccount.id, via: 'oauth' });
    const first = cached();
    expect(fs.statSync(tokensFile).mode & 0o777).toBe(0o600);
    // A cached token the CLI believes current is reused by the next command (the server accepts a
    // just-expired token within its 30 s clock tolerance, so this holds however slow the machine)...
    const stretch = (patch: object) => {
      const all = JSON.parse(fs.readFileSync(tokensFile, 'utf8'));
      for (const k of Object.keys(all)) all[k] = { ...all[k], ...patch };
      fs.writeFileSync(tokensFile, JSON.stringify(all));
    };
    stretch({ expiresAt: Date.now() + 3600_000 });
    await u.ok(['vault', 'list']);
    expect(cached().accessToken).toBe(first.accessToken);
    // ...and once it has expired, a new one is fetched.
    stretch({ expiresAt: first.expiresAt });
    while (Date.now() <= first.expiresAt) await sleep(200);
    expect((await u.ok(['whoami', '--json'])).json.principal.id).toBe(created.serviceAccount.id);
    expect(cached().accessToken).not.toBe(first.accessToken);

    // A cached token the server refuses (here: garbage) is replaced once, and the command succeeds.
    stretch({ accessToken: 'not-a-token', expiresAt: Date.now() + 3600_000 });
    await u.ok(['whoami']);
    expect(cached().accessToken).not.toBe('not-a-token');

    // A wrong secret is refused at login (exit 3) and nothing is saved.
    const v = newUser();
    const bad = await v.run(['login', '--url', s.url, '--client-id', clientId], { input: 'cofsec_wrong\n' });
    expect(bad.code).toBe(3);
    expect(fs.existsSync(path.join(v.configDir, 'config.json'))).toBe(false);
  });

  it('keeps named profiles, switches between them, and lets the environment override the file', async () => {
    const alice = await s.createUser('alice');
    const bob = await s.createUser('bob');
    const u = newUser();
    await u.ok(['login', '--url', s.url], { input: alice.key });
    await u.ok(['login', '--url', s.url, '--profile', 'bob'], { input: bob.key });
    const list = await u.ok(['profiles', 'list', '--json']);
    expect(list.json).toEqual({ current: 'bob', profiles: [
      { name: 'default', url: s.url, auth: 'api_key', current: false }, { name: 'bob', url: s.url, auth: 'api_key', current: true },
    ] });
    expect((await u.ok(['whoami', '--json'])).json.principal.name).toBe('bob');
    expect((await u.ok(['whoami', '--profile', 'default', '--json'])).json.principal.name).toBe('alice');
    expect((await u.ok(['whoami', '--json'], { env: { COFFER_PROFILE: 'default' } })).json.principal.name).toBe('alice');
    await u.ok(['profiles', 'use', 'default']);
    expect((await u.ok(['whoami', '--json'])).json.principal.name).toBe('alice');

    // COFFER_API_KEY wins over the profile's key; COFFER_URL over its URL.
    const env = await u.ok(['whoami', '--json'], { env: { COFFER_API_KEY: bob.key } });
    expect(env.json).toMatchObject({ credentialsFrom: 'env', principal: { name: 'bob' } });
    const elsewhere = await u.run(['whoami'], { env: { COFFER_URL: 'http://127.0.0.1:1' } });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toMatch(/could not reach http:\/\/127\.0\.0\.1:1.*\[connection_failed\]/);
    // Environment credentials alone are enough, with no file at all.
    const bare = newUser({ COFFER_URL: s.url, COFFER_API_KEY: alice.key });
    expect((await bare.ok(['whoami', '--json'])).json.principal.name).toBe('alice');

    expect((await u.ok(['logout', '--json'])).json).toEqual({ profile: 'default', removed: true });
    const after = await u.ok(['profiles', 'list', '--json']);
    expect(after.json.profiles.map((p: { name: string }) => p.name)).toEqual(['bob']);
    expect(fs.readFileSync(path.join(u.configDir, 'config.json'), 'utf8')).not.toContain(alice.key);
    const out = await u.run(['whoami', '--profile', 'default']);
    expect(out.code).toBe(3);
    expect(out.stderr).toMatch(/not logged in/);
  });

  it('completion scripts: bash loads and completes commands and options; zsh and fish are generated', async () => {
    const u = newUser();
    const script = path.join(u.configDir, 'coffer.bash');
    fs.writeFileSync(script, (await u.ok(['completion', 'bash'])).stdout);
    const complete = (words: string[]) => execFileSync('bash', ['-c', `source "$0"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _coffer; echo "\${COMPREPLY[*]}"`, script], { encoding: 'utf8' }).trim();
    expect(complete(['coffer', 'sec'])).toBe('secret');
    expect(complete(['coffer', 'secret', '']).split(' ')).toEqual(expect.arrayContaining(['put', 'get', 'list', 'import', 'export']));
    expect(complete(['coffer', 'secret', 'get', '--re'])).toBe('--reveal');
    expect(complete(['coffer', 'exec', '--cl'])).toBe('--clean-env');
    expect(execFileSync('bash', ['-c', 'source "$0" && complete -p coffer', script], { encoding: 'utf8' })).toMatch(/-F _coffer coffer/);
    expect((await u.ok(['completion', 'zsh'])).stdout).toMatch(/^#compdef coffer/);
    const fish = (await u.ok(['completion', 'fish'])).stdout;
    expect(fish).toContain("complete -c coffer -n '__fish_use_subcommand' -a 'vault'");
    expect((await u.run(['completion', 'tcsh'])).code).toBe(2);
    expect(BIN).toMatch(/bin\/coffer\.js$/);
  });
});
