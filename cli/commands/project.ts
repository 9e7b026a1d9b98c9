// coffer plan and coffer apply: a coffer.toml made true on the server, after showing what changes.
import type { Command } from 'commander';
import readline from 'node:readline/promises';
import { run, type Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { applyPlan, formatPlan, loadProject, planProject, type Plan } from '../project/apply.ts';

interface Options { file: string; prune?: boolean; yes?: boolean }

async function makePlan(ctx: Context, opts: Options): Promise<Plan> {
  const project = await loadProject(opts.file);
  return planProject(ctx.client(), project, { prune: Boolean(opts.prune) });
}

/** Asks on the terminal; refuses when there is none (CI must say --yes). */
async function confirm(question: string, answer: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new UsageError('no terminal to confirm on: run with --yes (and --prune for deletes) to apply non-interactively');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`${question} Type "${answer}" to confirm: `)).trim() === answer;
  } finally {
    rl.close();
  }
}

export function registerProject(program: Command) {
  const fileOption = ['-f, --file <file>', 'the project file', 'coffer.toml'] as const;

  program.command('plan').description('Show what applying coffer.toml would change (+ create, ~ change, - delete), drift and warnings; sends no changes')
    .option(...fileOption)
    .option('--prune', 'also list deletes of resources this project created that the file no longer declares')
    .action(run(async (ctx, opts: Options) => {
      const plan = await makePlan(ctx, opts);
      ctx.out.emit(plan, () => ctx.out.line(formatPlan(plan)));
    }));

  program.command('apply').description('Make the server match coffer.toml: shows the plan, asks, applies it in dependency order and says what it did')
    .option(...fileOption)
    .option('--prune', 'also delete resources this project created that the file no longer declares (asked separately unless --yes)')
    .option('-y, --yes', 'do not ask; with --prune, deletes too')
    .action(run(async (ctx, opts: Options) => {
      const plan = await makePlan(ctx, opts);
      if (!ctx.out.json) ctx.out.note(formatPlan(plan));
      const deletes = plan.summary.delete;
      // With no changes, apply still runs: it only records the server's state (adopted resources,
      // drift taken as the new baseline), which needs no confirmation.
      if (!opts.yes && plan.changes.length) {
        const others = plan.changes.length - deletes;
        if (others && !await confirm(`Apply ${others} change${others === 1 ? '' : 's'} to project ${plan.project}?`, 'yes')) throw new UsageError('not applied');
        if (deletes && !await confirm(`Also DELETE ${deletes} resource${deletes === 1 ? '' : 's'} (listed with "-" above)?`, 'delete')) throw new UsageError('not applied: deletes not confirmed');
      }
      const report = await applyPlan(ctx.client(), plan, {
        allowDeletes: deletes > 0,
        onApplied: (a) => { if (!ctx.out.json) ctx.out.note(`${{ create: 'created', update: 'updated', delete: 'deleted' }[a.action]} ${a.kind} ${a.key}${a.detail ? `: ${a.detail}` : ''}`); },
      });
      const { create, update, delete: del } = report.summary;
      ctx.out.emit(report, () => ctx.out.line(plan.changes.length ? `Applied: ${create} created, ${update} changed, ${del} deleted.` : 'Nothing to apply.'));
    }));
}
