// Applies the generated migrations in db/migrations. Used by the server at start, by tests and the CLI.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import { sql } from 'drizzle-orm';
import { executedRows, type Database } from './client.ts';
import journal from './migrations/meta/_journal.json' with { type: 'json' };

export const MIGRATIONS_FOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export async function migrate(database: Database): Promise<void> {
  const config = { migrationsFolder: MIGRATIONS_FOLDER };
  // Both migrators take the drizzle handle; the cast only bridges the two driver-specific types.
  if (database.driver === 'pglite') await migratePglite(database.db as never, config);
  else await migratePostgres(database.db as never, config);
}

/** True when every migration in the journal has been applied (for /readyz). */
export async function migrationsApplied(database: Database): Promise<boolean> {
  const rows = await database.db.execute<{ n: number }>(
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return Number(executedRows<{ n: number }>(rows)[0]?.n ?? 0) >= journal.entries.length;
}
