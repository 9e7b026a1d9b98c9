// The composition root for services: each factory gets only the dependencies it uses.
import type { Db } from '../../db/client.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { createVaultAccess } from './vault-access.ts';
import { createVaultService } from './vaults.ts';
import { createSecretService } from './secrets.ts';
import { createWorkspaceService } from './workspaces.ts';
import { createUserService } from './users.ts';
import { createAuditQueryService } from './audit-query.ts';
import { createFunctionService } from './functions.ts';
import type { Runtime } from '../../runtime/index.ts';
import type { Logger } from '../logger.ts';
import type { AccessCachePolicy } from '../../db/access-cache.ts';

export function createServices(deps: { db: Db; keyring: Keyring; runtime: Runtime; logger: Logger; invocationRetentionMs: number; accessCache: AccessCachePolicy }) {
  const { db, keyring } = deps;
  const audit = createAuditLog(db);
  const authorizeVault = createVaultAccess({ db, audit });
  const secrets = createSecretService({ db, audit, keyring, authorizeVault, accessCache: deps.accessCache });
  const workspaces = createWorkspaceService({ db, audit });
  return {
    audit,
    authorizeVault,
    vaults: createVaultService({ db, audit, authorizeVault }),
    secrets,
    workspaces,
    functions: createFunctionService({
      db, audit, workspaces, secrets, runtime: deps.runtime, logger: deps.logger, invocationRetentionMs: deps.invocationRetentionMs,
      accessCache: deps.accessCache,
    }),
    users: createUserService({ db, audit }),
    auditQuery: createAuditQueryService({ db, audit, authorizeVault }),
  };
}

export type Services = ReturnType<typeof createServices>;
