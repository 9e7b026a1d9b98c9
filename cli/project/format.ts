import type { Plan } from './types.ts';
/** The plan as `+ ~ -` lines with a summary. */
export function formatPlan(plan: Plan): string {
  return `Plan: ${plan.summary.create} to create, ${plan.summary.update} to change, ${plan.summary.delete} to delete.`;
}
