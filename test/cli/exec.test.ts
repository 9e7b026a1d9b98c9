// `coffer exec`: secrets as environment variables of a child process, the naming rule, collisions,
// --clean-env, --no-override, --explain, signal forwarding and exit codes, masking, audited reads.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { cliUser, collect } from '../support/cli.ts';

// A child that prints the variables it was given (by name) as JSON.
const PRINT_ENV = ['-e', 'const o={};for(const k of process.argv.slice(1))o[k]=process.env[k]??null;console.log(JSON.stringify(o))'];
const node = process.execPath;

describe('coffer exec', { timeout: 180_000 }, () => {
  let s: TestServer;
  let u: ReturnType<typeof cliUser>;
  const DB = 'postgres://app:pa55word@db/app';
  const MULTI = 'first line\nsecond line';

  beforeAll(async () => {
    s = await startTestServer();
    u = cliUser({ COFFER_URL: s.url, COFFER_API_KEY: s.adminKey });
    await u.ok(['vault', 'create', 'payments']);
    await u.ok(['secret', 'put', 'payments', 'db.password'], { input: DB });
    await u.ok(['secret', 'put', 'payments', 'stripeKey'], { input: 'sk_live_abcdef123456' });
    await u.ok(['secret', 'put', 'payments', 'cert-pem'], { input: MULTI });
    await u.ok(['vault', 'create', 'clash']);
    await u.ok(['secret', 'put', 'clash', 'api-key'], { input: 'value-number-one' });
    await u.ok(['secret', 'put', 'clash', 'apiKey'], { input: 'value-number-two' });
  }, 180_000);
  afterAll(async () => { u?.cleanup(); await s?.close(); });

  it('gives the child every secret under its UPPER_SNAKE name, inheriting the parent environment', async () => {
    const r = await u.ok(['exec', '--vault', 'payments', '--', node, ...PRINT_ENV, 'DB_PASSWORD', 'STRIPE_KEY', 'CERT_PEM', 'FROM_PARENT', 'COFFER_API_KEY'], { env: { FROM_PARENT: 'kept' } });
    expect(JSON.parse(r.stdout)).toEqual({ DB_PASSWORD: DB, STRIPE_KEY: 'sk_live_abcdef123456', CERT_PEM: MULTI, FROM_PARENT: 'kept', COFFER_API_KEY: null });
    // The reads are the caller's, one audited read per secret.
    const audit = await u.ok(['audit', 'query', '--action', 'secret.read', '--vault', 'payments', '--json']);
    expect(audit.json.events.filter((e: { actorId: string }) => e.actorId === s.adminId).map((e: { secret: string }) => e.secret).sort())
      .toEqual(['cert-pem', 'db.password', 'stripeKey']);
  });

  it('--only, --prefix and --map choose and name the variables', async () => {
    const r = await u.ok(['exec', '--vault', 'payments', '--only', 'stripeKey,db.password', '--prefix', 'APP_', '--map', 'db.password=DATABASE_URL', '--',
      node, ...PRINT_ENV, 'APP_STRIPE_KEY', 'DATABASE_URL', 'APP_CERT_PEM']);
    expect(JSON.parse(r.stdout)).toEqual({ APP_STRIPE_KEY: 'sk_live_abcdef123456', DATABASE_URL: DB, APP_CERT_PEM: null });
  });

  it('--clean-env keeps only the secrets and a few basics; --no-override keeps inherited values', async () => {
    const clean = await u.ok(['exec', '--vault', 'payments', '--clean-env', '--', node, ...PRINT_ENV, 'STRIPE_KEY', 'FROM_PARENT', 'PATH'], { env: { FROM_PARENT: 'x' } });
    expect(JSON.parse(clean.stdout)).toMatchObject({ STRIPE_KEY: 'sk_live_abcdef123456', FROM_PARENT: null, PATH: process.env.PATH });
    const kept = await u.ok(['exec', '--vault', 'payments', '--no-override', '--', node, ...PRINT_ENV, 'STRIPE_KEY', 'DB_PASSWORD'], { env: { STRIPE_KEY: 'mine' } });
    expect(JSON.parse(kept.stdout)).toEqual({ STRIPE_KEY: 'mine', DB_PASSWORD: DB });
    const wins = await u.ok(['exec', '--vault', 'payments', '--', node, ...PRINT_ENV, 'STRIPE_KEY'], { env: { STRIPE_KEY: 'mine' } });
    expect(JSON.parse(wins.stdout)).toEqual({ STRIPE_KEY: 'sk_live_abcdef123456' });
  });

  it('--explain lists every variable and where it comes from, without values', async () => {
    const r = await u.ok(['exec', '--vault', 'payments', '--no-override', '--explain', '--json'], { env: { STRIPE_KEY: 'mine' } });
    expect(r.json).toMatchObject({ override: false, cleanEnv: false, withheld: ['COFFER_API_KEY'] });
    const byName = Object.fromEntries(r.json.variables.map((v: { name: string }) => [v.name, v]));
    expect(byName.DB_PASSWORD).toEqual({ name: 'DB_PASSWORD', kind: 'coffer', vault: 'payments', secret: 'db.password', overrides: false });
    expect(byName.STRIPE_KEY).toEqual({ name: 'STRIPE_KEY', kind: 'inherited', shadowedSecret: 'stripeKey' });
    for (const value of [DB, 'sk_live_abcdef123456', 'mine', s.adminKey]) expect(r.stdout).not.toContain(value);
    const human = await u.ok(['exec', '--vault', 'payments', '--explain']);
    expect(human.stdout).toMatch(/UPPER_SNAKE/);
    expect(human.stdout).toMatch(/DB_PASSWORD\s+coffer payments\/db\.password/);
  });

  it('two secrets on one variable name are an error (exit 6), not an overwrite', async () => {
    const r = await u.run(['exec', '--vault', 'clash', '--', node, '-e', 'console.log("ran")']);
    expect(r.code).toBe(6);
    expect(r.stdout).not.toContain('ran');
    expect(r.stderr).toMatch(/api-key and apiKey -> API_KEY.*\[env_collision\]/);
    const mapped = await u.ok(['exec', '--vault', 'clash', '--map', 'apiKey=API_KEY_2', '--', node, ...PRINT_ENV, 'API_KEY', 'API_KEY_2']);
    expect(JSON.parse(mapped.stdout)).toEqual({ API_KEY: 'value-number-one', API_KEY_2: 'value-number-two' });
  });

  it('passes on the child\'s exit code, and 127 for a command that does not exist, with values masked', async () => {
    expect((await u.run(['exec', '--vault', 'payments', '--', node, '-e', 'process.exit(7)'])).code).toBe(7);
    // A command named like a secret value: coffer's own message masks it.
    const r = await u.run(['exec', '--vault', 'payments', '--', 'sk_live_abcdef123456']);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/cannot run \*{8}: ENOENT/);
    expect(r.stderr).not.toContain('sk_live_abcdef123456');
  });

  for (const via of ['node 22', 'the bin wrapper on the system node'] as const) {
    it(`forwards SIGTERM to the child and returns its exit code (${via})`, async () => {
      const systemNode = '/usr/bin/node';
      if (via !== 'node 22' && !(await import('node:fs')).existsSync(systemNode)) return;
      const handles = 'process.on("SIGTERM",()=>{console.log("got SIGTERM");process.exit(42)});console.log("ready");setInterval(()=>{},1e3)';
      const child = u.spawn(['exec', '--vault', 'payments', '--', node, '-e', handles], { node: via === 'node 22' ? undefined : systemNode });
      const done = collect(child);
      await new Promise<void>((resolve) => child.stdout!.on('data', (d) => { if (String(d).includes('ready')) resolve(); }));
      child.kill('SIGTERM');
      const r = await done;
      expect(r.stdout).toContain('got SIGTERM');
      expect(r.code).toBe(42);
    });
  }

  it('a child killed by the forwarded signal exits 128 + its number', async () => {
    const child = u.spawn(['exec', '--vault', 'payments', '--', node, '-e', 'console.log("ready");setInterval(()=>{},1e3)']);
    const done = collect(child);
    await new Promise<void>((resolve) => child.stdout!.on('data', (d) => { if (String(d).includes('ready')) resolve(); }));
    child.kill('SIGHUP');
    expect((await done).code).toBe(129);
  });
});
