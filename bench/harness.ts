// What every bench shares: the server under test in its own process (bench/server.ts), a keep-alive
// HTTP client for it, and the two functions every figure runs (hello, and one reading two secrets).
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { fork } from 'node:child_process';

export const HELLO = 'export default async (args) => ({ hello: args.name })';
export const TWO_SECRETS = `export default async (args) => {
  const a = await tailor.secretmanager.getSecret("default", "test-secret-1");
  const b = await tailor.secretmanager.getSecret("default", "test-secret-2");
  return { hello: args.name, lengths: [a.length, b.length] };
}`;

/** Starts bench/server.ts in a child process and waits for its address. */
export async function startServer(env: Record<string, string> = {}) {
  const child = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [], {
    env: { ...process.env, ...env },
    // BENCH_CPU_PROFILE=dir writes a V8 CPU profile of the server process there.
    execArgv: ['--no-node-snapshot', ...(process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  type Info = { url: string; adminKey: string; driver: string; databaseUrl?: string; masterKey: string };
  const info = await new Promise<Info>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Info));
    child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
  });
  const stopped = new Promise((resolve) => child.once('exit', resolve));
  return { ...info, pid: child.pid!, async stop() { child.kill('SIGTERM'); await stopped; } };
}

export type Call = (method: string, p: string, body?: unknown, extra?: Record<string, string>) => Promise<{ status: number; text: string }>;

/** Keep-alive connections and node:http (lighter than fetch), as a load tool would use. */
export function client(agent: http.Agent, adminKey: string) {
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
  return (target: URL): Call => (method, p, body, extra) => new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // An empty value in `extra` drops that header (webhooks are called without the API key).
    const base = Object.fromEntries(Object.entries({ ...headers, ...extra }).filter(([, v]) => v !== ''));
    const req = http.request({
      agent, host: target.hostname, port: target.port, method, path: p,
      headers: payload === undefined ? base : { ...base, 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Workspace, vault, two secrets, the grant, and the two functions. */
export async function deployBenchFunctions(call: Call) {
  const must = async (method: string, p: string, body: unknown, ...ok: number[]) => {
    const r = await call(method, p, body);
    if (!ok.includes(r.status)) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  };
  await must('POST', '/v1/workspaces', { name: 'bench' }, 201);
  await must('POST', '/v1/vaults', { name: 'default' }, 201);
  await must('PUT', '/v1/vaults/default/secrets/test-secret-1', { value: 'secret-value-1' }, 201);
  await must('PUT', '/v1/vaults/default/secrets/test-secret-2', { value: 'secret-value-2' }, 201);
  await must('POST', '/v1/vaults/default/grants', { workspace: 'bench', role: 'reader' }, 201);
  await must('PUT', '/v1/workspaces/bench/functions/hello', { code: HELLO }, 201);
  await must('PUT', '/v1/workspaces/bench/functions/secrets', { code: TWO_SECRETS }, 201);
}

