// Ownership records of coffer.toml applies. A record labels a resource (by kind and address) as
// created by a project; it grants nothing: `coffer apply --prune` still deletes through each
// resource's own permission check. A project belongs to the principal that first recorded it (and
// admins), so nobody else can label resources into someone's prune list.
import { inTransaction, type Db } from '../../db/client.ts';
import * as repo from '../../db/repos/projects.ts';
import { CofferError, forbidden } from '../errors.ts';
import { actorFields, type Actor } from '../actor.ts';
import type { AuditLog } from '../audit/audit-log.ts';

export interface ResourceRecord { kind: string; key: string; created?: boolean; fingerprint?: string | null; valueVersion?: number | null }

export function createProjectService(deps: { db: Db; audit: AuditLog }) {
  const { db, audit } = deps;

  async function authorize(actor: Actor, project: string, tx: Db = db) {
    const row = await repo.findProject(tx, project);
    if (row && row.createdBy !== actor.principal.id && !actor.principal.isAdmin) {
      throw forbidden(`project "${project}" belongs to another principal`);
    }
    return row;
  }

  return {
    async list(actor: Actor, project: string) {
      const row = await authorize(actor, project);
      return row ? repo.listResources(db, project) : [];
    },

    async record(actor: Actor, project: string, change: { set: ResourceRecord[]; remove: { kind: string; key: string }[] }) {
      return inTransaction(db, async (tx) => {
        const existing = await authorize(actor, project, tx);
        if (!existing) await repo.claimProject(tx, project, actor.principal.id);
        for (const r of change.set) {
          const [other] = (await repo.findResources(tx, r.kind, [r.key])).filter((o) => o.project !== project);
          if (other) {
            throw new CofferError('conflict', `${r.kind} ${r.key} is owned by project "${other.project}"`, { details: { kind: r.kind, key: r.key, project: other.project } });
          }
          await repo.upsertResource(tx, { project, kind: r.kind, key: r.key, created: r.created ?? false, fingerprint: r.fingerprint, valueVersion: r.valueVersion ?? null, appliedBy: actor.principal.id });
        }
        for (const r of change.remove) await repo.deleteResource(tx, project, r.kind, r.key);
        await audit.append({
          action: 'project.record', outcome: 'allowed',
          detail: { project, set: change.set.map((r) => `${r.kind}:${r.key}`), removed: change.remove.map((r) => `${r.kind}:${r.key}`) },
          ...actorFields(actor),
        }, tx);
        return repo.listResources(tx, project);
      });
    },
  };
}

export type ProjectService = ReturnType<typeof createProjectService>;
