// The server under test, in its own process so the load generator's CPU is not counted against it
// (as with an external load tool). Sends {url, adminKey, driver, ...} over IPC once listening; stops
// on SIGTERM or when its parent goes away.
// BENCH_DRIVER picks the database: pglite-disk (the default a user runs: PGlite in COFFER_DATA_DIR,
// opened by the server itself), pglite-memory (PGlite in memory), postgres (a fresh database on
// DATABASE_URL's server, dropped on stop).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCoffer } from '../api/server.ts';
import { loadConfig } from '../api/config.ts';
import { createLogger } from '../api/logger.ts';
import { freshDatabase } from '../test/support/database.ts';
import { openDatabase, type Database } from '../db/client.ts';

// BENCH_JOIN={databaseUrl, masterKey, adminKey}: a second gateway on the first one's PostgreSQL database.
const join = process.env.BENCH_JOIN ? JSON.parse(process.env.BENCH_JOIN) as { databaseUrl: string; masterKey: string; adminKey: string } : undefined;
const adminKey = join?.adminKey ?? `coffer_${crypto.randomBytes(32).toString('base64url')}`;
const masterKey = join?.masterKey ?? crypto.randomBytes(32).toString('base64');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-'));
const config = loadConfig({
  HOST: '127.0.0.1', PORT: '0', COFFER_LOG_LEVEL: 'error', COFFER_DATA_DIR: dataDir,
  COFFER_MASTER_KEY: masterKey, COFFER_BOOTSTRAP_ADMIN_KEY: adminKey,
  // The executor figures send webhooks far faster than the default per-workspace budget of 100/s.
  COFFER_WEBHOOK_RATE_LIMIT: '1000000', COFFER_JOB_POLL_MS: '200',
  ...(process.env.COFFER_WORKERS ? { COFFER_WORKERS: process.env.COFFER_WORKERS } : {}),
  ...(process.env.COFFER_WORKER_NICE ? { COFFER_WORKER_NICE: process.env.COFFER_WORKER_NICE } : {}),
});
const driver = process.env.BENCH_DRIVER ?? 'pglite-disk';
async function open(): Promise<(Database & { url?: string }) | undefined> {
  if (join) return { ...(await openDatabase({ url: join.databaseUrl })), url: join.databaseUrl };
  if (driver === 'pglite-memory') return openDatabase({ dataDir: 'memory://' });
  if (driver === 'postgres') {
    if (!process.env.DATABASE_URL) throw new Error('BENCH_DRIVER=postgres needs DATABASE_URL');
    return freshDatabase();
  }
  if (driver === 'pglite-disk') return undefined; // startCoffer opens <dataDir>/pgdata, as `coffer serve` does
  throw new Error(`unknown BENCH_DRIVER ${driver} (pglite-disk, pglite-memory, postgres)`);
}
const database = await open();
const running = await startCoffer(config, { database, logger: createLogger('error'), onAdminKey: () => {} });

async function stop() {
  await running.close();
  await database?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
process.once('SIGTERM', stop);
process.once('disconnect', stop);
process.send?.({ url: running.url, adminKey, driver, databaseUrl: database?.url, masterKey, dataDir });
