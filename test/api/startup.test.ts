// First start and restarts: the bootstrap admin, its key shown exactly once, and refusals that tell
// the operator what is wrong.
import { describe, it, expect, afterAll } from 'vitest';
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { startCoffer, type RunningCoffer } from '../../api/server.ts';
import { loadConfig } from '../../api/config.ts';
import { createLogger } from '../../api/logger.ts';
import { freshDatabase } from '../support/database.ts';
import { selectRows } from '../support/assertions.ts';
import type { Database } from '../../db/client.ts';

const masterKey = crypto.randomBytes(32).toString('base64');
const opened: Database[] = [];
const logs: string[] = [];

async function start(database: Database, env: Record<string, string> = {}) {
  const shown: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', COFFER_LOG_LEVEL: 'info', COFFER_MASTER_KEY: masterKey, ...env });
  const running: RunningCoffer = await startCoffer(config, { logger: createLogger('info', sink), database, onAdminKey: (key) => shown.push(key) });
  return { running, shown };
}

async function me(running: RunningCoffer, key: string) {
  const res = await fetch(`${running.url}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.json() };
}

async function newDatabase() {
  const db = await freshDatabase();
  opened.push(db);
  return db;
}

const admins = async (db: Database) => (await selectRows<{ n: number }>(db.db, sql`select count(*)::int as n from principals where is_admin`))[0].n;

/** One database for the refusals: none of them may write to it, so they can share it. */
let untouched: Database | undefined;
const untouchedDatabase = async () => (untouched ??= await newDatabase());

afterAll(async () => { for (const db of opened) await db.close(); });

describe('bootstrap', () => {
  it('the first start creates an admin and shows its key exactly once; a second start on the same database does neither', async () => {
    const db = await newDatabase();
    const first = await start(db);
    expect(first.shown).toHaveLength(1);
    const key = first.shown[0];
    expect(key).toMatch(/^coffer_[A-Za-z0-9_-]{43}$/);
    expect((await me(first.running, key)).body).toMatchObject({ name: 'admin', isAdmin: true });
    await first.running.close();

    const second = await start(db);
    expect(second.shown).toEqual([]);
    expect(Number(await admins(db))).toBe(1);
    expect((await me(second.running, key)).status).toBe(200);
    await second.running.close();
    expect(logs.join('')).not.toContain(key);
  }, 90_000); // two full starts with their workers: slow when the machine is loaded

  it('COFFER_BOOTSTRAP_ADMIN_KEY is honoured and never shown back', async () => {
    const db = await newDatabase();
    const given = `coffer_${crypto.randomBytes(32).toString('base64url')}`;
    const { running, shown } = await start(db, { COFFER_BOOTSTRAP_ADMIN_KEY: given });
    expect(shown).toEqual([]);
    expect((await me(running, given)).body).toMatchObject({ isAdmin: true });
    await running.close();
  });

  it('a bootstrap key given on a later start does not create a second admin', async () => {
    const db = await newDatabase();
    const first = await start(db);
    await first.running.close();
    const late = `coffer_${crypto.randomBytes(32).toString('base64url')}`;
    const second = await start(db, { COFFER_BOOTSTRAP_ADMIN_KEY: late });
    expect(Number(await admins(db))).toBe(1);
    expect((await me(second.running, late)).status).toBe(401);
    await second.running.close();
  });

  it.each([
    ['too short', 'coffer_short'],
    ['without the prefix', crypto.randomBytes(32).toString('base64url')],
    ['with characters outside base64url', `coffer_${'a'.repeat(32)}!@#`],
  ])('a bootstrap key that is %s is refused with a clear message, and no admin is created', async (_what, bad) => {
    const db = await untouchedDatabase();
    await expect(start(db, { COFFER_BOOTSTRAP_ADMIN_KEY: bad })).rejects.toThrow(/COFFER_BOOTSTRAP_ADMIN_KEY must be "coffer_" followed by at least 32/);
    expect(Number(await admins(db))).toBe(0);
  });

  it('the bootstrap leaves an audit row that does not contain the key', async () => {
    const db = await newDatabase();
    const { running, shown } = await start(db);
    const rows = await selectRows<{ action: string }>(db.db, sql`select * from audit_events`);
    expect(rows.map((r) => r.action)).toEqual(['bootstrap.admin']);
    expect(JSON.stringify(rows)).not.toContain(shown[0]);
    await running.close();
  });
});

describe('configuration refusals', () => {
  it('an invalid configuration value is refused naming the variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ COFFER_LOG_LEVEL: 'loud' })).toThrow(/COFFER_LOG_LEVEL/);
  });

  it('a master key of the wrong size is refused before anything is written', async () => {
    const db = await untouchedDatabase();
    await expect(start(db, { COFFER_MASTER_KEY: crypto.randomBytes(16).toString('base64') })).rejects.toThrow(/32 bytes/);
    expect(Number(await admins(db))).toBe(0);
  });
});
