// Where a project lives: the nearest directory at or above `start` that holds `coffer.toml`, else
// the nearest one that is a git root, else nothing. Never the working directory by itself: a
// command run from `functions/` must find the same `.coffer/secrets.toml` as one run from the top
// (dlt finds `.dlt/` relative to the working directory, and so reads different secrets per directory).
import fs from 'node:fs';
import path from 'node:path';

export const PROJECT_FILE = 'coffer.toml';
/** The project's local state: secrets.toml, and the data of `coffer dev`. */
export const LOCAL_DIR = '.coffer';

function ancestors(start: string): string[] {
  const dirs: string[] = [];
  let dir = path.resolve(start);
  for (;;) {
    dirs.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir) return dirs;
    dir = parent;
  }
}

const isFile = (p: string) => { try { return fs.statSync(p).isFile(); } catch { return false; } };
// `.git` is a directory in a clone and a file in a worktree or submodule.
const exists = (p: string) => { try { fs.statSync(p); return true; } catch { return false; } };

export function findProjectRoot(start: string): string | undefined {
  const dirs = ancestors(start);
  return dirs.find((d) => isFile(path.join(d, PROJECT_FILE))) ?? dirs.find((d) => exists(path.join(d, '.git')));
}

/** The project's `.coffer/secrets.toml` (whether or not it exists). */
export const secretsFilePath = (root: string) => path.join(root, LOCAL_DIR, 'secrets.toml');
