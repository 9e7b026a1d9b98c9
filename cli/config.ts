// Where the CLI keeps profiles: <config dir>/config.json, mode 0600 in a 0700 directory. The
// config dir is COFFER_CONFIG_DIR, else the platform's (env-paths: $XDG_CONFIG_HOME/coffer on Linux).
// Credentials from the environment (COFFER_URL, COFFER_API_KEY, COFFER_CLIENT_ID,
// COFFER_CLIENT_SECRET) win over the file; this module is the CLI's only reader of them.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import envPaths from 'env-paths';
import type { CachedToken, TokenCache } from '../client/index.ts';
import { AuthError, UsageError } from './errors.ts';

export interface Profile {
  url: string;
  apiKey?: string;
  clientId?: string;
  clientSecret?: string;
}

export interface ConfigFile {
  currentProfile?: string;
  profiles: Record<string, Profile>;
}

/** What a command connects with, and where each part came from (for whoami). */
export interface Connection {
  profile: string;
  url: string;
  apiKey?: string;
  oauth?: { clientId: string; clientSecret: string };
  source: { url: 'flag' | 'env' | 'profile'; credentials: 'env' | 'profile' };
}

export const DEFAULT_PROFILE = 'default';
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.COFFER_CONFIG_DIR ? path.resolve(env.COFFER_CONFIG_DIR) : envPaths('coffer', { suffix: '' }).config;
}

export function createConfigStore(env: NodeJS.ProcessEnv = process.env) {
  const dir = configDir(env);
  const file = path.join(dir, 'config.json');
  const tokensFile = path.join(dir, 'tokens.json');

  function writePrivate(target: string, data: unknown) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Written beside and renamed over, so a crash never leaves half a file; 0600 from creation on.
    const temp = `${target}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(temp, target);
  }
  function readJson<T>(target: string, fallback: T): T {
    let text: string;
    try { text = fs.readFileSync(target, 'utf8'); } catch { return fallback; }
    try { return JSON.parse(text) as T; } catch { throw new UsageError(`${target} is not valid JSON; fix or remove it`); }
  }

  const store = {
    dir, file,
    read(): ConfigFile {
      const data = readJson<ConfigFile>(file, { profiles: {} });
      return { currentProfile: data.currentProfile, profiles: data.profiles ?? {} };
    },
    write(config: ConfigFile) { writePrivate(file, config); },

    /** The profile a command uses: --profile, then COFFER_PROFILE, then the current one. */
    profileName(flag?: string): string {
      const name = flag ?? env.COFFER_PROFILE ?? store.read().currentProfile ?? DEFAULT_PROFILE;
      if (!PROFILE_NAME.test(name)) throw new UsageError(`invalid profile name "${name}" (letters, digits, . _ -)`);
      return name;
    },

    saveProfile(name: string, profile: Profile, makeCurrent: boolean) {
      const config = store.read();
      config.profiles[name] = profile;
      if (makeCurrent || !config.currentProfile) config.currentProfile = name;
      store.write(config);
      store.forgetToken(name);
    },

    removeProfile(name: string): boolean {
      const config = store.read();
      if (!config.profiles[name]) return false;
      delete config.profiles[name];
      if (config.currentProfile === name) config.currentProfile = Object.keys(config.profiles)[0];
      store.write(config);
      store.forgetToken(name);
      return true;
    },

    connection(options: { profile?: string; url?: string }): Connection {
      const name = store.profileName(options.profile);
      const saved = store.read().profiles[name];
      const url = options.url ?? env.COFFER_URL ?? saved?.url;
      if (!url) throw new AuthError(`not logged in: run \`coffer login --url URL\`${name === DEFAULT_PROFILE ? '' : ` --profile ${name}`}, or set COFFER_URL and COFFER_API_KEY`);
      const urlSource = options.url ? 'flag' : env.COFFER_URL ? 'env' : 'profile';
      if (env.COFFER_API_KEY) return { profile: name, url, apiKey: env.COFFER_API_KEY, source: { url: urlSource, credentials: 'env' } };
      if (env.COFFER_CLIENT_ID || env.COFFER_CLIENT_SECRET) {
        if (!env.COFFER_CLIENT_ID || !env.COFFER_CLIENT_SECRET) throw new UsageError('COFFER_CLIENT_ID and COFFER_CLIENT_SECRET must be set together');
        return { profile: name, url, oauth: { clientId: env.COFFER_CLIENT_ID, clientSecret: env.COFFER_CLIENT_SECRET }, source: { url: urlSource, credentials: 'env' } };
      }
      if (saved?.apiKey) return { profile: name, url, apiKey: saved.apiKey, source: { url: urlSource, credentials: 'profile' } };
      if (saved?.clientId && saved.clientSecret) {
        return { profile: name, url, oauth: { clientId: saved.clientId, clientSecret: saved.clientSecret }, source: { url: urlSource, credentials: 'profile' } };
      }
      throw new AuthError(`no credentials for profile "${name}": run \`coffer login\`, or set COFFER_API_KEY`);
    },

    /** Access tokens, per profile and client id, so each command need not ask for a new one. */
    tokenCache(profile: string, clientId: string): TokenCache {
      const key = `${profile}\u0000${clientId}`;
      return {
        load: () => readJson<Record<string, CachedToken>>(tokensFile, {})[key],
        save: (token) => {
          const all = readJson<Record<string, CachedToken>>(tokensFile, {});
          // Drop expired entries while we are here.
          for (const [k, t] of Object.entries(all)) if (t.expiresAt < Date.now()) delete all[k];
          all[key] = token;
          writePrivate(tokensFile, all);
        },
      };
    },
    forgetToken(profile: string) {
      const all = readJson<Record<string, CachedToken>>(tokensFile, {});
      const prefix = `${profile}\u0000`;
      const kept = Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith(prefix)));
      if (Object.keys(kept).length !== Object.keys(all).length) writePrivate(tokensFile, kept);
    },
  };
  return store;
}

export type ConfigStore = ReturnType<typeof createConfigStore>;
