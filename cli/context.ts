// What every command's action receives: the output, the config store, and a client built from the
// global options (--profile, --url) and the environment.
import type { Command } from 'commander';
import { createCofferClient, type CofferClient } from '../client/index.ts';
import { createConfigStore, type ConfigStore, type Connection } from './config.ts';
import { Output } from './output.ts';

export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  profile?: string;
  url?: string;
}

export interface Context {
  out: Output;
  config: ConfigStore;
  globals: GlobalOptions;
  connection(): Connection;
  client(): CofferClient;
}

let exitCode: number | undefined;
/** For commands whose status is not simply success (exec passes on its child's). */
export const setExitCode = (code: number) => { exitCode = code; };
export const requestedExitCode = () => exitCode;

/** Set once an action starts, so the top-level error handler prints in the same mode. */
export let activeOutput: Output | undefined;

export function createContext(globals: GlobalOptions): Context {
  const out = new Output({ json: Boolean(globals.json), debug: Boolean(globals.debug) });
  activeOutput = out;
  const config = createConfigStore();
  let client: CofferClient | undefined;
  const connection = () => config.connection({ profile: globals.profile, url: globals.url });
  return {
    out, config, globals, connection,
    client() {
      if (client) return client;
      const c = connection();
      if (c.apiKey) out.mask(c.apiKey);
      if (c.oauth) out.mask(c.oauth.clientSecret);
      client = createCofferClient({
        url: c.url,
        apiKey: c.apiKey,
        oauth: c.oauth && { ...c.oauth, cache: config.tokenCache(c.profile, c.oauth.clientId) },
        headers: { 'user-agent': 'coffer-cli/0.1.0' },
      });
      return client;
    },
  };
}

type Action = (ctx: Context, ...args: any[]) => Promise<void> | void;

/** Wraps an action: commander passes (...operands, options, command); we add the context first. */
export function run(action: Action) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    await action(createContext(command.optsWithGlobals() as GlobalOptions), ...args.slice(0, -1));
  };
}
