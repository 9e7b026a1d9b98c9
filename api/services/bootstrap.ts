// First start on an empty database: create the first admin and hand out its key exactly once.
import { inTransaction, type Db } from '../../db/client.ts';
import * as principalsRepo from '../../db/repos/principals.ts';
import { newId, newApiKey, hashCredential, displayPrefix, API_KEY_PATTERN } from '../crypto/credentials.ts';
import type { AuditLog } from '../audit/audit-log.ts';

export interface BootstrapResult {
  /** Set only when this call created the admin and generated its key: print it, then forget it. */
  generatedKey?: string;
  created: boolean;
  principalId?: string;
}

export async function bootstrapAdmin(db: Db, audit: AuditLog, givenKey?: string): Promise<BootstrapResult> {
  if (givenKey !== undefined && !API_KEY_PATTERN.test(givenKey)) {
    throw new Error('COFFER_BOOTSTRAP_ADMIN_KEY must be "coffer_" followed by at least 32 URL-safe base64 characters');
  }
  return inTransaction(db, async (tx) => {
    if (await principalsRepo.anyAdminExists(tx)) return { created: false };
    const admin = await principalsRepo.insertPrincipal(tx, { id: newId('usr'), kind: 'user', name: 'admin', isAdmin: true, description: 'created at first start' });
    const key = givenKey ?? newApiKey();
    await principalsRepo.insertApiKey(tx, { id: newId('key'), principalId: admin.id, name: 'bootstrap', prefix: displayPrefix(key), hash: hashCredential(key) });
    await audit.append({ action: 'bootstrap.admin', outcome: 'allowed', detail: { principalId: admin.id, keyGiven: givenKey !== undefined } }, tx);
    return { created: true, principalId: admin.id, generatedKey: givenKey === undefined ? key : undefined };
  });
}
