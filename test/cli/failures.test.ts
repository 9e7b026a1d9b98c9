// How `coffer` fails: one exit code per class of failure, errors with code, message and request id
// and no stack unless --debug, JSON errors under --json; masking, --reveal --raw, the --value
// warning; colour only when the terminal rules allow it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { cliUser } from '../support/cli.ts';

const STACK = /\n\s+at /;

describe('coffer: exit codes, errors, masking and colour', { timeout: 180_000 }, () => {
  let s: TestServer;
  let admin: ReturnType<typeof cliUser>;
  let reader: ReturnType<typeof cliUser>;
  const VALUE = 'hunter2-is-not-a-password';

  beforeAll(async () => {
    s = await startTestServer();
    admin = cliUser({ COFFER_URL: s.url, COFFER_API_KEY: s.adminKey });
    const carol = await s.createUser('carol');
    reader = cliUser({ COFFER_URL: s.url, COFFER_API_KEY: carol.key });
    await admin.ok(['vault', 'create', 'ops']);
    await admin.ok(['secret', 'put', 'ops', 'token'], { input: VALUE });
    await admin.ok(['grant', 'add', 'ops', '--principal', carol.id, '--role', 'reader']);
  }, 180_000);
  afterAll(async () => { admin?.cleanup(); reader?.cleanup(); await s?.close(); });

  it('exit codes: 2 usage, 3 authentication, 4 permission, 5 not found, 6 conflict, 1 other errors', async () => {
    const cases: [string[], number, Record<string, string | undefined>?][] = [
      [['vault', 'frobnicate'], 2],
      [['secret', 'get', 'ops'], 2],
      [['fn', 'invoke', 'ws', 'f', '--args', '{not json'], 2],
      [['secret', 'put', 'ops', 'x', '--value', 'a', '--prompt'], 2],
      [['vault', 'list'], 3, { COFFER_API_KEY: 'coffer_wrongwrongwrongwrongwrongwrongwrong' }],
      [['vault', 'list'], 3, { COFFER_API_KEY: undefined, COFFER_URL: undefined }],
      [['secret', 'put', 'ops', 'token', '--value', 'x'], 4],
      [['vault', 'get', 'nowhere'], 5],
      [['secret', 'get', 'ops', 'missing'], 5],
      [['vault', 'create', 'ops'], 6],
    ];
    for (const [args, code, env] of cases) {
      const r = await reader.run(args, { env });
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).not.toMatch(STACK);
    }
    // A function that throws is an error of its own (1), not a usage error.
    await admin.ok(['workspace', 'create', 'w']);
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/coffer-fail-');
    writeFileSync(`${dir}/boom.js`, 'export default () => { throw new Error("boom"); };');
    await admin.ok(['fn', 'deploy', 'w', 'boom', `${dir}/boom.js`]);
    const boom = await admin.run(['fn', 'invoke', 'w', 'boom']);
    expect(boom.code).toBe(1);
    expect(boom.stderr).toMatch(/error: boom \[function_error\] \(request id req_[\w-]+\)/);
  });

  it('an error names code, message and request id; a stack only with --debug; JSON on stderr with --json', async () => {
    const plain = await reader.run(['vault', 'get', 'nowhere']);
    expect(plain.stderr).toMatch(/^error: vault not found \[not_found\] \(request id req_[\w-]+\)\n$/);
    const json = await reader.run(['vault', 'get', 'nowhere', '--json']);
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'not_found', message: 'vault not found', requestId: expect.stringMatching(/^req_/) } });
    expect(json.stdout).toBe('');
    const debug = await reader.run(['vault', 'get', 'nowhere', '--debug']);
    expect(debug.stderr).toMatch(STACK);
  });

  it('get masks the value unless --reveal; --reveal --raw prints it alone; --value warns; masked in errors too', async () => {
    for (const args of [['secret', 'get', 'ops', 'token'], ['secret', 'get', 'ops', 'token', '--json']]) {
      const r = await reader.ok(args);
      expect(r.stdout + r.stderr).not.toContain(VALUE);
    }
    expect((await reader.ok(['secret', 'get', 'ops', 'token'])).stdout).toMatch(/value\s+\*{8}/);
    expect((await reader.ok(['secret', 'get', 'ops', 'token', '--json'])).json).toEqual({ vault: 'ops', name: 'token', version: 1, value: null, masked: true });
    expect((await reader.ok(['secret', 'get', 'ops', 'token', '--reveal'])).stdout).toBe(`${VALUE}\n`);
    expect((await reader.ok(['secret', 'get', 'ops', 'token', '--reveal', '--raw'])).stdout).toBe(VALUE);
    expect((await reader.ok(['secret', 'get', 'ops', 'token', '--reveal', '--json'])).json).toMatchObject({ value: VALUE });
    expect((await reader.run(['secret', 'get', 'ops', 'token', '--raw'])).code).toBe(2);

    const put = await admin.ok(['secret', 'put', 'ops', 'other', '--value', 'typed-on-the-command-line']);
    expect(put.stderr).toMatch(/warning: --value puts the secret in your shell history/);
    expect(put.stdout + put.stderr).not.toContain('typed-on-the-command-line');
    // A value the CLI handled never shows in its own messages, even in an error it prints.
    const refused = await reader.run(['secret', 'put', 'ops', 'token', '--value', 'refused-value-here', '--debug']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).not.toContain('refused-value-here');
  });

  it('colour only when allowed: never on a pipe, FORCE_COLOR turns it on, NO_COLOR and --no-color win', async () => {
    const ansi = /\u001b\[/;
    const env = (e: Record<string, string | undefined>) => ({ NO_COLOR: undefined, FORCE_COLOR: undefined, ...e });
    expect((await reader.run(['vault', 'get', 'nowhere'], { env: env({}) })).stderr).not.toMatch(ansi);
    expect((await reader.run(['vault', 'get', 'nowhere'], { env: env({ FORCE_COLOR: '1' }) })).stderr).toMatch(ansi);
    expect((await reader.run(['vault', 'get', 'nowhere'], { env: env({ FORCE_COLOR: '1', NO_COLOR: '1' }) })).stderr).not.toMatch(ansi);
    expect((await reader.run(['vault', 'get', 'nowhere', '--no-color'], { env: env({ FORCE_COLOR: '1' }) })).stderr).not.toMatch(ansi);
  });
});
