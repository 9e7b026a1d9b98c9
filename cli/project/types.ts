// What `coffer.toml` declares once loaded (Project), what would change on a server (Plan), and what
// an apply did (ApplyReport). The shapes of the declarations mirror the API's request bodies.

/** A write-only value source: read at apply time, sent only when `version` is newer than the last applied. */
export type ValueSource = { env: string; version: number } | { file: string; version: number };

export interface SecretDecl { description?: string; value?: ValueSource }
export interface VaultDecl { description?: string; secrets: Record<string, SecretDecl> }
export interface MemberDecl { principal?: string; group?: string; role: 'owner' | 'editor' | 'invoker' | 'viewer' }
export interface WorkspaceDecl { description?: string; members: MemberDecl[] }
export interface GrantDecl {
  vault: string;
  workspace?: string;
  principal?: string;
  group?: string;
  role: 'manager' | 'writer' | 'reader';
  functions?: string[];
  secrets?: string[];
  expiresAt?: string;
}
export interface FunctionDecl {
  workspace: string;
  /** As written in the file (relative to coffer.toml). */
  file: string;
  /** Resolved absolute path. */
  path: string;
  timeoutMs?: number;
  memoryMb?: number;
  exposeSecrets?: boolean;
  description?: string;
}
/** trigger/target/retry exactly as PUT /v1/workspaces/{ws}/executors/{name} takes them. */
export interface ExecutorDecl {
  workspace: string;
  description?: string;
  disabled?: boolean;
  trigger: Record<string, unknown>;
  target: Record<string, unknown>;
  retry?: Record<string, unknown>;
}
/** The body of PUT /v1/workspaces/{ws}/pipelines/{name}, plus the workspace. */
export interface PipelineDecl {
  workspace: string;
  operation: 'query' | 'mutation';
  types?: string;
  args?: string;
  returns: string;
  steps: Record<string, unknown>[];
  result?: string;
  description?: string;
  deadlineMs?: number;
  exposeSecrets?: boolean;
}

export interface Project {
  /** Absolute path of the coffer.toml. */
  file: string;
  /** Its directory: function files are relative to it. */
  dir: string;
  /** The owner label recorded on the server for every resource an apply creates. */
  name: string;
  vaults: Record<string, VaultDecl>;
  workspaces: Record<string, WorkspaceDecl>;
  grants: GrantDecl[];
  functions: Record<string, FunctionDecl>;
  executors: Record<string, ExecutorDecl>;
  pipelines: Record<string, PipelineDecl>;
}

export type ResourceKind = 'vault' | 'secret' | 'workspace' | 'member' | 'grant' | 'function' | 'executor' | 'pipeline';
export type ChangeAction = 'create' | 'update' | 'delete';

/** One field that differs: `from` is the server's, `to` the file's (never a secret value). */
export interface FieldChange { field: string; from: unknown; to: unknown }

export interface Change {
  action: ChangeAction;
  kind: ResourceKind;
  /** Stable address, e.g. `payments/stripe-key`, `billing/charge`, `payments->workspace:billing`. */
  key: string;
  fields: FieldChange[];
  /** Why, in words, when the field list does not say it (e.g. "value version 2 -> 3"). */
  reason?: string;
}

/** A resource whose server state no longer matches what the last apply of this project set. */
export interface Drift { kind: ResourceKind; key: string; fields: string[] }

export interface Plan {
  project: string;
  file: string;
  changes: Change[];
  drift: Drift[];
  /** Things apply will not do but a reader should know (a declared secret with no value anywhere). */
  warnings: string[];
  summary: { create: number; update: number; delete: number };
  /** What apply needs that is not printed: the loaded project. */
  readonly source: Project;
}

/** What a write said beyond its line: a value equal to the latest (nothing written), a webhook's path. */
export interface PutOutcome { detail?: string; unchanged?: true; webhookPath?: string }
export interface AppliedChange extends PutOutcome { action: ChangeAction; kind: ResourceKind; key: string }
export interface ApplyReport {
  project: string;
  applied: AppliedChange[];
  summary: { create: number; update: number; delete: number };
}

export interface PlanOptions {
  /** A value from a local source (PART A's secrets.toml), consulted after env for `{ env = ... }`. */
  secretValue?: (vault: string, name: string) => string | undefined;
  env?: NodeJS.ProcessEnv;
  /** List deletes of resources this project created earlier and the file no longer declares. */
  prune?: boolean;
}

export interface ApplyOptions extends PlanOptions {
  /** Deletes in the plan run only when this is true (the CLI asks separately, or --yes --prune). */
  allowDeletes?: boolean;
  /** Called after each change is done (for progress lines). */
  onApplied?: (change: AppliedChange) => void;
}
