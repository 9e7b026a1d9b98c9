// The composition root for services: each factory gets only the dependencies it uses.
import type { Db } from '../../db/client.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { createFailureThrottle } from '../audit/failure-throttle.ts';
import { createVaultAccess } from './vault-access.ts';
import { createVaultService } from './vaults.ts';
import { createSecretService } from './secrets.ts';
import { createWorkspaceService } from './workspaces.ts';
import { createUserService } from './users.ts';
import { createAuditQueryService } from './audit-query.ts';
import { createServiceAccountService } from './service-accounts.ts';
import { createSigningKeys } from './signing-keys.ts';
import { createOAuthTokens } from './oauth-tokens.ts';
import { createFailureLimiter } from './rate-limit.ts';
import { createFunctionService } from './functions.ts';
import { createAccessReport } from './access-report.ts';
import { createGroupService } from '../groups/groups-service.ts';
import { createProjectService } from '../projects/service.ts';
import type { Runtime } from '../../runtime/index.ts';
import type { Logger } from '../logger.ts';
import type { AccessCachePolicy } from '../../db/access-cache.ts';
import { createRunRecords } from '../pipelines/runs.ts';
import { createPipelineRunner } from '../pipelines/runner.ts';
import { createPipelineService } from '../pipelines/service.ts';
import { pipelineResolver } from '../pipelines/graphql.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { createJobQueue } from '../jobs/queue.ts';
import * as executorsRepo from '../../db/repos/executors.ts';
import { createExecutorService } from '../executors/service.ts';
import { createEgressPolicy } from '../egress/policy.ts';
import type { Config } from '../config.ts';

export interface ServiceDeps {
  db: Db;
  keyring: Keyring;
  runtime: Runtime;
  logger: Logger;
  invocationRetentionMs: number;
  accessCache?: AccessCachePolicy;
  /** OAuth issuer URL; a getter because the port is known only after listening. */
  issuer: () => string;
  tokenFailuresPerMinute: number;
  authFailureRowsPerMinute: number;
  /** This gateway's metrics (a fresh registry when absent). */
  metrics?: Metrics;
  accessTokenTtlSeconds?: number;
  jobs: Config['jobs'];
  executors: Config['executors'];
  /** Cross-gateway wake-ups for the job queue (Postgres). */
  listen?: (channel: string, onNotify: () => void) => Promise<boolean>;
  notify?: (channel: string) => Promise<void>;
}

export function createServices(deps: ServiceDeps) {
  const { db, keyring } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const audit = createAuditLog(db, {
    onWritten: (rows, seconds) => metrics.auditWritten(rows, seconds),
    onFailed: () => metrics.auditFailed(),
    onRefused: (row, err) => deps.logger.error({ auditId: row.id, action: row.action, requestId: row.requestId, err: { code: (err as { code?: string })?.code ?? (err as { cause?: { code?: string } })?.cause?.code } },
      'the database refused an audit row; its refusal is on the trail instead'),
  });
  const failureAudit = createFailureThrottle(audit, { rowsPerWindow: deps.authFailureRowsPerMinute, windowMs: 60_000 });
  const authorizeVault = createVaultAccess({ db, audit });
  const secrets = createSecretService({ db, audit, keyring, authorizeVault, accessCache: deps.accessCache });
  const workspaces = createWorkspaceService({ db, audit });
  const users = createUserService({ db, audit });
  const signingKeys = createSigningKeys({ db, keyring });
  const pipelineRuns = createRunRecords({ db, logger: deps.logger, retentionMs: deps.invocationRetentionMs });
  const pipelineRunner = createPipelineRunner({
    db, runtime: deps.runtime, secrets, audit, logger: deps.logger, records: pipelineRuns, accessCache: deps.accessCache, metrics,
  });
  const functions = createFunctionService({
    db, audit, workspaces, secrets, runtime: deps.runtime, logger: deps.logger, invocationRetentionMs: deps.invocationRetentionMs,
    accessCache: deps.accessCache, metrics,
  });
  const queue = createJobQueue({
    db, logger: deps.logger, ...deps.jobs, listen: deps.listen, notify: deps.notify,
    // A job that failed for good is an `executor.job.failed` event (api/events): its audit row is the outbox.
    onFailed: async (job, errorCode) => {
      const found = await executorsRepo.findExecutorWithWorkspace(db, job.executorId);
      await audit.append({
        action: 'executor.job.failed', outcome: 'allowed', actorId: job.executorId, actorKind: 'executor',
        workspaceId: job.workspaceId, workspace: found?.workspace.name ?? null,
        detail: { executor: found?.executor.name ?? null, executorId: job.executorId, jobId: job.id, trigger: job.trigger, attempts: job.attempts, errorCode, depth: job.depth },
      });
    },
  });
  return {
    metrics,
    audit,
    failureAudit,
    authorizeVault,
    vaults: createVaultService({ db, audit, authorizeVault }),
    secrets,
    workspaces,
    functions,
    jobQueue: queue,
    executors: createExecutorService({
      db, audit, failureAudit, keyring, logger: deps.logger, workspaces, functions, secrets, queue,
      settings: { ...deps.executors, signatureFailuresPerMinute: deps.tokenFailuresPerMinute },
      accessCache: deps.accessCache, egress: createEgressPolicy(deps.executors.egressAllow ?? []),
    }),
    pipelines: createPipelineService({
      db, audit, workspaces, runner: pipelineRunner, records: pipelineRuns, accessCache: deps.accessCache, resolverFor: pipelineResolver(deps.logger),
    }),
    users,
    signingKeys,
    oauthTokens: createOAuthTokens({
      db, audit, failureAudit, signingKeys, issuer: deps.issuer, tokenTtlSeconds: deps.accessTokenTtlSeconds,
      limiter: createFailureLimiter({ limit: deps.tokenFailuresPerMinute, windowMs: 60_000 }),
    }),
    serviceAccounts: createServiceAccountService({ db, audit, issueKey: users.issueKey }),
    auditQuery: createAuditQueryService({ db, audit, authorizeVault }),
    groups: createGroupService({ db, audit }),
    projects: createProjectService({ db, audit }),
    accessReport: createAccessReport({ db, authorizeVault }),
  };
}

export type Services = ReturnType<typeof createServices>;
