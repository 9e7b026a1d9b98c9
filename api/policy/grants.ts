// Which of the grants a principal or workspace holds on a vault decides an access, as data and pure
// functions: the request path (api/services/vault-access.ts), a function's secret read
// (api/services/secrets.ts) and the "who can read this?" reports (api/services/access-report.ts) all
// decide through `decideVaultAction` / `decideFunctionRead`, so the reports cannot disagree with the
// requests.
import type { VaultRole } from '../../db/schema.ts';
import { RUNTIME_READ_ROLES, vaultRoleAllows, type VaultAction } from './roles.ts';

/** The terms of one grant that narrow it. Null: not narrowed. */
export interface GrantTerms {
  role: VaultRole;
  /** Workspace grants only: function names or `*` globs allowed to use the grant. */
  functions: string[] | null;
  /** Reader grants only: secret names or `*` globs the grant covers. */
  secrets: string[] | null;
  expiresAt: Date | null;
}

/** A grant as held by someone: directly, or through a group. */
export interface HeldGrant extends GrantTerms {
  grantId: string;
  group: { id: string; name: string } | null;
}

/** What is being accessed; a field left out is not checked (e.g. no secret: a vault-level action). */
export interface AccessTarget {
  now: number;
  secret?: string;
  functionName?: string;
}

export type GrantRefusal = 'expired' | 'not_for_function' | 'not_for_secret';

const ROLE_RANK: Record<VaultRole, number> = { reader: 1, writer: 2, manager: 3 };

/**
 * `*` matches any run of characters, everything else itself. Hand-written rather than a glob library
 * because names are a small fixed alphabet and only `*` is special, and because a pattern from a
 * request must never become a regular expression.
 */
export function globMatch(pattern: string, name: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === name;
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = name.indexOf(parts[i], at);
    if (found < 0 || found + parts[i].length > end) return false;
    at = found + parts[i].length;
  }
  return true;
}

const anyMatch = (patterns: string[], name: string) => patterns.some((p) => globMatch(p, name));

export function isExpired(terms: Pick<GrantTerms, 'expiresAt'>, now: number): boolean {
  return terms.expiresAt !== null && terms.expiresAt.getTime() <= now;
}

/** Why this grant does not cover the target, or undefined when it does. */
export function grantRefusal(terms: GrantTerms, target: AccessTarget): GrantRefusal | undefined {
  if (isExpired(terms, target.now)) return 'expired';
  if (terms.functions && target.functionName !== undefined && !anyMatch(terms.functions, target.functionName)) return 'not_for_function';
  if (terms.secrets && target.secret !== undefined && !anyMatch(terms.secrets, target.secret)) return 'not_for_secret';
  return undefined;
}

export const grantCovers = (terms: GrantTerms, target: AccessTarget) => grantRefusal(terms, target) === undefined;

/**
 * The grant that decides: the highest role among those covering the target; between equal roles a
 * direct grant wins over a group's (so an audit row names a group only when the group was needed),
 * then one without expiry, then the one expiring last, then the lowest grant id.
 */
export function strongestGrant<G extends HeldGrant>(grants: readonly G[], target: AccessTarget): G | undefined {
  let best: G | undefined;
  for (const g of grants) {
    if (!grantCovers(g, target)) continue;
    if (!best || compareGrants(g, best) > 0) best = g;
  }
  return best;
}

function compareGrants(a: HeldGrant, b: HeldGrant): number {
  const byRole = ROLE_RANK[a.role] - ROLE_RANK[b.role];
  if (byRole !== 0) return byRole;
  const byDirect = Number(a.group === null) - Number(b.group === null);
  if (byDirect !== 0) return byDirect;
  const expiry = (g: HeldGrant) => g.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const byExpiry = expiry(a) - expiry(b);
  if (byExpiry !== 0 && !Number.isNaN(byExpiry)) return byExpiry;
  // Whatever order the rows came in, the same grant decides (and the audit row names the same group).
  return a.grantId < b.grantId ? 1 : a.grantId > b.grantId ? -1 : 0;
}

/** Audit detail naming the group an access was decided through (undefined for a direct grant or role). */
export function decidedThrough(held: { group?: { id: string; name: string } | null } | undefined): { viaGroup: string; viaGroupId: string } | undefined {
  return held?.group ? { viaGroup: held.group.name, viaGroupId: held.group.id } : undefined;
}

export type VaultRefusal = 'no_access' | 'expired' | 'not_for_secret' | 'insufficient_role';

export interface VaultDecision {
  allowed: boolean;
  /** Some grant is in force: the vault is visible (a refusal is 403, not 404). */
  visible: boolean;
  /** The effective role for the target: the strongest grant in force covering it. */
  role: VaultRole | undefined;
  /** The grant that gives that role (its group, if held through one). */
  grant: HeldGrant | undefined;
  reason?: VaultRefusal;
}

/**
 * The decision for a principal's action on a vault, from every grant it holds there (directly and
 * through groups, expired ones included). Admins are allowed everything; their grants still name
 * the role they hold.
 */
export function decideVaultAction(grants: readonly HeldGrant[], request: { admin: boolean; action: VaultAction; now: number; secret?: string }): VaultDecision {
  const { now, secret } = request;
  const inForce = strongestGrant(grants, { now });
  const grant = secret === undefined ? inForce : strongestGrant(grants, { now, secret });
  const role = grant?.role;
  if (request.admin || vaultRoleAllows(role, request.action)) return { allowed: true, visible: true, role, grant };
  const reason: VaultRefusal = !inForce ? (grants.length > 0 ? 'expired' : 'no_access') : !grant ? 'not_for_secret' : 'insufficient_role';
  return { allowed: false, visible: inForce !== undefined, role, grant, reason };
}

export type FunctionReadRefusal = 'no_workspace_grant' | GrantRefusal;

/**
 * Whether a function of a workspace may read a secret through the workspace's grant on the vault
 * (`grant` undefined: there is none). Without a function name: whether some function may.
 */
export function decideFunctionRead(grant: GrantTerms | undefined, target: { now: number; functionName?: string; secret?: string }):
  { allowed: true } | { allowed: false; reason: FunctionReadRefusal } {
  if (!grant || !RUNTIME_READ_ROLES.includes(grant.role)) return { allowed: false, reason: 'no_workspace_grant' };
  const refusal = grantRefusal(grant, target);
  return refusal ? { allowed: false, reason: refusal } : { allowed: true };
}
