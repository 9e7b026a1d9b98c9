// Reading a coffer.toml: TOML syntax (smol-toml), then the shape (zod), then references between
// declarations and to files. Every refusal is a ProjectFileError naming file, line, column and key,
// and all of it happens before a single request is sent.
import fs from 'node:fs';
import path from 'node:path';
import { parse, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { ProjectFileError } from './errors.ts';
import { formatPath, keyPositions, positionOf, type Path } from './positions.ts';
import { ProjectFile, type ProjectFileData } from './schema.ts';
import type { Project } from './types.ts';

export async function loadProject(file: string): Promise<Project> {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = await fs.promises.readFile(absolute, 'utf8');
  } catch (err) {
    throw new ProjectFileError(file, 0, 0, '', `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    if (err instanceof TomlError) throw new ProjectFileError(file, err.line, err.column, '', `TOML syntax: ${firstLine(err.message)}`, { cause: err });
    throw err;
  }
  const positions = keyPositions(text);
  const refuse = (at: Path, problem: string): never => {
    const { line, column } = positionOf(positions, at);
    throw new ProjectFileError(file, line, column, formatPath(at), problem);
  };

  const parsed = ProjectFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const { at, problem } = describeIssue(issue, raw);
    refuse(at, problem);
  }
  const data = parsed.data as ProjectFileData;
  const dir = path.dirname(absolute);
  checkReferences(data, dir, refuse);

  return {
    file: absolute, dir,
    name: data.project ?? defaultProjectName(dir),
    vaults: data.vaults,
    workspaces: data.workspaces,
    grants: data.grants,
    functions: Object.fromEntries(Object.entries(data.functions).map(([name, f]) => [name, { ...f, path: path.resolve(dir, f.file) }])),
    executors: data.executors as Project['executors'],
    pipelines: data.pipelines as Project['pipelines'],
  };
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): { at: Path; problem: string } {
  const at = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const input = at.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined), raw);
  if (issue.code === 'unrecognized_keys') return { at: [...at, issue.keys[0]!], problem: `unknown key "${issue.keys[0]}"` };
  if (issue.code === 'invalid_type') return { at, problem: input === undefined ? `missing (${issue.expected} expected)` : `wrong type: ${issue.expected} expected, got ${typeOf(input)}` };
  if (issue.code === 'invalid_key') return { at, problem: `invalid name: ${issue.issues[0]?.message ?? issue.message}` };
  if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator) return { at: [...at, issue.discriminator as string], problem: issue.message };
  return { at, problem: issue.message };
}

const typeOf = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v === 'object' ? 'table' : typeof v);
const firstLine = (s: string) => s.split('\n')[0]!;

/** The project's directory name made into a resource name; stable across checkouts only if the directory is. */
function defaultProjectName(dir: string): string {
  const name = path.basename(dir).toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+/, '').slice(0, 63);
  return name || 'project';
}

function checkReferences(data: ProjectFileData, dir: string, refuse: (at: Path, problem: string) => never) {
  const vault = (name: string, at: Path) => { if (!data.vaults[name]) refuse(at, `vault "${name}" is not declared in [vaults]`); };
  const workspace = (name: string, at: Path) => { if (!data.workspaces[name]) refuse(at, `workspace "${name}" is not declared in [workspaces]`); };
  const fn = (ws: string, name: string, at: Path) => {
    const f = data.functions[name];
    if (!f) refuse(at, `function "${name}" is not declared in [functions]`);
    else if (f.workspace !== ws) refuse(at, `function "${name}" is in workspace "${f.workspace}", not "${ws}"`);
  };
  // A reference into a vault the file declares must name a declared secret (a typo check); vaults
  // the file does not declare are managed elsewhere and taken as given.
  const secretRef = (ref: { vault: string; name: string }, at: Path) => {
    const v = data.vaults[ref.vault];
    if (v && !v.secrets[ref.name]) refuse([...at, 'name'], `secret "${ref.name}" is not declared in vault "${ref.vault}"`);
  };

  data.grants.forEach((g, n) => {
    vault(g.vault, ['grants', n, 'vault']);
    if (g.workspace) workspace(g.workspace, ['grants', n, 'workspace']);
  });
  for (const [name, f] of Object.entries(data.functions)) {
    workspace(f.workspace, ['functions', name, 'workspace']);
    const file = path.resolve(dir, f.file);
    let stat: fs.Stats | undefined;
    try { stat = fs.statSync(file); } catch { /* refused below */ }
    if (!stat?.isFile()) refuse(['functions', name, 'file'], `file "${f.file}" does not exist (relative to ${dir})`);
  }
  for (const [name, e] of Object.entries(data.executors)) {
    const at: Path = ['executors', name];
    workspace(e.workspace, [...at, 'workspace']);
    if (e.target.kind === 'function') fn(e.workspace, e.target.function, [...at, 'target', 'function']);
    if (e.target.kind === 'webhook') {
      if (typeof e.target.body === 'object') fn(e.workspace, e.target.body.function, [...at, 'target', 'body', 'function']);
      if (typeof e.target.url === 'object') secretRef(e.target.url.secret, [...at, 'target', 'url', 'secret']);
      if (e.target.signing) secretRef(e.target.signing.secret, [...at, 'target', 'signing', 'secret']);
      for (const [h, v] of Object.entries(e.target.headers ?? {})) if (typeof v === 'object') secretRef(v.secret, [...at, 'target', 'headers', h, 'secret']);
    }
    if (e.trigger.kind === 'webhook' && e.trigger.auth?.mode === 'hmac') secretRef(e.trigger.auth.secret, [...at, 'trigger', 'auth', 'secret']);
  }
  for (const [name, p] of Object.entries(data.pipelines)) {
    workspace(p.workspace, ['pipelines', name, 'workspace']);
    p.steps.forEach((s, n) => fn(p.workspace, s.function, ['pipelines', name, 'steps', n, 'function']));
  }
}
