// Where a secret's value comes from on a developer's machine, in order, first answer wins:
//   1. the environment variable COFFER__<VAULT>__<NAME> (upper-cased, every other character `_`);
//   2. the project's `.coffer/secrets.toml`, one table per vault;
//   3. only when asked (--remote), the server, read with the logged-in principal's own rights.
// Nothing answering is `undefined`, exactly what a function sees on the server for a declared
// secret without a value. Each answer names its source (never the value), so `--explain` can say
// where every read came from: what dlt cannot tell its users.
import fs from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { CliError, EXIT } from '../errors.ts';
import { findProjectRoot, secretsFilePath } from './project-root.ts';

export type SecretSource =
  | { kind: 'env'; variable: string }
  | { kind: 'file'; path: string }
  | { kind: 'remote'; url: string }
  | { kind: 'none' };

export interface ResolvedSecret {
  /** Held only as long as the caller needs it; never logged. */
  value: string | undefined;
  source: SecretSource;
}

/** Reads one value from the server; undefined when it has none. Throws `{ code: 'access_denied' }` when refused. */
export interface RemoteSecretReader {
  url: string;
  read(vault: string, name: string): Promise<string | undefined>;
}

export interface LocalSecretSources {
  /** The project root found, if any. */
  root: string | undefined;
  /** The secrets file consulted (it may not exist), if there is a project root. */
  secretsFile: string | undefined;
  /** The whole order, the server last when there is a remote source. */
  resolve(vault: string, name: string): Promise<ResolvedSecret>;
  /** The environment and the secrets file only (what `coffer dev` and apply's `secretValue` use). */
  resolveLocal(vault: string, name: string): ResolvedSecret;
}

export interface LocalSourceOptions {
  /** Where to look for the project root (default: the working directory). */
  cwd?: string;
  /** A root already found, or undefined for none (either skips the search). */
  root?: string | undefined;
  env?: NodeJS.ProcessEnv;
  remote?: RemoteSecretReader;
}

/** `COFFER__PAYMENTS__STRIPE_KEY` for (payments, stripe-key). */
export function envVariableName(vault: string, name: string): string {
  const part = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return `COFFER__${part(vault)}__${part(name)}`;
}

export class SecretsFileError extends CliError {
  override name = 'SecretsFileError';
}

/**
 * The values in a secrets.toml, by vault then secret name. The file is refused when group or others
 * may read it (the hint says which chmod to run), and its errors never quote its text: smol-toml's
 * own message shows the offending lines, which hold values.
 */
export function loadSecretsFile(file: string): Map<string, Map<string, string>> | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SecretsFileError('secrets_file_unreadable', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new SecretsFileError('secrets_file_unsafe',
      `${file} may be read by other users (mode ${(stat.mode & 0o777).toString(8).padStart(3, '0')}); run: chmod 600 ${shellQuote(file)}`, EXIT.permission);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw new SecretsFileError('secrets_file_invalid', `${file}:${err.line}:${err.column}: ${reason}`, EXIT.usage);
    }
    throw new SecretsFileError('secrets_file_unreadable', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const vaults = new Map<string, Map<string, string>>();
  for (const [vault, table] of Object.entries(doc)) {
    if (!isTable(table)) throw new SecretsFileError('secrets_file_invalid', `${file}: "${vault}" must be a table of secrets ([${vault}])`, EXIT.usage);
    const secrets = new Map<string, string>();
    collectSecrets(file, vault, '', table, secrets);
    vaults.set(vault, secrets);
  }
  return vaults;
}

/**
 * A bare `db.password = "..."` is a dotted key in TOML (a nested table): joined back with dots it
 * is the secret name the user wrote, so quoting names that hold a dot is optional.
 */
function collectSecrets(file: string, vault: string, prefix: string, table: Record<string, unknown>, into: Map<string, string>) {
  for (const [key, value] of Object.entries(table)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (isTable(value)) collectSecrets(file, vault, name, value, into);
    else if (typeof value === 'string') into.set(name, value);
    else throw new SecretsFileError('secrets_file_invalid', `${file}: ${vault}.${name} must be a string`, EXIT.usage);
  }
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

const shellQuote = (s: string) => (/^[A-Za-z0-9_./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Finds the project root and loads its secrets file once; a refused file fails here, before anything runs. */
export function createLocalSources(options: LocalSourceOptions = {}): LocalSecretSources {
  const env = options.env ?? process.env;
  const root = 'root' in options ? options.root : findProjectRoot(options.cwd ?? process.cwd());
  const secretsFile = root ? secretsFilePath(root) : undefined;
  const fileValues = secretsFile ? loadSecretsFile(secretsFile) : undefined;
  const resolveLocal = (vault: string, name: string): ResolvedSecret => {
    const variable = envVariableName(vault, name);
    const fromEnv = env[variable];
    if (fromEnv !== undefined) return { value: fromEnv, source: { kind: 'env', variable } };
    const fromFile = fileValues?.get(vault)?.get(name);
    if (fromFile !== undefined) return { value: fromFile, source: { kind: 'file', path: secretsFile! } };
    return { value: undefined, source: { kind: 'none' } };
  };
  return {
    root, secretsFile, resolveLocal,
    async resolve(vault, name) {
      const local = resolveLocal(vault, name);
      if (local.source.kind !== 'none' || !options.remote) return local;
      const value = await options.remote.read(vault, name);
      return { value, source: value === undefined ? { kind: 'none' } : { kind: 'remote', url: options.remote.url } };
    },
  };
}

/** For --explain: where a read was answered, without its value. */
export function describeSource(source: SecretSource): string {
  switch (source.kind) {
    case 'env': return `env ${source.variable}`;
    case 'file': return `file ${source.path}`;
    case 'remote': return `remote ${source.url}`;
    case 'none': return 'none (undefined)';
  }
}
