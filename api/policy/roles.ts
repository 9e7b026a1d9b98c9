// The permission tables as data. Vault roles follow Tecton's secret-scope permissions:
// a reader reads values only; a writer also lists keys and writes; a manager also edits grants and
// deletes the vault. Instance admins may do everything. Anyone may create a vault.
import type { VaultRole, WorkspaceRole } from '../../db/schema.ts';

export const VAULT_ACTIONS = {
  'vault.view': ['manager', 'writer', 'reader'],
  'vault.delete': ['manager'],
  'grants.view': ['manager'],
  'grants.edit': ['manager'],
  'secrets.list': ['manager', 'writer'],
  'secrets.write': ['manager', 'writer'],
  'secrets.delete': ['manager', 'writer'],
  /** Metadata of one secret and its versions: part of listing keys, so writer and up. */
  'secrets.metadata': ['manager', 'writer'],
  'versions.manage': ['manager', 'writer'],
  'secrets.read_value': ['manager', 'writer', 'reader'],
  'audit.view': ['manager'],
} as const satisfies Record<string, readonly VaultRole[]>;

export type VaultAction = keyof typeof VAULT_ACTIONS;

export function vaultRoleAllows(role: VaultRole | undefined, action: VaultAction): boolean {
  return role !== undefined && (VAULT_ACTIONS[action] as readonly VaultRole[]).includes(role);
}

/** Workspace roles are ordered: each includes everything below it. */
const WORKSPACE_RANK: Record<WorkspaceRole, number> = { viewer: 1, invoker: 2, editor: 3, owner: 4 };

export const WORKSPACE_ACTIONS = {
  'workspace.view': 'viewer',
  'functions.view': 'viewer',
  'functions.invoke': 'invoker',
  'functions.deploy': 'editor',
  'pipelines.view': 'viewer',
  'pipelines.run': 'invoker',
  'pipelines.deploy': 'editor',
  'executors.view': 'viewer',
  'executors.edit': 'editor',
  'members.view': 'viewer',
  'members.edit': 'owner',
  'workspace.delete': 'owner',
  /**
   * Accepting a vault grant for the workspace (its functions then read that vault): owners, who
   * answer for what the workspace may do, not editors, who only deploy into it.
   */
  'grants.accept': 'owner',
} as const satisfies Record<string, WorkspaceRole>;

export type WorkspaceAction = keyof typeof WORKSPACE_ACTIONS;

/** The effective role of several held at once (directly and through groups): the highest. */
export function highestWorkspaceRole(roles: readonly WorkspaceRole[]): WorkspaceRole | undefined {
  let best: WorkspaceRole | undefined;
  for (const r of roles) if (!best || WORKSPACE_RANK[r] > WORKSPACE_RANK[best]) best = r;
  return best;
}

export function workspaceRoleAllows(role: WorkspaceRole | undefined, action: WorkspaceAction): boolean {
  return role !== undefined && WORKSPACE_RANK[role] >= WORKSPACE_RANK[WORKSPACE_ACTIONS[action]];
}

/** The role a workspace needs on a vault for its functions to read it at run time. */
export const RUNTIME_READ_ROLES: readonly VaultRole[] = ['reader', 'writer', 'manager'];
