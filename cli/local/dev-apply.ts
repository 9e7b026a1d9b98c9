// How `coffer dev` brings its server in line with coffer.toml: the same loader, planner and
// applier as `coffer plan` / `coffer apply` (cli/project/apply.ts), with the local sources
// (environment, then .coffer/secrets.toml) as every declared secret's value. Never with deletes:
// a resource removed from the file stays on the developer's own server, and says so nowhere.
import type { CofferClient } from '../../client/index.ts';
import { CliError, EXIT } from '../errors.ts';
import { envVariableName } from './sources.ts';
import { applyPlan, loadProject, planProject, ProjectFileError, type Drift, type Project } from '../project/apply.ts';

/** loadProject, its refusals as the CLI's usage errors (exit 2, `invalid_project`, file, line and key). */
export async function loadProjectForCli(file: string): Promise<Project> {
  try {
    return await loadProject(file);
  } catch (err) {
    if (err instanceof ProjectFileError) throw new CliError(err.code, err.message, EXIT.usage);
    throw err;
  }
}

export interface DevApplied {
  /** One line per change made, `+`/`~` kind key (detail), for the terminal. */
  changes: string[];
  warnings: string[];
  drift: Drift[];
  /** webhookUrlPath of token-mode executors created now (the only time their token is shown). */
  webhookPaths: Record<string, string>;
}

const SYMBOL = { create: '+', update: '~', delete: '-' } as const;

export async function applyForDev(client: CofferClient, project: Project, secretValue: (vault: string, name: string) => string | undefined,
  env: NodeJS.ProcessEnv): Promise<DevApplied> {
  const plan = await planProject(client, project, { secretValue, env });
  const report = await applyPlan(client, plan, { secretValue, env, allowDeletes: false });
  const webhookPaths: Record<string, string> = {};
  const changes: string[] = [];
  for (const a of report.applied) {
    // Every local value is sent on every apply (with ifChanged); one that was equal changed nothing.
    if (a.unchanged) continue;
    if (a.webhookPath) webhookPaths[a.key] = a.webhookPath;
    changes.push(`${SYMBOL[a.action]} ${a.kind} ${a.key}${a.detail ? ` (${a.detail})` : ''}`);
  }
  return { changes, warnings: plan.warnings.map(localHint), drift: plan.drift, webhookPaths };
}

/** The planner's hint for a secret without a value speaks of servers; locally the fix is a local value. */
function localHint(warning: string): string {
  const m = /^secret ([^/\s]+)\/(\S+): declared but has no value on the server/.exec(warning);
  return m ? `secret ${m[1]}/${m[2]}: declared, but no local value (set ${envVariableName(m[1]!, m[2]!)} or add it to .coffer/secrets.toml); reads give undefined` : warning;
}
