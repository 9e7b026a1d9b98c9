// `coffer run FILE.js`: a function in the server's sandbox on this machine, with values from the
// environment, the project's .coffer/secrets.toml or (--remote) the server; --explain names the
// source of each read and never a value; an unsafe secrets.toml is refused; the project root is
// found from a subdirectory; failures exit non-zero with the message redacted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { cliUser } from '../support/cli.ts';

const ENV_VALUE = 'sk_env_value_0123456789';
const FILE_VALUE = 'sk_file_value_abcdefghij';
const DB_VALUE = 'postgres://local:pa55word@localhost/app';
const REMOTE_VALUE = 'remote-only-value-XYZ123456';

// Reads three secrets and reports what it saw (without echoing the long values, except `leak`).
const READER = `
export default async function (args) {
  const sm = tailor.secretmanager;
  const key = await sm.getSecret('payments', 'stripe-key');
  const db = await sm.getSecret('payments', 'db.password');
  const missing = await sm.getSecret('payments', 'not-there');
  console.log('the key is', key);
  return { args, keyLength: key?.length ?? null, dbLength: db?.length ?? null, missing: missing === undefined, leak: key };
}
`;

const THROWER = `
export default async function () {
  const key = await tailor.secretmanager.getSecret('payments', 'stripe-key');
  throw new Error('could not charge with ' + key);
}
`;

function project(): { root: string; write(rel: string, text: string, mode?: number): string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-local-'));
  return {
    root,
    write(rel, text, mode = 0o644) {
      const file = path.join(root, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text, { mode });
      fs.chmodSync(file, mode);
      return file;
    },
  };
}

const SECRETS_TOML = `[payments]\nstripe-key = "${FILE_VALUE}"\ndb.password = "${DB_VALUE}"\n`;

describe('coffer run, local sources', { timeout: 120_000 }, () => {
  const u = cliUser();
  const p = project();
  let sub: string;

  beforeAll(() => {
    p.write('coffer.toml', '# a project\n');
    p.write('functions/reader.js', READER);
    p.write('functions/thrower.js', THROWER);
    p.write('.coffer/secrets.toml', SECRETS_TOML, 0o600);
    sub = path.join(p.root, 'functions', 'nested');
    fs.mkdirSync(sub, { recursive: true });
  });
  afterAll(() => { u.cleanup(); fs.rmSync(p.root, { recursive: true, force: true }); });

  it('reads secrets.toml from the project root found above a subdirectory, redacting values as the server does', async () => {
    const r = await u.ok(['run', '../reader.js', '--args', '{"n":1}'], { cwd: sub });
    expect(JSON.parse(r.stdout)).toEqual({ args: { n: 1 }, keyLength: FILE_VALUE.length, dbLength: DB_VALUE.length, missing: true, leak: '[REDACTED]' });
    expect(r.stderr).toMatch(/log\s+the key is \[REDACTED\]/);
    expect(r.stdout + r.stderr).not.toContain(FILE_VALUE);
  });

  it('an environment variable COFFER__<VAULT>__<NAME> wins over the file; --explain names each source, never a value', async () => {
    const r = await u.ok(['run', 'functions/reader.js', '--explain'], { cwd: p.root, env: { COFFER__PAYMENTS__STRIPE_KEY: ENV_VALUE } });
    expect(JSON.parse(r.stdout)).toMatchObject({ keyLength: ENV_VALUE.length, dbLength: DB_VALUE.length, missing: true });
    const secretsFile = path.join(p.root, '.coffer', 'secrets.toml');
    expect(r.stderr).toMatch(/payments\/stripe-key\s+env COFFER__PAYMENTS__STRIPE_KEY/);
    expect(r.stderr).toContain(`payments/db.password  file ${secretsFile}`);
    expect(r.stderr).toMatch(/payments\/not-there\s+none \(undefined\)/);
    for (const v of [ENV_VALUE, FILE_VALUE, DB_VALUE]) expect(r.stdout + r.stderr).not.toContain(v);
  });

  it('--json prints the result, logs and reads with their sources', async () => {
    const r = await u.ok(['run', 'functions/reader.js', '--json'], { cwd: p.root, env: { COFFER__PAYMENTS__DB_PASSWORD: 'short' } });
    expect(r.json).toMatchObject({ ok: true, result: { dbLength: 5, missing: true } });
    expect(r.json.reads).toEqual([
      { vault: 'payments', name: 'stripe-key', source: { kind: 'file', path: path.join(p.root, '.coffer', 'secrets.toml') } },
      { vault: 'payments', name: 'db.password', source: { kind: 'env', variable: 'COFFER__PAYMENTS__DB_PASSWORD' } },
      { vault: 'payments', name: 'not-there', source: { kind: 'none' } },
    ]);
    expect(r.json.logs[0]).toMatchObject({ level: 'log', message: 'the key is [REDACTED]' });
  });

  it('without a project root (no coffer.toml, no git) only the environment answers; a secrets.toml in the working directory is not read', async () => {
    const loose = project();
    try {
      loose.write('reader.js', READER);
      loose.write('.coffer/secrets.toml', SECRETS_TOML, 0o600);
      const inner = path.join(loose.root, 'inner');
      fs.mkdirSync(inner);
      // The working directory holds a secrets.toml of its own: the working directory is not a root.
      fs.mkdirSync(path.join(inner, '.coffer'));
      fs.writeFileSync(path.join(inner, '.coffer', 'secrets.toml'), SECRETS_TOML, { mode: 0o600 });
      const r = await u.ok(['run', '../reader.js', '--json'], { cwd: inner });
      expect(r.json.result).toMatchObject({ keyLength: null, dbLength: null });
      // A .git directory makes the directory a root.
      fs.mkdirSync(path.join(loose.root, '.git'));
      const g = await u.ok(['run', '../reader.js', '--json'], { cwd: inner });
      expect(g.json.result).toMatchObject({ keyLength: FILE_VALUE.length });
      expect(g.json.reads[0].source).toEqual({ kind: 'file', path: path.join(loose.root, '.coffer', 'secrets.toml') });
    } finally {
      fs.rmSync(loose.root, { recursive: true, force: true });
    }
  });

  it('refuses a secrets.toml that group or others can read, with the chmod to run, and runs nothing', async () => {
    const unsafe = project();
    try {
      unsafe.write('coffer.toml', '');
      unsafe.write('f.js', 'export default () => { console.log("ran"); return 1; }');
      const file = unsafe.write('.coffer/secrets.toml', SECRETS_TOML, 0o644);
      const r = await u.run(['run', 'f.js'], { cwd: unsafe.root });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`run: chmod 600 ${file}`);
      expect(r.stderr).toContain('[secrets_file_unsafe]');
      expect(r.stdout + r.stderr).not.toContain('ran');
      expect(r.stderr).not.toContain(FILE_VALUE);
      fs.chmodSync(file, 0o640);
      expect((await u.run(['run', 'f.js'], { cwd: unsafe.root })).code).toBe(4);
      fs.chmodSync(file, 0o600);
      expect((await u.ok(['run', 'f.js'], { cwd: unsafe.root })).stdout.trim()).toBe('1');
    } finally {
      fs.rmSync(unsafe.root, { recursive: true, force: true });
    }
  });

  it('a malformed secrets.toml is refused with its line, without quoting the file', async () => {
    const bad = project();
    try {
      bad.write('coffer.toml', '');
      bad.write('f.js', 'export default () => 1');
      bad.write('.coffer/secrets.toml', `[payments]\nstripe-key = "${FILE_VALUE}" trailing\n`, 0o600);
      const r = await u.run(['run', 'f.js'], { cwd: bad.root });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/secrets\.toml:2:\d+: .*\[secrets_file_invalid\]/);
      expect(r.stderr).not.toContain(FILE_VALUE);
    } finally {
      fs.rmSync(bad.root, { recursive: true, force: true });
    }
  });

  it('a function that throws exits 1 with its message redacted; a compile error names file, line and column', async () => {
    const r = await u.run(['run', 'functions/thrower.js'], { cwd: p.root });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: could not charge with \[REDACTED\] \[function_error\]/);
    expect(r.stdout + r.stderr).not.toContain(FILE_VALUE);
    const j = await u.run(['run', 'functions/thrower.js', '--json'], { cwd: p.root });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { code: 'function_error', message: 'could not charge with [REDACTED]' } });
    p.write('functions/broken.js', 'export default async function () {\n  return {;\n}\n');
    const c = await u.run(['run', 'functions/broken.js'], { cwd: p.root });
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/functions\/broken\.js:2:\d+: .*\[compile_error\]/);
  });

  it('the server\'s limits apply: a function past its timeout ends with timeout', async () => {
    p.write('functions/spin.js', 'export default () => { for (;;) {} }');
    const r = await u.run(['run', 'functions/spin.js', '--timeout', '200'], { cwd: p.root });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[timeout]');
    expect((await u.run(['run', 'functions/spin.js', '--timeout', '999999'], { cwd: p.root })).code).toBe(2);
  });

  it('a file that coffer.toml declares as a function runs with the limits declared there', async () => {
    p.write('functions/spin.js', 'export default () => { for (;;) {} }');
    p.write('coffer.toml', '[workspaces.main]\n\n[functions.spin]\nworkspace = "main"\nfile = "functions/spin.js"\ntimeoutMs = 1500\n');
    try {
      const r = await u.run(['run', 'spin.js'], { cwd: path.join(p.root, 'functions') });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/within its 1500 ms timeout.*\[timeout\]/);
    } finally {
      p.write('coffer.toml', '# a project\n');
    }
  });
});

describe('coffer run --remote', { timeout: 180_000 }, () => {
  let s: TestServer;
  let admin: ReturnType<typeof cliUser>;
  let bob: ReturnType<typeof cliUser>;
  let bobId: string;
  const p = project();

  beforeAll(async () => {
    s = await startTestServer();
    admin = cliUser({ COFFER_URL: s.url, COFFER_API_KEY: s.adminKey });
    await admin.ok(['vault', 'create', 'payments']);
    await admin.ok(['secret', 'put', 'payments', 'remote-key'], { input: REMOTE_VALUE });
    await admin.ok(['secret', 'put', 'payments', 'stripe-key'], { input: 'the-server-stripe-key-value' });
    await admin.ok(['vault', 'create', 'hr']);
    await admin.ok(['secret', 'put', 'hr', 'salary-db'], { input: 'hr-secret-value-9876543' });
    const user = await s.createUser('bob');
    bobId = user.id;
    await admin.ok(['grant', 'add', 'payments', '--role', 'reader', '--principal', bobId]);
    bob = cliUser({ COFFER_URL: s.url, COFFER_API_KEY: user.key });
    p.write('coffer.toml', '');
    p.write('.coffer/secrets.toml', `[payments]\nstripe-key = "${FILE_VALUE}"\n`, 0o600);
    p.write('remote.js', `
export default async function () {
  const sm = tailor.secretmanager;
  const out = { local: (await sm.getSecret('payments', 'stripe-key'))?.length ?? null };
  out.remote = (await sm.getSecret('payments', 'remote-key'))?.length ?? null;
  out.missing = (await sm.getSecret('payments', 'nowhere')) === undefined;
  try { await sm.getSecret('hr', 'salary-db'); out.hr = 'read'; } catch (e) { out.hr = 'denied'; }
  return out;
}
`);
  }, 180_000);
  afterAll(async () => { admin?.cleanup(); bob?.cleanup(); await s?.close(); fs.rmSync(p.root, { recursive: true, force: true }); });

  it('asks the server last, with the caller\'s own rights: granted values come back, others are denied as on the server', async () => {
    const r = await bob.ok(['run', 'remote.js', '--remote', '--explain'], { cwd: p.root });
    expect(JSON.parse(r.stdout)).toEqual({ local: FILE_VALUE.length, remote: REMOTE_VALUE.length, missing: true, hr: 'denied' });
    expect(r.stderr).toContain(`payments/stripe-key  file ${path.join(p.root, '.coffer', 'secrets.toml')}`);
    expect(r.stderr).toContain(`payments/remote-key  remote ${s.url}`);
    expect(r.stderr).toMatch(/payments\/nowhere\s+none \(undefined\)/);
    expect(r.stderr).toMatch(/hr\/salary-db\s+not answered \(access_denied\)/);
    for (const v of [FILE_VALUE, REMOTE_VALUE, 'hr-secret-value-9876543']) expect(r.stdout + r.stderr).not.toContain(v);
    // The server's reads were bob's, audited as his; the local ones never reached it.
    const audit = await admin.ok(['audit', 'query', '--action', 'secret.read', '--actor', bobId, '--json']);
    const read = audit.json.events.filter((e: { outcome: string }) => e.outcome === 'allowed').map((e: { secret: string }) => e.secret);
    expect(read).toContain('remote-key');
    expect(read).not.toContain('stripe-key');
  });

  it('without --remote the server is never asked', async () => {
    const r = await bob.ok(['run', 'remote.js', '--json'], { cwd: p.root });
    expect(r.json.result).toEqual({ local: FILE_VALUE.length, remote: null, missing: true, hr: 'read' });
  });
});
