// `coffer dev`: one command runs the project locally. The embedded server (PGlite in the
// project's .coffer/data) gets coffer.toml applied with values from secrets.toml and the
// environment, serves a function, a signed webhook executor and a pipeline over GraphQL, and
// redeploys a function file when it changes; a restart finds the same data.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cliUser } from '../support/cli.ts';

const TOML = `
[vaults.app]
description = "local values"

[vaults.app.secrets.greeting]
description = "how hello greets"

[vaults.app.secrets.webhook-secret]
description = "signs hook requests"

[workspaces.main]
description = "the functions"

[[grants]]
vault = "app"
workspace = "main"
role = "reader"

[functions.hello]
workspace = "main"
file = "functions/hello.js"
timeoutMs = 5000

[executors.hook]
workspace = "main"
trigger = { kind = "webhook", mode = "sync", auth = { mode = "hmac", scheme = "github", secret = { vault = "app", name = "webhook-secret" } } }
target = { kind = "function", function = "hello" }

[pipelines.greet]
workspace = "main"
operation = "query"
types = "type Greeting { message: String! }"
args = "name: String!"
returns = "Greeting!"
steps = [ { name = "hello", function = "hello", input = "({ name: args.name })" } ]
result = "pipeline.hello"
`;

const hello = (word: string) => `
export default async function (args) {
  const greeting = await tailor.secretmanager.getSecret('app', 'greeting');
  const name = args?.name ?? args?.body?.name ?? 'world';
  return { message: '${word} ' + greeting + ', ' + name };
}
`;

const WEBHOOK_KEY = 'env-webhook-signing-key-123456';
const FILE_WEBHOOK_KEY = 'file-webhook-key-never-used-999';

interface DevProcess { child: ChildProcess; events: any[]; stderr: () => string; next(event: string, after?: number): Promise<any> }

function startDev(u: ReturnType<typeof cliUser>, cwd: string): DevProcess {
  const child = u.spawn(['dev', '--json', '--port', '0'], { cwd, env: { COFFER__APP__WEBHOOK_SECRET: WEBHOOK_KEY } });
  const events: any[] = [];
  let buffer = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try { events.push(JSON.parse(line)); } catch { /* a log line of the embedded server */ }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdin!.end();
  return {
    child, events, stderr: () => stderr,
    async next(event, after = 0) {
      for (let waited = 0; waited < 90_000; waited += 100) {
        const found = events.slice(after).find((e) => e.event === event);
        if (found) return found;
        if (child.exitCode !== null) throw new Error(`coffer dev exited ${child.exitCode}: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no ${event} event from coffer dev; stderr: ${stderr}; events: ${JSON.stringify(events)}`);
    },
  };
}

async function stop(dev: DevProcess): Promise<number | null> {
  if (dev.child.exitCode !== null) return dev.child.exitCode;
  const exited = new Promise<number | null>((resolve) => dev.child.once('exit', (code) => resolve(code)));
  dev.child.kill('SIGTERM');
  return exited;
}

describe('coffer dev', { timeout: 240_000 }, () => {
  const u = cliUser();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-dev-'));
  let dev: DevProcess;
  let ready: any;
  let adminKey: string;

  const invoke = async (name: string) => {
    const res = await fetch(`${ready.url}/v1/workspaces/main/functions/hello/invoke`, {
      method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ args: { name } }),
    });
    return { status: res.status, body: await res.json() as any };
  };

  beforeAll(async () => {
    fs.writeFileSync(path.join(root, 'coffer.toml'), TOML);
    fs.mkdirSync(path.join(root, 'functions'));
    fs.writeFileSync(path.join(root, 'functions', 'hello.js'), hello('v1'));
    fs.mkdirSync(path.join(root, '.coffer'));
    fs.writeFileSync(path.join(root, '.coffer', 'secrets.toml'), `[app]\ngreeting = "Howdy"\nwebhook-secret = "${FILE_WEBHOOK_KEY}"\n`, { mode: 0o600 });
    dev = startDev(u, path.join(root, 'functions'));
    ready = await dev.next('ready');
    adminKey = fs.readFileSync(ready.adminKeyFile, 'utf8').trim();
  }, 240_000);
  afterAll(async () => {
    if (dev) await stop(dev);
    u.cleanup();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('keeps its data and a private admin key in the project\'s .coffer/data, found from a subdirectory', () => {
    expect(ready.dataDir).toBe(path.join(root, '.coffer', 'data'));
    expect(fs.existsSync(path.join(root, '.coffer', 'data', 'pgdata'))).toBe(true);
    expect(fs.statSync(ready.adminKeyFile).mode & 0o077).toBe(0);
    expect(fs.statSync(ready.dataDir).mode & 0o077).toBe(0);
    const applied = dev.events.find((e) => e.event === 'applied');
    expect(applied.changes).toEqual(expect.arrayContaining(['+ vault app', '+ workspace main']));
    expect(applied.changes).toEqual(expect.arrayContaining([expect.stringMatching(/^\+ function main\/hello\b.*version 1/), expect.stringMatching(/^\+ executor main\/hook/), expect.stringMatching(/^\+ pipeline main\/greet/)]));
    expect(applied.warnings).toEqual([]);
    // Both declared secrets got their local values.
    expect(applied.changes.filter((c: string) => c.startsWith('+ secret app/')).length).toBe(2);
  });

  it('prints the function, webhook and GraphQL URLs, and serves the function with the local value', async () => {
    expect(ready.functions).toEqual([{ name: 'main/hello', url: `${ready.url}/v1/workspaces/main/functions/hello/invoke` }]);
    expect(ready.webhooks).toEqual([{ name: 'main/hook', url: `${ready.url}/hooks/main/hook`, auth: 'hmac' }]);
    expect(ready.graphql).toEqual([{ workspace: 'main', url: `${ready.url}/v1/workspaces/main/graphql` }]);
    const r = await invoke('Ada');
    expect(r.status).toBe(200);
    expect(r.body.result).toEqual({ message: 'v1 Howdy, Ada' });
  });

  it('serves the webhook executor, verifying the signature with the key from the environment (which wins over secrets.toml)', async () => {
    const body = JSON.stringify({ name: 'Hook' });
    const post = (key: string) => fetch(ready.url + ready.webhooks[0].url.slice(ready.url.length), {
      method: 'POST', body,
      headers: {
        'content-type': 'application/json', 'x-github-delivery': crypto.randomUUID(),
        'x-hub-signature-256': `sha256=${crypto.createHmac('sha256', key).update(body).digest('hex')}`,
      },
    });
    const ok = await post(WEBHOOK_KEY);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ message: 'v1 Howdy, Hook' });
    expect((await post(FILE_WEBHOOK_KEY)).status).toBe(401);
  });

  it('serves the pipeline over the workspace\'s GraphQL endpoint', async () => {
    const res = await fetch(ready.graphql[0].url, {
      method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ greet(name: "Bo") { message } }' }),
    });
    expect(await res.json()).toEqual({ data: { greet: { message: 'v1 Howdy, Bo' } } });
  });

  it('redeploys a function file when it changes, and keeps serving the last good version when it does not compile', async () => {
    const before = dev.events.length;
    fs.writeFileSync(path.join(root, 'functions', 'hello.js'), hello('v2'));
    const applied = await dev.next('applied', before);
    expect(applied.changes).toEqual([expect.stringMatching(/^~ function main\/hello\b.*version 2/)]);
    let result: any;
    for (let i = 0; i < 300 && result?.message !== 'v2 Howdy, Cy'; i++) {
      result = (await invoke('Cy')).body.result;
      if (result?.message !== 'v2 Howdy, Cy') await new Promise((r) => setTimeout(r, 100));
    }
    expect(result).toEqual({ message: 'v2 Howdy, Cy' });

    const beforeBroken = dev.events.length;
    fs.writeFileSync(path.join(root, 'functions', 'hello.js'), 'export default async function () {\n  return {;\n}\n');
    const error = await dev.next('error', beforeBroken);
    expect(error.error.code).toBe('compile_error');
    expect((await invoke('Di')).body.result).toEqual({ message: 'v2 Howdy, Di' });
  });

  it('a coffer.toml edit that does not validate is reported with file, line and key, and nothing is applied', async () => {
    const tomlFile = path.join(root, 'coffer.toml');
    const fixed = dev.events.length;
    fs.writeFileSync(path.join(root, 'functions', 'hello.js'), hello('v2'));
    await dev.next('applied', fixed);
    const before = dev.events.length;
    fs.writeFileSync(tomlFile, TOML.replace('timeoutMs = 5000', 'timeoutMs = 5000\ncolour = "blue"'));
    const error = await dev.next('error', before);
    expect(error.error.code).toBe('invalid_project');
    expect(error.error.message).toMatch(/coffer\.toml:\d+:\d+: functions\.hello/);
    const restored = dev.events.length;
    fs.writeFileSync(tomlFile, TOML);
    expect((await dev.next('applied', restored)).changes).toEqual([]);
  });

  it('stops on SIGTERM, and a restart on the same data serves again with the same admin key', async () => {
    const beforeFix = dev.events.length;
    fs.writeFileSync(path.join(root, 'functions', 'hello.js'), hello('v3'));
    await dev.next('applied', beforeFix);
    expect(await stop(dev)).toBe(0);
    expect(dev.events.at(-1)).toEqual({ event: 'stopped' });
    dev = startDev(u, root);
    ready = await dev.next('ready');
    expect(fs.readFileSync(ready.adminKeyFile, 'utf8').trim()).toBe(adminKey);
    // The same values again write no new secret versions (PUT ifChanged).
    const reapplied = dev.events.find((e) => e.event === 'applied');
    expect(reapplied.changes.filter((c: string) => c.startsWith('~ secret'))).toEqual([]);
    let r = await invoke('Ed');
    for (let i = 0; i < 300 && r.body.result?.message !== 'v3 Howdy, Ed'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await invoke('Ed');
    }
    expect(r.body.result).toEqual({ message: 'v3 Howdy, Ed' });
    for (const v of [WEBHOOK_KEY, FILE_WEBHOOK_KEY, adminKey]) expect(JSON.stringify(dev.events) + dev.stderr()).not.toContain(v);
  });
});
