// The hand-written back-fill in migration 0001: audit rows written before vault and workspace ids
// existed are attributed by name only when they are not a deleted namesake's, and the names of
// vaults deleted before tombstones existed stay reserved.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { MIGRATIONS_FOLDER } from '../../db/migrate.ts';
import { freshDatabase } from '../support/database.ts';
import type { Database } from '../../db/client.ts';

let database: Database;
const rowsOf = <T>(r: unknown): T[] => (Array.isArray(r) ? r : (r as { rows: T[] }).rows) as T[];

async function apply(file: string) {
  const text = fs.readFileSync(path.join(MIGRATIONS_FOLDER, file), 'utf8');
  for (const statement of text.split('--> statement-breakpoint')) {
    if (statement.trim()) await database.db.execute(sql.raw(statement));
  }
}

async function event(seq: number, action: string, fields: { vault?: string; workspace?: string; outcome?: string; actor?: string }) {
  await database.db.execute(sql`insert into audit_events (seq, id, at, actor_id, action, outcome, vault, workspace, prev_hash, hash)
    values (${seq}, ${`evt_${seq}`}, ${new Date(Date.UTC(2026, 0, 1, 0, seq)).toISOString()}::timestamptz, ${fields.actor ?? 'usr_admin'}, ${action},
            ${fields.outcome ?? 'allowed'}, ${fields.vault ?? null}, ${fields.workspace ?? null}, 'p', 'h')`);
}

beforeAll(async () => {
  database = await freshDatabase();
  await apply('0000_init.sql');
  await database.db.execute(sql`insert into vaults (id, name, created_by) values ('vlt_new', 'payroll', 'usr_admin'), ('vlt_legacy', 'legacy', 'usr_admin')`);
  await database.db.execute(sql`insert into workspaces (id, name, created_by) values ('ws_acme', 'acme', 'usr_admin')`);
  await event(1, 'vault.create', { vault: 'payroll' });
  await event(2, 'secret.read', { vault: 'payroll', workspace: 'acme' });
  await event(3, 'vault.delete', { vault: 'payroll', actor: 'usr_first' });
  await event(4, 'vault.create', { vault: 'payroll' });
  await event(5, 'secret.read', { vault: 'payroll' });
  await event(6, 'vault.create', { vault: 'gone' });
  await event(7, 'vault.delete', { vault: 'gone', outcome: 'denied' });
  await event(8, 'vault.delete', { vault: 'gone', actor: 'usr_second' });
  await event(9, 'secret.read', { vault: 'legacy' });
  await event(10, 'workspace.create', { workspace: 'acme' });
  await event(11, 'function.invoke', { workspace: 'acme' });
  await apply('0001_integrity.sql');
});
afterAll(async () => { await database?.close(); });

describe('migration 0001 back-fill', () => {
  it('gives audit rows the id of the vault or workspace that carries their name, unless a namesake wrote them', async () => {
    const rows = rowsOf<{ seq: string | number; vault_id: string | null; workspace_id: string | null }>(
      await database.db.execute(sql`select seq, vault_id, workspace_id from audit_events order by seq`));
    const byId = Object.fromEntries(rows.map((r) => [Number(r.seq), [r.vault_id, r.workspace_id]]));
    expect(byId).toEqual({
      1: [null, null], 2: [null, null], 3: [null, null], // the deleted payroll's history stays with no id
      4: ['vlt_new', null], 5: ['vlt_new', null],
      6: [null, null], 7: [null, null], 8: [null, null],
      9: ['vlt_legacy', null], // a vault with no creation row in the trail keeps all its rows
      10: [null, 'ws_acme'], 11: [null, 'ws_acme'],
    });
  });

  it('reserves the names of vaults deleted before tombstones existed, by their last allowed delete', async () => {
    const tombstones = rowsOf<{ name: string; vault_id: string | null; deleted_by: string }>(
      await database.db.execute(sql`select name, vault_id, deleted_by from vault_name_tombstones order by name`));
    expect(tombstones).toEqual([{ name: 'gone', vault_id: null, deleted_by: 'usr_second' }]);
  });
});
