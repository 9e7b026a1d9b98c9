// JWT signing keys (the private half is sealed by api/crypto before it gets here).
import { and, asc, desc, eq, isNull, ne } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { signingKeys } from '../schema.ts';

export async function insertSigningKey(db: Db, k: typeof signingKeys.$inferInsert) {
  await db.insert(signingKeys).values(k);
}

export async function currentSigningKey(db: Db) {
  const [row] = await db.select().from(signingKeys).where(isNull(signingKeys.retiredAt)).orderBy(desc(signingKeys.createdAt)).limit(1);
  return row;
}

export async function listSigningKeys(db: Db) {
  return db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt));
}

export async function retireSigningKey(db: Db, kid: string, at: Date) {
  await db.update(signingKeys).set({ retiredAt: at }).where(and(eq(signingKeys.kid, kid), isNull(signingKeys.retiredAt)));
}

export async function deleteSigningKey(db: Db, kid: string) {
  await db.delete(signingKeys).where(eq(signingKeys.kid, kid));
}

export async function signingKeysToRewrap(db: Db, activeKeyId: string) {
  return db.select().from(signingKeys).where(ne(signingKeys.masterKeyId, activeKeyId));
}

export async function updateSigningKeyWrap(db: Db, kid: string, wrappedKey: Buffer, masterKeyId: string) {
  await db.update(signingKeys).set({ wrappedKey, masterKeyId }).where(eq(signingKeys.kid, kid));
}

export async function signingMasterKeyIds(db: Db): Promise<string[]> {
  const rows = await db.selectDistinct({ id: signingKeys.masterKeyId }).from(signingKeys);
  return rows.map((r) => r.id);
}
