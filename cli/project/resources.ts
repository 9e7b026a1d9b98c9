// Each kind of resource coffer.toml declares, seen three ways: what the file wants (desired), what
// the server has (observe, by address only, so that owned resources the file dropped can be found
// too) and how to change it (put, remove). States hold only the fields apply manages, in the shape
// the API answers them; secret values never appear in a state.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { isCofferError, type CofferClient } from '../../client/index.ts';
import { DEFAULT_LIMITS } from '../../runtime/limits.ts';
import type { Project, PutOutcome, ResourceKind } from './types.ts';

export type State = Record<string, unknown>;

export interface Desired {
  kind: ResourceKind;
  key: string;
  /** Compared with the server's state; undefined fields are not managed. */
  state: State;
  /** What put() sends besides the state (function code, the secret's value source). */
  extra?: Record<string, unknown>;
}

export interface Observed { state: State; id?: string }

export interface KindOps {
  observe(client: CofferClient, key: string, cache: Map<string, Promise<unknown>>): Promise<Observed | null>;
  /** Create or update; answers a line worth printing (a token shown once), if any, and what it found. */
  put(client: CofferClient, d: Desired, observed: Observed | null): Promise<PutOutcome | undefined>;
  remove(client: CofferClient, key: string, observed: Observed): Promise<void>;
  /** Fields the API cannot change after creation. */
  fixed?: string[];
}

/** The order apply works in; deletes run in reverse. */
export const KIND_ORDER: ResourceKind[] = ['workspace', 'vault', 'secret', 'member', 'grant', 'function', 'pipeline', 'executor'];

const split = (key: string): [string, string] => {
  const n = key.indexOf('/');
  return [key.slice(0, n), key.slice(n + 1)];
};
/** `principal:ID`, `group:ID`, `workspace:NAME`. */
const holder = (h: string): [string, string] => {
  const n = h.indexOf(':');
  return [h.slice(0, n), h.slice(n + 1)];
};

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try { return await p; } catch (err) { if (isCofferError(err, 'not_found')) return null; throw err; }
}
function cached<T>(cache: Map<string, Promise<unknown>>, key: string, load: () => Promise<T>): Promise<T> {
  if (!cache.has(key)) cache.set(key, load());
  return cache.get(key) as Promise<T>;
}

export const codeHash = (code: string) => crypto.createHash('sha256').update(code).digest('hex');

export function desiredResources(project: Project): Desired[] {
  const out: Desired[] = [];
  for (const [name, ws] of Object.entries(project.workspaces)) {
    out.push({ kind: 'workspace', key: name, state: { description: ws.description } });
    for (const m of ws.members) {
      out.push({ kind: 'member', key: `${name}/${m.principal ? `principal:${m.principal}` : `group:${m.group}`}`, state: { role: m.role } });
    }
  }
  for (const [name, v] of Object.entries(project.vaults)) {
    out.push({ kind: 'vault', key: name, state: { description: v.description } });
    for (const [secret, s] of Object.entries(v.secrets)) {
      out.push({ kind: 'secret', key: `${name}/${secret}`, state: { description: s.description }, extra: { value: s.value } });
    }
  }
  for (const g of project.grants) {
    const to = g.workspace ? `workspace:${g.workspace}` : g.principal ? `principal:${g.principal}` : `group:${g.group}`;
    out.push({ kind: 'grant', key: `${g.vault}/${to}`, state: {
      role: g.role, functions: g.functions ?? null, secrets: g.secrets ?? null,
      expiresAt: g.expiresAt ? new Date(g.expiresAt).toISOString() : null,
    } });
  }
  for (const [name, f] of Object.entries(project.functions)) {
    // Read now, so that a plan and its apply deploy the same bytes.
    const code = fs.readFileSync(f.path, 'utf8');
    out.push({ kind: 'function', key: `${f.workspace}/${name}`, extra: { code }, state: {
      codeHash: codeHash(code), timeoutMs: f.timeoutMs ?? DEFAULT_LIMITS.timeoutMs, memoryMb: f.memoryMb ?? DEFAULT_LIMITS.memoryMb,
      exposeSecrets: f.exposeSecrets ?? false, description: f.description,
    } });
  }
  for (const [name, p] of Object.entries(project.pipelines)) {
    const { workspace, ...spec } = p;
    out.push({ kind: 'pipeline', key: `${workspace}/${name}`, state: spec });
  }
  for (const [name, e] of Object.entries(project.executors)) {
    const { workspace, ...body } = e;
    out.push({ kind: 'executor', key: `${workspace}/${name}`, state: { ...body, description: body.description, disabled: body.disabled ?? false } });
  }
  return out;
}

type C = CofferClient;
const stateWithout = (s: State, ...keys: string[]) => Object.fromEntries(Object.entries(s).filter(([k, v]) => !keys.includes(k) && v !== undefined));

export const OPS: Record<ResourceKind, KindOps> = {
  workspace: {
    fixed: ['description'],
    async observe(client: C, key) {
      const w = await orNull(client.GET('/v1/workspaces/{ws}', { params: { path: { ws: key } } }));
      return w && { state: { description: w.description } };
    },
    async put(client: C, d) {
      await client.POST('/v1/workspaces', { body: { name: d.key, description: d.state.description as string | undefined } });
      return undefined;
    },
    async remove(client: C, key) { await client.DELETE('/v1/workspaces/{ws}', { params: { path: { ws: key } } }); },
  },
  vault: {
    fixed: ['description'],
    async observe(client: C, key) {
      const v = await orNull(client.GET('/v1/vaults/{vault}', { params: { path: { vault: key } } }));
      return v && { state: { description: v.description } };
    },
    async put(client: C, d) {
      await client.POST('/v1/vaults', { body: { name: d.key, description: d.state.description as string | undefined } });
      return undefined;
    },
    async remove(client: C, key) { await client.DELETE('/v1/vaults/{vault}', { params: { path: { vault: key } } }); },
  },
  secret: {
    async observe(client: C, key) {
      const [vault, name] = split(key);
      const s = await orNull(client.GET('/v1/vaults/{vault}/secrets/{name}', { params: { path: { vault, name } } }));
      return s && { state: { description: s.description, latestVersion: s.latestVersion } };
    },
    async put(client: C, d) {
      const [vault, name] = split(d.key);
      const value = d.extra?.resolvedValue as string | undefined;
      if (value === undefined) return undefined;
      const w = await client.PUT('/v1/vaults/{vault}/secrets/{name}', {
        params: { path: { vault, name } }, body: { value, description: d.state.description as string | undefined, ifChanged: true },
      });
      return w.changed ? { detail: `version ${w.version} written` } : { detail: `value unchanged, still version ${w.version}`, unchanged: true };
    },
    async remove(client: C, key) {
      const [vault, name] = split(key);
      await client.DELETE('/v1/vaults/{vault}/secrets/{name}', { params: { path: { vault, name } } });
    },
  },
  member: {
    async observe(client: C, key, cache) {
      const [ws, h] = split(key);
      const [kind, id] = holder(h);
      const list = await cached(cache, `members:${ws}`, () => orNull(client.GET('/v1/workspaces/{ws}/members', { params: { path: { ws } } })));
      if (!list) return null;
      const role = kind === 'group' ? list.groups.find((g) => g.groupId === id)?.role : list.members.find((m) => m.principalId === id)?.role;
      return role ? { state: { role } } : null;
    },
    async put(client: C, d) {
      const [ws, h] = split(d.key);
      const [kind, id] = holder(h);
      await client.POST('/v1/workspaces/{ws}/members', { params: { path: { ws } }, body: { [kind]: id, role: d.state.role as 'owner' } });
      return undefined;
    },
    async remove(client: C, key) {
      const [ws, h] = split(key);
      await client.DELETE('/v1/workspaces/{ws}/members/{principal}', { params: { path: { ws, principal: holder(h)[1] } } });
    },
  },
  grant: {
    async observe(client: C, key, cache) {
      const [vault, h] = split(key);
      const [kind, id] = holder(h);
      const list = await cached(cache, `grants:${vault}`, () => orNull(client.GET('/v1/vaults/{vault}/grants', { params: { path: { vault } } })));
      const g = list?.grants.find((g) => (kind === 'workspace' ? g.workspace === id : kind === 'group' ? g.group?.id === id : g.principal?.id === id));
      return g ? { id: g.id, state: { role: g.role, functions: g.functions, secrets: g.secrets, expiresAt: g.expiresAt } } : null;
    },
    async put(client: C, d) {
      const [vault, h] = split(d.key);
      const [kind, id] = holder(h);
      const s = d.state as { role: 'reader'; functions: string[] | null; secrets: string[] | null; expiresAt: string | null };
      await client.POST('/v1/vaults/{vault}/grants', { params: { path: { vault } }, body: {
        [kind]: id, role: s.role, functions: s.functions ?? undefined, secrets: s.secrets ?? undefined, expiresAt: s.expiresAt ?? undefined,
      } });
      return undefined;
    },
    async remove(client: C, key, observed) {
      await client.DELETE('/v1/vaults/{vault}/grants/{id}', { params: { path: { vault: split(key)[0], id: observed.id! } } });
    },
  },
  function: {
    async observe(client: C, key) {
      const [ws, name] = split(key);
      const f = await orNull(client.GET('/v1/workspaces/{ws}/functions/{name}', { params: { path: { ws, name } } }));
      return f && { state: {
        codeHash: f.active.codeHash, timeoutMs: f.active.timeoutMs, memoryMb: f.active.memoryMb, exposeSecrets: f.active.exposeSecrets, description: f.active.description,
      } };
    },
    async put(client: C, d) {
      const [ws, name] = split(d.key);
      const s = d.state as { timeoutMs: number; memoryMb: number; exposeSecrets: boolean; description?: string };
      const f = await client.PUT('/v1/workspaces/{ws}/functions/{name}', { params: { path: { ws, name } }, body: {
        code: d.extra!.code as string, timeoutMs: s.timeoutMs, memoryMb: s.memoryMb, exposeSecrets: s.exposeSecrets, description: s.description,
      } });
      return { detail: `version ${f.activeVersion} active` };
    },
    async remove(client: C, key) {
      const [ws, name] = split(key);
      await client.DELETE('/v1/workspaces/{ws}/functions/{name}', { params: { path: { ws, name } } });
    },
  },
  pipeline: {
    async observe(client: C, key) {
      const [ws, name] = split(key);
      const p = await orNull(client.GET('/v1/workspaces/{ws}/pipelines/{name}', { params: { path: { ws, name } } }));
      return p && { state: p.active.spec as State };
    },
    async put(client: C, d) {
      const [ws, name] = split(d.key);
      const p = await client.PUT('/v1/workspaces/{ws}/pipelines/{name}', { params: { path: { ws, name } }, body: stateWithout(d.state) as never });
      return { detail: `version ${p.activeVersion} active (${p.field})` };
    },
    async remove(client: C, key) {
      const [ws, name] = split(key);
      await client.DELETE('/v1/workspaces/{ws}/pipelines/{name}', { params: { path: { ws, name } } });
    },
  },
  executor: {
    async observe(client: C, key) {
      const [ws, name] = split(key);
      const e = await orNull(client.GET('/v1/workspaces/{ws}/executors/{name}', { params: { path: { ws, name } } }));
      return e && { state: { description: e.description, disabled: e.disabled, trigger: e.trigger, target: e.target, retry: e.retry } };
    },
    async put(client: C, d) {
      const [ws, name] = split(d.key);
      const e = await client.PUT('/v1/workspaces/{ws}/executors/{name}', { params: { path: { ws, name } }, body: stateWithout(d.state) as never });
      // Shown once, on creation: the only chance to see it.
      if (e.token) return { detail: `webhook token (shown once): ${e.token}, deliver to ${e.webhookUrlPath}`, webhookPath: e.webhookUrlPath };
      return e.webhookPath ? { detail: `webhook ${e.webhookPath}` } : undefined;
    },
    async remove(client: C, key) {
      const [ws, name] = split(key);
      await client.DELETE('/v1/workspaces/{ws}/executors/{name}', { params: { path: { ws, name } } });
    },
  },
};
