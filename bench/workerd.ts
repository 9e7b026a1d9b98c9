// workerd, Cloudflare's open-source Workers runtime, as the peer of `npm run bench:peers`. It is not
// a dependency of Coffer: its npm package (which pulls the platform binary from
// @cloudflare/workerd-<platform>) is installed on first use into a cache directory, pinned.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import envPaths from 'env-paths';

/** Pinned so that figures from different days compare; `npm view workerd version` for the newest. */
export const WORKERD_VERSION = process.env.BENCH_WORKERD_VERSION ?? '1.20261117.1';

/** The two functions of the bench as workers: the arguments in the JSON body, the secrets as env bindings. */
const HELLO_WORKER = `export default {
  async fetch(request) {
    const { args } = await request.json();
    return Response.json({ hello: args.name });
  },
};`;
const SECRETS_WORKER = `export default {
  async fetch(request, env) {
    const { args } = await request.json();
    const a = env.TEST_SECRET_1, b = env.TEST_SECRET_2;
    return Response.json({ hello: args.name, lengths: [a.length, b.length] });
  },
};`;

export function cacheDir(): string {
  return process.env.BENCH_CACHE_DIR ?? path.join(envPaths('coffer-bench', { suffix: '' }).cache, `workerd-${WORKERD_VERSION}`);
}

/** The workerd binary, installed into the cache directory if it is not there yet. */
export function ensureWorkerd(log: (line: string) => void): string {
  const prefix = cacheDir();
  const manifest = path.join(prefix, 'node_modules', 'workerd', 'package.json');
  if (!fs.existsSync(manifest)) {
    log(`  installing workerd@${WORKERD_VERSION} into ${prefix} (once)`);
    fs.mkdirSync(prefix, { recursive: true });
    // Through npm itself: under `npm run`, npm_execpath is the npm that runs us.
    const [cmd, args] = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
    execFileSync(cmd, [...args, 'install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', `workerd@${WORKERD_VERSION}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  // The package's main module answers the path of the platform binary it resolved.
  const binary = (createRequire(manifest)('workerd') as { default: string }).default;
  if (!fs.existsSync(binary)) throw new Error(`workerd binary missing at ${binary} (platform ${process.platform}-${process.arch} not published?)`);
  return binary;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function config(ports: { hello: number; secrets: number }): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "hello", worker = .helloWorker),
    (name = "secrets", worker = .secretsWorker),
  ],
  sockets = [
    (name = "hello", address = "127.0.0.1:${ports.hello}", http = (), service = "hello"),
    (name = "secrets", address = "127.0.0.1:${ports.secrets}", http = (), service = "secrets"),
  ],
);
const helloWorker :Workerd.Worker = (
  modules = [(name = "hello.js", esModule = embed "hello.js")],
  compatibilityDate = "2024-09-23",
);
const secretsWorker :Workerd.Worker = (
  modules = [(name = "secrets.js", esModule = embed "secrets.js")],
  compatibilityDate = "2024-09-23",
  bindings = [
    (name = "TEST_SECRET_1", text = "secret-value-1"),
    (name = "TEST_SECRET_2", text = "secret-value-2"),
  ],
);
`;
}

export interface RunningWorkerd { urls: { hello: string; secrets: string }; pid: number; stop(): Promise<void> }

/** Writes the config and the two workers into `dir`, starts workerd on two loopback ports, waits until both answer. */
export async function startWorkerd(binary: string, dir: string): Promise<RunningWorkerd> {
  const ports = { hello: await freePort(), secrets: await freePort() };
  fs.writeFileSync(path.join(dir, 'hello.js'), HELLO_WORKER);
  fs.writeFileSync(path.join(dir, 'secrets.js'), SECRETS_WORKER);
  fs.writeFileSync(path.join(dir, 'config.capnp'), config(ports));
  const child: ChildProcess = spawn(binary, ['serve', path.join(dir, 'config.capnp')], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const urls = { hello: `http://127.0.0.1:${ports.hello}/`, secrets: `http://127.0.0.1:${ports.secrets}/` };
  const deadline = Date.now() + 15_000;
  for (const url of Object.values(urls)) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode}): ${stderr}`);
      const ok = await fetch(url, { method: 'POST', body: JSON.stringify({ args: { name: 'probe' } }) }).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`workerd did not answer on ${url}: ${stderr}`); }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { urls, pid: child.pid!, async stop() { child.kill('SIGTERM'); await exited; } };
}
