// planProject: what applying a project would change on a server, found by reading only. Compares
// each declared resource with the server, checks what the last apply recorded (write-only value
// versions, drift), and with `prune` lists the deletes of resources this project created that the
// file no longer declares.
import fs from 'node:fs';
import path from 'node:path';
import type { CofferClient } from '../../client/index.ts';
import { covers, driftedFields } from './fingerprint.ts';
import { desiredResources, KIND_ORDER, OPS, type Desired, type Observed } from './resources.ts';
import type { Change, Drift, FieldChange, Plan, PlanOptions, Project, ResourceKind, ValueSource } from './types.ts';

export interface ResourceRecord { kind: ResourceKind; key: string; created: boolean; fingerprint: string | null; valueVersion: number | null }

/** What apply needs from its plan but a printed plan does not show. */
export interface PlanInternals {
  desired: Map<string, Desired>;
  observed: Map<string, Observed | null>;
  records: Map<string, ResourceRecord>;
  /** Secret changes that write a value: where the value comes from, and the version to record. */
  values: Map<string, { source?: ValueSource; version: number | null }>;
  /** The plan's own options: apply resolves values the same way unless told otherwise. */
  opts: PlanOptions;
}
const INTERNALS = new WeakMap<Plan, PlanInternals>();
export const internalsOf = (plan: Plan) => INTERNALS.get(plan);
export const address = (kind: string, key: string) => `${kind}:${key}`;

export async function planProject(client: CofferClient, project: Project, opts: PlanOptions = {}): Promise<Plan> {
  const { resources } = await client.GET('/v1/projects/{project}/resources', { params: { path: { project: project.name } } });
  const records = new Map(resources.map((r) => [address(r.kind, r.key), r as ResourceRecord]));
  const desiredList = desiredResources(project).sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  const internals: PlanInternals = { desired: new Map(), observed: new Map(), records, values: new Map(), opts };
  const changes: Change[] = [];
  const drift: Drift[] = [];
  const warnings: string[] = [];
  const cache = new Map<string, Promise<unknown>>();

  for (const d of desiredList) {
    const id = address(d.kind, d.key);
    internals.desired.set(id, d);
    const observed = await OPS[d.kind].observe(client, d.key, cache);
    internals.observed.set(id, observed);
    const record = records.get(id);
    if (record?.fingerprint && observed) {
      const fields = driftedFields(record.fingerprint, observed.state);
      if (fields.length) drift.push({ kind: d.kind, key: d.key, fields });
    }
    if (record?.fingerprint && !observed) drift.push({ kind: d.kind, key: d.key, fields: ['(deleted on the server)'] });

    if (d.kind === 'secret') { planSecret(d, observed, record, project, opts, { changes, warnings, internals }); continue; }
    const fields = differences(d, observed);
    if (!observed) { changes.push({ action: 'create', kind: d.kind, key: d.key, fields }); continue; }
    const fixed = OPS[d.kind].fixed ?? [];
    for (const f of fields.filter((f) => fixed.includes(f.field))) {
      warnings.push(`${d.kind} ${d.key}: ${f.field} differs (${show(f.from)} on the server) but cannot be changed through the API after creation`);
    }
    const changeable = fields.filter((f) => !fixed.includes(f.field));
    if (changeable.length) changes.push({ action: 'update', kind: d.kind, key: d.key, fields: changeable });
  }

  const dropped = [...records.values()].filter((r) => r.created && !internals.desired.has(address(r.kind, r.key)));
  if (opts.prune) {
    for (const r of dropped.sort((a, b) => KIND_ORDER.indexOf(b.kind) - KIND_ORDER.indexOf(a.kind))) {
      const observed = await OPS[r.kind].observe(client, r.key, cache);
      internals.observed.set(address(r.kind, r.key), observed);
      // Already gone: apply only forgets the record, which is not a change to show.
      if (observed) changes.push({ action: 'delete', kind: r.kind, key: r.key, fields: [], reason: 'created by this project, no longer in the file' });
    }
  } else if (dropped.length) {
    warnings.push(`${dropped.length} resource${dropped.length === 1 ? '' : 's'} created by project "${project.name}" ${dropped.length === 1 ? 'is' : 'are'} no longer in the file and left alone (--prune deletes them): ${dropped.map((r) => `${r.kind} ${r.key}`).join(', ')}`);
  }

  const plan: Plan = {
    project: project.name, file: project.file, changes, drift, warnings,
    summary: {
      create: changes.filter((c) => c.action === 'create').length,
      update: changes.filter((c) => c.action === 'update').length,
      delete: changes.filter((c) => c.action === 'delete').length,
    },
  } as Plan;
  // Not enumerable: a plan printed with --json shows what changes, not the whole project.
  Object.defineProperty(plan, 'source', { value: project, enumerable: false });
  INTERNALS.set(plan, internals);
  return plan;
}

function differences(d: Desired, observed: Observed | null): FieldChange[] {
  return Object.entries(d.state)
    .filter(([k, v]) => v !== undefined && !covers(v, observed?.state[k]))
    .map(([field, to]) => ({ field, from: observed ? observed.state[field] ?? null : null, to }));
}

/**
 * Secrets: the description is sent with a value, never alone (the API writes both together). A
 * declared `{env|file, version}` value is written when there is no record of an earlier apply or
 * its version is newer than the recorded one (Terraform's value_wo_version rule); always with
 * ifChanged, so an equal value creates no new version. A value from the caller's local source
 * (`secretValue`, for `coffer dev`) is sent with ifChanged on every apply.
 */
function planSecret(d: Desired, observed: Observed | null, record: { valueVersion: number | null } | undefined, project: Project, opts: PlanOptions,
  out: { changes: Change[]; warnings: string[]; internals: PlanInternals }) {
  const [vault, name] = [d.key.slice(0, d.key.indexOf('/')), d.key.slice(d.key.indexOf('/') + 1)];
  const source = d.extra?.value as ValueSource | undefined;
  const fields = differences(d, observed);
  const action = observed ? 'update' : 'create';
  if (source) {
    const applied = record?.valueVersion ?? null;
    const due = !observed || applied === null || source.version > applied;
    if (due) {
      if (!valueAvailable(source, vault, name, project, opts)) {
        out.warnings.push(`secret ${d.key}: value version ${source.version} is due but ${'env' in source ? `$${source.env} is not set` : `file ${source.file} is missing`}; apply will refuse`);
      }
      out.internals.values.set(address('secret', d.key), { source, version: source.version });
      out.changes.push({ action, kind: 'secret', key: d.key, fields, reason: applied === null ? `value version ${source.version}` : `value version ${applied} -> ${source.version}` });
      return;
    }
    if (source.version < applied!) out.warnings.push(`secret ${d.key}: declared value version ${source.version} is older than the applied ${applied}; nothing is written`);
  } else if (opts.secretValue?.(vault, name) !== undefined) {
    out.internals.values.set(address('secret', d.key), { version: null });
    out.changes.push({ action, kind: 'secret', key: d.key, fields, reason: 'value from a local source (a new version only if it differs)' });
    return;
  }
  if (!observed) out.warnings.push(`secret ${d.key}: declared but has no value on the server; give it one (value = { env = ..., version = 1 } or coffer secret put)`);
  else if (fields.length) out.warnings.push(`secret ${d.key}: ${fields.map((f) => f.field).join(', ')} differs; it is sent with the next value write (bump the value's version)`);
}

function valueAvailable(source: ValueSource, vault: string, name: string, project: Project, opts: PlanOptions): boolean {
  if ('env' in source) return (opts.env ?? process.env)[source.env] !== undefined || opts.secretValue?.(vault, name) !== undefined;
  return fs.existsSync(path.resolve(project.dir, source.file));
}

export function show(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? 'null';
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
