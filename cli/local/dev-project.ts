// A MINIMAL applier for `coffer dev`, kept apart so that it can be swapped for the real one
// (cli/project/apply.ts: loadProject, planProject, applyPlan) once that lands. It reads coffer.toml
// without the real loader's validation (no line numbers, no unknown-key checks), and makes the
// local server match it by creating what is missing and replacing what differs. It never deletes:
// the local server is the developer's own, and a stale resource there harms nobody.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { CofferApiError, type CofferClient } from '../../client/index.ts';
import { CliError, EXIT } from '../errors.ts';

type Table = Record<string, unknown>;

export interface DevProject {
  file: string;
  dir: string;
  vaults: Record<string, { description?: string; secrets: Record<string, { description?: string }> }>;
  workspaces: Record<string, { description?: string; members: { principal?: string; group?: string; role: string }[] }>;
  grants: Table[];
  functions: Record<string, { workspace: string; file: string; path: string; timeoutMs?: number; memoryMb?: number; exposeSecrets?: boolean; description?: string }>;
  executors: Record<string, Table & { workspace: string; trigger: Table }>;
  pipelines: Record<string, Table & { workspace: string }>;
}

const table = (v: unknown): Table => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Table : {});
const text = (v: unknown) => (typeof v === 'string' ? v : undefined);

function invalid(file: string, message: string): never {
  throw new CliError('project_invalid', `${file}: ${message}`, EXIT.usage);
}

export function loadDevProject(file: string): DevProject {
  let doc: Table;
  try {
    doc = parse(fs.readFileSync(file, 'utf8')) as Table;
  } catch (err) {
    const e = err as { line?: number; column?: number; message?: string; code?: string };
    if (e.line !== undefined) invalid(`${file}:${e.line}:${e.column}`, String(e.message).split('\n')[0]!.replace(/^Invalid TOML document: /, ''));
    invalid(file, `cannot read it (${e.code ?? 'error'})`);
  }
  const dir = path.dirname(file);
  const needWorkspace = (kind: string, name: string, v: Table) => {
    const ws = text(v.workspace);
    if (!ws) invalid(file, `${kind}.${name}.workspace is required`);
    return ws;
  };
  const project: DevProject = { file, dir, vaults: {}, workspaces: {}, grants: [], functions: {}, executors: {}, pipelines: {} };
  for (const [name, raw] of Object.entries(table(doc.vaults))) {
    const v = table(raw);
    project.vaults[name] = {
      description: text(v.description),
      secrets: Object.fromEntries(Object.entries(table(v.secrets)).map(([s, d]) => [s, { description: text(table(d).description) }])),
    };
  }
  for (const [name, raw] of Object.entries(table(doc.workspaces))) {
    const w = table(raw);
    project.workspaces[name] = { description: text(w.description), members: (Array.isArray(w.members) ? w.members : []).map(table) as DevProject['workspaces'][string]['members'] };
  }
  project.grants = (Array.isArray(doc.grants) ? doc.grants : []).map(table);
  for (const [name, raw] of Object.entries(table(doc.functions))) {
    const f = table(raw);
    const rel = text(f.file);
    if (!rel) invalid(file, `functions.${name}.file is required`);
    const abs = path.resolve(dir, rel);
    if (!fs.existsSync(abs)) invalid(file, `functions.${name}.file: ${rel} does not exist`);
    project.functions[name] = {
      workspace: needWorkspace('functions', name, f), file: rel, path: abs,
      timeoutMs: f.timeoutMs as number | undefined, memoryMb: f.memoryMb as number | undefined,
      exposeSecrets: f.exposeSecrets as boolean | undefined, description: text(f.description),
    };
  }
  for (const [name, raw] of Object.entries(table(doc.executors))) {
    const e = table(raw);
    project.executors[name] = { ...e, workspace: needWorkspace('executors', name, e), trigger: table(e.trigger) };
  }
  for (const [name, raw] of Object.entries(table(doc.pipelines))) {
    const p = table(raw);
    project.pipelines[name] = { ...p, workspace: needWorkspace('pipelines', name, p) };
  }
  return project;
}

export interface DevApplied {
  /** One line per change made, for the terminal. */
  changes: string[];
  /** webhookUrlPath of token-mode executors created now (the only time their token is shown). */
  webhookPaths: Record<string, string>;
}

const isStatus = (err: unknown, ...statuses: number[]) => err instanceof CofferApiError && statuses.includes(err.status);

/**
 * Makes the local server match the project. `secretValue` gives each declared secret its local
 * value (env, then secrets.toml); one without a value is left as it is.
 */
export async function applyDevProject(client: CofferClient, project: DevProject, secretValue: (vault: string, name: string) => string | undefined,
  memo: Map<string, string>): Promise<DevApplied> {
  const changes: string[] = [];
  const webhookPaths: Record<string, string> = {};
  // `as never`: the bodies come from the file as written; the server validates them.
  const c = client as unknown as { [m in 'GET' | 'POST' | 'PUT']: (route: string, init: unknown) => Promise<any> };

  for (const [vault, decl] of Object.entries(project.vaults)) {
    try {
      await c.POST('/v1/vaults', { body: { name: vault, description: decl.description } });
      changes.push(`+ vault ${vault}`);
    } catch (err) { if (!isStatus(err, 409)) throw err; }
    for (const name of Object.keys(decl.secrets)) {
      const value = secretValue(vault, name);
      if (value === undefined) continue;
      let current: string | undefined;
      try {
        current = (await c.GET('/v1/vaults/{vault}/secrets/{name}/value', { params: { path: { vault, name }, query: {} } })).value;
      } catch (err) { if (!isStatus(err, 404)) throw err; }
      if (current === value) continue;
      await c.PUT('/v1/vaults/{vault}/secrets/{name}', { params: { path: { vault, name } }, body: { value, description: decl.secrets[name]!.description } });
      changes.push(`~ secret ${vault}/${name} (local value)`);
    }
  }
  for (const [ws, decl] of Object.entries(project.workspaces)) {
    try {
      await c.POST('/v1/workspaces', { body: { name: ws, description: decl.description } });
      changes.push(`+ workspace ${ws}`);
    } catch (err) { if (!isStatus(err, 409)) throw err; }
    for (const m of decl.members) {
      try {
        await c.POST('/v1/workspaces/{ws}/members', { params: { path: { ws } }, body: m });
        changes.push(`+ member ${ws}/${m.principal ?? m.group}`);
      } catch (err) { if (!isStatus(err, 409)) throw err; }
    }
  }
  const grantsByVault = new Map<string, Table[]>();
  for (const g of project.grants) {
    const vault = String(g.vault);
    if (!grantsByVault.has(vault)) grantsByVault.set(vault, (await c.GET('/v1/vaults/{vault}/grants', { params: { path: { vault } } })).grants);
    const held = grantsByVault.get(vault)!.some((h) => h.role === g.role
      && (g.workspace ? h.workspace === g.workspace : (table(h.principal).id === g.principal || table(h.group).id === g.group)));
    if (held) continue;
    const { vault: _v, ...body } = g;
    await c.POST('/v1/vaults/{vault}/grants', { params: { path: { vault } }, body });
    changes.push(`+ grant ${g.role} on ${vault} to ${g.workspace ? `workspace ${g.workspace}` : g.principal ?? g.group}`);
  }
  for (const [name, f] of Object.entries(project.functions)) {
    const code = fs.readFileSync(f.path, 'utf8');
    const codeHash = crypto.createHash('sha256').update(code).digest('hex');
    let active: Table | undefined;
    try {
      active = table((await c.GET('/v1/workspaces/{ws}/functions/{name}', { params: { path: { ws: f.workspace, name } } })).active);
    } catch (err) { if (!isStatus(err, 404)) throw err; }
    const same = active && active.codeHash === codeHash && (f.timeoutMs === undefined || active.timeoutMs === f.timeoutMs)
      && (f.memoryMb === undefined || active.memoryMb === f.memoryMb) && Boolean(active.exposeSecrets) === Boolean(f.exposeSecrets);
    if (same) continue;
    const deployed = await c.PUT('/v1/workspaces/{ws}/functions/{name}', {
      params: { path: { ws: f.workspace, name } },
      body: { code, timeoutMs: f.timeoutMs, memoryMb: f.memoryMb, exposeSecrets: f.exposeSecrets, description: f.description },
    });
    changes.push(`${active ? '~' : '+'} function ${f.workspace}/${name} version ${deployed.activeVersion} (${f.file})`);
  }
  for (const [kind, route, decls] of [
    ['pipeline', '/v1/workspaces/{ws}/pipelines/{name}', project.pipelines],
    ['executor', '/v1/workspaces/{ws}/executors/{name}', project.executors],
  ] as const) {
    for (const [name, decl] of Object.entries(decls)) {
      const { workspace: ws, ...body } = decl;
      const key = `${kind}:${ws}/${name}`;
      const json = JSON.stringify(body);
      if (memo.get(key) === json) continue;
      const put = await c.PUT(route, { params: { path: { ws, name } }, body });
      memo.set(key, json);
      if (kind === 'executor' && typeof put?.webhookUrlPath === 'string') webhookPaths[`${ws}/${name}`] = put.webhookUrlPath;
      changes.push(`~ ${kind} ${ws}/${name}`);
    }
  }
  return { changes, webhookPaths };
}
