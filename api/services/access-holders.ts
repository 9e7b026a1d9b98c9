// The last-manager and last-owner rules, counted through groups: a vault keeps at least one
// principal who manages it (itself, or as a member of a group holding the manager role), a
// workspace at least one owner. Every change that could break that (a grant removed or downgraded,
// a member leaving a workspace or a group, a group or principal deleted) runs through here.
import type { Db } from '../../db/client.ts';
import { lockAccessHolders, vaultsWithManager, vaultNames } from '../../db/repos/vaults.ts';
import { workspacesWithOwner, workspaceNames } from '../../db/repos/workspaces.ts';
import { CofferError } from '../errors.ts';

export interface Holdings {
  vaultIds?: string[];
  workspaceIds?: string[];
}

/**
 * Runs `change` inside `tx` and refuses it (the error rolls the transaction back) if a vault among
 * `vaultIds` that had a manager has none afterwards, or likewise a workspace's owner. A global
 * transaction lock keeps two such changes from both passing the check.
 */
export async function keepingManagersAndOwners<T>(tx: Db, holdings: Holdings, change: () => Promise<T>, wording: { what: string } = { what: 'removed' }): Promise<T> {
  const vaultIds = holdings.vaultIds ?? [];
  const workspaceIds = holdings.workspaceIds ?? [];
  await lockAccessHolders(tx);
  const managed = await vaultsWithManager(tx, vaultIds, new Date());
  const owned = await workspacesWithOwner(tx, workspaceIds);
  const result = await change();
  const stillManaged = await vaultsWithManager(tx, [...managed], new Date());
  const orphanedVaults = [...managed].filter((id) => !stillManaged.has(id));
  if (orphanedVaults.length > 0) {
    const names = (await vaultNames(tx, orphanedVaults)).map((n) => `"${n}"`).join(', ');
    throw new CofferError('last_manager', `the last manager of a vault cannot be ${wording.what} (${names || 'vault'}); add another manager first`);
  }
  const stillOwned = await workspacesWithOwner(tx, [...owned]);
  const orphanedWorkspaces = [...owned].filter((id) => !stillOwned.has(id));
  if (orphanedWorkspaces.length > 0) {
    const names = (await workspaceNames(tx, orphanedWorkspaces)).map((n) => `"${n}"`).join(', ');
    throw new CofferError('last_owner', `the last owner of a workspace cannot be ${wording.what} (${names || 'workspace'}); add another owner first`);
  }
  return result;
}
