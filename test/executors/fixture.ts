// Shared setup for executor tests: a function world (workspace, roles, vault) plus helpers to
// configure executors, deliver webhooks and wait for jobs to settle, all over real HTTP.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { startFunctionWorld, type FunctionWorld } from '../api/functions-fixture.ts';
import type { Reply, TestServerOptions } from '../support/server.ts';

export interface ExecutorWorld extends FunctionWorld {
  putExecutor(name: string, body: unknown, key?: string): Promise<Reply>;
  hook(path: string, opts?: { method?: string; body?: string; headers?: Record<string, string>; key?: string | null }): Promise<Reply>;
  job(id: string): Promise<Reply>;
  waitForJob(id: string, statuses?: string[], timeoutMs?: number): Promise<any>;
}

export async function startExecutorWorld(options: TestServerOptions = {}): Promise<ExecutorWorld> {
  const w = await startFunctionWorld({ ...options, env: { COFFER_SCHEDULE_INTERVAL_MS: '0', COFFER_JOB_POLL_MS: '100', ...options.env } });
  const world: ExecutorWorld = {
    ...w,
    putExecutor: (name, body, key) => w.s.request('PUT', `/v1/workspaces/${w.ws}/executors/${name}`, { key, body }),
    hook: (path, opts = {}) => {
      const method = opts.method ?? 'POST';
      const bodyless = method === 'GET' || method === 'HEAD';
      return w.s.request(method, path, {
        key: opts.key === undefined ? null : opts.key, rawBody: bodyless ? undefined : opts.body ?? '',
        headers: { ...(bodyless ? {} : { 'content-type': 'application/json' }), ...opts.headers },
      });
    },
    job: (id) => w.s.request('GET', `/v1/workspaces/${w.ws}/jobs/${id}`),
    async waitForJob(id, statuses = ['succeeded', 'failed', 'canceled'], timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const r = await world.job(id);
        expect(r.status, r.text).toBe(200);
        if (statuses.includes(r.body.status)) return r.body;
        if (Date.now() > until) throw new Error(`job ${id} still ${r.body.status}: ${r.text}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
  };
  return world;
}

export const ok = (r: Reply, status: number) => { expect(r.status, r.text).toBe(status); return r; };

export interface ReceivedJson { url: string; body: any }

/** A webhook's far end on loopback: answers `ok` and pushes every request's path and JSON body onto `into`. */
export async function startJsonReceiver(into: ReceivedJson[]): Promise<{ base: string; close(): void }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => { into.push({ url: req.url!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }); res.end('ok'); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}
