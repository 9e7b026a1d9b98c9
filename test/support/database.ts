// A fresh, empty database for each test file: in-memory PGlite by default, or a new database on the
// Postgres server named by DATABASE_URL (created here, dropped on close). Never a mock.
import crypto from 'node:crypto';
import postgres from 'postgres';
import { openDatabase, type Database } from '../../db/client.ts';

export const usingPostgres = () => !!process.env.DATABASE_URL;

export async function freshDatabase(): Promise<Database & { url?: string }> {
  const base = process.env.DATABASE_URL;
  if (!base) return openDatabase({ dataDir: 'memory://' });
  const name = `coffer_t_${crypto.randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), maxConnections: 20 });
  return {
    ...database,
    url: url.toString(),
    async close() {
      await database.close();
      const a = postgres(base, { max: 1, onnotice: () => {} });
      try { await a.unsafe(`drop database if exists ${name} with (force)`); } finally { await a.end(); }
    },
  };
}
