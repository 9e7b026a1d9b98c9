// The embedded server of `coffer dev`: the real gateway (api/server.ts) on loopback, PGlite in the
// project's `.coffer/data/`, a local admin whose API key and a master key are kept there (mode
// 0600, the directory 0700, git-ignored by `coffer init`), so that a restart finds the same data.
// The server code is imported only when dev starts, as for `coffer serve`.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CliError } from '../errors.ts';
import { LOCAL_DIR } from './project-root.ts';

export interface DevServer {
  url: string;
  adminKey: string;
  adminKeyFile: string;
  dataDir: string;
  close(): Promise<void>;
}

/** Server settings a developer may still set for dev; nothing else of their environment reaches it. */
const PASSED_THROUGH = ['COFFER_EGRESS_ALLOW', 'COFFER_WORKERS', 'COFFER_LOG_FORMAT'];

function privateValue(file: string, make: () => string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const value = make();
  fs.writeFileSync(file, value + '\n', { mode: 0o600, flag: 'wx' });
  return value;
}

export async function startDevServer(root: string, options: { port: number; logLevel: string; env?: NodeJS.ProcessEnv }): Promise<DevServer> {
  const dataDir = path.join(root, LOCAL_DIR, 'data');
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const adminKeyFile = path.join(dataDir, 'admin.key');
  const adminKey = privateValue(adminKeyFile, () => `coffer_${crypto.randomBytes(32).toString('base64url')}`);
  // A key of our own rather than the keyring's generated development key: the same protection
  // (a file beside the data), without the production warning on every start.
  const masterKey = privateValue(path.join(dataDir, 'master-key'), () => crypto.randomBytes(32).toString('base64'));

  const { loadConfig } = await import('../../api/config.ts');
  const { startCoffer, guardProcess } = await import('../../api/server.ts');
  const env = options.env ?? process.env;
  const config = loadConfig({
    ...Object.fromEntries(PASSED_THROUGH.filter((k) => env[k] !== undefined).map((k) => [k, env[k]])),
    HOST: '127.0.0.1', PORT: String(options.port), COFFER_DATA_DIR: dataDir, COFFER_LOG_LEVEL: options.logLevel,
    COFFER_BOOTSTRAP_ADMIN_KEY: adminKey, COFFER_MASTER_KEY: masterKey,
  });
  guardProcess();
  const running = await startCoffer(config, { onAdminKey: () => {} });
  // The admin was created with this key on the first start; a key file replaced since cannot log in.
  const me = await fetch(`${running.url}/v1/me`, { headers: { authorization: `Bearer ${adminKey}` } });
  if (me.status !== 200) {
    await running.close();
    throw new CliError('dev_admin_key', `${adminKeyFile} is not the admin key of the data in ${dataDir}; remove ${dataDir} to start afresh`);
  }
  return { url: running.url, adminKey, adminKeyFile, dataDir, close: () => running.close() };
}
