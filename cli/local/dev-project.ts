// A MINIMAL applier for `coffer dev`, kept apart so that it can be swapped for the real one
// (cli/project/apply.ts: planProject, applyPlan) once that does its work. The project comes from
// the real loader (loadProject: validated, errors with file, line and key); this makes the local
// server match it by creating what is missing and replacing what differs. It never deletes: the
// local server is the developer's own, and a stale resource there harms nobody.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { CofferApiError, type CofferClient } from '../../client/index.ts';
import { CliError, EXIT } from '../errors.ts';
import { loadProject, ProjectFileError, type Project } from '../project/apply.ts';

type Table = Record<string, unknown>;
const table = (v: unknown): Table => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Table : {});

/** loadProject, its refusals as the CLI's usage errors (exit 2, `invalid_project`). */
export async function loadProjectForCli(file: string): Promise<Project> {
  try {
    return await loadProject(file);
  } catch (err) {
    if (err instanceof ProjectFileError) throw new CliError(err.code, err.message, EXIT.usage);
    throw err;
  }
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
export async function applyDevProject(client: CofferClient, project: Project, secretValue: (vault: string, name: string) => string | undefined,
  memo: Map<string, string>): Promise<DevApplied> {
  const changes: string[] = [];
  const webhookPaths: Record<string, string> = {};
  // Untyped calls: the bodies are the file's, as the loader checked them; the server validates them again.
  const c = client as unknown as { [m in 'GET' | 'POST' | 'PUT']: (route: string, init: unknown) => Promise<any> };

  for (const [vault, decl] of Object.entries(project.vaults)) {
    try {
      await c.POST('/v1/vaults', { body: { name: vault, description: decl.description } });
      changes.push(`+ vault ${vault}`);
    } catch (err) { if (!isStatus(err, 409)) throw err; }
    for (const name of Object.keys(decl.secrets)) {
      const value = secretValue(vault, name);
      if (value === undefined) continue;
      // ifChanged: the server compares with the latest version and writes nothing when they are
      // equal, so a restart neither reads the value back nor piles up versions.
      const put = await c.PUT('/v1/vaults/{vault}/secrets/{name}', {
        params: { path: { vault, name } }, body: { value, description: decl.secrets[name]!.description, ifChanged: true },
      });
      if (put.changed === false) continue;
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
    const vault = g.vault;
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
    for (const [name, decl] of Object.entries(decls as Record<string, { workspace: string }>)) {
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
