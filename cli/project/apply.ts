// The public face of declarative configuration: load a coffer.toml, plan it against a server, apply
// the plan, print it. `coffer plan`/`coffer apply` and `coffer dev` use only these exports; the
// signatures are stable.
import fs from 'node:fs';
import path from 'node:path';
import type { CofferClient } from '../../client/index.ts';
import { CliError, EXIT } from '../errors.ts';
import { fingerprint } from './fingerprint.ts';
import { address, internalsOf } from './plan.ts';
import { KIND_ORDER, OPS, type Desired } from './resources.ts';
import type { AppliedChange, ApplyOptions, ApplyReport, Change, Plan, PutOutcome, ResourceKind, ValueSource } from './types.ts';

export type * from './types.ts';
export { ProjectFileError } from './errors.ts';
export { loadProject } from './load.ts';
export { planProject } from './plan.ts';
export { formatPlan } from './format.ts';

type RecordSet = { kind: ResourceKind; key: string; created?: boolean; fingerprint?: string | null; valueVersion?: number | null };

/**
 * Carries out exactly the plan's changes, creates and updates in dependency order (workspaces and
 * vaults first, executors last), then deletes in reverse; deletes only with `allowDeletes`. Each
 * change is recorded on the server right after it is made, so an apply cut short leaves records
 * that match what it did. `env` and `secretValue` default to the ones the plan was made with.
 */
export async function applyPlan(client: CofferClient, plan: Plan, options: ApplyOptions = {}): Promise<ApplyReport> {
  const internals = internalsOf(plan);
  if (!internals) throw new CliError('invalid_plan', 'applyPlan takes a plan made by planProject in this process');
  // Values come from where the plan looked (env, secretValue) unless the caller says otherwise.
  const opts: ApplyOptions = { ...internals.opts, ...options };
  const deletes = plan.changes.filter((c) => c.action === 'delete');
  if (deletes.length && !opts.allowDeletes) {
    throw new CliError('deletes_not_confirmed', `the plan deletes ${deletes.length} resource${deletes.length === 1 ? '' : 's'}; confirm the deletes (--yes --prune) or plan without --prune`, EXIT.usage);
  }
  const project = plan.source;
  // Every value is found before the first write: a missing one stops the apply with nothing done.
  const values = new Map<string, string>();
  for (const [id, v] of internals.values) {
    const key = id.slice('secret:'.length);
    const [vault, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    const value = resolveValue(v.source, vault, name, project.dir, opts);
    if (value === undefined) {
      const where = v.source ? ('env' in v.source ? `environment variable ${v.source.env} is not set` : `file ${v.source.file} cannot be read`) : 'no local value';
      throw new CliError('value_unavailable', `secret ${key}: value version ${v.source?.version ?? ''} is due but the ${where}; nothing was applied`);
    }
    values.set(id, value);
  }

  const applied: AppliedChange[] = [];
  const record = async (set: RecordSet[], remove: { kind: ResourceKind; key: string }[] = []) => {
    await client.POST('/v1/projects/{project}/resources', { params: { path: { project: plan.project } }, body: { set, remove } });
  };
  const done = (c: Change, outcome?: PutOutcome) => {
    const a: AppliedChange = { action: c.action, kind: c.kind, key: c.key, ...outcome };
    applied.push(a);
    opts.onApplied?.(a);
  };
  const cache = () => new Map<string, Promise<unknown>>();
  const byOrder = (a: Change, b: Change) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind);

  // Claim every resource about to change first: if another project manages one, the server says
  // 409 now, before anything has been changed.
  const writes = plan.changes.filter((c) => c.action !== 'delete').sort(byOrder);
  if (writes.length) await record(writes.map((c) => ({ kind: c.kind, key: c.key })));

  for (const c of writes) {
    const id = address(c.kind, c.key);
    const d = internals.desired.get(id)!;
    const value = values.get(id);
    const withValue: Desired = value === undefined ? d : { ...d, extra: { ...d.extra, resolvedValue: value } };
    const outcome = await OPS[c.kind].put(client, withValue, internals.observed.get(id) ?? null);
    const now = await OPS[c.kind].observe(client, c.key, cache());
    await record([{
      kind: c.kind, key: c.key, created: c.action === 'create', fingerprint: now ? fingerprint(now.state) : null,
      valueVersion: internals.values.get(id)?.version ?? null,
    }]);
    done(c, outcome);
  }

  // Declared resources the plan did not touch: record them once (an existing resource the file
  // adopts) and take the server's state as the new baseline after drift, so drift is shown once.
  const refresh: RecordSet[] = [];
  const changed = new Set(plan.changes.map((c) => address(c.kind, c.key)));
  for (const [id, d] of internals.desired) {
    const observed = internals.observed.get(id);
    if (changed.has(id) || !observed) continue;
    const fp = fingerprint(observed.state);
    if (internals.records.get(id)?.fingerprint !== fp) refresh.push({ kind: d.kind, key: d.key, fingerprint: fp });
  }
  if (refresh.length) await record(refresh);

  for (const c of deletes.sort((a, b) => byOrder(b, a))) {
    const observed = internals.observed.get(address(c.kind, c.key));
    if (observed) await OPS[c.kind].remove(client, c.key, observed);
    await record([], [{ kind: c.kind, key: c.key }]);
    done(c);
  }
  // Records of owned resources deleted outside apply: forgotten quietly, they changed nothing.
  const gone = [...internals.records.values()].filter((r) => !internals.desired.has(address(r.kind, r.key))
    && internals.observed.has(address(r.kind, r.key)) && internals.observed.get(address(r.kind, r.key)) === null);
  if (gone.length) await record([], gone.map((r) => ({ kind: r.kind, key: r.key })));

  return {
    project: plan.project, applied,
    summary: {
      create: applied.filter((a) => a.action === 'create').length,
      update: applied.filter((a) => a.action === 'update').length,
      delete: applied.filter((a) => a.action === 'delete').length,
    },
  };
}

function resolveValue(source: ValueSource | undefined, vault: string, name: string, dir: string, opts: ApplyOptions): string | undefined {
  if (!source) return opts.secretValue?.(vault, name);
  if ('env' in source) return (opts.env ?? process.env)[source.env] ?? opts.secretValue?.(vault, name);
  try { return fs.readFileSync(path.resolve(dir, source.file), 'utf8'); } catch { return undefined; }
}
