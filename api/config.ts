// The only reader of process.env. Everything else receives a typed Config.
import { z } from 'zod';
import path from 'node:path';

const envSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().url().optional(),
  COFFER_DATA_DIR: z.string().default('.coffer'),
  COFFER_MASTER_KEY: z.string().optional(),
  COFFER_MASTER_KEYS: z.string().optional(),
  COFFER_BOOTSTRAP_ADMIN_KEY: z.string().optional(),
  COFFER_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  COFFER_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  COFFER_WORKER_RECYCLE_INVOCATIONS: z.coerce.number().int().min(1).max(100_000_000).optional(),
  COFFER_WORKER_NICE: z.coerce.number().int().min(0).max(19).optional(),
  COFFER_INVOCATION_RETENTION_HOURS: z.coerce.number().positive().default(24),
  COFFER_MAX_QUEUE: z.coerce.number().int().min(0).max(100_000).optional(),
  COFFER_WORKSPACE_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).optional(),
  COFFER_WORKSPACE_MAX_QUEUE: z.coerce.number().int().min(0).max(100_000).optional(),
  COFFER_MAX_SECRETS_PER_INVOCATION: z.coerce.number().int().min(1).max(10_000).optional(),
  COFFER_MAX_DENIED_READS_PER_INVOCATION: z.coerce.number().int().min(0).max(1000).optional(),
  COFFER_ISSUER: z.string().url().optional(),
  COFFER_TOKEN_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(10),
  COFFER_AUTH_FAILURE_ROWS_PER_MINUTE: z.coerce.number().int().min(1).default(10),
  COFFER_METRICS_ADDR: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'host:port').optional(),
  COFFER_LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  COFFER_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(3600),
  // executors and jobs
  COFFER_JOB_RETENTION_DAYS: z.coerce.number().positive().default(30),
  COFFER_JOB_CONCURRENCY: z.coerce.number().int().min(0).max(256).default(8),
  COFFER_JOB_RUNNING_CAP: z.coerce.number().int().min(1).max(10_000).default(10),
  COFFER_JOB_LEASE_SECONDS: z.coerce.number().positive().max(3600).default(30),
  COFFER_JOB_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  COFFER_SCHEDULE_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  COFFER_WEBHOOK_RATE_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(100),
  COFFER_WEBHOOK_ROTATION_GRACE_HOURS: z.coerce.number().min(0).max(24 * 30).default(24),
  COFFER_EGRESS_ALLOW: z.string().default(''),
  COFFER_EVENT_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(250),
});

export interface Config {
  host: string;
  port: number;
  /** Postgres connection string; absent means embedded PGlite in dataDir. */
  databaseUrl?: string;
  dataDir: string;
  /** Raw master-key settings; parsed by the crypto keyring. */
  masterKey?: string;
  masterKeys?: string;
  bootstrapAdminKey?: string;
  logLevel: string;
  workers?: number;
  /** Invocations a worker serves before it is replaced (runtime default when absent). */
  workerRecycleInvocations?: number;
  /** The sandbox workers' nice value (runtime default when absent). */
  workerNice?: number;
  invocationRetentionMs: number;
  /** Invocations that may wait for a free worker before new ones answer 429 overloaded. */
  maxQueue?: number;
  /** Per workspace, over all workers: invocations running at once, and waiting (runtime defaults when absent). */
  workspaceMaxInFlight?: number;
  workspaceMaxQueue?: number;
  /** Per invocation: distinct secret names read, and denied reads, before it fails with secret_read_limit. */
  maxSecretsPerInvocation?: number;
  maxDeniedReadsPerInvocation?: number;
  /** OAuth issuer / audience base; defaults to the listen address. */
  issuer?: string;
  /** Failed OAuth token requests allowed per source address per minute. */
  tokenFailuresPerMinute: number;
  /** Failed-authentication audit rows per source address per minute; the excess is counted in one row. */
  authFailureRowsPerMinute: number;
  /** host:port of a separate listener serving /metrics without a credential; off when absent. */
  metricsAddr?: { host: string; port: number };
  /** Log lines as JSON, or readable (pino-pretty); absent: readable on a terminal, JSON otherwise. */
  logFormat?: 'json' | 'pretty';
  /** OAuth access-token lifetime in seconds (at most an hour: retired signing keys stay published that long). */
  accessTokenTtlSeconds: number;
  jobs: {
    retentionMs: number;
    /** Jobs one gateway runs at once; 0 runs none here (the gateway still accepts them). */
    concurrency: number;
    /** Live jobs per workspace across the queue; more wait, never dropped. */
    runningCap: number;
    leaseMs: number;
    pollMs: number;
  };
  executors: {
    /** 0: no background schedule loop on this gateway. */
    scheduleIntervalMs: number;
    webhookRatePerSecond: number;
    rotationGraceMs: number;
    /** Hosts and CIDRs outgoing webhooks may reach although not public (COFFER_EGRESS_ALLOW, comma-separated); empty by default. */
    egressAllow: string[];
    /** How often committed changes become event jobs (0: not on this gateway). */
    eventIntervalMs: number;
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  return {
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.COFFER_DATA_DIR),
    masterKey: e.COFFER_MASTER_KEY,
    masterKeys: e.COFFER_MASTER_KEYS,
    bootstrapAdminKey: e.COFFER_BOOTSTRAP_ADMIN_KEY,
    logLevel: e.COFFER_LOG_LEVEL,
    workers: e.COFFER_WORKERS,
    workerRecycleInvocations: e.COFFER_WORKER_RECYCLE_INVOCATIONS,
    workerNice: e.COFFER_WORKER_NICE,
    invocationRetentionMs: e.COFFER_INVOCATION_RETENTION_HOURS * 3600_000,
    maxQueue: e.COFFER_MAX_QUEUE,
    workspaceMaxInFlight: e.COFFER_WORKSPACE_MAX_IN_FLIGHT,
    workspaceMaxQueue: e.COFFER_WORKSPACE_MAX_QUEUE,
    maxSecretsPerInvocation: e.COFFER_MAX_SECRETS_PER_INVOCATION,
    maxDeniedReadsPerInvocation: e.COFFER_MAX_DENIED_READS_PER_INVOCATION,
    issuer: e.COFFER_ISSUER?.replace(/\/+$/, ''),
    tokenFailuresPerMinute: e.COFFER_TOKEN_FAILURES_PER_MINUTE,
    authFailureRowsPerMinute: e.COFFER_AUTH_FAILURE_ROWS_PER_MINUTE,
    metricsAddr: e.COFFER_METRICS_ADDR ? splitHostPort(e.COFFER_METRICS_ADDR) : undefined,
    logFormat: e.COFFER_LOG_FORMAT,
    accessTokenTtlSeconds: e.COFFER_ACCESS_TOKEN_TTL_SECONDS,
    jobs: {
      retentionMs: e.COFFER_JOB_RETENTION_DAYS * 86_400_000,
      concurrency: e.COFFER_JOB_CONCURRENCY,
      runningCap: e.COFFER_JOB_RUNNING_CAP,
      leaseMs: e.COFFER_JOB_LEASE_SECONDS * 1000,
      pollMs: e.COFFER_JOB_POLL_MS,
    },
    executors: {
      scheduleIntervalMs: e.COFFER_SCHEDULE_INTERVAL_MS,
      webhookRatePerSecond: e.COFFER_WEBHOOK_RATE_LIMIT,
      rotationGraceMs: e.COFFER_WEBHOOK_ROTATION_GRACE_HOURS * 3600_000,
      eventIntervalMs: e.COFFER_EVENT_INTERVAL_MS,
      egressAllow: e.COFFER_EGRESS_ALLOW.split(',').map((s) => s.trim()).filter(Boolean),
    },
  };
}

function splitHostPort(addr: string): { host: string; port: number } {
  const at = addr.lastIndexOf(':');
  return { host: addr.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(addr.slice(at + 1)) };
}
