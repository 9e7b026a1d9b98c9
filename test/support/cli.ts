// Runs the real `coffer` command (bin/coffer.js) as a subprocess, with its config in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/coffer.js', import.meta.url));

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; json: any }

export interface CliOptions {
  input?: string;
  env?: Record<string, string | undefined>;
  /** The node to run bin/coffer.js with (default: this test's Node 22). */
  node?: string;
  cwd?: string;
}

/** A CLI user: their own config dir, and env defaults (e.g. COFFER_URL). */
export function cliUser(baseEnv: Record<string, string | undefined> = {}) {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-cli-'));
  const env = (extra: Record<string, string | undefined> = {}) => {
    const merged: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...baseEnv, COFFER_CONFIG_DIR: configDir, ...extra };
    // The test runner's own Coffer settings must not leak into the CLI's.
    for (const k of ['COFFER_URL', 'COFFER_API_KEY', 'COFFER_CLIENT_ID', 'COFFER_CLIENT_SECRET', 'COFFER_PROFILE']) {
      if (!(k in baseEnv) && !(k in extra)) delete merged[k];
    }
    for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
    return merged as Record<string, string>;
  };
  return {
    configDir,
    spawn(args: string[], options: CliOptions = {}): ChildProcess {
      return spawn(options.node ?? process.execPath, [BIN, ...args], { env: env(options.env), cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    },
    run(args: string[], options: CliOptions = {}): Promise<CliResult> {
      const child = this.spawn(args, options);
      return collect(child, options.input);
    },
    /** Runs and insists on exit status 0; the result's json is the parsed stdout. */
    async ok(args: string[], options: CliOptions = {}): Promise<CliResult> {
      const r = await this.run(args, options);
      if (r.code !== 0) throw new Error(`coffer ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr}${r.stdout}`);
      return r;
    },
    cleanup() { fs.rmSync(configDir, { recursive: true, force: true }); },
  };
}

export function collect(child: ChildProcess, input?: string): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d) => { stderr += d; });
  child.stdin!.end(input ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      let json: unknown;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}
