// The whole Coffer schema. Migrations under db/migrations are generated from this file by
// drizzle-kit (`npm run db:generate`) and never edited by hand once they have landed.
import { sql } from 'drizzle-orm';
import {
  pgTable, text, timestamp, boolean, integer, bigserial, bigint, jsonb, customType,
  primaryKey, uniqueIndex, index, check,
} from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v)),
});

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

/** Key/value facts about the installation: master-key check values, bootstrap marker. */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Anyone or anything that authenticates: users and service accounts. */
export const principals = pgTable('principals', {
  id: text('id').primaryKey(),
  kind: text('kind', { enum: ['user', 'service_account'] }).notNull(),
  name: text('name').notNull(),
  description: text('description'),
  isAdmin: boolean('is_admin').notNull().default(false),
  active: boolean('active').notNull().default(true),
  /** Service accounts only: which credential kind the account uses, fixed at creation. */
  authKind: text('auth_kind', { enum: ['api_key', 'oauth'] }),
  /** Service accounts only: the principal that created (owns) it. */
  ownerId: text('owner_id'),
  /** Deactivated by an instance admin: only an admin may reactivate it (the owner may not). */
  deactivatedByAdmin: boolean('deactivated_by_admin').notNull().default(false),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [uniqueIndex('principals_kind_name_uq').on(t.kind, t.name)]);

/** API keys: only a SHA-256 of the key and a short display prefix are stored. */
export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  principalId: text('principal_id').notNull().references(() => principals.id, { onDelete: 'cascade' }),
  name: text('name'),
  prefix: text('prefix').notNull(),
  hash: text('hash').notNull(),
  createdAt: createdAt(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
}, (t) => [uniqueIndex('api_keys_hash_uq').on(t.hash), index('api_keys_principal_idx').on(t.principalId)]);

/** OAuth client secrets of service accounts (at most two per account). */
export const clientSecrets = pgTable('client_secrets', {
  id: text('id').primaryKey(),
  principalId: text('principal_id').notNull().references(() => principals.id, { onDelete: 'cascade' }),
  prefix: text('prefix').notNull(),
  hash: text('hash').notNull(),
  active: boolean('active').notNull().default(true),
  createdAt: createdAt(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
}, (t) => [index('client_secrets_principal_idx').on(t.principalId)]);

/** JWT signing keys; the private JWK is envelope-sealed under the master key. */
export const signingKeys = pgTable('signing_keys', {
  kid: text('kid').primaryKey(),
  alg: text('alg').notNull(),
  publicJwk: jsonb('public_jwk').notNull(),
  privateCiphertext: bytea('private_ciphertext').notNull(),
  wrappedKey: bytea('wrapped_key').notNull(),
  masterKeyId: text('master_key_id').notNull(),
  createdAt: createdAt(),
  /** Set when a newer key takes over signing; the public key stays published until retiredAt + token lifetime. */
  retiredAt: timestamp('retired_at', { withTimezone: true }),
});

export const workspaces = pgTable('workspaces', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  description: text('description'),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
}, (t) => [uniqueIndex('workspaces_name_uq').on(t.name)]);

export const WORKSPACE_ROLES = ['owner', 'editor', 'invoker', 'viewer'] as const;
export const workspaceMembers = pgTable('workspace_members', {
  workspaceId: text('workspace_id').notNull().references(() => workspaces.id, { onDelete: 'cascade' }),
  principalId: text('principal_id').notNull().references(() => principals.id, { onDelete: 'cascade' }),
  role: text('role', { enum: WORKSPACE_ROLES }).notNull(),
  createdAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.workspaceId, t.principalId] }), index('workspace_members_principal_idx').on(t.principalId)]);

export const vaults = pgTable('vaults', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  description: text('description'),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
}, (t) => [uniqueIndex('vaults_name_uq').on(t.name)]);

export const VAULT_ROLES = ['manager', 'writer', 'reader'] as const;
/**
 * A role on a vault, held by exactly one of a principal, a workspace or a principal group (see the
 * groups section below). Optional terms narrow it: `functions` (workspace grants only: the function
 * names or `*` globs allowed to use it), `secrets` (reader grants only: the secret names or globs it
 * covers) and `expiresAt` (it stops working at that instant; the row stays until removed).
 */
export const vaultGrants = pgTable('vault_grants', {
  id: text('id').primaryKey(),
  vaultId: text('vault_id').notNull().references(() => vaults.id, { onDelete: 'cascade' }),
  principalId: text('principal_id').references(() => principals.id, { onDelete: 'cascade' }),
  workspaceId: text('workspace_id').references(() => workspaces.id, { onDelete: 'cascade' }),
  groupId: text('group_id').references(() => groups.id, { onDelete: 'cascade' }),
  role: text('role', { enum: VAULT_ROLES }).notNull(),
  functions: jsonb('functions').$type<string[]>(),
  secrets: jsonb('secrets').$type<string[]>(),
  expiresAt: timestamp('expires_at', { withTimezone: true }),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
}, (t) => [
  uniqueIndex('vault_grants_principal_uq').on(t.vaultId, t.principalId).where(sql`${t.principalId} is not null`),
  uniqueIndex('vault_grants_workspace_uq').on(t.vaultId, t.workspaceId).where(sql`${t.workspaceId} is not null`),
  uniqueIndex('vault_grants_group_uq').on(t.vaultId, t.groupId).where(sql`${t.groupId} is not null`),
  index('vault_grants_principal_idx').on(t.principalId),
  index('vault_grants_group_idx').on(t.groupId),
  check('vault_grants_one_holder', sql`num_nonnulls(${t.principalId}, ${t.workspaceId}, ${t.groupId}) = 1`),
]);

export const secrets = pgTable('secrets', {
  id: text('id').primaryKey(),
  vaultId: text('vault_id').notNull().references(() => vaults.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  description: text('description'),
  /** Highest version number handed out; bumped atomically so concurrent writes never collide. */
  latestVersion: integer('latest_version').notNull().default(0),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  updatedBy: text('updated_by').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [uniqueIndex('secrets_vault_name_uq').on(t.vaultId, t.name)]);

export const VERSION_STATES = ['enabled', 'disabled', 'destroyed'] as const;
export const secretVersions = pgTable('secret_versions', {
  secretId: text('secret_id').notNull().references(() => secrets.id, { onDelete: 'cascade' }),
  version: integer('version').notNull(),
  state: text('state', { enum: VERSION_STATES }).notNull().default('enabled'),
  /** Null once destroyed: the value is gone, the metadata stays. */
  ciphertext: bytea('ciphertext'),
  wrappedKey: bytea('wrapped_key'),
  masterKeyId: text('master_key_id'),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  destroyedAt: timestamp('destroyed_at', { withTimezone: true }),
}, (t) => [primaryKey({ columns: [t.secretId, t.version] }), index('secret_versions_master_key_idx').on(t.masterKeyId)]);

export const functions = pgTable('functions', {
  id: text('id').primaryKey(),
  workspaceId: text('workspace_id').notNull().references(() => workspaces.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  activeVersion: integer('active_version').notNull(),
  latestVersion: integer('latest_version').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [uniqueIndex('functions_workspace_name_uq').on(t.workspaceId, t.name)]);

/** Immutable deployed versions of a function. */
export const functionVersions = pgTable('function_versions', {
  functionId: text('function_id').notNull().references(() => functions.id, { onDelete: 'cascade' }),
  version: integer('version').notNull(),
  code: text('code').notNull(),
  /** The compiled script form the runtime executes, derived once at deploy. */
  script: text('script').notNull(),
  codeHash: text('code_hash').notNull(),
  description: text('description'),
  timeoutMs: integer('timeout_ms').notNull(),
  memoryMb: integer('memory_mb').notNull(),
  exposeSecrets: boolean('expose_secrets').notNull().default(false),
  deployedBy: text('deployed_by').notNull(),
  deployedAt: timestamp('deployed_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.functionId, t.version] })]);

/** Recent invocations, kept for a configurable time. Logs are stored already redacted. */
export const invocations = pgTable('invocations', {
  id: text('id').primaryKey(),
  functionId: text('function_id').notNull().references(() => functions.id, { onDelete: 'cascade' }),
  workspaceId: text('workspace_id').notNull(),
  version: integer('version').notNull(),
  invokedBy: text('invoked_by'),
  trigger: text('trigger').notNull().default('api'),
  outcome: text('outcome').notNull(),
  errorCode: text('error_code'),
  errorMessage: text('error_message'),
  logs: jsonb('logs').notNull(),
  durationMs: integer('duration_ms').notNull(),
  cpuMs: integer('cpu_ms').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
}, (t) => [index('invocations_function_started_idx').on(t.functionId, t.startedAt)]);

/** Append-only, hash-chained audit trail. Never holds a secret value. */
export const auditEvents = pgTable('audit_events', {
  seq: bigserial('seq', { mode: 'number' }).primaryKey(),
  id: text('id').notNull(),
  at: timestamp('at', { withTimezone: true }).notNull(),
  requestId: text('request_id'),
  actorId: text('actor_id'),
  actorKind: text('actor_kind'),
  action: text('action').notNull(),
  outcome: text('outcome', { enum: ['allowed', 'denied'] }).notNull(),
  vault: text('vault'),
  secret: text('secret'),
  version: integer('version'),
  workspace: text('workspace'),
  function: text('function'),
  invocationId: text('invocation_id'),
  detail: jsonb('detail'),
  prevHash: text('prev_hash').notNull(),
  hash: text('hash').notNull(),
  // Added by issue 11. Rows reference vaults and workspaces by id (the name columns are for
  // display): a name can be reused, an id never is. Rows written before are hash version 1 (their
  // hash does not cover these columns; vault_id was filled in by the migration where certain).
  vaultId: text('vault_id'),
  workspaceId: text('workspace_id'),
  /** The X-Request-Id the client sent, kept apart from the server's own request_id. */
  clientRequestId: text('client_request_id'),
  hashVersion: integer('hash_version').notNull().default(1),
}, (t) => [
  index('audit_vault_idx').on(t.vault, t.seq),
  index('audit_vault_id_idx').on(t.vaultId, t.seq),
  index('audit_actor_idx').on(t.actorId, t.seq),
  index('audit_at_idx').on(t.at),
]);

/** The head of the audit chain: one row, locked while appending so the chain stays linear. */
export const auditHead = pgTable('audit_head', {
  id: integer('id').primaryKey(),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
  lastHash: text('last_hash').notNull(),
});

// ---- issue 11: vault name tombstones ----

/**
 * A deleted vault's name stays reserved here, so nobody can re-create it and pass for it (to
 * workspaces whose functions still name it, or to people reading the trail). An admin may release it.
 */
export const vaultNameTombstones = pgTable('vault_name_tombstones', {
  name: text('name').primaryKey(),
  /** Null for names whose deletion predates tombstones (found in the trail by the migration). */
  vaultId: text('vault_id'),
  deletedBy: text('deleted_by'),
  deletedAt: timestamp('deleted_at', { withTimezone: true }).notNull().defaultNow(),
});
// ---- Pipelines (issue 14): GraphQL fields computed by ordered steps of functions ----

/** A pipeline resolver: one field on the workspace's GraphQL Query or Mutation type. */
export const pipelines = pgTable('pipelines', {
  id: text('id').primaryKey(),
  workspaceId: text('workspace_id').notNull().references(() => workspaces.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  activeVersion: integer('active_version').notNull(),
  latestVersion: integer('latest_version').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [uniqueIndex('pipelines_workspace_name_uq').on(t.workspaceId, t.name)]);

/** Immutable deployed versions of a pipeline: the declared spec and the sandbox script of its expressions. */
export const pipelineVersions = pgTable('pipeline_versions', {
  pipelineId: text('pipeline_id').notNull().references(() => pipelines.id, { onDelete: 'cascade' }),
  version: integer('version').notNull(),
  spec: jsonb('spec').notNull(),
  /** The compiled script that evaluates the version's expressions in the sandbox. */
  script: text('script').notNull(),
  specHash: text('spec_hash').notNull(),
  deployedBy: text('deployed_by').notNull(),
  deployedAt: timestamp('deployed_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.pipelineId, t.version] })]);

/** Recent runs of pipelines, kept like invocations. Logs and messages are stored already redacted. */
export const pipelineRuns = pgTable('pipeline_runs', {
  id: text('id').primaryKey(),
  pipelineId: text('pipeline_id').notNull().references(() => pipelines.id, { onDelete: 'cascade' }),
  workspaceId: text('workspace_id').notNull(),
  version: integer('version').notNull(),
  invokedBy: text('invoked_by'),
  requestId: text('request_id'),
  outcome: text('outcome', { enum: ['ok', 'error'] }).notNull(),
  errorCode: text('error_code'),
  errorMessage: text('error_message'),
  errorStep: text('error_step'),
  durationMs: integer('duration_ms').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
}, (t) => [index('pipeline_runs_pipeline_started_idx').on(t.pipelineId, t.startedAt), index('pipeline_runs_started_idx').on(t.startedAt)]);

/** One row per step of a run, in order. */
export const pipelineRunSteps = pgTable('pipeline_run_steps', {
  runId: text('run_id').notNull().references(() => pipelineRuns.id, { onDelete: 'cascade' }),
  position: integer('position').notNull(),
  name: text('name').notNull(),
  function: text('function').notNull(),
  status: text('status', { enum: ['ok', 'skipped', 'failed', 'not_run'] }).notNull(),
  durationMs: integer('duration_ms').notNull(),
  invocationIds: jsonb('invocation_ids').notNull(),
  logs: jsonb('logs').notNull(),
  errorCode: text('error_code'),
  errorMessage: text('error_message'),
}, (t) => [primaryKey({ columns: [t.runId, t.position] })]);

// ---- Principal groups (issue 15) ----------------------------------------------------------------
// A group is a grantee like a principal: it may hold vault roles (vault_grants.group_id) and
// workspace roles (workspace_group_members). Its members are users and service accounts; a
// principal's effective role is the highest of its own and its groups'.

export const groups = pgTable('groups', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  description: text('description'),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
}, (t) => [uniqueIndex('groups_name_uq').on(t.name)]);

/** `owner`s manage the group's members; every member, owners included, holds the group's roles. */
export const GROUP_ROLES = ['owner', 'member'] as const;
export const groupMembers = pgTable('group_members', {
  groupId: text('group_id').notNull().references(() => groups.id, { onDelete: 'cascade' }),
  principalId: text('principal_id').notNull().references(() => principals.id, { onDelete: 'cascade' }),
  role: text('role', { enum: GROUP_ROLES }).notNull(),
  createdAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.groupId, t.principalId] }), index('group_members_principal_idx').on(t.principalId)]);

/** A group's role in a workspace: every member of the group holds it. */
export const workspaceGroupMembers = pgTable('workspace_group_members', {
  workspaceId: text('workspace_id').notNull().references(() => workspaces.id, { onDelete: 'cascade' }),
  groupId: text('group_id').notNull().references(() => groups.id, { onDelete: 'cascade' }),
  role: text('role', { enum: WORKSPACE_ROLES }).notNull(),
  createdAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.workspaceId, t.groupId] }), index('workspace_group_members_group_idx').on(t.groupId)]);

export type Group = typeof groups.$inferSelect;
export type GroupRole = (typeof GROUP_ROLES)[number];

export type Principal = typeof principals.$inferSelect;
export type Vault = typeof vaults.$inferSelect;
export type VaultGrant = typeof vaultGrants.$inferSelect;
export type Secret = typeof secrets.$inferSelect;
export type SecretVersion = typeof secretVersions.$inferSelect;
export type Workspace = typeof workspaces.$inferSelect;
export type VaultRole = (typeof VAULT_ROLES)[number];
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];
export type VersionState = (typeof VERSION_STATES)[number];

// ---------------------------------------------------------------------------------------------
// Executors and durable jobs (issue 12). An executor binds a trigger (incoming webhook, schedule)
// to a target (a function); every asynchronous run is a job with attempts, claimed from this table
// with FOR UPDATE SKIP LOCKED under a lease.

export const executors = pgTable('executors', {
  id: text('id').primaryKey(),
  workspaceId: text('workspace_id').notNull().references(() => workspaces.id, { onDelete: 'cascade' }),
  name: text('name').notNull(),
  description: text('description'),
  disabled: boolean('disabled').notNull().default(false),
  /** The validated trigger, target and retry policy, as given (no secret values: hmac names a vault secret). */
  trigger: jsonb('trigger').notNull(),
  target: jsonb('target').notNull(),
  retry: jsonb('retry'),
  /** Token-mode webhooks: SHA-256 of the path token; the previous one is accepted until previousTokenUntil. */
  tokenHash: text('token_hash'),
  previousTokenHash: text('previous_token_hash'),
  previousTokenUntil: timestamp('previous_token_until', { withTimezone: true }),
  /** Schedules: the newest tick already turned into a job (or skipped), so a restart knows what it missed. */
  lastTickAt: timestamp('last_tick_at', { withTimezone: true }),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [uniqueIndex('executors_workspace_name_uq').on(t.workspaceId, t.name)]);

export const JOB_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'canceled'] as const;
export const jobs = pgTable('jobs', {
  id: text('id').primaryKey(),
  workspaceId: text('workspace_id').notNull().references(() => workspaces.id, { onDelete: 'cascade' }),
  executorId: text('executor_id').notNull().references(() => executors.id, { onDelete: 'cascade' }),
  status: text('status', { enum: JOB_STATUSES }).notNull().default('pending'),
  trigger: text('trigger', { enum: ['webhook', 'schedule', 'manual', 'event'] }).notNull(),
  /**
   * Deduplication: a schedule tick (`tick:<executor>:<iso>`) or an idempotency key
   * (`idem:<executor>:<sha256>`). Unique, so two gateways cannot enqueue the same tick twice.
   */
  dedupeKey: text('dedupe_key'),
  /** The function's argument minus its request part, e.g. {scheduledTime}; never a secret value. */
  args: jsonb('args').notNull(),
  /**
   * The incoming request (method, path, query, headers, body), envelope-sealed under the master key
   * with the job id as AAD, and dropped when the job ends unless the executor opted in (keepBody).
   */
  requestCiphertext: bytea('request_ciphertext'),
  requestWrappedKey: bytea('request_wrapped_key'),
  requestMasterKeyId: text('request_master_key_id'),
  attempts: integer('attempts').notNull().default(0),
  maxAttempts: integer('max_attempts').notNull(),
  /** Event jobs: the audit seq of the change (commit order); an executor's event jobs run one at a time in this order. */
  eventSeq: bigint('event_seq', { mode: 'number' }),
  /** How many executors deep this job's chain is (1 for a job fired from outside). */
  depth: integer('depth').notNull().default(1),
  runAt: timestamp('run_at', { withTimezone: true }).notNull().defaultNow(),
  leaseUntil: timestamp('lease_until', { withTimezone: true }),
  lockedBy: text('locked_by'),
  lastErrorCode: text('last_error_code'),
  lastErrorMessage: text('last_error_message'),
  createdBy: text('created_by'),
  createdAt: createdAt(),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
}, (t) => [
  uniqueIndex('jobs_dedupe_key_uq').on(t.dedupeKey),
  index('jobs_claim_idx').on(t.status, t.runAt),
  index('jobs_executor_created_idx').on(t.executorId, t.createdAt, t.id),
  index('jobs_workspace_status_idx').on(t.workspaceId, t.status),
  index('jobs_finished_idx').on(t.finishedAt),
]);

export const jobAttempts = pgTable('job_attempts', {
  jobId: text('job_id').notNull().references(() => jobs.id, { onDelete: 'cascade' }),
  attempt: integer('attempt').notNull(),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
  endedAt: timestamp('ended_at', { withTimezone: true }),
  outcome: text('outcome', { enum: ['running', 'succeeded', 'failed', 'lost', 'canceled'] }).notNull(),
  invocationId: text('invocation_id'),
  gateway: text('gateway'),
  errorCode: text('error_code'),
  /** Redacted by the runtime before it leaves the worker, and cut to a bounded length. */
  errorMessage: text('error_message'),
  /** Outgoing webhook targets (issue 13): the receiver's status code, the request's latency, and the
   *  first KiB of the response body with every value Coffer sent (URL, headers, key) redacted. */
  httpStatus: integer('http_status'),
  latencyMs: integer('latency_ms'),
  responseExcerpt: text('response_excerpt'),
}, (t) => [primaryKey({ columns: [t.jobId, t.attempt] })]);

/**
 * Event triggers (issue 13): the audit trail is the outbox. Every change Coffer emits an event for
 * already writes its audit row in the change's own transaction, appended under the chain-head lock,
 * so audit seq order is commit order. This one row is how far the dispatcher has turned audit rows
 * into event jobs; it is locked while a batch is dispatched, so one gateway at a time does it.
 */
export const eventCursor = pgTable('event_cursor', {
  id: integer('id').primaryKey(),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export type ExecutorRow = typeof executors.$inferSelect;
export type JobRow = typeof jobs.$inferSelect;
export type JobAttemptRow = typeof jobAttempts.$inferSelect;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * A coffer.toml project (its `project` name): who first applied it. Only that principal (and
 * admins) may read or change what the project owns.
 */
export const projects = pgTable('projects', {
  name: text('name').primaryKey(),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
});

/**
 * The resources a project's applies manage: which of them an apply created (`--prune` goes by it), the
 * fingerprint of what apply set (never of a secret value) for drift, and the write-only value
 * version last applied. A resource has at most one owning project. Keys are addresses such as
 * `payments/stripe-key`, not ids: a resource deleted and re-created by hand keeps its label.
 */
export const managedResources = pgTable('managed_resources', {
  kind: text('kind').notNull(),
  key: text('key').notNull(),
  project: text('project').notNull().references(() => projects.name, { onDelete: 'cascade' }),
  /** True when an apply of this project created the resource: only those are pruned. */
  created: boolean('created').notNull().default(false),
  fingerprint: text('fingerprint'),
  valueVersion: integer('value_version'),
  appliedBy: text('applied_by').notNull(),
  appliedAt: timestamp('applied_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [primaryKey({ columns: [t.kind, t.key] }), index('managed_resources_project_idx').on(t.project)]);
