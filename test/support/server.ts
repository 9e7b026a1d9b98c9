// Starts the real Coffer server on a free loopback port with a fresh database, captures its log
// output, and offers a small HTTP client for tests.
import { Writable } from 'node:stream';
import crypto from 'node:crypto';
import { startCoffer, type RunningCoffer } from '../../api/server.ts';
import { loadConfig } from '../../api/config.ts';
import { createLogger } from '../../api/logger.ts';
import { freshDatabase } from './database.ts';
import type { Database } from '../../db/client.ts';

export interface Reply<T = any> { status: number; body: T; headers: Headers; text: string }

export interface TestServer {
  url: string;
  adminKey: string;
  adminId: string;
  running: RunningCoffer;
  database: Database;
  /** Every log line the server wrote, raw JSON text. */
  logs: string[];
  request<T = any>(method: string, path: string, opts?: { key?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<Reply<T>>;
  /** Creates a user with a fresh API key (as the admin). */
  createUser(name?: string, opts?: { isAdmin?: boolean }): Promise<{ id: string; key: string; name: string }>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  env?: Record<string, string>;
  /** Reuse a database (e.g. to restart on the same data); the caller closes it. */
  database?: Database;
  adminKey?: string;
}

export const testMasterKey = () => crypto.randomBytes(32).toString('base64');

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const logs: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
  const adminKey = options.adminKey ?? `coffer_${crypto.randomBytes(32).toString('base64url')}`;
  const config = loadConfig({
    HOST: '127.0.0.1', PORT: '0', COFFER_LOG_LEVEL: 'debug',
    COFFER_BOOTSTRAP_ADMIN_KEY: adminKey,
    COFFER_MASTER_KEY: options.env?.COFFER_MASTER_KEY ?? testMasterKey(),
    ...options.env,
  });
  const database = options.database ?? (await freshDatabase());
  let running: RunningCoffer;
  try {
    running = await startCoffer(config, { logger: createLogger('debug', sink), database, onAdminKey: () => {} });
  } catch (err) {
    if (!options.database) await database.close();
    throw err;
  }

  async function request<T>(method: string, path: string, opts: { key?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? adminKey : opts.key;
    if (key) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) { body = JSON.stringify(opts.body); headers['content-type'] ??= 'application/json'; }
    const res = await fetch(running.url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: res.status, body: parsed as T, headers: res.headers, text };
  }

  const me = await request<{ id: string }>('GET', '/v1/me');
  let userCounter = 0;
  return {
    url: running.url, adminKey, adminId: me.body.id, running, database, logs, request,
    async createUser(name, opts = {}) {
      const userName = name ?? `user-${++userCounter}-${crypto.randomBytes(3).toString('hex')}`;
      const created = await request<{ id: string }>('POST', '/v1/users', { body: { name: userName, isAdmin: opts.isAdmin } });
      if (created.status !== 201) throw new Error(`createUser failed: ${created.status} ${created.text}`);
      const k = await request<{ key: string }>('POST', `/v1/users/${created.body.id}/api-keys`, { body: {} });
      return { id: created.body.id, key: k.body.key, name: userName };
    },
    async close() {
      await running.close();
      if (!options.database) await database.close();
    },
  };
}
