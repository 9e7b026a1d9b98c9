// Start-up, in order: config -> database (+ migrations) -> master keys -> audit head -> first admin
// -> app -> listen. Any failure before listening stops the process with a message for the operator.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { openDatabase, type Database } from '../db/client.ts';
import { migrate } from '../db/migrate.ts';
import { loadKeyring, type Keyring } from './crypto/keyring.ts';
import { verifyMasterKeys, rewrapAll } from './crypto/master-key-check.ts';
import { ensureAuditHead } from './audit/audit-log.ts';
import { bootstrapAdmin } from './services/bootstrap.ts';
import { createApp } from './app.ts';
import { Hono } from 'hono';
import type { Metrics } from './metrics/metrics.ts';
import { startRuntimeOnFirstUse } from './services/functions.ts';
import { availableParallelism } from 'node:os';
import path from 'node:path';

export interface RunningCoffer {
  url: string;
  port: number;
  database: Database;
  keyring: Keyring;
  app: ReturnType<typeof createApp>['app'];
  services: ReturnType<typeof createApp>['services'];
  /** The port of the COFFER_METRICS_ADDR listener, when there is one. */
  metricsPort?: number;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Use an already-open database (tests); otherwise opened from config. */
  database?: Database;
  /** Called with the generated first admin key, once; defaults to printing it. */
  onAdminKey?: (key: string, url: string) => void;
}

export async function openForConfig(config: Config): Promise<Database> {
  return openDatabase(config.databaseUrl ? { url: config.databaseUrl } : { dataDir: path.join(config.dataDir, 'pgdata') });
}

export async function prepareDatabase(config: Config, database: Database, logger: Logger) {
  await migrate(database);
  const keyring = loadKeyring({ masterKey: config.masterKey, masterKeys: config.masterKeys, dataDir: config.dataDir, allowDevelopmentKey: !config.databaseUrl });
  if (keyring.development) {
    logger.warn({ keyFile: path.join(config.dataDir, 'master.key') }, 'using a generated DEVELOPMENT master key; set COFFER_MASTER_KEY for production');
  }
  await verifyMasterKeys(database.db, keyring);
  await ensureAuditHead(database.db);
  return keyring;
}

export async function startCoffer(config: Config, options: StartOptions = {}): Promise<RunningCoffer> {
  const logger = options.logger ?? createLogger(config.logLevel, { format: config.logFormat });
  const database = options.database ?? (await openForConfig(config));
  try {
    const keyring = await prepareDatabase(config, database, logger);
    // Workers are forked (process.execPath --no-node-snapshot) on the first deploy or invoke, not here.
    const runtime = startRuntimeOnFirstUse({
      workers: config.workers ?? availableParallelism(), maxQueue: config.maxQueue, logger, recycleAfterInvocations: config.workerRecycleInvocations, workerNice: config.workerNice,
      workspaceMaxInFlight: config.workspaceMaxInFlight, workspaceMaxQueue: config.workspaceMaxQueue,
      maxSecretNamesPerInvocation: config.maxSecretsPerInvocation, maxDeniedReadsPerInvocation: config.maxDeniedReadsPerInvocation,
    });
    // The OAuth issuer defaults to our own URL, which is known only once listening (PORT may be 0).
    let listeningUrl: string | undefined;
    const issuer = () => config.issuer ?? listeningUrl ?? `http://${config.host}:${config.port}`;
    const { app, services } = createApp({
      database, keyring, logger, runtime, invocationRetentionMs: config.invocationRetentionMs,
      issuer, tokenFailuresPerMinute: config.tokenFailuresPerMinute, authFailureRowsPerMinute: config.authFailureRowsPerMinute,
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
      jobs: config.jobs, executors: config.executors,
    });
    const boot = await bootstrapAdmin(database.db, services.audit, config.bootstrapAdminKey);

    const server: ServerType = await new Promise((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => resolve(s));
    });
    const port = (server.address() as AddressInfo).port;
    const metricsServer = config.metricsAddr ? await serveMetrics(services.metrics, config.metricsAddr) : undefined;
    if (metricsServer) logger.info({ metrics: `http://${config.metricsAddr!.host}:${(metricsServer.address() as AddressInfo).port}/metrics` }, 'metrics are served');
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    listeningUrl = url;
    // Jobs accepted before a crash run now; schedules resume from their bookmarks.
    await services.executors.start();
    logger.info({ url, driver: database.driver }, 'coffer is listening');
    if (boot.generatedKey) (options.onAdminKey ?? printAdminKey)(boot.generatedKey, url);

    let closed = false;
    return {
      url, port, database, keyring, app, services,
      metricsPort: metricsServer ? (metricsServer.address() as AddressInfo).port : undefined,
      async close() {
        if (closed) return;
        closed = true;
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
        await services.executors.close();
        await services.functions.close();
        await services.failureAudit.close();
        await services.pipelines.close();
        await runtime.close();
        if (!options.database) await database.close();
      },
    };
  } catch (err) {
    if (!options.database) await database.close().catch(() => {});
    throw err;
  }
}

/** The metrics listener: GET /metrics only, no credential (bind it to loopback or a private network). */
async function serveMetrics(metrics: Metrics, addr: { host: string; port: number }): Promise<ServerType> {
  const app = new Hono();
  app.get('/metrics', async (c) => c.text(await metrics.text(), 200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' }));
  app.notFound((c) => c.text('not found: this listener serves GET /metrics only\n', 404));
  return new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: addr.host, port: addr.port }, () => resolve(s));
  });
}

function printAdminKey(key: string, url: string) {
  // Straight to the terminal, not the log stream: this is the one time the key is shown.
  process.stdout.write([
    '',
    'First start: created the admin user. Its API key is shown only this once:',
    '',
    `  ${key}`,
    '',
    'Try it:',
    `  curl -H "Authorization: Bearer ${key}" ${url}/v1/me`,
    '',
  ].join('\n') + '\n');
}

/** `coffer keys rewrap` (npm run rewrap): re-wraps every data key under the active master key. */
export async function runRewrap(config: Config, onProgress?: (secretVersions: number) => void) {
  const logger = createLogger(config.logLevel, { format: config.logFormat });
  const database = await openForConfig(config);
  try {
    const keyring = await prepareDatabase(config, database, logger);
    const report = await rewrapAll(database.db, keyring, 200, onProgress);
    return { ...report, activeKeyId: keyring.active.id };
  } finally {
    await database.close();
  }
}

/**
 * Node's default report of an uncaught error prints its message and stack, which may quote a
 * secret value: print a fixed line with the error's code instead. An uncaught exception still ends
 * the process (its state is unknown); an unhandled rejection is reported and serving goes on.
 */
export function guardProcess(): void {
  const line = (what: string, err: unknown) => {
    const code = (err as { code?: unknown })?.code;
    const safe = typeof code === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(code) ? code : 'none';
    return `${JSON.stringify({ level: 60, time: Date.now(), msg: `coffer: ${what}`, code: safe })}\n`;
  };
  process.on('uncaughtException', (err) => { process.stderr.write(line('uncaught exception; exiting', err)); process.exit(70); });
  process.on('unhandledRejection', (err) => { process.stderr.write(line('unhandled promise rejection', err)); });
}

/** `coffer serve` (npm start): serves until SIGINT or SIGTERM, then closes cleanly. */
export async function serveUntilSignalled(config: Config) {
  guardProcess();
  const running = await startCoffer(config);
  const stop = async () => { await running.close(); process.exit(0); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return running;
}
