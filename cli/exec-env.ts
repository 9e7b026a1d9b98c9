// How `coffer exec` turns secrets into environment variables: the naming rule, collisions, and
// the merge with the inherited environment. Pure functions, so --explain and the real run agree.

/**
 * The rule (docs/cli.md): a boundary between a lower-case letter or digit and an upper-case letter
 * becomes `_` (apiKey -> API_KEY); every run of characters other than A-Z, a-z, 0-9 becomes one `_`
 * (db.password, db-password -> DB_PASSWORD); the result is upper-cased, `_` trimmed from both ends,
 * and `_` put in front if it would start with a digit. Then --prefix is put in front.
 */
export function envNameFor(secretName: string, prefix = ''): string {
  let name = secretName
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase()
    .replace(/^_+|_+$/g, '');
  if (/^[0-9]/.test(name)) name = `_${name}`;
  return prefix + name;
}

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What --clean-env keeps from the parent, so the command can still be found and run. */
export const CLEAN_ENV_KEEP = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TERM', 'LANG', 'TZ', 'TMPDIR'];

/** The caller's own Coffer credentials are never handed to the child. */
export const WITHHELD = ['COFFER_API_KEY', 'COFFER_CLIENT_SECRET'];

export interface Mapping { secret: string; env: string; how: 'rule' | 'map' }

export type MappingResult = { ok: true; mappings: Mapping[] } | { ok: false; collisions: { env: string; secrets: string[] }[] };

/** Maps each selected secret name to a variable name; two secrets on one name is an error, never an overwrite. */
export function mapSecrets(names: string[], options: { prefix?: string; map?: Record<string, string> }): MappingResult {
  const mappings = names.map((secret): Mapping => {
    const explicit = options.map?.[secret];
    return explicit ? { secret, env: explicit, how: 'map' } : { secret, env: envNameFor(secret, options.prefix), how: 'rule' };
  });
  const byEnv = new Map<string, string[]>();
  for (const m of mappings) byEnv.set(m.env, [...(byEnv.get(m.env) ?? []), m.secret]);
  const collisions = [...byEnv].filter(([, secrets]) => secrets.length > 1).map(([env, secrets]) => ({ env, secrets }));
  return collisions.length ? { ok: false, collisions } : { ok: true, mappings };
}

export type Source =
  | { kind: 'coffer'; secret: string; vault: string; overrides: boolean }
  | { kind: 'inherited'; shadowedSecret?: string }
  | { kind: 'kept' };

export interface Plan {
  /** Every variable the child gets, and where it comes from (no values). */
  variables: { name: string; source: Source }[];
  withheld: string[];
}

export function planEnvironment(parent: NodeJS.ProcessEnv, mappings: Mapping[], options: { vault: string; cleanEnv: boolean; override: boolean }): Plan {
  const variables = new Map<string, Source>();
  const withheld: string[] = [];
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    if (WITHHELD.includes(name)) { withheld.push(name); continue; }
    if (options.cleanEnv && !CLEAN_ENV_KEEP.includes(name)) continue;
    variables.set(name, options.cleanEnv ? { kind: 'kept' } : { kind: 'inherited' });
  }
  for (const m of mappings) {
    const existing = variables.has(m.env);
    if (existing && !options.override) variables.set(m.env, { kind: 'inherited', shadowedSecret: m.secret });
    else variables.set(m.env, { kind: 'coffer', secret: m.secret, vault: options.vault, overrides: existing });
  }
  return { variables: [...variables].map(([name, source]) => ({ name, source })).sort((a, b) => a.name.localeCompare(b.name)), withheld };
}

/** The child's environment: the plan filled with the parent's and the fetched values. */
export function buildEnvironment(parent: NodeJS.ProcessEnv, plan: Plan, values: Map<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { name, source } of plan.variables) {
    env[name] = source.kind === 'coffer' ? values.get(source.secret)! : parent[name]!;
  }
  return env;
}

export const RULE_TEXT = 'Secret names become UPPER_SNAKE: a lower-case letter or digit followed by an upper-case one gets "_" between them, '
  + 'every run of other characters than A-Z a-z 0-9 becomes "_", the result is upper-cased and trimmed of "_", '
  + 'and "_" is put in front of a leading digit; then --prefix is prepended. --map NAME=ENV names a variable exactly.';
