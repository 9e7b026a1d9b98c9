// Opens the database Coffer runs on: embedded PGlite by default, Postgres when given a URL.
// Nothing here runs at import time; the server, tests and CLI each open their own handle.
import fs from 'node:fs';
import path from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import postgres from 'postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import * as schema from './schema.ts';
import { accessChanged, type AccessCachePolicy } from './access-cache.ts';

/** Databases other processes may write to (Postgres), whose write transactions notify them. */
const sharedDatabases = new WeakSet<Db>();
const ACCESS_CHANNEL = 'coffer_access_changed';
/** On a shared database, the most a memoised lookup can lag a write whose notification was lost. */
const SHARED_CACHE_MAX_AGE_MS = 1000;

export type Schema = typeof schema;
/** A database handle or an open transaction: every repository function accepts either. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  db: Db;
  driver: 'pglite' | 'postgres';
  /** How hot-path lookups may be memoised on this database (see db/access-cache.ts); undefined: not at all. */
  accessCache?: AccessCachePolicy;
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Cross-process wake-ups (Postgres LISTEN/NOTIFY), for databases other processes share. Absent on
   * PGlite, whose one owner wakes itself. listen answers false where LISTEN is not available.
   */
  listen?(channel: string, onNotify: () => void): Promise<boolean>;
  notify?(channel: string): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres:// URL; when absent PGlite is used. */
  url?: string;
  /** PGlite data directory; `memory://` for a throwaway in-memory database. */
  dataDir?: string;
  /** Postgres pool size. */
  maxConnections?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) return openPostgres(options.url, options.maxConnections ?? 10);
  return openPglite(options.dataDir ?? 'memory://');
}

async function openPostgres(url: string, max: number): Promise<Database> {
  const client = postgres(url, {
    max,
    onnotice: () => {},
    connect_timeout: 10,
    // Values are bound as parameters; never let the driver echo them into error messages.
    debug: false,
  });
  const db = drizzlePostgres(client, { schema }) as unknown as Db;
  sharedDatabases.add(db);
  // Other gateways' writes arrive as notifications; (re)subscribing also steps the epoch, since
  // notifications sent while the connection was down are lost. Where LISTEN is not available (some
  // poolers), nothing is memoised.
  const listening = await client.listen(ACCESS_CHANNEL, () => accessChanged(), () => accessChanged()).then(() => true, () => false);
  return {
    db,
    driver: 'postgres',
    accessCache: listening ? { maxAgeMs: SHARED_CACHE_MAX_AGE_MS } : undefined,
    ping: async () => { await client`select 1`; },
    close: () => client.end({ timeout: 5 }),
    listen: (channel, onNotify) => client.listen(channel, () => onNotify()).then(() => true, () => false),
    notify: async (channel) => { await client`select pg_notify(${channel}, '')`; },
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  if (dataDir !== 'memory://') fs.mkdirSync(path.resolve(dataDir), { recursive: true, mode: 0o700 });
  const client = await PGlite.create(dataDir === 'memory://' ? undefined : dataDir);
  parseOnce(client);
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    db,
    driver: 'pglite',
    // One owner, one connection: the local epoch sees every write.
    accessCache: { maxAgeMs: Number.POSITIVE_INFINITY },
    ping: async () => { await db.execute(sql`select 1`); },
    close: () => client.close(),
  };
}

/** The type parsers drizzle hands PGlite with every query: timestamps, dates and intervals stay text (drizzle maps them). */
const DRIZZLE_TEXT_TYPES = [types.TIMESTAMP, types.TIMESTAMPTZ, types.INTERVAL, types.DATE, 1231, 1115, 1185, 1187, 1182];

/**
 * PGlite merges a query's `parsers` into its whole parser table (every array type too) on each
 * query, which cost about 0.1 ms a query on the gateway's thread. The parsers drizzle passes are
 * always the same, so they are set on the client once and dropped from each query.
 */
function parseOnce(client: PGlite): void {
  const keep = (value: string) => value;
  for (const oid of DRIZZLE_TEXT_TYPES) client.parsers[oid] = keep;
  type Query = PGlite['query'];
  const unparsed = (query: Query): Query => ((text: string, params?: unknown[], options?: Parameters<Query>[2]) =>
    query(text, params, options?.parsers ? { ...options, parsers: undefined } : options)) as Query;
  client.query = unparsed(client.query.bind(client));
  const transaction = client.transaction.bind(client);
  client.transaction = ((fn: Parameters<PGlite['transaction']>[0]) =>
    transaction((tx) => fn(Object.assign(tx, { query: unparsed(tx.query) })))) as PGlite['transaction'];
}

/**
 * Runs `fn` in one transaction: everything it writes commits together or not at all. Every
 * committed transaction moves the access epoch on, invalidating the hot-path caches.
 */
export async function inTransaction<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  const result = await db.transaction(async (tx) => {
    const value = await fn(tx as unknown as Db);
    // Delivered to every listening gateway when (and only if) this transaction commits.
    if (sharedDatabases.has(db)) await tx.execute(sql`select pg_notify(${ACCESS_CHANNEL}, '')`);
    return value;
  });
  accessChanged();
  return result;
}

/**
 * A query built once per database handle (drizzle's prepare), for the hot paths: the SQL text is
 * not rebuilt on every call, and the server can keep its plan.
 */
export function preparedPerDb<Q>(build: (db: Db) => Q): (db: Db) => Q {
  const cache = new WeakMap<Db, Q>();
  return (db) => {
    let q = cache.get(db);
    if (!q) cache.set(db, (q = build(db)));
    return q;
  };
}

/** The rows of a raw `db.execute` answer: an array on postgres.js, `{ rows }` on PGlite. */
export function executedRows<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows?: T[] })?.rows ?? []) as T[];
}
