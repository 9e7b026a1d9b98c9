// coffer.toml projects and the resources their applies own.
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { managedResources, projects } from '../schema.ts';

export type ManagedResourceRow = typeof managedResources.$inferSelect;

export async function findProject(db: Db, name: string) {
  const [row] = await db.select().from(projects).where(eq(projects.name, name));
  return row;
}

/** Creates the project if new; answers it either way. */
export async function claimProject(db: Db, name: string, createdBy: string) {
  await db.insert(projects).values({ name, createdBy }).onConflictDoNothing();
  return (await findProject(db, name))!;
}

export async function listResources(db: Db, project: string) {
  return db.select().from(managedResources).where(eq(managedResources.project, project))
    .orderBy(managedResources.kind, managedResources.key);
}

/** The records for these addresses, whichever project owns them. */
export async function findResources(db: Db, kind: string, keys: string[]) {
  if (keys.length === 0) return [];
  return db.select().from(managedResources).where(and(eq(managedResources.kind, kind), inArray(managedResources.key, keys)));
}

/** Records a resource for a project; an undefined fingerprint or a null value version keeps the recorded one. */
export async function upsertResource(db: Db, r: { project: string; kind: string; key: string; created: boolean; fingerprint: string | null | undefined; valueVersion: number | null; appliedBy: string }) {
  await db.insert(managedResources).values({ ...r, fingerprint: r.fingerprint ?? null, appliedAt: new Date() }).onConflictDoUpdate({
    target: [managedResources.kind, managedResources.key],
    set: {
      // Once created by the project, always created by it (a later update does not un-create it).
      created: sql`${managedResources.created} or ${r.created}`,
      fingerprint: r.fingerprint === undefined ? sql`${managedResources.fingerprint}` : r.fingerprint, appliedBy: r.appliedBy, appliedAt: new Date(),
      // A record without a value version keeps the one it had: only a value write moves it.
      valueVersion: r.valueVersion ?? sql`${managedResources.valueVersion}`,
    },
  });
}

export async function deleteResource(db: Db, project: string, kind: string, key: string) {
  await db.delete(managedResources).where(and(eq(managedResources.project, project), eq(managedResources.kind, kind), eq(managedResources.key, key)));
}
