// coffer audit ...: query the trail, verify the hash chain.
import type { Command } from 'commander';
import { run } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';
import type { components } from '../../client/index.ts';

type Event = components['schemas']['AuditEvent'];

export function registerAudit(program: Command) {
  const audit = program.command('audit').description('The hash-chained audit trail');
  audit.command('query', { isDefault: true }).description('Audit events, newest first (admins; a vault\'s managers with --vault)')
    .option('--vault <name>').option('--secret <name>').option('--actor <principal-id>')
    .option('--action <action>', 'e.g. secret.read, secret.write, auth.failed')
    .option('--outcome <outcome>', 'allowed or denied')
    .option('--since <time>', 'ISO 8601 time, e.g. 2026-01-01T00:00:00Z')
    .option('--limit <n>', 'events per page (1-500)', '100')
    .option('--cursor <cursor>', 'continue from a previous page\'s nextCursor')
    .action(run(async (ctx, opts: { vault?: string; secret?: string; actor?: string; action?: string; outcome?: string; since?: string; limit: string; cursor?: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: not a positive integer: ${opts.limit}`);
      if (opts.outcome && opts.outcome !== 'allowed' && opts.outcome !== 'denied') throw new UsageError('--outcome must be allowed or denied');
      const page = await ctx.client().GET('/v1/audit', { params: { query: {
        vault: opts.vault, secret: opts.secret, actor: opts.actor, action: opts.action,
        outcome: opts.outcome as 'allowed' | 'denied' | undefined, since: opts.since, limit, cursor: opts.cursor,
      } } });
      ctx.out.emit(page, () => {
        ctx.out.table<Event>(page.events, [
          { header: 'seq', value: (e) => e.seq }, { header: 'at', value: (e) => e.at }, { header: 'action', value: (e) => e.action },
          { header: 'outcome', value: (e) => e.outcome }, { header: 'actor', value: (e) => e.actorId },
          { header: 'target', value: (e) => [e.vault, e.secret, e.workspace, e.function].filter(Boolean).join('/') || null },
          { header: 'request', value: (e) => e.requestId },
        ], 'no events');
        if (page.nextCursor) ctx.out.line(ctx.out.dim(`more: --cursor ${page.nextCursor}`));
      });
    }));
  audit.command('verify').description('Check the hash chain end to end (admin); exits 1 if it is broken')
    .action(run(async (ctx) => {
      const r = await ctx.client().GET('/v1/audit/verify');
      ctx.out.emit(r, () => ctx.out.line(r.intact ? `The audit chain is intact (${r.checked} events checked).` : `The audit chain is BROKEN at event ${r.firstBrokenSeq} (${r.checked} checked).`));
      if (!r.intact) throw new CliError('audit_chain_broken', `the audit chain is broken at event ${r.firstBrokenSeq}`);
    }));
}
