// Where a bench run is written: bench/results/<date>-<shortcommit>-<driver>.json, with the machine,
// the commit and the date beside the figures, so runs from different days and machines compare.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

export function machine() {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), memoryGb: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`, node: process.version, loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** Read once, when the run starts: commits made while it runs do not rename its later files. */
const AT_START = readCommit();
export const commit = () => AT_START;

function readCommit(): { commit: string; shortCommit: string; dirty: boolean } {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return { commit: git('rev-parse', 'HEAD'), shortCommit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no').length > 0 };
  } catch {
    return { commit: 'unknown', shortCommit: 'nogit', dirty: false };
  }
}

/** Writes one run's figures; answers the path written, relative to the working directory. */
export function writeResults(kind: string, figures: Record<string, unknown>): string {
  const at = new Date();
  const c = commit();
  const stamp = at.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const file = path.join(RESULTS, `${stamp}-${c.shortCommit}-${kind}.json`);
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ at: at.toISOString(), ...c, machine: machine(), ...figures }, null, 2) + '\n');
  return path.relative(process.cwd(), file);
}
