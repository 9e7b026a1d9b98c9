// A plan as people read it: one `+`/`~`/`-` line per resource, the fields that change under it,
// then drift, warnings and the summary. Values are never part of a plan, so none can appear here.
import { show } from './plan.ts';
import type { Plan } from './types.ts';

const SYMBOL = { create: '+', update: '~', delete: '-' } as const;

export function formatPlan(plan: Plan): string {
  const lines: string[] = [`Project ${plan.project} (${plan.file})`, ''];
  for (const c of plan.changes) {
    lines.push(`  ${SYMBOL[c.action]} ${c.kind} ${c.key}${c.reason ? `  (${c.reason})` : ''}`);
    for (const f of c.fields) {
      lines.push(c.action === 'create' ? `      ${f.field}: ${show(f.to)}` : `      ${f.field}: ${show(f.from)} -> ${show(f.to)}`);
    }
  }
  if (plan.changes.length === 0) lines.push('  No changes: the server matches the file.');
  if (plan.drift.length) {
    lines.push('', 'Drift (changed on the server since the last apply):');
    for (const d of plan.drift) lines.push(`  ! ${d.kind} ${d.key}: ${d.fields.join(', ')}`);
  }
  if (plan.warnings.length) {
    lines.push('', 'Warnings:');
    for (const w of plan.warnings) lines.push(`  ${w}`);
  }
  const { create, update, delete: del } = plan.summary;
  lines.push('', `Plan: ${create} to create, ${update} to change, ${del} to delete.`);
  return lines.join('\n');
}
