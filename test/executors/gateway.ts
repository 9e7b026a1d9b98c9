// Gateways as real processes for the crash and multi-gateway tests: test/support/gateway-process.ts
// forked with the environment given (PGlite in a data directory, or DATABASE_URL), killable with
// SIGKILL and restartable on the same data, plus a small HTTP client as the bootstrap admin.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Gateway {
  url: string;
  request(method: string, path: string, opts?: { body?: unknown; rawBody?: string; headers?: Record<string, string>; key?: string | null }): Promise<{ status: number; body: any; text: string }>;
  /** SIGKILL: no shutdown, no lease released, nothing flushed. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startGateway(env: Record<string, string>, adminKey: string): Promise<Gateway> {
  const child: ChildProcess = fork(fileURLToPath(new URL('../support/gateway-process.ts', import.meta.url)), [], {
    execArgv: ['--no-node-snapshot'], env: { PATH: process.env.PATH, COFFER_BOOTSTRAP_ADMIN_KEY: adminKey, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before listening`)));
  });
  return {
    url,
    async request(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      const key = opts.key === undefined ? adminKey : opts.key;
      if (key) headers.authorization = `Bearer ${key}`;
      let body = opts.rawBody;
      if (body === undefined && opts.body !== undefined) { body = JSON.stringify(opts.body); headers['content-type'] ??= 'application/json'; }
      const res = await fetch(url + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
      return { status: res.status, body: parsed, text };
    },
    async kill() { child.kill('SIGKILL'); await exited; },
    async stop() { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); await exited; },
  };
}

/** Polls a job through `gw` until `done` says so. */
export async function waitForJob(gw: Gateway, ws: string, id: string, done: (job: any) => boolean = (j) => ['succeeded', 'failed', 'canceled'].includes(j.status), timeoutMs = 45_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await gw.request('GET', `/v1/workspaces/${ws}/jobs/${id}`);
    if (r.status !== 200) throw new Error(`job ${id}: ${r.status} ${r.text}`);
    if (done(r.body)) return r.body;
    if (Date.now() > until) throw new Error(`job ${id} still ${r.body.status}: ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}
