// What happens when a secret is written, read, listed, versioned or deleted: all of it is here.
// Values are sealed before they reach db/ and opened only on the way out of a read; every read and
// write commits together with its audit row (fail closed: no audit row, no value).
import { inTransaction, type Db } from '../../db/client.ts';
import * as secretsRepo from '../../db/repos/secrets.ts';
import { CofferError, notFound } from '../errors.ts';
import { newId, constantTimeEqual } from '../crypto/credentials.ts';
import { seal, open, secretAad } from '../crypto/envelope.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import type { AuthorizeVault } from './vault-access.ts';
import { decidedThrough, decideFunctionRead, type GrantTerms } from '../policy/grants.ts';
import { createAccessCache, type AccessCachePolicy } from '../../db/access-cache.ts';

export const MAX_VALUE_BYTES = 64 * 1024;
/** How long a value opened for functions is kept in memory, at most, while nothing changes access. */
const OPENED_VALUE_MAX_AGE_MS = 60_000;

/** Who reads a secret from inside a function, for the grant check and the audit row. */
export interface RuntimeReader {
  workspaceId: string;
  workspaceName: string;
  functionName: string;
  functionVersion: number;
  invocationId: string;
  principalId?: string | null;
  requestId?: string | null;
  /**
   * When given, a read does not write its audit row: the row is collected here, and the caller must
   * commit them all (audit.appendAll) before anything the function produced leaves Coffer. That is
   * fail closed at the sandbox boundary (the isolate has no way out but its result and logs), and
   * one statement per invocation instead of one per read.
   */
  auditRows?: AuditEntry[];
  /** Extra value-free facts for the audit row's detail, e.g. the pipeline, version, step and run a read came from. */
  auditDetail?: Record<string, unknown>;
}

/** Who reads a webhook's signing key: the executor, for its workspace, at request time. */
export interface WebhookKeyReader {
  workspaceId: string;
  workspaceName: string;
  executorId: string;
  executorName: string;
  requestId: string;
}

/** A read decided ahead of the function's asking (prefetchForFunction); `value` undefined: no enabled version. */
export interface PrefetchedRead {
  vault: string;
  name: string;
  value: string | undefined;
  version: number | null;
  vaultId: string;
}

export class AccessDeniedError extends Error {
  readonly code = 'access_denied';
  constructor(vault: string) { super(`access denied to vault "${vault}"`); }
}

export function createSecretService(deps: { db: Db; audit: AuditLog; keyring: Keyring; authorizeVault: AuthorizeVault; accessCache?: AccessCachePolicy }) {
  const { db, audit, keyring, authorizeVault } = deps;
  const functionReads = createAccessCache<Awaited<ReturnType<typeof secretsRepo.findSecretForWorkspace>>>(deps.accessCache);
  // The value opened from a memoised row, keyed by that row object: a write that changes access
  // (a revoke, a new version, a disabled one) moves the epoch, the row is loaded again as a new
  // object, and its value is opened again; the old one goes with the old row. Only where rows are
  // memoised at all (deps.accessCache), and for a bounded time (values in memory as briefly as is cheap).
  const opened = new WeakMap<object, { value: string; at: number }>();

  async function findSecretOr404(vaultId: string, name: string) {
    const secret = await secretsRepo.findSecret(db, vaultId, name);
    if (!secret) throw notFound('secret');
    return secret;
  }

  function openVersion(vaultId: string, name: string, v: { version: number; ciphertext: Buffer | null; wrappedKey: Buffer | null; masterKeyId: string | null }): string {
    if (!v.ciphertext || !v.wrappedKey || !v.masterKeyId) throw new CofferError('version_destroyed', `version ${v.version} was destroyed`);
    return open(keyring, { ciphertext: v.ciphertext, wrappedKey: v.wrappedKey, masterKeyId: v.masterKeyId }, secretAad(vaultId, name, v.version)).toString('utf8');
  }

  /**
   * The workspace's access to one secret for one function, decided now (an expiring grant stops at
   * its instant): `denied` is the reason, absent when allowed. A grant that does not cover this
   * function or secret is, to the function, no grant at all.
   */
  type FoundSecret = NonNullable<Awaited<ReturnType<typeof secretsRepo.findSecretForWorkspace>>>;
  async function decideRead(reader: RuntimeReader, vaultName: string, name: string): Promise<
    { found: FoundSecret; denied?: undefined } | { found: FoundSecret | undefined; denied: string }
  > {
    const found = await functionReads.get(`${reader.workspaceId}\0${vaultName}\0${name}`,
      () => secretsRepo.findSecretForWorkspace(db, reader.workspaceId, vaultName, name));
    const decision = decideFunctionRead(found?.role ? { role: found.role, functions: found.functions, secrets: found.secrets, expiresAt: found.expiresAt } : undefined,
      { now: Date.now(), functionName: reader.functionName, secret: name });
    if (!decision.allowed) return { found, denied: decision.reason };
    return found ? { found } : { found, denied: 'no_workspace_grant' };
  }

  /** The latest enabled version's value (undefined: none), kept beside its memoised row. */
  function openFound(found: FoundSecret, name: string): string | undefined {
    if (found.version === null) return undefined;
    const hit = deps.accessCache ? opened.get(found) : undefined;
    if (hit && performance.now() - hit.at < OPENED_VALUE_MAX_AGE_MS) return hit.value;
    const value = openVersion(found.vaultId, name, { ...found, version: found.version });
    if (deps.accessCache) opened.set(found, { value, at: performance.now() });
    return value;
  }

  const readBase = (reader: RuntimeReader, vault: string, secret: string) => ({
    actorId: reader.principalId ?? null, actorKind: 'function', requestId: reader.requestId ?? null, action: 'secret.read',
    vault, secret, workspaceId: reader.workspaceId, workspace: reader.workspaceName, function: reader.functionName, invocationId: reader.invocationId,
  });
  const deniedRow = (reader: RuntimeReader, vault: string, secret: string, vaultId: string | null, reason: string, extra?: object): AuditEntry => ({
    ...readBase(reader, vault, secret), vaultId, outcome: 'denied',
    detail: { functionVersion: reader.functionVersion, ...reader.auditDetail, ...extra, reason },
  });
  const allowedRow = (reader: RuntimeReader, vault: string, secret: string, vaultId: string, version: number | null, missing: boolean, extra?: object): AuditEntry => ({
    ...readBase(reader, vault, secret), vaultId, outcome: 'allowed', version,
    detail: { functionVersion: reader.functionVersion, ...reader.auditDetail, ...extra, ...(missing ? { missing: true } : {}) },
  });
  async function record(reader: RuntimeReader, entry: AuditEntry): Promise<void> {
    if (reader.auditRows) reader.auditRows.push(entry);
    else await audit.append(entry);
  }

  return {
    async list(actor: Actor, vaultName: string) {
      const { vault } = await authorizeVault(actor, vaultName, 'secrets.list');
      return secretsRepo.listSecrets(db, vault.id);
    },

    /**
     * Writes a new version. With `ifChanged`, a value equal to the latest version's (if that one is
     * enabled) creates nothing and answers that version with `changed: false`: re-applying a value
     * is idempotent without anyone keeping a hash of it.
     */
    async put(actor: Actor, vaultName: string, name: string, input: { value: string; description?: string; ifChanged?: boolean }) {
      const { vault, grant } = await authorizeVault(actor, vaultName, 'secrets.write', { secret: name });
      if (Buffer.byteLength(input.value, 'utf8') > MAX_VALUE_BYTES) {
        throw new CofferError('value_too_large', `secret values are limited to ${MAX_VALUE_BYTES} bytes`);
      }
      return inTransaction(db, async (tx) => {
        if (input.ifChanged) {
          const existing = await secretsRepo.findSecret(tx, vault.id, name);
          const latest = existing && await secretsRepo.findVersion(tx, existing.id, existing.latestVersion);
          if (existing && latest?.state === 'enabled' && constantTimeEqual(openVersion(vault.id, name, latest), input.value)) {
            await audit.append({ action: 'secret.write', outcome: 'allowed', vaultId: vault.id, vault: vault.name, secret: name, version: latest.version, detail: { ...decidedThrough(grant), unchanged: true }, ...actorFields(actor) }, tx);
            return { secret: existing, version: latest.version, changed: false };
          }
        }
        const secret = await secretsRepo.reserveNextVersion(tx, {
          id: newId('sec'), vaultId: vault.id, name, description: input.description, actorId: actor.principal.id,
        });
        const version = secret.latestVersion;
        const sealed = seal(keyring, input.value, secretAad(vault.id, name, version));
        await secretsRepo.insertVersion(tx, { secretId: secret.id, version, ...sealed, createdBy: actor.principal.id });
        await audit.append({ action: 'secret.write', outcome: 'allowed', vaultId: vault.id, vault: vault.name, secret: name, version, detail: decidedThrough(grant), ...actorFields(actor) }, tx);
        return { secret, version, changed: true };
      });
    },

    async metadata(actor: Actor, vaultName: string, name: string) {
      const { vault } = await authorizeVault(actor, vaultName, 'secrets.metadata');
      return findSecretOr404(vault.id, name);
    },

    async remove(actor: Actor, vaultName: string, name: string) {
      const { vault, grant } = await authorizeVault(actor, vaultName, 'secrets.delete', { secret: name });
      const secret = await findSecretOr404(vault.id, name);
      await inTransaction(db, async (tx) => {
        await secretsRepo.deleteSecret(tx, secret.id);
        await audit.append({ action: 'secret.delete', outcome: 'allowed', vaultId: vault.id, vault: vault.name, secret: name, detail: decidedThrough(grant), ...actorFields(actor) }, tx);
      });
    },

    async readValue(actor: Actor, vaultName: string, name: string, version?: number) {
      const { vault, grant } = await authorizeVault(actor, vaultName, 'secrets.read_value', { secret: name });
      const secret = await findSecretOr404(vault.id, name);
      const row = version === undefined
        ? await secretsRepo.latestEnabledVersion(db, secret.id)
        : await secretsRepo.findVersion(db, secret.id, version);
      if (!row) throw notFound(version === undefined ? 'enabled version' : 'version');
      if (row.state === 'destroyed') throw new CofferError('version_destroyed', `version ${row.version} was destroyed`);
      if (row.state === 'disabled') throw new CofferError('version_disabled', `version ${row.version} is disabled; enable it to read it`);
      const value = openVersion(vault.id, name, row);
      await audit.append({ action: 'secret.read', outcome: 'allowed', vaultId: vault.id, vault: vault.name, secret: name, version: row.version, detail: decidedThrough(grant), ...actorFields(actor) });
      return { value, version: row.version };
    },

    async versions(actor: Actor, vaultName: string, name: string) {
      const { vault } = await authorizeVault(actor, vaultName, 'secrets.metadata');
      const secret = await findSecretOr404(vault.id, name);
      return secretsRepo.listVersions(db, secret.id);
    },

    async setVersionState(actor: Actor, vaultName: string, name: string, version: number, state: 'enabled' | 'disabled') {
      const { vault, grant } = await authorizeVault(actor, vaultName, 'versions.manage', { secret: name });
      const secret = await findSecretOr404(vault.id, name);
      return inTransaction(db, async (tx) => {
        const row = await secretsRepo.findVersion(tx, secret.id, version);
        if (!row) throw notFound('version');
        if (row.state === 'destroyed') throw new CofferError('version_destroyed', `version ${version} was destroyed and cannot change state`);
        await secretsRepo.setVersionState(tx, secret.id, version, state);
        await audit.append({ action: `secret.version.${state === 'enabled' ? 'enable' : 'disable'}`, outcome: 'allowed', vaultId: vault.id, vault: vault.name, secret: name, version, detail: decidedThrough(grant), ...actorFields(actor) }, tx);
        return { version, state };
      });
    },

    async destroyVersion(actor: Actor, vaultName: string, name: string, version: number) {
      const { vault, grant } = await authorizeVault(actor, vaultName, 'versions.manage', { secret: name });
      const secret = await findSecretOr404(vault.id, name);
      await inTransaction(db, async (tx) => {
        const row = await secretsRepo.findVersion(tx, secret.id, version);
        if (!row) throw notFound('version');
        await secretsRepo.destroyVersion(tx, secret.id, version);
        await audit.append({ action: 'secret.version.destroy', outcome: 'allowed', vaultId: vault.id, vault: vault.name, secret: name, version, detail: decidedThrough(grant), ...actorFields(actor) }, tx);
      });
    },

    /**
     * A read from inside a function: the workspace's grant is checked now (against the database, or a
     * memo that every committed write invalidates), the latest
     * enabled version is opened, and the audit row names workspace, function, version, invocation.
     * An unknown vault and a vault without a grant look the same to the function.
     */
    async readForFunction(reader: RuntimeReader, vaultName: string, name: string): Promise<string | undefined> {
      const { found, denied } = await decideRead(reader, vaultName, name);
      if (denied !== undefined) {
        await record(reader, deniedRow(reader, vaultName, name, found?.vaultId ?? null, denied));
        throw new AccessDeniedError(vaultName);
      }
      const value = openFound(found, name);
      await record(reader, allowedRow(reader, vaultName, name, found.vaultId, found.version, value === undefined));
      return value;
    },

    /**
     * A read decided before the function asks for it (see api/services/read-prefetch.ts): the same
     * lookup and decision as readForFunction, and nothing recorded. Only where lookups are memoised
     * (so that confirmPrefetched can tell cheaply whether anything changed) and only if allowed;
     * undefined otherwise, and the function's read then comes here as usual.
     */
    async prefetchForFunction(reader: RuntimeReader, vaultName: string, name: string): Promise<PrefetchedRead | undefined> {
      if (!deps.accessCache) return undefined;
      const { found, denied } = await decideRead(reader, vaultName, name);
      if (denied !== undefined) return undefined;
      return { vault: vaultName, name, value: openFound(found, name), version: found.version, vaultId: found.vaultId };
    },

    /**
     * The function read a prefetched value: the grant is decided again, now (a memo hit while no write
     * has committed since the prefetch; the database otherwise), and the read is recorded like any
     * other. False if access was revoked or expired in between: the row says denied, and the caller
     * must withhold the invocation's output (the value has reached the function, nothing else has).
     */
    async confirmPrefetched(reader: RuntimeReader, read: PrefetchedRead): Promise<boolean> {
      const { found, denied } = await decideRead(reader, read.vault, read.name);
      if (denied !== undefined) {
        await record(reader, deniedRow(reader, read.vault, read.name, found?.vaultId ?? read.vaultId, denied, { revokedDuringRun: true }));
        return false;
      }
      await record(reader, allowedRow(reader, read.vault, read.name, read.vaultId, read.version, read.value === undefined));
      return true;
    },

    /**
     * A value an executor sends on its own (an outgoing webhook's URL, header or signing key), read
     * at send time under the workspace's grant on the vault: the newest enabled version. Audited as a
     * read by the executor, with the job; the value is never part of what is returned on failure.
     */
    async readForExecutor(reader: WebhookKeyReader & { jobId: string; purpose: string }, vaultName: string, name: string): Promise<{ ok: true; value: string; version: number } | { ok: false; reason: 'no_workspace_grant' | 'missing' }> {
      const rows = await secretsRepo.enabledVersionsForWorkspace(db, reader.workspaceId, vaultName, name, 1);
      const granted = executorMayRead(rows[0], name);
      const base = {
        action: 'secret.read', actorId: reader.executorId, actorKind: 'executor', requestId: reader.requestId,
        vaultId: rows[0]?.vaultId ?? null, vault: vaultName, secret: name, workspaceId: reader.workspaceId, workspace: reader.workspaceName,
      };
      const detail = { executor: reader.executorName, jobId: reader.jobId, purpose: reader.purpose };
      if (!granted) {
        await audit.append({ ...base, outcome: 'denied', detail: { ...detail, reason: 'no_workspace_grant' } });
        return { ok: false, reason: 'no_workspace_grant' };
      }
      const v = rows[0];
      if (v.version === null) {
        await audit.append({ ...base, outcome: 'allowed', detail: { ...detail, missing: true } });
        return { ok: false, reason: 'missing' };
      }
      const value = openVersion(v.vaultId, name, { ...v, version: v.version });
      await audit.append({ ...base, outcome: 'allowed', version: v.version, detail });
      return { ok: true, value, version: v.version };
    },

    /** Whether the workspace holds reader (or higher) on the vault: the check an executor's PUT makes. */
    async workspaceCanRead(workspaceId: string, vaultName: string): Promise<boolean> {
      const rows = await secretsRepo.enabledVersionsForWorkspace(db, workspaceId, vaultName, '', 1);
      return executorMayRead(rows[0]);
    },

    /**
     * The signing key of an hmac webhook, read under the workspace's grant when the request
     * arrives: the newest enabled version, and while that one is younger than `graceMs` the enabled
     * version before it too (so a rotation does not reject deliveries signed with the old key).
     * The read is audited like any secret read; no grant, or no enabled version, is undefined.
     */
    async readForWebhook(reader: WebhookKeyReader, vaultName: string, name: string, graceMs: number): Promise<string[] | undefined> {
      const rows = await secretsRepo.enabledVersionsForWorkspace(db, reader.workspaceId, vaultName, name, 2);
      const granted = executorMayRead(rows[0], name);
      const base = {
        action: 'secret.read', actorId: reader.executorId, actorKind: 'executor', requestId: reader.requestId,
        vaultId: rows[0]?.vaultId ?? null, vault: vaultName, secret: name, workspaceId: reader.workspaceId, workspace: reader.workspaceName,
      };
      if (!granted) {
        await audit.append({ ...base, outcome: 'denied', detail: { executor: reader.executorName, purpose: 'webhook_signature', reason: 'no_workspace_grant' } });
        return undefined;
      }
      const versions = rows.filter((r) => r.version !== null);
      if (versions.length === 0) {
        await audit.append({ ...base, outcome: 'allowed', detail: { executor: reader.executorName, purpose: 'webhook_signature', missing: true } });
        return undefined;
      }
      const [latest, previous] = versions;
      const inGrace = previous && latest.createdAt && Date.now() - latest.createdAt.getTime() < graceMs;
      const used = inGrace ? [latest, previous] : [latest];
      const values = used.map((v) => openVersion(v.vaultId, name, { ...v, version: v.version! }));
      await audit.append({
        ...base, outcome: 'allowed', version: latest.version,
        detail: { executor: reader.executorName, purpose: 'webhook_signature', versions: used.map((v) => v.version) },
      });
      return values;
    },
  };
}

export type SecretService = ReturnType<typeof createSecretService>;

/**
 * Whether a workspace's grant covers a read an executor makes on its own (a webhook signing key, an
 * outgoing header), decided by the same rule as function reads. No function is running, so a grant
 * limited to named functions does not cover it unless one of its patterns is `*`; an expired grant
 * or one limited to other secret names does not either.
 */
function executorMayRead(row: (Omit<GrantTerms, 'role'> & { role: GrantTerms['role'] | null }) | undefined, secret?: string): boolean {
  if (!row?.role) return false;
  return decideFunctionRead({ role: row.role, functions: row.functions, secrets: row.secrets, expiresAt: row.expiresAt },
    { now: Date.now(), functionName: '', secret }).allowed;
}
